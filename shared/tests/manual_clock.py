"""A clock the test moves by hand: components take it instead of time.time/monotonic."""

from __future__ import annotations


class ManualClock:
    """Reads `now`; set it (or `advance`) instead of sleeping."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
