"""The client-side rate limit of podium.kubeclient (fake clock and sleep: no real waiting)."""

from __future__ import annotations

import pytest

from podium.kubeclient import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def bucket(clock: FakeClock, rate: float, burst: int) -> TokenBucket:
    return TokenBucket(rate, burst, clock=clock.monotonic, sleep=clock.sleep)


async def test_burst_passes_then_requests_are_spaced_at_qps(clock: FakeClock) -> None:
    limiter = bucket(clock, 10.0, 3)
    for _ in range(5):
        await limiter.acquire()
    # Three from the burst, then one token every 1/10 s.
    assert clock.sleeps == pytest.approx([0.1, 0.1])


async def test_idle_time_refills_up_to_burst_only(clock: FakeClock) -> None:
    limiter = bucket(clock, 10.0, 2)
    await limiter.acquire()
    await limiter.acquire()
    clock.now += 60.0
    for _ in range(3):
        await limiter.acquire()
    assert clock.sleeps == pytest.approx([0.1])


async def test_non_positive_qps_is_unlimited(clock: FakeClock) -> None:
    limiter = bucket(clock, 0.0, 0)
    for _ in range(1000):
        await limiter.acquire()
    assert clock.sleeps == []


def test_limited_qps_needs_a_burst() -> None:
    with pytest.raises(ValueError, match="burst must be at least 1"):
        TokenBucket(rate=5.0, burst=0)
