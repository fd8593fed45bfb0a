"""The real orders service plus one benchmark-only twin route: the same handler, no auth.

`python -m bench.orders_twin` serves exactly what `python -m orders_service serve` serves
(orders' own `create_app`, the same settings from the environment, the same uvicorn options),
and adds `GET /bench/v1/orders-without-auth`: orders' own `list_orders` route function, called
with a fixed caller for `BENCH_FIXED_USER_ID` instead of the bearer-token dependency. Comparing
the two routes in one process measures what authentication costs the request and nothing else:
same app, middleware, database query, serialisation and server. The twin lives only here; the
orders service has no unauthenticated route.
"""

from __future__ import annotations

import os

from fastapi import APIRouter, FastAPI
from orders_service.api import orders
from orders_service.api.deps import OrdersDep
from orders_service.config import Settings
from orders_service.main import create_app
from tessera import configure_logging
from tessera.service_cli import serve

from bench.callers import fixed_caller

TWIN_PATH = "/bench/v1/orders-without-auth"


def build_app(settings: Settings, fixed_user_id: str) -> FastAPI:
    """orders' app with the twin route mounted on a router of its own."""
    app = create_app(settings)
    caller = fixed_caller(fixed_user_id, scopes=frozenset({"orders:read"}), audience="orders")
    twin = APIRouter()

    @twin.get(TWIN_PATH)
    async def list_orders_without_auth(use_cases: OrdersDep) -> orders.OrderList:
        return await orders.list_orders(caller=caller, use_cases=use_cases)

    app.include_router(twin)
    return app


def main() -> None:
    settings = Settings()
    configure_logging("orders-twin", settings.LOG_LEVEL)
    serve(build_app(settings, os.environ["BENCH_FIXED_USER_ID"]), settings)


if __name__ == "__main__":
    main()
