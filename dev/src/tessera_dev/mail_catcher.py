"""`make run`'s inbox: an SMTP server that keeps every mail, readable over Mailpit's HTTP API.

auth sends real SMTP in every way to run; what differs is who receives it: Mailpit in compose,
this catcher in `make run` and the tests (SMTP on 127.0.0.1:1025, HTTP on 127.0.0.1:8025; with
`--port-base B`: B+5 and B+6). Its HTTP side answers the subset of Mailpit's API that tests, the
demo and people use, so each works against either:

    GET    /api/v1/messages       {"total", "messages": [{"ID", "From", "To": [{"Address"}],
                                   "Subject", "Created", "Snippet", "Tags"}]}, newest first
    GET    /api/v1/message/{ID}   {"ID", "From", "To", "Subject", "Date", "Text", "HTML", "Tags"}
    PUT    /api/v1/tags           {"IDs", "Tags"}: those messages' tags become these (the token
                                   helper, `tessera_dev.inbox`, tags a link it handed out)
    DELETE /api/v1/messages       forget every message
    GET    /                      a plain inbox page (text bodies only; links are clickable)
    GET    /livez, /readyz        200

Mails live in memory (the newest 1,000). It listens on loopback only: anything sent to it is
readable by every local user, which is the point of a development inbox. It logs like the
services (`LOG_FORMAT`, `LOG_LEVEL`): a line per caught mail, its recipients and subject only.

    python -m tessera_dev.mail_catcher      # MAIL_SMTP_PORT, MAIL_HTTP_PORT, MAIL_HOST
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import html
import logging
import re
import secrets
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any, TypeGuard

import uvicorn
from aiosmtpd.smtp import SMTP, Envelope, Session
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from tessera.logging import configure_logging
from tessera.settings import LoggingSettings

KEPT_MESSAGES = 1_000
URL = re.compile(r"https?://[^\s<>\"']+")

log = logging.getLogger("tessera_dev.mail_catcher")


class MailCatcherSettings(BaseSettings, LoggingSettings):
    """Where the catcher listens (the platform description's `MailProcess.settings`)."""

    model_config = SettingsConfigDict(
        case_sensitive=True, extra="ignore", frozen=True, use_attribute_docstrings=True
    )

    MAIL_HOST: str = "127.0.0.1"
    """The address both sides listen on (loopback: see the module docstring)."""
    MAIL_SMTP_PORT: int = Field(default=1025, ge=0, le=65535)
    MAIL_HTTP_PORT: int = Field(default=8025, ge=0, le=65535)


@dataclass(frozen=True)
class CaughtMail:
    """One message as received: envelope recipients and the parsed parts."""

    id: str
    sender: str
    recipients: tuple[str, ...]
    subject: str
    created: datetime
    text: str
    html: str

    def summary(self, tags: Sequence[str] = ()) -> dict[str, Any]:
        return {
            "ID": self.id,
            "From": {"Address": self.sender},
            "To": [{"Address": address} for address in self.recipients],
            "Subject": self.subject,
            "Created": self.created.isoformat(),
            "Snippet": " ".join(self.text.split())[:200],
            "Tags": list(tags),
        }

    def full(self, tags: Sequence[str] = ()) -> dict[str, Any]:
        return {
            **self.summary(tags),
            "Date": self.created.isoformat(),
            "Text": self.text,
            "HTML": self.html,
        }


@dataclass
class Mailbox:
    """The caught mails, newest first, and the tags given to them (by ID)."""

    messages: deque[CaughtMail] = field(default_factory=lambda: deque(maxlen=KEPT_MESSAGES))
    tags: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def add(self, mail: CaughtMail) -> None:
        if len(self.messages) == self.messages.maxlen:
            self.tags.pop(self.messages[-1].id, None)  # the oldest, about to be forgotten
        self.messages.appendleft(mail)

    def get(self, message_id: str) -> CaughtMail | None:
        return next((mail for mail in self.messages if mail.id == message_id), None)

    def tags_of(self, message_id: str) -> tuple[str, ...]:
        return self.tags.get(message_id, ())

    def set_tags(self, message_ids: Sequence[str], tags: Sequence[str]) -> None:
        """Those messages' tags become `tags` (Mailpit's semantics; unknown IDs are ignored)."""
        known = {mail.id for mail in self.messages}
        kept = tuple(dict.fromkeys(tag.strip() for tag in tags if tag.strip()))
        for message_id in set(message_ids) & known:
            if kept:
                self.tags[message_id] = kept
            else:
                self.tags.pop(message_id, None)

    def clear(self) -> None:
        self.messages.clear()
        self.tags.clear()


def parse_mail(sender: str, recipients: list[str], content: bytes) -> CaughtMail:
    """A received message's parts (multipart/alternative text and HTML, or a single part)."""
    message = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    return CaughtMail(
        id=secrets.token_hex(8),
        sender=sender,
        recipients=tuple(recipients),
        subject=str(message.get("Subject", "")),
        created=datetime.now(UTC),
        text=text_part.get_content() if text_part is not None else "",
        html=html_part.get_content() if html_part is not None else "",
    )


class CatchingHandler:
    """aiosmtpd's handler: every message accepted into the mailbox."""

    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = envelope.original_content or b""
        mail = parse_mail(envelope.mail_from or "", list(envelope.rcpt_tos), bytes(content))
        self.mailbox.add(mail)
        # never the body: its links carry single-use tokens
        log.info("Caught a mail", extra={"to": ", ".join(mail.recipients), "subject": mail.subject})
        return "250 Message accepted for delivery"


class MailCatcher:
    """The SMTP side, run in the caller's event loop: `async with MailCatcher(...) as c:`."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 1025) -> None:
        self.host = host
        self.port = port
        self.mailbox = Mailbox()
        self._server: asyncio.AbstractServer | None = None

    @property
    def smtp_url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    async def __aenter__(self) -> MailCatcher:
        handler = CatchingHandler(self.mailbox)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(handler, hostname="tessera-mail-catcher"), self.host, self.port
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    async def wait_for(self, to: str, *, subject: str = "", seconds: float = 30.0) -> CaughtMail:
        """The newest mail to `to` (whose subject contains `subject`), polled until it comes."""
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            for mail in self.mailbox.messages:
                if to in mail.recipients and subject in mail.subject:
                    return mail
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"no mail to {to} ({subject!r}) within {seconds} s")
            await asyncio.sleep(0.05)


def inbox_app(mailbox: Mailbox, catcher: MailCatcher | None = None) -> Starlette:
    """The HTTP side: Mailpit's API subset and the inbox page (see the module docstring)."""

    async def messages(request: Request) -> Response:
        if request.method == "DELETE":
            mailbox.clear()
            return Response(status_code=200)
        items = [mail.summary(mailbox.tags_of(mail.id)) for mail in mailbox.messages]
        return JSONResponse({"total": len(items), "messages": items})

    async def message(request: Request) -> Response:
        mail = mailbox.get(request.path_params["id"])
        if mail is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        return JSONResponse(mail.full(mailbox.tags_of(mail.id)))

    async def tags(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        ids, tags = (body.get("IDs"), body.get("Tags")) if isinstance(body, dict) else (None, None)
        if not _strings(ids) or not _strings(tags):
            return Response('expected {"IDs": [...], "Tags": [...]}', status_code=400)
        mailbox.set_tags(ids, tags)
        return Response("ok")

    async def page(_: Request) -> Response:
        return HTMLResponse(_inbox_page(mailbox), headers=_PAGE_HEADERS)

    async def alive(_: Request) -> Response:
        return Response("ok")

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if catcher is None:
            yield
            return
        async with catcher:
            yield

    return Starlette(
        routes=[
            Route("/api/v1/messages", messages, methods=["GET", "DELETE"]),
            Route("/api/v1/message/{id}", message),
            Route("/api/v1/tags", tags, methods=["PUT"]),
            Route("/", page),
            Route("/livez", alive),
            Route("/readyz", alive),
        ],
        lifespan=lifespan,
    )


_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _strings(value: object) -> TypeGuard[list[str]]:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _linked(text: str) -> str:
    """Escaped text with its http(s) URLs as links."""
    parts, last = [], 0
    for match in URL.finditer(text):
        parts.append(html.escape(text[last : match.start()]))
        url = html.escape(match.group(0), quote=True)
        parts.append(f'<a href="{url}">{url}</a>')
        last = match.end()
    parts.append(html.escape(text[last:]))
    return "".join(parts)


def _inbox_page(mailbox: Mailbox) -> str:
    rows = "".join(
        f"<article><h2>{html.escape(mail.subject)}</h2>"
        f"<p>to {html.escape(', '.join(mail.recipients))}, {mail.created:%H:%M:%S} UTC"
        f"{''.join(f', tagged {html.escape(tag)}' for tag in mailbox.tags_of(mail.id))}</p>"
        f"<pre>{_linked(mail.text)}</pre></article>"
        for mail in mailbox.messages
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Tessera inbox</title>"
        "<style>body{font-family:sans-serif;max-width:50em;margin:2em auto}"
        "article{border-top:1px solid #ccc}pre{white-space:pre-wrap}</style></head><body>"
        f"<h1>Tessera inbox</h1><p>{len(mailbox.messages)} messages, newest first; "
        "this page does not refresh itself.</p>"
        f"{rows or '<p>No mail yet.</p>'}</body></html>"
    )


def main() -> None:
    settings = MailCatcherSettings()
    configure_logging("mail", settings.LOG_LEVEL, settings.LOG_FORMAT)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's line per SMTP command
    host, http_port = settings.MAIL_HOST, settings.MAIL_HTTP_PORT
    catcher = MailCatcher(host=host, port=settings.MAIL_SMTP_PORT)
    config = uvicorn.Config(
        inbox_app(catcher.mailbox, catcher),
        host=host,
        port=http_port,
        log_config=None,  # configure_logging's handler, as in the services
        access_log=False,
        log_level="warning",
    )
    from tessera.http.server import DrainingServer, end_process_now  # exit 0 like the services

    log.info("SMTP %s:%d, inbox http://%s:%d/", host, settings.MAIL_SMTP_PORT, host, http_port)
    server = DrainingServer(config, draining=None)
    server.run()  # stops like the services: exit 0, at once
    end_process_now(server)


if __name__ == "__main__":
    main()
