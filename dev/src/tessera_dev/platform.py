"""The one declarative description of the platform's processes.

The launcher (`make run`), the end-to-end test harness, the benchmarks and the compose-parity
test all read this module, so a service's command or a setting name is written down once:

    >>> plan = describe_platform()  # embedded default: SQLite under var/, ports 8000-8003, 50051
    >>> plan.issuer  # each platform's own: mail links and cookies point at its gateway
    'http://localhost:8000'
    >>> [s.name for s in plan.services]
    ['auth', 'orders', 'billing']
    >>> plan.service("orders").serve_argv
    ('python', '-m', 'orders_service', 'serve')

Tests call `describe_platform(ports=..., database_urls=...)` with free ports and their own
databases; compose runs the same commands with the same setting names and other values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tessera.logging import LogFormat

from tessera_dev.service_clients import ServiceClientFiles

SERVICE_NAMES = ("auth", "orders", "billing")
GATEWAY_SOURCE_ADDRESS = "127.0.0.2"
"""The loopback address the dev gateway connects to the services from: the only peer they
believe X-Forwarded-For from, so another local process (on 127.0.0.1) cannot claim an IP."""

BULK_USERS_AUTH_SETTINGS = {
    "EMAIL_VERIFICATION": "optional",
    "EMAIL_TOKEN_RATE_LIMIT_PER_IP": "1000/minute",
    "REGISTER_RATE_LIMIT_PER_IP": "1000/minute",
    "LOGIN_RATE_LIMIT_PER_IP": "1000/minute",
    "LOGIN_RATE_LIMIT_PER_ACCOUNT": "1000/minute",
    "LOGIN_FAILURE_RATE_LIMIT_PER_ACCOUNT": "1000/minute",
    "REFRESH_RATE_LIMIT_PER_IP": "5000/minute",
}
"""auth settings for tests and benchmarks that make users in bulk, all from 127.0.0.1 (the
production limits would answer 429 part-way through), and sign them in without opening the
verification mail (which still goes out). The limits and the required verification are
tested in auth's own tests, `make run`'s in tests/test_launcher.py."""


@dataclass(frozen=True)
class PortPlan:
    """Where each process listens. `PortPlan()` is the embedded default of `make run`."""

    gateway: int = 8000
    auth: int = 8001
    orders: int = 8002
    billing: int = 8003
    billing_grpc: int = 50051
    mail_smtp: int = 1025
    mail_http: int = 8025

    COUNT = 7

    @classmethod
    def from_base(cls, base: int) -> PortPlan:
        """Seven consecutive ports from `base`: gateway, auth, orders, billing HTTP, billing
        gRPC, the mail catcher's SMTP and its inbox."""
        return cls(*range(base, base + cls.COUNT))

    def http_port(self, service: str) -> int:
        ports = {"auth": self.auth, "orders": self.orders, "billing": self.billing}
        return ports[service]


@dataclass(frozen=True)
class ServiceProcess:
    """One service: how to migrate it, how to serve it, its settings and where it says it's ready.

    `settings` maps environment names to values; the names are the service's `Settings` fields
    (no prefix). Commands are written with a bare `python`, as in a container image; a local
    runner substitutes its own interpreter (`argv_for`).
    """

    name: str
    package: str
    http_port: int
    settings: Mapping[str, str]
    grpc_port: int | None = None
    host: str = "127.0.0.1"
    deployment_settings: frozenset[str] = frozenset()
    """Names a fuller deployment sets and the embedded default leaves out (auth's REDIS_URL)."""

    @property
    def migrate_argv(self) -> tuple[str, ...]:
        return ("python", "-m", self.package, "migrate")

    @property
    def serve_argv(self) -> tuple[str, ...]:
        return ("python", "-m", self.package, "serve")

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def health_url(self) -> str:
        """`/readyz`: 200 once the database is reachable (and, for verifiers, the JWKS loaded)."""
        return f"{self.base_url}/readyz"

    @property
    def grpc_target(self) -> str | None:
        return None if self.grpc_port is None else f"{self.host}:{self.grpc_port}"


@dataclass(frozen=True)
class GatewayProcess:
    """The dev gateway (`tessera_dev.gateway`): routes API paths to the services, serves the SPA."""

    port: int
    upstreams: Mapping[str, str]
    host: str = "127.0.0.1"
    settings: Mapping[str, str] = field(default_factory=dict)

    @property
    def serve_argv(self) -> tuple[str, ...]:
        return ("python", "-m", "tessera_dev.gateway")

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def health_url(self) -> str:
        """`/healthz`: the gateway's own liveness (it answers whether or not the services do)."""
        return f"{self.base_url}/healthz"


@dataclass(frozen=True)
class MailProcess:
    """The development inbox (`tessera_dev.mail_catcher`): auth's SMTP server, and Mailpit's
    HTTP API over what it caught. compose runs Mailpit itself in its place."""

    smtp_port: int
    http_port: int
    host: str = "127.0.0.1"
    log_settings: Mapping[str, str] = field(default_factory=dict)
    """LOG_LEVEL and LOG_FORMAT, as every process of the platform has them."""

    @property
    def serve_argv(self) -> tuple[str, ...]:
        return ("python", "-m", "tessera_dev.mail_catcher")

    @property
    def settings(self) -> dict[str, str]:
        return {
            "MAIL_HOST": self.host,
            "MAIL_SMTP_PORT": str(self.smtp_port),
            "MAIL_HTTP_PORT": str(self.http_port),
            **self.log_settings,
        }

    @property
    def smtp_url(self) -> str:
        return f"smtp://{self.host}:{self.smtp_port}"

    @property
    def inbox_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def health_url(self) -> str:
        return f"{self.inbox_url}/readyz"


