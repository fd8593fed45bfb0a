"""`python -m auth_service ...`."""

import sys

from auth_service.cli import main

if __name__ == "__main__":
    sys.exit(main())
