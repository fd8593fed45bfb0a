"""The CLI's errors: one line a person can act on, and an exit code a script can test.

Where a test needs Tessera to misbehave, the CLI's client is given an `httpx.MockTransport`
playing Tessera (the real platform is driven in test_against_real_processes.py).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tessera_mobile import cli
from tessera_mobile.cli import main
from tessera_mobile.client import TesseraClient
from tessera_mobile.store import TokenStore

REFRESH_TOKEN = "tsr_" + "r" * 43
TOKEN_ANSWER = {"access_token": "at", "expires_in": 300, "refresh_token": REFRESH_TOKEN}
LOGIN = ["login", "--email", "ada@example.org", "--password-stdin"]
ORDER = ["order", "create", "--sku", "MUG", "--quantity", "1", "--price-cents", "900"]


def unused_local_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_an_unreachable_tessera_is_one_line_naming_the_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = unused_local_url()
    monkeypatch.setattr("sys.stdin", _Lines("pw-long-enough\n"))

    login = ["login", "--email", "ada@example.org", "--password-stdin"]
    code = main(["--base-url", url, "--store", str(tmp_path / "rt"), *login])

    err = capsys.readouterr().err
    assert code == 4
    assert err == f"tessera-mobile: cannot reach Tessera at {url}: is `make run` running?\n"


def test_a_command_before_signing_in_says_to_sign_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--base-url", unused_local_url(), "--store", str(tmp_path / "rt"), "orders"])

    assert code == 3
    assert "sign in" in capsys.readouterr().err


def test_a_token_file_others_can_read_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "rt"
    TokenStore(path).save("tsr_" + "x" * 43)
    path.chmod(0o644)

    code = main(["--base-url", unused_local_url(), "--store", str(path), "orders"])

    assert code == 1
    assert "wider than 0600" in capsys.readouterr().err


def test_an_order_needs_a_sku_quantity_and_price(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["order", "create", "--sku", "BOOK-1"])

    assert exited.value.code == 2
    assert "--quantity" in capsys.readouterr().err


class FakeTessera:
    """Tessera's token endpoints answering as they do; `POST /v1/orders` answered by `orders`;
    every other path by `others` (when given) or 404.

    Remembers every request, so a test can look at what the CLI sent.
    """

    def __init__(
        self,
        orders: Callable[[httpx.Request], httpx.Response] | None = None,
        others: Callable[[httpx.Request], httpx.Response] | None = None,
    ) -> None:
        self.orders = orders or (lambda request: httpx.Response(201, json={"id": "ord_1"}))
        self.others = others
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.others is not None and request.url.path not in ("/v1/auth/token", "/v1/orders"):
            return self.others(request)
        if request.url.path in ("/v1/auth/login", "/v1/auth/token"):
            return httpx.Response(200, json=TOKEN_ANSWER)
        if request.url.path == "/v1/orders":
            return self.orders(request)
        return httpx.Response(404, json={"title": "Not Found"})


@pytest.fixture
def tessera(monkeypatch: pytest.MonkeyPatch) -> Callable[[FakeTessera], None]:
    """`tessera(fake)`: the CLI's client talks to `fake` instead of the network."""

    def serve(fake: FakeTessera) -> None:
        def client(**kwargs: Any) -> TesseraClient:
            return TesseraClient(transport=httpx.MockTransport(fake), **kwargs)

        monkeypatch.setattr(cli, "TesseraClient", client)

    return serve


@pytest.fixture
def signed_in_store(tmp_path: Path) -> Path:
    path = tmp_path / "device" / "refresh_token"
    TokenStore(path).save(REFRESH_TOKEN)
    return path


def fails_with_one_line(err: str) -> str:
    """The one stderr line of a failed command, without its "tessera-mobile: " prefix."""
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    assert err.startswith("tessera-mobile: ")
    return err.removeprefix("tessera-mobile: ").rstrip("\n")


def raising(error: type[httpx.RequestError]) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        raise error("simulated", request=request)

    return answer


# -- the network fails after the request went out -------------------------------------------------


