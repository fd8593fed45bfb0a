"""Entry point: `python -m billing_service` (see cli.py)."""

import sys

from billing_service.cli import main

if __name__ == "__main__":
    sys.exit(main())
