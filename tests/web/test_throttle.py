"""The limits on asking for a preference link: per address and per client, in moving windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from comms.web.throttle import LinkRequestLimits

START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("later", "allowed"),
    [
        (timedelta(minutes=59), False),  # still within the hour
        (timedelta(hours=1, seconds=1), True),  # the hour has moved on
    ],
)
def test_an_address_gets_three_links_an_hour(later: timedelta, allowed: bool) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        limits = LinkRequestLimits("3/hour;5/day", "20/hour", b"k" * 32)
        assert [limits.address_may_get("anna@example.org") for _ in range(4)] == [True, True, True, False]
        assert limits.address_may_get(" ANNA@example.org ") is False  # the same address, written otherwise
        assert limits.address_may_get("bram@example.org")  # another address counts apart
        traveller.shift(later)
        assert limits.address_may_get("anna@example.org") is allowed


def test_the_day_limit_holds_when_the_hours_are_spread() -> None:
    with time_machine.travel(START, tick=False) as traveller:
        limits = LinkRequestLimits("3/hour;5/day", "20/hour", b"k" * 32)
        given = []
        for _ in range(8):
            given.append(limits.address_may_get("anna@example.org"))
            traveller.shift(timedelta(hours=2))
        assert given == [True] * 5 + [False] * 3


def test_a_client_is_told_when_it_may_ask_again() -> None:
    with time_machine.travel(START, tick=False) as traveller:
        limits = LinkRequestLimits("3/hour", "2/hour", b"k" * 32)
        assert [limits.client_may_ask("192.0.2.1") for _ in range(3)] == [True, True, False]
        assert limits.client_may_ask("192.0.2.2")
        traveller.shift(timedelta(minutes=20))
        assert 2390 <= limits.retry_after("192.0.2.1") <= 2401


def test_addresses_are_not_kept_in_memory_as_written() -> None:
    limits = LinkRequestLimits("3/hour", "2/hour", b"k" * 32)
    limits.address_may_get("anna@example.org")

    storage = limits._limiter.storage  # what a memory dump would show
    assert "anna" not in repr(vars(storage))
