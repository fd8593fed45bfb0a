"""GET /v1/revocations and /v1/revocations/watch: list + watch, 410 after pruning, service-only
access, and wake-ups across two auth instances on one PostgreSQL database (LISTEN/NOTIFY)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from auth_service.adapters.revocation_events import record_revocation_event
from auth_service.config import Settings
from auth_service.domain.sessions import Revocation

from ..conftest import log_in, register  # noqa: TID252 (shared test helpers)
from ..service_helpers import (  # noqa: TID252 (shared test helpers)
    RunningAuth,
    running_auth,
    service_token,
    with_service_clients,
)

# how long a watch may take to notice a commit: generous for a loaded CI machine, far below
# the feed's 10 s safety re-check, so only a real wake-up passes
WAKE_BOUND_SECONDS = 3.0


@pytest.fixture
def feed_settings(settings: Settings) -> Settings:
    return with_service_clients(settings)


@pytest.fixture
async def auth(feed_settings: Settings) -> AsyncIterator[RunningAuth]:
    async with running_auth(feed_settings) as running:
        yield running


@pytest.fixture
async def feed_headers(auth: RunningAuth) -> dict[str, str]:
    return {"Authorization": f"Bearer {await service_token(auth.http)}"}


async def revoke(
    auth: RunningAuth, kind: str, value: str, *, expires_in: int = 300, min_ver: int | None = None
) -> None:
    """Write one event in its own committed transaction, as a revoking use case would."""
    async with auth.app.state.runtime.storage.session_factory() as session:
        revocation = Revocation(
            kind,  # type: ignore[arg-type]
            value,
            int(time.time()) + expires_in,
            created_at=datetime.now(UTC),
            min_ver=min_ver,
        )
        await record_revocation_event(session, revocation)
        await session.commit()


async def watch(
    auth: RunningAuth, headers: dict[str, str], after: str, timeout: float = 30
) -> httpx.Response:
    return await auth.http.get(
        "/v1/revocations/watch", params={"after": after, "timeout": timeout}, headers=headers
    )


async def test_list_returns_relevant_events_and_a_cursor(
    auth: RunningAuth, feed_headers: dict[str, str]
) -> None:
    await revoke(auth, "session", "sid-1")
    await revoke(auth, "user", "user-1", min_ver=3)
    await revoke(auth, "token", "jti-old", expires_in=-120)  # expired before the leeway

    response = await auth.http.get("/v1/revocations", headers=feed_headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert [(e["kind"], e["value"], e.get("min_ver")) for e in body["events"]] == [
        ("session", "sid-1", None),
        ("user", "user-1", 3),
    ]
    assert isinstance(body["cursor"], str)
    # the cursor is past the expired event too: watching from it sees only newer events
    assert (await watch(auth, feed_headers, body["cursor"], timeout=0)).json()["events"] == []


async def test_watch_returns_events_after_the_cursor_at_once(
    auth: RunningAuth, feed_headers: dict[str, str]
) -> None:
    await revoke(auth, "session", "sid-1")
    cursor = (await auth.http.get("/v1/revocations", headers=feed_headers)).json()["cursor"]
    await revoke(auth, "session", "sid-2")

    response = await watch(auth, feed_headers, cursor)

    assert response.status_code == 200
    assert [e["value"] for e in response.json()["events"]] == ["sid-2"]
    assert response.json()["cursor"] != cursor


async def test_watch_returns_promptly_when_an_event_commits(
    auth: RunningAuth, feed_headers: dict[str, str]
) -> None:
    cursor = (await auth.http.get("/v1/revocations", headers=feed_headers)).json()["cursor"]
    waiting = asyncio.create_task(watch(auth, feed_headers, cursor, timeout=30))
    await asyncio.sleep(0.2)  # let the watch start waiting
    assert not waiting.done()

    await revoke(auth, "session", "sid-late")
    response = await asyncio.wait_for(waiting, WAKE_BOUND_SECONDS)

    assert [e["value"] for e in response.json()["events"]] == ["sid-late"]


async def test_when_the_server_drains_every_open_watch_answers_at_once(
    auth: RunningAuth, feed_headers: dict[str, str]
) -> None:
    # Found by a fault soak: two 30 s watches kept auth from stopping for its whole graceful
    # timeout, and it was killed on every restart.
    cursor = (await auth.http.get("/v1/revocations", headers=feed_headers)).json()["cursor"]
    waiting = [asyncio.create_task(watch(auth, feed_headers, cursor)) for _ in range(2)]
    await asyncio.sleep(0.2)  # let the watches start waiting
    assert not any(task.done() for task in waiting)

    auth.app.state.draining.start()  # what `serve` does as shutdown begins
    answers = await asyncio.wait_for(asyncio.gather(*waiting), WAKE_BOUND_SECONDS)
    late = await asyncio.wait_for(watch(auth, feed_headers, cursor), WAKE_BOUND_SECONDS)

    assert [a.json() for a in answers] == [{"events": [], "cursor": cursor}] * 2
    assert late.json() == {"events": [], "cursor": cursor}
    assert (await auth.http.get("/readyz")).status_code == 503  # send nothing new here


async def test_watch_is_empty_at_timeout_and_keeps_the_cursor(
    auth: RunningAuth, feed_headers: dict[str, str]
) -> None:
    cursor = (await auth.http.get("/v1/revocations", headers=feed_headers)).json()["cursor"]

    response = await watch(auth, feed_headers, cursor, timeout=0.3)

    assert response.status_code == 200
    assert response.json() == {"events": [], "cursor": cursor}


async def test_a_cursor_older_than_the_pruned_history_is_410_then_relisting_works(
    auth: RunningAuth, feed_headers: dict[str, str]
) -> None:
    cursor = (await auth.http.get("/v1/revocations", headers=feed_headers)).json()["cursor"]
    await revoke(auth, "session", "sid-expired", expires_in=-3600)
    await revoke(auth, "session", "sid-live")

    assert await auth.app.state.runtime.revocation_feed.prune() == 1
    gone = await watch(auth, feed_headers, cursor, timeout=0)

    assert gone.status_code == 410
    assert gone.headers["content-type"] == "application/problem+json"
    relisted = (await auth.http.get("/v1/revocations", headers=feed_headers)).json()
    assert [e["value"] for e in relisted["events"]] == ["sid-live"]
    assert (await watch(auth, feed_headers, relisted["cursor"], timeout=0)).status_code == 200


@pytest.mark.parametrize("cursor", ["999999", "not-a-cursor"])
async def test_a_cursor_the_feed_never_issued_is_refused(
    auth: RunningAuth, feed_headers: dict[str, str], cursor: str
) -> None:
    response = await watch(auth, feed_headers, cursor, timeout=0)

    assert response.status_code in (400, 410)
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("path", ["/v1/revocations", "/v1/revocations/watch?after=0&timeout=0"])
async def test_the_feed_needs_a_token(auth: RunningAuth, path: str) -> None:
    response = await auth.http.get(path)

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path", ["/v1/revocations", "/v1/revocations/watch?after=0&timeout=0"])
async def test_a_token_without_revocations_read_is_403(auth: RunningAuth, path: str) -> None:
    await register(auth.http, "ada@example.com", "correct horse")
    user_token = (await log_in(auth.http, "ada@example.com", "correct horse")).json()[
        "access_token"
    ]

    response = await auth.http.get(path, headers={"Authorization": f"Bearer {user_token}"})

    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


async def test_a_commit_on_one_instance_wakes_watchers_on_another(
    feed_settings: Settings,
) -> None:
    if not feed_settings.DATABASE_URL.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite runs one process")
    async with running_auth(feed_settings) as writer, running_auth(feed_settings) as reader:
        headers = {"Authorization": f"Bearer {await service_token(reader.http)}"}
        cursor = (await reader.http.get("/v1/revocations", headers=headers)).json()["cursor"]
        waiting = asyncio.create_task(watch(reader, headers, cursor, timeout=30))
        await asyncio.sleep(0.2)
        assert not waiting.done()

        await revoke(writer, "session", "sid-elsewhere")
        response = await asyncio.wait_for(waiting, WAKE_BOUND_SECONDS)

    assert [e["value"] for e in response.json()["events"]] == ["sid-elsewhere"]
