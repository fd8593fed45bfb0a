"""`python -m billing_service migrate | serve`: tessera's service command line."""

import sys
from collections.abc import Sequence

from tessera.service_cli import run_service_cli

from billing_service.adapters.migrations import MIGRATIONS
from billing_service.config import Settings
from billing_service.main import create_app


def main(argv: Sequence[str] | None = None) -> int:
    return run_service_cli(
        argv,
        service="billing",
        load_settings=Settings,
        create_app=create_app,
        migrations=MIGRATIONS,
    )


if __name__ == "__main__":
    sys.exit(main())
