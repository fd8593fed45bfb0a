"""Every service stops promptly and cleanly on SIGTERM: exit 0, never killed, even with the
revocation watchers of orders and billing long-polling auth."""

from __future__ import annotations

import time

import pytest
from tessera_dev import probes
from tessera_dev.harness import RunningPlatform

WATCHERS = "auth_revocation_watchers"
"""auth's long polls open right now: orders', billing's and auth's own (in process)."""


def _restart(platform: RunningPlatform, name: str) -> tuple[int, float]:
    """SIGTERM `name`, start it again; its exit code and how long it took to stop."""
    started = time.monotonic()
    code = platform.stop_process(name)
    took = time.monotonic() - started
    service = platform.plan.service(name)
    platform.start_process(name, service.serve_argv, service.settings, ready_url=service.health_url)
    return code, took


def test_auth_stops_at_once_while_orders_and_billing_watch_its_feed(
    platform: RunningPlatform,
) -> None:
    # Found by a fault soak: the watches are 30 s long polls, so auth sat out uvicorn's 10 s
    # graceful timeout on every restart and was then killed (-9) by the harness.
    auth = platform.plan.service("auth").base_url
    assert probes.eventually(lambda: probes.metric(auth, WATCHERS) >= 3, seconds=30)

    code, took = _restart(platform, "auth")

    assert code == 0
    assert took < 5, f"auth took {took:.1f} s to stop"  # about a second is expected
    assert probes.eventually(lambda: probes.metric(auth, WATCHERS) >= 3, seconds=30)


@pytest.mark.parametrize("service", ["orders", "billing"])
def test_a_resource_service_exits_0_on_sigterm(platform: RunningPlatform, service: str) -> None:
    code, took = _restart(platform, service)

    assert code == 0
    assert took < 5, f"{service} took {took:.1f} s to stop"
