"""Reading a platform's mail over Mailpit's HTTP API: the same calls against `make run`'s catcher
(`tessera_dev.mail_catcher`, http://127.0.0.1:8025) and compose's Mailpit.

    inbox = Inbox("http://127.0.0.1:8025")
    mail = inbox.wait_for("ada@example.com", subject="Confirm your email address")
    token = mailed_token(mail)          # the tsv_/tsp_ token of the mail's link

Used by the end-to-end tests, the browser tests and `make demo`. From a shell, the token of the
newest verification (`tsv_`) or reset (`tsp_`) link mailed to an address, waited for:

    python -m tessera_dev.inbox token verify ada@example.org    # --inbox URL; default: make run's

Each link is handed out once: the mail it came from is tagged `handed-out` in the inbox
(Mailpit's `PUT /api/v1/tags`; the catcher answers it too), with any older mail to the address
holding a link of the same kind, and a tagged mail's token is never printed. So the README's
commands run a second time against the same `make run` wait for the mail their own request
causes, never print the token the first run used up; when no such mail comes within `--seconds`
(an address that already has an account is mailed no verification link), it says so, exit 1.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Sequence
from typing import Any

import httpx

from tessera_dev.platform import PortPlan

MAILED_TOKEN = re.compile(r"[?&]token=(ts[vp]_[A-Za-z0-9_-]+)")
TOKEN_PREFIXES = {"verify": "tsv_", "reset": "tsp_"}
HANDED_OUT = "handed-out"
"""The tag of a mail whose link's token `Inbox.take_token` printed (or passed over: older)."""


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

    def set_tags(self, message_id: str, tags: Sequence[str]) -> None:
        """Give a message these tags, in place of the ones it had (Mailpit's `PUT /api/v1/tags`)."""
        answer = httpx.put(
            f"{self.base_url}/api/v1/tags",
            json={"IDs": [message_id], "Tags": list(tags)},
            timeout=10,
        )
        answer.raise_for_status()

    def take_token(self, to: str, prefix: str, *, seconds: float = 30.0) -> str:
        """The token starting with `prefix` of the newest mail to `to` whose link holds one and
        that no call before handed out, polled until such a mail arrives; `TimeoutError` after
        `seconds`. The mail is tagged `HANDED_OUT` in the inbox, and so is every older untagged
        one to `to` with such a link: a later call waits for a newer mail, never goes back."""
        deadline = time.monotonic() + seconds
        tokens: dict[str, str | None] = {}  # a message's link token, by ID (mail never changes)
        while True:
            newest: tuple[dict[str, Any], str] | None = None
            older: list[dict[str, Any]] = []
            for summary in self.messages():
                if to.lower() not in {item["Address"].lower() for item in summary.get("To") or []}:
                    continue
                if summary["ID"] not in tokens:
                    match = MAILED_TOKEN.search(self.message(summary["ID"])["Text"])
                    tokens[summary["ID"]] = match.group(1) if match is not None else None
                token = tokens[summary["ID"]]
                if token is None or not token.startswith(prefix):
                    continue
                if HANDED_OUT in _tags(summary):
                    break  # the older ones of this kind went out with it, or before it
                if newest is None:
                    newest = summary, token
                else:
                    older.append(summary)
            if newest is not None:
                for summary in (newest[0], *older):
                    self.set_tags(summary["ID"], [*_tags(summary), HANDED_OUT])
                return newest[1]
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"no mail to {to} with a new {prefix}… link within {seconds:.0f} s "
                    "(each link's token is printed once)"
                )
            time.sleep(0.2)

    def ids_for(self, to: str) -> frozenset[str]:
        """The IDs of the messages to `to` so far (to wait for a newer one with `skip`)."""
        return frozenset(
            summary["ID"]
            for summary in self.messages()
            if to.lower() in {item["Address"].lower() for item in summary.get("To") or []}
        )


def _tags(summary: dict[str, Any]) -> list[str]:
    tags: list[str] = summary.get("Tags") or []
    return tags


def mailed_token(message: dict[str, Any]) -> str:
    """The token of the link in a verification or reset mail."""
    match = MAILED_TOKEN.search(message["Text"])
    if match is None:
        raise ValueError(f"no link with a token in the mail {message['Subject']!r}")
    return match.group(1)


def default_inbox_url() -> str:
    """`make run`'s inbox, on the port base the launcher reads (`TESSERA_DEV_PORT_BASE`)."""
    base = os.environ.get("TESSERA_DEV_PORT_BASE")
    ports = PortPlan.from_base(int(base)) if base else PortPlan()
    return f"http://127.0.0.1:{ports.mail_http}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tessera_dev.inbox", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    token = commands.add_parser(
        "token",
        help="print the token of the newest verify or reset link mailed to ADDRESS that was not "
        "printed before (waits for a newer mail)",
    )
    token.add_argument("kind", choices=sorted(TOKEN_PREFIXES))
    token.add_argument("address")
    token.add_argument("--inbox", default=default_inbox_url(), help="the inbox's URL")
    token.add_argument("--seconds", type=float, default=30.0, help="how long to wait for it")
    args = parser.parse_args(argv)
    inbox = Inbox(args.inbox)
    try:
        print(inbox.take_token(args.address, TOKEN_PREFIXES[args.kind], seconds=args.seconds))
    except (TimeoutError, httpx.HTTPError) as exc:
        print(f"inbox: {exc or type(exc).__name__} ({inbox.base_url})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
