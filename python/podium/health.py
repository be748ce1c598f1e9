"""HTTP endpoints for operators: ``/metrics``, ``/healthz`` and ``/readyz``.

- ``/healthz`` answers from the event loop itself, so a wedged loop fails the liveness probe.
- ``/readyz`` is 200 once the caches have synced; the body says whether this replica leads.
  Followers are ready too: they keep warm caches and take over at once.
- ``/metrics`` is the ``Metrics`` registry in Prometheus text format.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import web

from podium.metrics import CONTENT_TYPE_LATEST, Metrics

__all__ = ["HealthServer", "HealthState", "parse_address"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class HealthState:
    """Flags the scheduler flips as it starts and as leadership changes."""

    synced: bool = False
    leader: bool = False


def parse_address(address: str) -> tuple[str, int]:
    """``"host:port"`` (``"[::1]:port"`` for IPv6) → (host, port)."""
    host, sep, port_text = address.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"invalid address {address!r}: expected host:port")
    host = host.removeprefix("[").removesuffix("]")
    return host or "0.0.0.0", int(port_text)


class HealthServer:
    def __init__(self, metrics: Metrics, state: HealthState, address: str) -> None:
        self._metrics = metrics
        self._state = state
        self._host, self._port = parse_address(address)
        self._runner: web.AppRunner | None = None
        self._bound: tuple[str, int] | None = None

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        if self._bound is None:
            raise RuntimeError("health server not started")
        return self._bound[1]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/livez", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics_handler)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        addr = runner.addresses[0]
        self._bound = (str(addr[0]), int(addr[1]))
        log.info("health server listening on %s:%d", *self._bound)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self._bound = None

    async def _healthz(self, _: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _readyz(self, _: web.Request) -> web.Response:
        if not self._state.synced:
            return web.Response(status=503, text="caches not synced")
        return web.Response(text=f"ok: {'leader' if self._state.leader else 'follower'}")

    async def _metrics_handler(self, _: web.Request) -> web.Response:
        body = self._metrics.exposition()
        response = web.Response(body=body)
        # Set the raw header: aiohttp's content_type setter refuses parameters like version=0.0.4.
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response
