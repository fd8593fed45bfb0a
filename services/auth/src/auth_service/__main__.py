"""Entry point: `python -m auth_service` (see cli.py)."""

import sys

from auth_service.cli import main

if __name__ == "__main__":
    sys.exit(main())