@contextlib.contextmanager
def server_that_hangs_up() -> Iterator[str]:
    """A local port that accepts one connection, reads the request and closes without answering."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(30)

        def hang_up() -> None:
            with contextlib.suppress(OSError), listener.accept()[0] as connection:
                connection.recv(65536)

        thread = threading.Thread(target=hang_up, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
        thread.join(timeout=30)


def test_a_server_that_hangs_up_without_answering_is_one_line_and_exit_4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", _Lines("pw-long-enough\n"))

    with server_that_hangs_up() as url:
        code = main(["--base-url", url, "--store", str(tmp_path / "rt"), *LOGIN])

    assert code == 4
    message = fails_with_one_line(capsys.readouterr().err)
    assert message.startswith(f"no answer from Tessera at {url} (")
    assert message.endswith("the request may or may not have been carried out")


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (httpx.ReadTimeout, "timed out"),
        (httpx.WriteTimeout, "timed out"),
        (httpx.PoolTimeout, "timed out"),
        (httpx.ReadError, "connection lost"),
        (httpx.WriteError, "connection lost"),
        (httpx.RemoteProtocolError, "malformed HTTP answer"),
        (httpx.DecodingError, "malformed HTTP answer"),
        (httpx.ProxyError, "ProxyError"),
    ],
)
def test_a_request_whose_answer_is_lost_is_one_line_and_exit_4(
    signed_in_store: Path,
    tessera: Callable[[FakeTessera], None],
    capsys: pytest.CaptureFixture[str],
    error: type[httpx.RequestError],
    reason: str,
) -> None:
    tessera(FakeTessera(orders=raising(error)))

    code = main(["--base-url", "http://tessera.test", "--store", str(signed_in_store), *ORDER])

    assert code == 4
    message = fails_with_one_line(capsys.readouterr().err)
    assert message.startswith(f"no answer from Tessera at http://tessera.test ({reason})")


def test_a_lost_order_answer_names_the_key_to_retry_with(
    signed_in_store: Path,
    tessera: Callable[[FakeTessera], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake = FakeTessera(orders=raising(httpx.ReadTimeout))
    tessera(fake)

    code = main(["--base-url", "http://tessera.test", "--store", str(signed_in_store), *ORDER])

    assert code == 4
    [sent] = [r for r in fake.requests if r.url.path == "/v1/orders"]
    key = sent.headers["Idempotency-Key"]
    message = fails_with_one_line(capsys.readouterr().err)
    assert message.endswith(f"run the same command with --idempotency-key {key}")


def test_order_create_sends_the_idempotency_key_it_is_given(
    signed_in_store: Path,
    tessera: Callable[[FakeTessera], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake = FakeTessera()
    tessera(fake)
    store = ["--base-url", "http://tessera.test", "--store", str(signed_in_store)]

    first = main([*store, *ORDER, "--idempotency-key", "order-7f3a"])
    again = main([*store, *ORDER, "--idempotency-key", "order-7f3a"])
    new = main([*store, *ORDER])

    assert (first, again, new) == (0, 0, 0)
    keys = [r.headers["Idempotency-Key"] for r in fake.requests if r.url.path == "/v1/orders"]
    assert keys[:2] == ["order-7f3a", "order-7f3a"]
    assert keys[2] != "order-7f3a"
    assert json.loads(fake.requests[-1].content)["items"][0]["sku"] == "MUG"
    assert capsys.readouterr().out.count("ord_1") == 3


@pytest.mark.parametrize("key", ["two words", "naïve", "line\nbreak", "k" * 256])
def test_an_idempotency_key_orders_would_refuse_is_one_line_before_anything_is_sent(
    signed_in_store: Path,
    tessera: Callable[[FakeTessera], None],
    capsys: pytest.CaptureFixture[str],
    key: str,
) -> None:
    fake = FakeTessera()
    tessera(fake)

    code = main(["--store", str(signed_in_store), *ORDER, "--idempotency-key", key])

    assert code == 1
    assert "idempotency key" in fails_with_one_line(capsys.readouterr().err)
    assert fake.requests == []


def test_a_base_url_without_http_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", _Lines("pw-long-enough\n"))

    code = main(["--base-url", "localhost:8000", "--store", str(tmp_path / "rt"), *LOGIN])

    assert code == 1
    assert "must start with http(s)://" in fails_with_one_line(capsys.readouterr().err)


# -- the token file ----------------------------------------------------------------------------


def test_a_token_that_cannot_be_stored_is_one_line_naming_the_file(
    tmp_path: Path,
    tessera: Callable[[FakeTessera], None],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tessera(FakeTessera())
    (tmp_path / "config").write_text("a file where the store's directory should be")
    path = tmp_path / "config" / "refresh_token"
    monkeypatch.setattr("sys.stdin", _Lines("pw-long-enough\n"))

    code = main(["--base-url", "http://tessera.test", "--store", str(path), *LOGIN])

    assert code == 1
    assert fails_with_one_line(capsys.readouterr().err).startswith(
        f"cannot write token file {path}: "
    )


@pytest.mark.parametrize("content", [b"tsr_SECRET\xff\xfe", b"tsr_SECRETa\ntsr_SECRETb"])
def test_a_corrupt_token_file_is_named_with_what_to_do_and_never_shown(
    tmp_path: Path,
    tessera: Callable[[FakeTessera], None],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    content: bytes,
) -> None:
    tessera(FakeTessera())
    path = tmp_path / "rt"
    path.write_bytes(content)
    path.chmod(0o600)
    store = ["--base-url", "http://tessera.test", "--store", str(path)]

    code = main([*store, "orders"])

    assert code == 1
    message = fails_with_one_line(capsys.readouterr().err)
    assert message == (
        f"token file {path} is corrupt (it does not hold a refresh token): "
        "sign in again (tessera-mobile login) to replace it"
    )
    monkeypatch.setattr("sys.stdin", _Lines("pw-long-enough\n"))
    assert main([*store, *LOGIN]) == 0  # doing what the message says works
    assert TokenStore(path).load() == REFRESH_TOKEN


# -- two-step sign-in ----------------------------------------------------------------------------

MFA_TOKEN = "tsm_" + "m" * 43


def problem(status: int, name: str, **extra: object) -> httpx.Response:
    body = {"type": f"urn:tessera:problem:{name}", "title": name, "status": status, **extra}
    return httpx.Response(status, json=body, headers={"Content-Type": "application/problem+json"})


def test_login_asks_for_the_code_again_when_a_typed_one_is_wrong(
    tmp_path: Path,
    tessera: Callable[[FakeTessera], None],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    typed = iter(["pw-long-enough", "000000", "123 456"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(typed))
    second_steps: list[dict[str, str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/auth/login":
            return problem(401, "mfa-required", mfa_token=MFA_TOKEN, methods=["totp"])
        second_steps.append(json.loads(request.content))
        if second_steps[-1].get("code") != "123456":
            return problem(401, "mfa-code-invalid")
        return httpx.Response(200, json=TOKEN_ANSWER)

    tessera(FakeTessera(others=answer))
    path = tmp_path / "rt"

    code = main(["--base-url", "http://tessera.test", "--store", str(path), *LOGIN[:3]])

    out, err = capsys.readouterr()
    assert code == 0, err
    assert [step["code"] for step in second_steps] == ["000000", "123456"]
    assert {step["mfa_token"] for step in second_steps} == {MFA_TOKEN}
    assert {step["client_id"] for step in second_steps} == {"mobile"}
    assert "wrong or was already used" in err
    assert TokenStore(path).load() == REFRESH_TOKEN
    assert MFA_TOKEN not in out + err
    assert REFRESH_TOKEN not in out + err


def test_a_challenge_for_a_second_factor_is_answered_with_a_code_not_the_password(
    signed_in_store: Path,
    tessera: Callable[[FakeTessera], None],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    step_ups: list[dict[str, str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/auth/step-up":
            step_ups.append(json.loads(request.content))
            return httpx.Response(200, json={"access_token": "at2", "expires_in": 300})
        if request.headers["Authorization"] == "Bearer at2":
            return httpx.Response(204)
        challenge = (
            'Bearer error="insufficient_user_authentication", '
            'error_description="a recent sign-in with a second factor is required", '
            'max_age="300", acr_values="urn:tessera:acr:mfa"'
        )
        return httpx.Response(
            401, json={"title": "Unauthorized"}, headers={"WWW-Authenticate": challenge}
        )

    tessera(FakeTessera(others=answer))
    monkeypatch.setattr("sys.stdin", _Lines("abcd-efgh-jkmn-pqrs\n"))
    store = ["--base-url", "http://tessera.test", "--store", str(signed_in_store)]

    code = main([*store, "mfa", "disable", "--password-stdin"])

    out, err = capsys.readouterr()
    assert code == 0, err
    assert step_ups == [{"recovery_code": "abcd-efgh-jkmn-pqrs"}]
    assert "needs a sign-in within the last 5 min" in err
    assert "two-step sign-in is off" in out


# -- lists: a table under a header row, amounts in the currency's units -------------------------

ORDER_PAID = {
    "id": "ord_1",
    "status": "paid",
    "total_cents": 4499,
    "currency": "EUR",
    "invoice_id": "inv_1",
}
ORDER_IN_YEN = {**ORDER_PAID, "id": "ord_2", "total_cents": 1250, "currency": "JPY"}
ORDER_PENDING = {
    **ORDER_PAID,
    "id": "ord_3",
    "status": "payment_pending",
    "total_cents": 900,
    "invoice_id": None,
}


def listing(path: str, items: list[dict[str, Any]]) -> FakeTessera:
    """Tessera answering `GET path` with `items`, and placing or cancelling `ORDER_PAID`."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path == path:
            return httpx.Response(200, json={"items": items, "next_page_token": ""})
        if request.url.path in ("/v1/orders", "/v1/orders/ord_1/cancel"):
            cancelled = request.url.path.endswith("/cancel")
            order = {**ORDER_PAID, "status": "cancelled"} if cancelled else ORDER_PAID
            return httpx.Response(200 if cancelled else 201, json=order)
        return httpx.Response(404, json={"title": "Not Found"})

    return FakeTessera(orders=answer, others=answer)


