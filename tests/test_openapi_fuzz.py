"""Every service answers what its OpenAPI says, whatever a schema-based fuzzer sends.

A short run of `make fuzz` (`tessera_dev.fuzz`): Schemathesis against the real processes of the
e2e platform, with a user's token: no 5xx, no status, content type, header or body that the
service's own OpenAPI does not document, and 405s that name the methods a path serves.
"""

from __future__ import annotations

import pytest
from tessera_dev.fuzz import fuzz_platform
from tessera_dev.harness import RunningPlatform


@pytest.mark.parametrize("platform", ["sqlite"], indirect=True)  # one backend is enough here
def test_a_short_fuzz_of_every_service_finds_nothing(platform: RunningPlatform) -> None:
    runs = fuzz_platform(platform, examples=5, seconds=5)

    failed = [run for run in runs if not run.passed]
    assert [run.name for run in runs] == [
        "auth",
        "auth (session-ending calls)",
        "orders",
        "billing",
    ]
    assert not failed, "\n\n".join(f"--- {run.name}\n{run.output[-4000:]}" for run in failed)
