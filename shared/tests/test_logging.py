"""configure_logging: JSON lines with service, request id and caller; tokens never written."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

import pytest
from tessera import Principal, configure_logging, current_principal_var, request_id_var


@pytest.fixture
def restored_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restored_root_logger")
def test_log_lines_are_json_with_request_id_and_sub_and_no_token(
    capsys: pytest.CaptureFixture[str], mint: Callable[..., str]
) -> None:
    token = mint()
    principal = Principal(
        sub="user-1",
        sid="session-1",
        client_id="web",
        scopes=frozenset(),
        roles=frozenset(),
        ver=1,
        jti="jti-1",
        issued_at=0,
        expires_at=1,
        audience=("orders",),
        actor=None,
        token=token,
    )
    configure_logging("orders", "DEBUG")
    request_reset = request_id_var.set("req-9")
    principal_reset = current_principal_var.set(principal)
    try:
        logging.getLogger("orders.test").info(
            "careless %s and Bearer %s", principal, token, extra={"order_id": "o-1"}
        )
    finally:
        current_principal_var.reset(principal_reset)
        request_id_var.reset(request_reset)
    line = capsys.readouterr().err.strip().splitlines()[-1]
    entry = json.loads(line)
    assert entry["service"] == "orders"
    assert entry["request_id"] == "req-9"
    assert entry["sub"] == "user-1"
    assert entry["order_id"] == "o-1"
    assert entry["level"] == "INFO"
    assert token not in line
    assert "[redacted]" in entry["message"]
