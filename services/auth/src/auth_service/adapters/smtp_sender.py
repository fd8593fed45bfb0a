"""Sending one mail over SMTP (aiosmtplib), as `SMTP_URL` says.

    smtp://host:port             STARTTLS when the server offers it (the dev catcher and
                                 Mailpit do not; a real relay does)
    smtp+starttls://host:port    STARTTLS required
    smtps://host:port            TLS from the first byte (port 465)
    smtp+starttls://user@host    authenticate as `user`, with the password from
                                 SMTP_PASSWORD_FILE (never in the URL; a login needs TLS,
                                 and production needs TLS to any host but loopback)

Every failure (connection, TLS, authentication, a refused recipient) is `MailDeliveryError`;
the outbox worker retries it later. Nothing here logs a body: it may carry a live link.
"""

from __future__ import annotations

import email.utils
import ipaddress
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib

from auth_service.domain.mail import Mail

SEND_TIMEOUT_SECONDS = 15.0


class MailDeliveryError(Exception):
    """The SMTP server could not be reached, or did not take the mail."""


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    use_tls: bool
    start_tls: bool | None
    username: str | None


def is_loopback_host(host: str) -> bool:
    """Whether `host` is this machine (mail to it never crosses a network)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_smtp_url(url: str) -> SmtpTarget:
    """`SMTP_URL` as a target; `ValueError` for anything but the forms above."""
    parts = urlsplit(url)
    schemes = {
        "smtp": (False, None, 25),
        "smtp+starttls": (False, True, 587),
        "smtps": (True, False, 465),
    }
    if parts.scheme not in schemes or not parts.hostname:
        raise ValueError("SMTP_URL must be smtp://, smtp+starttls:// or smtps://host[:port]")
    if parts.password:
        raise ValueError("SMTP_URL must not carry a password: use SMTP_PASSWORD_FILE")
    use_tls, start_tls, default_port = schemes[parts.scheme]
    return SmtpTarget(
        host=parts.hostname,
        port=parts.port or default_port,
        use_tls=use_tls,
        start_tls=start_tls,
        username=unquote(parts.username) if parts.username else None,
    )


class SmtpSender:
    """Sends mails from `mail_from` through the server of `smtp_url`."""

    def __init__(self, smtp_url: str, *, mail_from: str, password: str | None = None) -> None:
        self._target = parse_smtp_url(smtp_url)
        self._from = mail_from
        self._password = password

    def __repr__(self) -> str:
        return f"SmtpSender({self._target.host}:{self._target.port})"

    def message(self, mail: Mail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._from
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Date"] = email.utils.formatdate(localtime=False)
        domain = email.utils.parseaddr(self._from)[1].rpartition("@")[2] or "localhost"
        message["Message-ID"] = email.utils.make_msgid(domain=domain)
        message.set_content(mail.text)
        message.add_alternative(mail.html, subtype="html")
        return message

    async def send(self, mail: Mail) -> None:
        target = self._target
        try:
            await aiosmtplib.send(
                self.message(mail),
                hostname=target.host,
                port=target.port,
                use_tls=target.use_tls,
                start_tls=target.start_tls,
                username=target.username,
                password=self._password if target.username else None,
                timeout=SEND_TIMEOUT_SECONDS,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            raise MailDeliveryError(type(error).__name__) from error
