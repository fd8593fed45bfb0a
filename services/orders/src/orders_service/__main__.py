"""Entry point: `python -m orders_service` (see cli.py)."""

import sys

from orders_service.cli import main

if __name__ == "__main__":
    sys.exit(main())
