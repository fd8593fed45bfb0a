"""`SMTP_URL` and `SMTP_PASSWORD_FILE`: the forms auth understands, a password that never sits in
the URL, and a real SMTP login with the password read from its file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from auth_service.adapters.smtp_sender import (
    MailDeliveryError,
    SmtpSender,
    SmtpTarget,
    parse_smtp_url,
)
from auth_service.config import Settings
from auth_service.domain.mail import Mail
from pydantic import ValidationError

MAIL = Mail(to="ada@example.com", subject="Hello", text="plain", html="<p>html</p>")


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("smtp://127.0.0.1:1025", SmtpTarget("127.0.0.1", 1025, False, None, None)),
        ("smtp://mail.example.com", SmtpTarget("mail.example.com", 25, False, None, None)),
        (
            "smtp+starttls://tessera%40example.com@relay.example.com",
            SmtpTarget("relay.example.com", 587, False, True, "tessera@example.com"),
        ),
        ("smtps://relay.example.com", SmtpTarget("relay.example.com", 465, True, False, None)),
    ],
)
def test_the_smtp_url_forms(url: str, target: SmtpTarget) -> None:
    assert parse_smtp_url(url) == target


@pytest.mark.parametrize(
    "url", ["http://relay.example.com", "smtp://", "smtp://user:secret@relay.example.com"]
)
def test_settings_refuse_an_smtp_url_they_cannot_use_or_that_carries_a_password(url: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(SMTP_URL=url)

    assert "secret" not in str(refused.value)  # a refused value is never echoed


def test_a_login_needs_tls_and_a_password_file(tmp_path: Path) -> None:
    secret = tmp_path / "smtp-password"
    secret.write_text("relay-secret\n")

    with pytest.raises(ValidationError, match="must use TLS"):
        Settings(SMTP_URL="smtp://tessera@relay.example.com", SMTP_PASSWORD_FILE=secret)
    with pytest.raises(ValidationError, match="SMTP_PASSWORD_FILE"):
        Settings(SMTP_URL="smtp+starttls://tessera@relay.example.com")


def test_production_refuses_plaintext_smtp_to_anything_but_loopback(tmp_path: Path) -> None:
    def production(smtp_url: str) -> Settings:
        return Settings.model_validate(
            {
                "ENVIRONMENT": "production",
                "ISSUER": "https://auth.example.com",
                "KEY_ENCRYPTION_KEY": "A" * 43 + "=",
                "SMTP_URL": smtp_url,
            }
        )

    with pytest.raises(ValidationError, match="SMTP_URL must use TLS"):
        production("smtp://relay.example.com")
    assert production("smtp://127.0.0.1:25").SMTP_URL
    assert production("smtps://relay.example.com").SMTP_URL


class Recording:
    def __init__(self) -> None:
        self.logins: list[tuple[str, str]] = []
        self.received: list[Envelope] = []

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        login, password = data.login.decode(), data.password.decode()
        self.logins.append((login, password))
        ok = password == "relay-secret"
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        self.received.append(envelope)
        return "250 OK"


@pytest.fixture
async def relay() -> AsyncIterator[tuple[Recording, int]]:
    """A relay that demands a login (over plain TCP: this is loopback)."""
    recording = Recording()
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(
            recording,
            hostname="relay.test",
            auth_exclude_mechanism=["LOGIN"],
            authenticator=recording.authenticate,
            auth_required=False,  # (True warns without TLS) a login is still checked
            auth_require_tls=False,
        ),
        "127.0.0.1",
        0,
    )
    yield recording, server.sockets[0].getsockname()[1]
    server.close()


async def test_the_password_comes_from_its_file_and_logs_in(
    relay: tuple[Recording, int], tmp_path: Path
) -> None:
    recording, port = relay
    secret = tmp_path / "smtp-password"
    secret.write_text("relay-secret\n")
    settings = Settings(
        SMTP_URL="smtp+starttls://tessera@relay.example.com", SMTP_PASSWORD_FILE=secret
    )

    # this relay speaks plain TCP on loopback (settings refuse a login without TLS)
    url = f"smtp://tessera@127.0.0.1:{port}"
    sender = SmtpSender(url, mail_from="a@b.test", password=settings.smtp_password())
    await sender.send(MAIL)

    assert recording.logins == [("tessera", "relay-secret")]
    assert [envelope.rcpt_tos for envelope in recording.received] == [["ada@example.com"]]
    assert "relay-secret" not in repr(sender)


async def test_a_refused_login_is_a_delivery_error_the_outbox_retries(
    relay: tuple[Recording, int],
) -> None:
    _, port = relay
    sender = SmtpSender(f"smtp://tessera@127.0.0.1:{port}", mail_from="a@b.test", password="wrong")

    with pytest.raises(MailDeliveryError):
        await sender.send(MAIL)
