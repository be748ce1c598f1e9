"""The health server, scraped over loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from podium.health import HealthServer, HealthState, parse_address
from podium.metrics import Metrics


@pytest.fixture
async def served() -> AsyncIterator[tuple[HealthState, Metrics, str]]:
    state = HealthState()
    metrics = Metrics()
    server = HealthServer(metrics, state, "127.0.0.1:0")
    await server.start()
    try:
        yield state, metrics, f"http://127.0.0.1:{server.port}"
    finally:
        await server.stop()


async def get(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, response.headers["Content-Type"], await response.text()


async def test_healthz(served: tuple[HealthState, Metrics, str]) -> None:
    _, _, base = served
    status, _, body = await get(f"{base}/healthz")
    assert (status, body) == (200, "ok")


async def test_readyz_follows_sync_and_leadership(
    served: tuple[HealthState, Metrics, str],
) -> None:
    state, _, base = served
    status, _, _ = await get(f"{base}/readyz")
    assert status == 503
    state.synced = True
    assert (await get(f"{base}/readyz"))[::2] == (200, "ok: follower")
    state.leader = True
    assert (await get(f"{base}/readyz"))[::2] == (200, "ok: leader")


async def test_metrics_endpoint(served: tuple[HealthState, Metrics, str]) -> None:
    _, metrics, base = served
    metrics.schedule_attempts.labels(result="scheduled", profile="podium").inc(3)
    status, content_type, body = await get(f"{base}/metrics")
    assert status == 200
    assert content_type.startswith("text/plain")
    assert 'scheduler_schedule_attempts_total{profile="podium",result="scheduled"} 3.0' in body


async def test_port_in_use_is_an_error(served: tuple[HealthState, Metrics, str]) -> None:
    _, metrics, base = served
    port = base.rsplit(":", 1)[1]
    other = HealthServer(metrics, HealthState(), f"127.0.0.1:{port}")
    with pytest.raises(OSError):
        await other.start()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0.0.0.0:10351", ("0.0.0.0", 10351)), ("[::1]:80", ("::1", 80)), (":9", ("0.0.0.0", 9))],
)
def test_parse_address(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["localhost", "a:b", "a:99999"])
def test_parse_address_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid address"):
        parse_address(text)
