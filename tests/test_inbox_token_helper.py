"""`python -m tessera_dev.inbox token KIND ADDRESS` prints each mailed link's token once.

The README's blocks call it right after the request that mails the link. Against a `make run`
whose inbox still holds the mail of an earlier run, printing the newest link there was printing
a token the earlier run had used up (or printing it before the new mail landed). Here the helper
runs as a shell runs it, against the development inbox served over HTTP, with mail put straight
into its mailbox.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from tessera_dev import inbox as inbox_cli
from tessera_dev.harness import free_ports
from tessera_dev.inbox import HANDED_OUT, Inbox
from tessera_dev.mail_catcher import Mailbox, inbox_app, parse_mail

ADA = "ada@example.org"


@dataclass(frozen=True)
class DevInbox:
    url: str
    mailbox: Mailbox

    def mail(self, to: str, token: str) -> None:
        """A mail to `to` as auth writes one: a link with `token` in its text."""
        body = f"Subject: a link\r\nTo: {to}\r\n\r\nhttp://localhost:8000/#/x?token={token}\r\n"
        self.mailbox.add(parse_mail("auth@tessera.test", [to], body.encode()))
        time.sleep(0.002)  # distinct creation times, as mails a request apart have


@pytest.fixture
def dev_inbox() -> Iterator[DevInbox]:
    """The catcher's HTTP side on a free port (in a thread), and its mailbox."""
    mailbox = Mailbox()
    port = free_ports(1)[0]
    config = uvicorn.Config(
        inbox_app(mailbox), host="127.0.0.1", port=port, lifespan="off", log_config=None
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the inbox did not start"
        time.sleep(0.02)
    try:
        yield DevInbox(f"http://127.0.0.1:{port}", mailbox)
    finally:
        server.should_exit = True
        thread.join(10)


def token(
    inbox: DevInbox, kind: str, address: str, capsys: pytest.CaptureFixture[str]
) -> str | None:
    """What the shell command prints (None when it fails: exit 1 and a line on stderr)."""
    code = inbox_cli.main(["token", kind, address, "--inbox", inbox.url, "--seconds", "0.5"])
    printed = capsys.readouterr()
    if code != 0:
        assert code == 1
        assert f"no mail to {address} with a new" in printed.err
        return None
    return printed.out.strip()


def test_a_token_is_printed_once_and_the_next_call_waits_for_a_newer_mail(
    dev_inbox: DevInbox, capsys: pytest.CaptureFixture[str]
) -> None:
    dev_inbox.mail(ADA, "tsv_first")

    first = token(dev_inbox, "verify", ADA, capsys)
    again = token(dev_inbox, "verify", ADA, capsys)  # a second run: no new mail yet
    dev_inbox.mail(ADA, "tsv_second")
    after_a_new_mail = token(dev_inbox, "verify", ADA, capsys)

    assert (first, again, after_a_new_mail) == ("tsv_first", None, "tsv_second")


def test_it_never_goes_back_to_an_older_link_than_one_it_printed(
    dev_inbox: DevInbox, capsys: pytest.CaptureFixture[str]
) -> None:
    dev_inbox.mail(ADA, "tsv_older")
    dev_inbox.mail(ADA, "tsv_newer")

    printed = token(dev_inbox, "verify", ADA, capsys)
    then = token(dev_inbox, "verify", ADA, capsys)

    assert (printed, then) == ("tsv_newer", None)
    summaries = Inbox(dev_inbox.url).messages()
    assert [s["Tags"] for s in summaries] == [[HANDED_OUT], [HANDED_OUT]]


def test_kinds_and_addresses_are_handed_out_apart_and_other_tags_are_kept(
    dev_inbox: DevInbox, capsys: pytest.CaptureFixture[str]
) -> None:
    dev_inbox.mail(ADA, "tsp_reset")
    dev_inbox.mail("grace@example.org", "tsv_grace")
    dev_inbox.mail(ADA, "tsv_verify")
    reset_mail = dev_inbox.mailbox.messages[-1]
    dev_inbox.mailbox.set_tags([reset_mail.id], ["kept"])

    verify = token(dev_inbox, "verify", ADA, capsys)
    reset = token(dev_inbox, "reset", ADA, capsys)
    grace = token(dev_inbox, "verify", "grace@example.org", capsys)

    assert (verify, reset, grace) == ("tsv_verify", "tsp_reset", "tsv_grace")
    assert dev_inbox.mailbox.tags_of(reset_mail.id) == ("kept", HANDED_OUT)


def test_the_inbox_answers_mailpits_tags_api(dev_inbox: DevInbox) -> None:
    dev_inbox.mail(ADA, "tsv_a")
    (mail,) = dev_inbox.mailbox.messages
    api = f"{dev_inbox.url}/api/v1"

    tagged = httpx.put(f"{api}/tags", json={"IDs": [mail.id, "nope"], "Tags": ["a", "b", "a"]})
    listed = httpx.get(f"{api}/messages").json()["messages"][0]["Tags"]
    whole = httpx.get(f"{api}/message/{mail.id}").json()["Tags"]
    page = httpx.get(f"{dev_inbox.url}/").text
    untagged = httpx.put(f"{api}/tags", json={"IDs": [mail.id], "Tags": []})
    malformed = httpx.put(f"{api}/tags", json={"IDs": mail.id, "Tags": ["a"]})

    assert (tagged.status_code, tagged.text) == (200, "ok")
    assert listed == whole == ["a", "b"]
    assert "tagged a, tagged b" in page
    assert untagged.status_code == 200
    assert dev_inbox.mailbox.tags_of(mail.id) == ()
    assert malformed.status_code == 400
