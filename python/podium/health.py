"""HTTP endpoints for operators: ``/metrics``, ``/healthz`` and ``/readyz``.

- ``/healthz`` answers from the event loop itself, so a wedged loop fails the liveness probe.
- ``/readyz`` is 200 once the caches have synced; the body says whether this replica leads.
  Followers are ready too: they keep warm caches and take over at once.
- ``/metrics`` is the ``Metrics`` registry in Prometheus text format.
- ``/debug/explain/{namespace}/{name}?top=N`` (when the scheduler wires it): ``podium explain``'s
  JSON for one pod, judged against this replica's live cache.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from podium.metrics import CONTENT_TYPE_LATEST, Metrics

__all__ = ["DebugExplain", "HealthServer", "HealthState", "parse_address"]

# (namespace, name, top) -> (HTTP status, JSON body).
DebugExplain = Callable[[str, str, int], Awaitable[tuple[int, bytes]]]
_MAX_TOP = 1000

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
    def __init__(
        self,
        metrics: Metrics,
        state: HealthState,
        address: str,
        debug_explain: DebugExplain | None = None,
    ) -> None:
        self._metrics = metrics
        self._debug_explain = debug_explain
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
        if self._debug_explain is not None:
            app.router.add_get("/debug/explain/{namespace}/{name}", self._explain)
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

    async def _explain(self, request: web.Request) -> web.Response:
        assert self._debug_explain is not None, "routed only when set"
        top_text = request.query.get("top", "5")
        if not top_text.isdigit() or int(top_text) > _MAX_TOP:
            return web.json_response(
                {"error": f"top: {top_text!r} is not an integer in 0..{_MAX_TOP}"}, status=400
            )
        status, body = await self._debug_explain(
            request.match_info["namespace"], request.match_info["name"], int(top_text)
        )
        return web.Response(status=status, body=body, content_type="application/json")
