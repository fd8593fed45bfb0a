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

import uvicorn
from fastapi import APIRouter, FastAPI
from orders_service.api import orders
from orders_service.api.deps import OrderDeskDep
from orders_service.config import Settings
from orders_service.main import create_app
from tessera import Principal, configure_logging

TWIN_PATH = "/bench/v1/orders-without-auth"


def build_app(settings: Settings, fixed_user_id: str) -> FastAPI:
    """orders' app with the twin route mounted on a router of its own."""
    app = create_app(settings)
    caller = Principal(
        sub=fixed_user_id,
        sid=None,
        client_id="bench",
        scopes=frozenset({"orders:read"}),
        roles=frozenset(),
        ver=0,
        jti="bench",
        issued_at=0,
        expires_at=2**62,
        audience=("orders",),
        actor=None,
        token="",
    )
    twin = APIRouter()

    @twin.get(TWIN_PATH)
    async def list_orders_without_auth(desk: OrderDeskDep) -> orders.OrderList:
        return await orders.list_orders(caller=caller, desk=desk)

    app.include_router(twin)
    return app


def main() -> None:
    settings = Settings()
    configure_logging("orders-twin", settings.LOG_LEVEL)
    config = uvicorn.Config(
        build_app(settings, os.environ["BENCH_FIXED_USER_ID"]),
        host=settings.HTTP_HOST,
        port=settings.HTTP_PORT,
        loop="uvloop",
        http="httptools",
        proxy_headers=True,
        forwarded_allow_ips=settings.TRUSTED_PROXIES,
        log_config=None,
        access_log=False,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