def printed_by(store: Path, *command: str, capsys: pytest.CaptureFixture[str]) -> str:
    code = main(["--base-url", "http://tessera.test", "--store", str(store), *command])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_orders_are_listed_under_a_header_with_amounts_in_the_currencys_units(
    signed_in_store: Path,
    tessera: Callable[[FakeTessera], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    tessera(listing("/v1/orders", [ORDER_PAID, ORDER_IN_YEN, ORDER_PENDING]))

    out = printed_by(signed_in_store, "orders", capsys=capsys)

    assert out == (
        "ID     STATUS               TOTAL  INVOICE\n"
        "ord_1  paid             44.99 EUR  inv_1\n"
        "ord_2  paid              1250 JPY  inv_1\n"
        "ord_3  payment_pending   9.00 EUR  -\n"
    )


def test_a_placed_and_a_cancelled_order_are_shown_as_the_list_shows_them(
    signed_in_store: Path,
    tessera: Callable[[FakeTessera], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    tessera(listing("/v1/orders", []))

    placed = printed_by(signed_in_store, *ORDER, capsys=capsys)
    cancelled = printed_by(signed_in_store, "order", "cancel", "ord_1", capsys=capsys)

    assert placed == ("ID     STATUS      TOTAL  INVOICE\nord_1  paid    44.99 EUR  inv_1\n")
    assert cancelled == (
        "ID     STATUS         TOTAL  INVOICE\nord_1  cancelled  44.99 EUR  inv_1\n"
    )


def test_invoices_are_listed_under_a_header_with_their_order_and_amount(
    signed_in_store: Path,
    tessera: Callable[[FakeTessera], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    refunded = {"id": "inv_1", "order_id": "ord_1", "status": "refunded", "currency": "EUR"}
    in_yen = {"id": "inv_2", "order_id": "ord_2", "status": "paid", "currency": "JPY"}
    invoices = [{**refunded, "amount_cents": 4499}, {**in_yen, "amount_cents": 1250}]
    tessera(listing("/v1/invoices", invoices))

    out = printed_by(signed_in_store, "invoices", capsys=capsys)

    assert out == (
        "ID     ORDER  STATUS       AMOUNT\n"
        "inv_1  ord_1  refunded  44.99 EUR\n"
        "inv_2  ord_2  paid       1250 JPY\n"
    )


def test_sessions_are_listed_under_a_header_with_this_device_marked(
    signed_in_store: Path,
    tessera: Callable[[FakeTessera], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    this_phone: dict[str, Any] = {"id": "ses_1", "client_id": "mobile", "ip": "203.0.113.7"}
    a_browser: dict[str, Any] = {"id": "ses_2", "client_id": "web", "ip": None}
    sessions = [
        {**this_phone, "current": True, "last_used_at": "2025-06-01T12:34:56.789000Z"},
        {**a_browser, "current": False, "last_used_at": "2025-06-01T14:00:00+02:00"},  # 12:00 UTC
    ]
    tessera(listing("/v1/sessions", sessions))

    out = printed_by(signed_in_store, "sessions", capsys=capsys)

    assert out == (
        "ID     CLIENT  IP           LAST USED             CURRENT\n"
        "ses_1  mobile  203.0.113.7  2025-06-01 12:34 UTC  *\n"
        "ses_2  web     -            2025-06-01 12:00 UTC\n"
    )


def test_an_empty_list_says_so_instead_of_a_lone_header(
    signed_in_store: Path,
    tessera: Callable[[FakeTessera], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    tessera(listing("/v1/orders", []))

    assert printed_by(signed_in_store, "orders", capsys=capsys) == "(none)\n"


class _Lines:
    """A stdin that holds a fixed text (what `--password-stdin` reads)."""

    def __init__(self, text: str) -> None:
        self._lines = text.splitlines(keepends=True)

    def readline(self) -> str:
        return self._lines.pop(0) if self._lines else ""
