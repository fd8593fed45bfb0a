"""The mails auth sends, and the outbox entries they travel in (DESIGN §11).

A mail is rendered from the templates in `auth_service/mail_templates/` (`<kind>.txt` and
`<kind>.html`, `string.Template` placeholders; values are HTML-escaped for the HTML part) and
written to the outbox in the transaction of the change it tells about, so a mail is never lost
by a crash nor sent for a change that was rolled back.

Some requests decide only later which mail (if any) to send: a password reset or a resent
verification for an address that may or may not have an account. Those are stored as a
*request* carrying only the address; the outbox worker resolves it (`use_cases/mail_requests`)
in a transaction of its own, so the HTTP request does exactly the same work whoever asked.
"""

from __future__ import annotations

import enum
import html
import string
import uuid
from dataclasses import dataclass
from datetime import datetime
from importlib import resources


class MailKind(enum.StrEnum):
    VERIFY_EMAIL = "verify_email"
    """A new account: confirm the address."""
    ALREADY_REGISTERED = "already_registered"
    """Someone tried to register with an address that has an account."""
    PASSWORD_RESET = "password_reset"  # noqa: S105 (a name, not a password)
    """A link to choose a new password."""
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 (a name, not a password)
    """The password was changed (a reset or a change): if it was not you, act now."""
    MFA_ENABLED = "mfa_enabled"
    """Two-step verification was turned on."""
    MFA_DISABLED = "mfa_disabled"
    """Two-step verification was turned off by the user."""
    RECOVERY_CODES_REGENERATED = "recovery_codes_regenerated"
    """New recovery codes replaced the old ones."""
    MFA_RESET = "mfa_reset"
    """An operator removed the user's second factor (lost device and codes)."""
    PASSKEY_ADDED = "passkey_added"
    """A passkey was registered."""
    PASSKEY_REMOVED = "passkey_removed"
    """A passkey was removed."""


class MailRequestKind(enum.StrEnum):
    """Requests the worker turns into a mail, or into nothing."""

    PASSWORD_RESET = "password_reset_request"  # noqa: S105 (a name, not a password)
    RESEND_VERIFICATION = "resend_verification_request"
    ALREADY_REGISTERED = "already_registered_request"


SUBJECTS = {
    MailKind.VERIFY_EMAIL: "Confirm your email address",
    MailKind.ALREADY_REGISTERED: "Someone tried to sign up with your email address",
    MailKind.PASSWORD_RESET: "Reset your password",
    MailKind.PASSWORD_CHANGED: "Your password was changed",
    MailKind.MFA_ENABLED: "Two-step verification is on",
    MailKind.MFA_DISABLED: "Two-step verification was turned off",
    MailKind.RECOVERY_CODES_REGENERATED: "Your recovery codes were replaced",
    MailKind.MFA_RESET: "Your two-step verification was reset",
    MailKind.PASSKEY_ADDED: "A passkey was added to your account",
    MailKind.PASSKEY_REMOVED: "A passkey was removed from your account",
}


@dataclass(frozen=True, slots=True)
class Mail:
    """One message to one address."""

    to: str
    subject: str
    text: str
    html: str

    def __repr__(self) -> str:  # never the body: it may carry a live link
        return f"Mail(to=..., subject={self.subject!r})"


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """What the outbox holds for one mail or request, before it is sealed and stored.

    `expires_at`: a mail carrying a token is never sent after the token expired (it is marked
    expired instead)."""

    id: uuid.UUID
    kind: MailKind | MailRequestKind
    created_at: datetime
    mail: Mail | None = None
    address: str | None = None
    """A request's address (requests only)."""
    expires_at: datetime | None = None


def render_mail(kind: MailKind, *, to: str, app_url: str, link: str = "", minutes: int = 0) -> Mail:
    """The mail of `kind` for `to`, with its link (if it has one) into the app at `app_url`."""
    values = {"app_url": app_url, "link": link, "minutes": str(minutes), "email": to}
    text = _template(kind, "txt").substitute(values)
    escaped = {name: html.escape(value, quote=True) for name, value in values.items()}
    body = _template(kind, "html").substitute(escaped)
    return Mail(to=to, subject=SUBJECTS[kind], text=text, html=body)


def _template(kind: MailKind, extension: str) -> string.Template:
    source = resources.files("auth_service.mail_templates").joinpath(f"{kind.value}.{extension}")
    return string.Template(source.read_text(encoding="utf-8"))
