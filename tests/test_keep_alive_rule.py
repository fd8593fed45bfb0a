"""The keep-alive rule (`tessera.keep_alive`, ADR 0017): a service closes an idle connection after
`SERVER_KEEP_ALIVE_SECONDS`; every pooled HTTP client of a service drops its idle ones after
`CLIENT_KEEP_ALIVE_SECONDS`, half that, so no request goes down a connection the server is
closing (a 502 at the gateway). The code keeps it, and the docs say it with the code's numbers.

tests/test_dev_gateway.py shows the behaviour at the gateway; here every httpx client and
transport built by the shared library, the services and the dev gateway is held to the rule."""

from __future__ import annotations

import ast
from pathlib import Path

from tessera.keep_alive import CLIENT_KEEP_ALIVE_SECONDS, SERVER_KEEP_ALIVE_SECONDS
from tessera_mobile.client import IDLE_CONNECTION_SECONDS

ROOT = Path(__file__).resolve().parents[1]
CLIENT_CODE = [
    *sorted((ROOT / "shared" / "src" / "tessera").rglob("*.py")),
    *sorted(ROOT.glob("services/*/src/**/*.py")),
    ROOT / "dev" / "src" / "tessera_dev" / "gateway.py",
]
CLIENTS = {"AsyncClient", "Client"}
TRANSPORTS = {"AsyncHTTPTransport", "HTTPTransport"}
ADRS = ROOT / "docs" / "adr"


def httpx_calls(tree: ast.AST, names: set[str]) -> list[ast.Call]:
    """Every `httpx.<name>(...)` call for a name in `names`."""
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in names
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "httpx"
    ]


def keywords(call: ast.Call) -> dict[str | None, str]:
    return {keyword.arg: ast.unparse(keyword.value) for keyword in call.keywords}


def test_every_pooled_http_client_drops_idle_connections_before_the_services_do() -> None:
    unruled = []
    for path in CLIENT_CODE:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = path.relative_to(ROOT)
        for call in httpx_calls(tree, CLIENTS):
            given = keywords(call)
            # a client over its own transport: the transport's limits are the pool's (below)
            if given.get("limits") != "client_limits()" and "transport" not in given:
                unruled.append(f"{where}:{call.lineno} {ast.unparse(call.func)}")
        for call in httpx_calls(tree, TRANSPORTS):
            if keywords(call).get("limits") != "client_limits()":
                unruled.append(f"{where}:{call.lineno} {ast.unparse(call.func)}")

    assert CLIENT_KEEP_ALIVE_SECONDS <= SERVER_KEEP_ALIVE_SECONDS / 2
    assert unruled == [], "build these with limits=tessera.keep_alive.client_limits()"


def test_the_mobile_reference_client_drops_idle_connections_before_the_gateway_does() -> None:
    """It depends on httpx alone, not on tessera: its own constant, held to the same rule."""
    path = ROOT / "clients" / "mobile" / "src" / "tessera_mobile" / "client.py"
    (call,) = httpx_calls(ast.parse(path.read_text(encoding="utf-8")), CLIENTS)

    assert keywords(call)["limits"] == "httpx.Limits(keepalive_expiry=IDLE_CONNECTION_SECONDS)"
    assert IDLE_CONNECTION_SECONDS <= SERVER_KEEP_ALIVE_SECONDS / 2


def test_the_rule_is_scanned_where_the_clients_are() -> None:
    """The scan above finds the clients the ADR names (it would pass vacuously otherwise)."""
    found = {
        path.relative_to(ROOT).as_posix()
        for path in CLIENT_CODE
        if httpx_calls(ast.parse(path.read_text(encoding="utf-8")), CLIENTS | TRANSPORTS)
    }

    assert found >= {
        "shared/src/tessera/token_exchange.py",
        "shared/src/tessera/tokens/jwks.py",
        "shared/src/tessera/revocation/watcher.py",
        "shared/src/tessera/service_tokens.py",
        "dev/src/tessera_dev/gateway.py",
    }


def test_the_fault_catalogue_and_an_adr_state_the_rule_with_the_codes_numbers() -> None:
    faults = (ROOT / "docs" / "faults.md").read_text()
    (adr,) = ADRS.glob("*-clients-drop-idle-connections-first.md")
    decision = adr.read_text()
    server, client = f"{SERVER_KEEP_ALIVE_SECONDS:g} s", f"{CLIENT_KEEP_ALIVE_SECONDS:g} s"

    for text in (faults, decision):
        assert "tessera/keep_alive.py" in text
        assert "SERVER_KEEP_ALIVE_SECONDS" in text
        assert "CLIENT_KEEP_ALIVE_SECONDS" in text
        assert server in text
        assert client in text
    assert f"](adr/{adr.name})" in faults


def test_the_readme_lists_every_adr() -> None:
    readme = (ROOT / "README.md").read_text()

    assert [
        adr.name for adr in sorted(ADRS.glob("*.md")) if f"(docs/adr/{adr.name})" not in readme
    ] == []
