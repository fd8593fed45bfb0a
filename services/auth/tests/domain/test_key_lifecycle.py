"""The key schedule's decisions (domain/key_lifecycle.py), on records and a given `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from auth_service.domain.key_lifecycle import (
    KeyChanges,
    KeyRecord,
    KeySchedule,
    RotationNotReadyError,
    plan_first_keys,
    plan_maintenance,
    plan_revocation,
    plan_rotation,
)
from auth_service.domain.keys import KeyState

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SCHEDULE = KeySchedule.from_periods(
    jwks_max_age_seconds=300,
    reload_seconds=1,
    max_token_lifetime_seconds=900,
    leeway_seconds=30,
    rotation_interval_seconds=30 * 86_400,
)


def active(kid: str = "a", since: datetime = T0) -> KeyRecord:
    return KeyRecord(kid, KeyState.ACTIVE, created_at=since, activated_at=since)


def next_key(kid: str = "n", published: datetime = T0) -> KeyRecord:
    return KeyRecord(kid, KeyState.NEXT, created_at=published)


def retired(kid: str, at: datetime) -> KeyRecord:
    return KeyRecord(kid, KeyState.RETIRED, created_at=T0, activated_at=T0, retired_at=at)


def test_a_next_key_signs_only_after_max_age_reload_and_a_margin() -> None:
    assert SCHEDULE.lead == timedelta(seconds=300 + 1 + 2)
    assert SCHEDULE.ready_at(next_key()) == T0 + timedelta(seconds=303)


def test_a_retired_key_stays_published_for_the_longest_token_a_replica_could_still_sign() -> None:
    # reload + longest lifetime + leeway + a minute for clocks that disagree
    assert SCHEDULE.retention == timedelta(seconds=1 + 900 + 30 + 60)
    assert SCHEDULE.removable_at(retired("r", T0)) == T0 + timedelta(seconds=991)


def test_the_first_start_creates_an_active_and_a_next_key() -> None:
    assert plan_first_keys([]) == KeyChanges(create_active=True, create_next=True)
    assert plan_first_keys([active()]) == KeyChanges(create_next=True)
    assert plan_first_keys([active(), next_key()]).empty


def test_rotation_promotes_the_next_key_once_every_verifier_can_have_it() -> None:
    keys = [active(), next_key(published=T0)]
    with pytest.raises(RotationNotReadyError) as not_ready:
        plan_rotation(keys, SCHEDULE, now=T0 + timedelta(seconds=302), expected_active="a")
    assert not_ready.value.ready_at == T0 + timedelta(seconds=303)

    changes = plan_rotation(keys, SCHEDULE, now=T0 + timedelta(seconds=303), expected_active="a")
    assert changes == KeyChanges(retire="a", activate="n", create_next=True)


def test_a_second_rotation_away_from_the_same_key_does_nothing() -> None:
    after_first = [retired("a", T0), active("n"), next_key("m")]
    changes = plan_rotation(after_first, SCHEDULE, now=T0, expected_active="a")
    assert changes.empty
    assert changes.already_rotated_to == "n"


def test_without_a_next_key_rotation_publishes_one_first() -> None:
    assert plan_rotation([active()], SCHEDULE, now=T0, expected_active="a") == KeyChanges(
        create_next=True
    )


def test_revoking_the_active_key_promotes_even_a_young_next_key() -> None:
    keys = [active(), next_key(published=T0)]
    assert plan_revocation(keys, "a") == KeyChanges(revoke="a", activate="n", create_next=True)
    alone = plan_revocation([active()], "a")
    assert alone == KeyChanges(revoke="a", create_active=True, create_next=True)


def test_revoking_a_named_key_handles_it_in_any_state_and_a_gone_key_not_at_all() -> None:
    keys = [active("a"), next_key("n"), retired("r", T0)]
    assert plan_revocation(keys, "n") == KeyChanges(revoke="n", create_next=True)
    assert plan_revocation(keys, "r") == KeyChanges(revoke="r")
    # a retry, or a second operator: the key is gone and the replacement is left alone
    assert plan_revocation([active("n"), next_key("m")], "a").empty


def test_maintenance_rotates_when_due_and_the_next_key_is_ready() -> None:
    keys = [active(since=T0), next_key(published=T0)]
    due = T0 + timedelta(days=30)
    assert plan_maintenance(keys, SCHEDULE, now=due - timedelta(seconds=1)).empty
    assert plan_maintenance(keys, SCHEDULE, now=due) == KeyChanges(
        retire="a", activate="n", create_next=True
    )
    young = [active(since=T0), next_key(published=due - timedelta(seconds=10))]
    assert plan_maintenance(young, SCHEDULE, now=due).empty  # waits for it to age


def test_maintenance_removes_retired_keys_only_after_their_retention() -> None:
    keys = [active(), next_key(), retired("old", T0), retired("older", T0 - timedelta(hours=1))]
    now = T0 + timedelta(seconds=990)
    assert plan_maintenance(keys, SCHEDULE, now=now).remove == ("older",)
    now = T0 + timedelta(seconds=991)
    assert plan_maintenance(keys, SCHEDULE, now=now).remove == ("old", "older")


def test_no_schedule_means_rotation_only_by_hand() -> None:
    manual = KeySchedule.from_periods(
        jwks_max_age_seconds=300,
        reload_seconds=1,
        max_token_lifetime_seconds=900,
        leeway_seconds=30,
        rotation_interval_seconds=0,
    )
    keys = [active(), next_key()]
    assert plan_maintenance(keys, manual, now=T0 + timedelta(days=3650)).empty
