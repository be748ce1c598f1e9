"""The client-side rate limit of podium.kubeclient (fake clock and sleep: no real waiting), and
when the raw request path reads the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.kubeclient import TokenBucket
from podium.rawapi import environment_matters


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


def _clear_environment(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "WS_PROXY", "WSS_PROXY", "NO_PROXY", "NETRC"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("HOME", str(home))


def test_raw_requests_ignore_an_environment_with_nothing_to_say(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _clear_environment(monkeypatch, tmp_path)
    assert not environment_matters()


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy", "NO_PROXY", "NETRC"])
def test_raw_requests_read_the_environment_when_a_proxy_or_netrc_is_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str
) -> None:
    _clear_environment(monkeypatch, tmp_path)
    monkeypatch.setenv(variable, "http://proxy.example:3128")
    assert environment_matters()


def test_raw_requests_read_the_environment_when_a_netrc_file_exists(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _clear_environment(monkeypatch, tmp_path)
    (tmp_path / ".netrc").write_text("machine apiserver login a password b\n")
    assert environment_matters()
