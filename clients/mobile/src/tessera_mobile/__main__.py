"""`python -m tessera_mobile` runs the CLI."""

import sys

from tessera_mobile.cli import main

sys.exit(main())
