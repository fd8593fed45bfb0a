"""configure_logging: JSON lines with service, request id and caller; tokens never written."""

from __future__ import annotations

import json
import logging
import re
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


@pytest.mark.usefixtures("restored_root_logger")
def test_console_lines_are_short_say_each_field_once_and_never_a_token(
    capsys: pytest.CaptureFixture[str], mint: Callable[..., str]
) -> None:
    token = mint()
    configure_logging("orders", "INFO", "console")
    request_reset = request_id_var.set("req-7")
    try:
        logging.getLogger("tessera.access").info(
            "%s %s %d",
            "GET",
            "/v1/orders",
            200,
            extra={"method": "GET", "path": "/v1/orders", "status": 200, "duration_ms": 3.2},
        )
        logging.getLogger("orders.test").warning(
            "careless Bearer %s", token, extra={"note": "two words", "absent": None}
        )
    finally:
        request_id_var.reset(request_reset)
    access, careless = capsys.readouterr().err.strip().splitlines()[-2:]

    when, rest = access.split(" ", 1)
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3}", when)
    assert rest == "INFO    orders  GET /v1/orders 200  request_id=req-7 duration_ms=3.2"
    assert "WARNING orders  careless [redacted]" in careless
    assert 'note="two words"' in careless
    assert "absent" not in careless
    assert token not in careless


@pytest.mark.usefixtures("restored_root_logger")
def test_uvicorn_and_httpx_records_go_through_the_same_format(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("gateway", "INFO")

    logging.getLogger("uvicorn.error").info(
        "Started server process [%d]", 42, extra={"color_message": "Started \x1b[36m%d\x1b[0m"}
    )
    logging.getLogger("httpx").warning("HTTP Request: GET http://auth/ 502")
    started, request = (json.loads(line) for line in capsys.readouterr().err.splitlines()[-2:])

    assert started["message"] == "Started server process [42]"
    assert "color_message" not in started  # uvicorn's copy of the message, in ANSI colours
    assert {"ts", "level", "service"} <= set(request)
    assert request["service"] == "gateway"
