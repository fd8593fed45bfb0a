"""A short `make soak` (about 30 s): mixed load on PostgreSQL and Redis of its own while auth
restarts twice, billing once and PostgreSQL once; nothing lost, doubled or stuck.

The same run as `make soak` (180 s, 20 users), shorter and with fewer users: 20 s of load, the
four faults at 4, 8, 12 and 16 s. Each restart takes about 2 s here, so all four happen (and
are recovered from) under load with room to spare on a slower machine; `make soak` is the long
run."""

from __future__ import annotations

from tessera_dev.soak import AUTH_RESTART_LIMIT_SECONDS, run_soak


def test_a_short_soak_with_restarts_loses_doubles_and_strands_nothing() -> None:
    report = run_soak(seconds=20, users=6, settle_seconds=20)

    assert report.failures() == [], report.render()
    assert report.orders > 0  # the load really ran
    assert [fault.name for fault in report.faults] == [
        "restart auth (1)",
        "restart billing",
        "restart auth (2)",
        "restart postgres",
    ]
    for fault in report.faults[:3]:
        assert fault.exit_code == 0, report.render()  # stopped by itself, never killed
    auth_restarts = [report.faults[0], report.faults[2]]
    assert all(fault.back_in < AUTH_RESTART_LIMIT_SECONDS for fault in auth_restarts)
