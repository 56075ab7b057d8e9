"""Time as a dependency: the real clock in production, a fake one in tests (no sleeping)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FixedClock:
    """Stands still at one moment, except that sleeping moves it on (demo, tests)."""

    def __init__(self, moment: datetime):
        self.moment = moment
        self.slept = 0.0

    def now(self) -> datetime:
        return self.moment

    def sleep(self, seconds: float) -> None:
        self.slept += max(seconds, 0)
        self.moment += timedelta(seconds=max(seconds, 0))
