"""The development inbox answers Mailpit's API subset and a page that shows mail as text."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib
import httpx
from tessera_dev.mail_catcher import MailCatcher, inbox_app


async def send(catcher: MailCatcher, subject: str, text: str, html: str) -> None:
    message = EmailMessage()
    message["From"] = "auth@tessera.test"
    message["To"] = "ada@example.com"
    message["Subject"] = subject
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    await aiosmtplib.send(message, hostname=catcher.host, port=catcher.port, start_tls=False)


async def test_the_api_lists_newest_first_returns_one_whole_and_forgets_on_delete() -> None:
    async with MailCatcher(port=0) as catcher:
        await send(catcher, "first", "one", "<p>one</p>")
        await send(catcher, "second", "two https://x.test/#/verify?token=tsv_a", "<p>two</p>")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=inbox_app(catcher.mailbox)), base_url="http://inbox"
        ) as inbox:
            listed = (await inbox.get("/api/v1/messages")).json()
            newest = listed["messages"][0]
            whole = (await inbox.get(f"/api/v1/message/{newest['ID']}")).json()
            missing = await inbox.get("/api/v1/message/nope")
            cleared = await inbox.delete("/api/v1/messages")
            after = (await inbox.get("/api/v1/messages")).json()

    assert [m["Subject"] for m in listed["messages"]] == ["second", "first"]
    assert newest["To"] == [{"Address": "ada@example.com"}]
    assert whole["Text"].startswith("two https://x.test/#/verify?token=tsv_a")
    assert whole["HTML"].strip() == "<p>two</p>"
    assert missing.status_code == 404
    assert cleared.status_code == 200
    assert after == {"total": 0, "messages": []}


async def test_the_inbox_page_shows_mail_as_escaped_text_with_clickable_links() -> None:
    async with MailCatcher(port=0) as catcher:
        await send(catcher, "<b>hi</b>", "<script>x</script> https://x.test/a?b=1", "<p>h</p>")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=inbox_app(catcher.mailbox)), base_url="http://inbox"
        ) as inbox:
            page = await inbox.get("/")

    assert "<script>" not in page.text
    assert "&lt;script&gt;x&lt;/script&gt;" in page.text
    assert "&lt;b&gt;hi&lt;/b&gt;" in page.text
    assert '<a href="https://x.test/a?b=1">' in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