@dataclass(frozen=True)
class Platform:
    """Every process of one running platform, in start order (the inbox first: auth mails)."""

    ports: PortPlan
    services: tuple[ServiceProcess, ...]
    gateway: GatewayProcess
    mail: MailProcess
    issuer: str
    """The public URL of auth as clients see it (its gateway's); never derived from a request."""

    def service(self, name: str) -> ServiceProcess:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)


def sqlite_database_urls(var_dir: Path | None = None) -> dict[str, str]:
    """One SQLite file per service; without `var_dir` the embedded default, `var/` in the cwd."""
    if var_dir is None:
        return {name: f"sqlite+aiosqlite:///var/{name}.db" for name in SERVICE_NAMES}
    return {
        name: f"sqlite+aiosqlite:///{(var_dir / f'{name}.db').resolve()}" for name in SERVICE_NAMES
    }


def describe_platform(
    *,
    ports: PortPlan | None = None,
    database_urls: Mapping[str, str] | None = None,
    issuer: str | None = None,
    log_level: str = "INFO",
    log_format: LogFormat = "json",
    extra_settings: Mapping[str, Mapping[str, str]] | None = None,
    service_clients: ServiceClientFiles | None = None,
) -> Platform:
    """The platform's processes; defaults give exactly the embedded default of `make run`.

    The issuer is `http://localhost:<gateway port>` unless given: every platform its own, so
    the links auth mails, its cookies and (later) the WebAuthn RP ID match the SPA that platform
    serves. `service_clients` names the secret files (`tessera_dev.service_clients`; default: under
    `var/`); settings carry only the paths, so no secret is ever in a command line or a log.
    Every process logs alike: `log_format` json (compose's, and what tests read) unless the
    launcher asks for console lines.
    """
    ports = ports or PortPlan()
    issuer = issuer or f"http://localhost:{ports.gateway}"
    log_settings = {"LOG_LEVEL": log_level, "LOG_FORMAT": log_format}
    mail = MailProcess(
        smtp_port=ports.mail_smtp, http_port=ports.mail_http, log_settings=log_settings
    )
    urls = dict(database_urls or sqlite_database_urls())
    extra = extra_settings or {}
    clients = service_clients or ServiceClientFiles.in_directory(Path("var"))
    auth_url = f"http://127.0.0.1:{ports.auth}"
    jwks_url = f"{auth_url}/.well-known/jwks.json"
    # The SPA is served by the gateway: its origin is the only one the browser calls auth from.
    gateway_origins = f"http://localhost:{ports.gateway},http://127.0.0.1:{ports.gateway}"

    def service_client(name: str) -> dict[str, str]:
        """A resource service's identity at auth (client_credentials, token exchange, feed)."""
        return {
            "AUTH_URL": auth_url,
            "SERVICE_CLIENT_ID": name,
            "SERVICE_CLIENT_SECRET_FILE": str(clients.secret_files[name]),
        }

    def common(name: str) -> dict[str, str]:
        return {
            "ENVIRONMENT": "dev",
            "DATABASE_URL": urls[name],
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(ports.http_port(name)),
            "ISSUER": issuer,
            **log_settings,
            # Only the gateway forwards client addresses, and it connects from its own address.
            "TRUSTED_PROXIES": GATEWAY_SOURCE_ADDRESS,
        }

    auth = ServiceProcess(
        name="auth",
        package="auth_service",
        http_port=ports.auth,
        settings={
            **common("auth"),
            "SERVICE_CLIENTS_FILE": str(clients.clients_file),
            "CORS_ALLOWED_ORIGINS": gateway_origins,
            "SMTP_URL": mail.smtp_url,
            **extra.get("auth", {}),
        },
        # Without Redis, auth limits logins in process: right for one process, not for replicas.
        deployment_settings=frozenset({"REDIS_URL"}),
    )
    orders = ServiceProcess(
        name="orders",
        package="orders_service",
        http_port=ports.orders,
        settings={
            **common("orders"),
            "JWKS_URL": jwks_url,
            "BILLING_GRPC_TARGET": f"127.0.0.1:{ports.billing_grpc}",
            **service_client("orders"),
            **extra.get("orders", {}),
        },
    )
    billing = ServiceProcess(
        name="billing",
        package="billing_service",
        http_port=ports.billing,
        grpc_port=ports.billing_grpc,
        settings={
            **common("billing"),
            "GRPC_PORT": str(ports.billing_grpc),
            "JWKS_URL": jwks_url,
            **service_client("billing"),
            **extra.get("billing", {}),
        },
    )
    upstreams = {s.name: s.base_url for s in (auth, orders, billing)}
    gateway = GatewayProcess(
        port=ports.gateway,
        upstreams=upstreams,
        settings={
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(ports.gateway),
            "GATEWAY_SOURCE_ADDRESS": GATEWAY_SOURCE_ADDRESS,
            "GATEWAY_INBOX_URL": f"{mail.inbox_url}/",
            "AUTH_UPSTREAM": upstreams["auth"],
            "ORDERS_UPSTREAM": upstreams["orders"],
            "BILLING_UPSTREAM": upstreams["billing"],
            **log_settings,
        },
    )
    return Platform(
        ports=ports, services=(auth, orders, billing), gateway=gateway, mail=mail, issuer=issuer
    )
