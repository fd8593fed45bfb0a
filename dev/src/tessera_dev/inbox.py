"""Reading a platform's mail over Mailpit's HTTP API: the same calls against `make run`'s catcher
(`tessera_dev.mail_catcher`, http://127.0.0.1:8025) and compose's Mailpit.

    inbox = Inbox("http://127.0.0.1:8025")
    mail = inbox.wait_for("ada@example.com", subject="Confirm your email address")
    token = mailed_token(mail)          # the tsv_/tsp_ token of the mail's link

Used by the end-to-end tests, the browser tests and `make demo`.
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx

MAILED_TOKEN = re.compile(r"[?&]token=(ts[vp]_[A-Za-z0-9_-]+)")


class Inbox:
    """A Mailpit-compatible inbox at `base_url`."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def messages(self) -> list[dict[str, Any]]:
        """Summaries, newest first: `{"ID", "To": [{"Address"}], "Subject", "Created", ...}`."""
        answer = httpx.get(f"{self.base_url}/api/v1/messages", timeout=10)
        answer.raise_for_status()
        messages: list[dict[str, Any]] = answer.json()["messages"]
        return messages

    def message(self, message_id: str) -> dict[str, Any]:
        """One message whole: `{"ID", "Subject", "Text", "HTML", "To", ...}`."""
        answer = httpx.get(f"{self.base_url}/api/v1/message/{message_id}", timeout=10)
        answer.raise_for_status()
        message: dict[str, Any] = answer.json()
        return message

    def wait_for(
        self,
        to: str,
        *,
        subject: str = "",
        seconds: float = 30.0,
        skip: frozenset[str] = frozenset(),
    ) -> dict[str, Any]:
        """The newest message to `to` whose subject contains `subject` (and whose ID is not in
        `skip`), polled until it arrives; `TimeoutError` after `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            for summary in self.messages():
                recipients = {item["Address"].lower() for item in summary.get("To") or []}
                if (
                    to.lower() in recipients
                    and subject in summary["Subject"]
                    and summary["ID"] not in skip
                ):
                    return self.message(summary["ID"])
            if time.monotonic() > deadline:
                raise TimeoutError(f"no mail to {to} ({subject!r}) within {seconds:.0f} s")
            time.sleep(0.1)

    def ids_for(self, to: str) -> frozenset[str]:
        """The IDs of the messages to `to` so far (to wait for a newer one with `skip`)."""
        return frozenset(
            summary["ID"]
            for summary in self.messages()
            if to.lower() in {item["Address"].lower() for item in summary.get("To") or []}
        )


def mailed_token(message: dict[str, Any]) -> str:
    """The token of the link in a verification or reset mail."""
    match = MAILED_TOKEN.search(message["Text"])
    if match is None:
        raise ValueError(f"no link with a token in the mail {message['Subject']!r}")
    return match.group(1)
