"""`python -m orders_service migrate | serve`: tessera's service command line."""

import sys
from collections.abc import Sequence

from tessera.service_cli import run_service_cli

from orders_service.adapters.migrations import MIGRATIONS
from orders_service.config import Settings
from orders_service.main import create_app


def main(argv: Sequence[str] | None = None) -> int:
    return run_service_cli(
        argv, service="orders", load_settings=Settings, create_app=create_app, migrations=MIGRATIONS
    )


if __name__ == "__main__":
    sys.exit(main())
