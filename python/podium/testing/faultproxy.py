"""A fault-injecting reverse proxy between a client under test and the local kube-apiserver.

The client (podium) gets a kubeconfig naming the proxy (plain HTTP on loopback); the proxy
forwards every request to the apiserver over HTTPS with the apiserver's own admin token, so the
upstream may be restarted on new ports with a new token (``set_upstream``) while the client keeps
its configuration. Responses are forwarded chunk by chunk, so watches stream through unchanged.

Faults are ``Rule``s, matched in order on method, path and query (regular expressions) and fired
at a rate, from a seeded random source; a test adds, removes and clears them while traffic flows.
Every exchange is logged (``exchanges``) with what the client got and what the apiserver
answered, the evidence tests count binds from.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import NoReturn, Self

import aiohttp
import orjson
import yaml
from aiohttp import web
from multidict import CIMultiDictProxy

from podium.testing.ports import LOOPBACK

__all__ = [
    "GONE_EVENT",
    "CutStream",
    "Delay",
    "Exchange",
    "Fault",
    "FaultProxy",
    "Lose",
    "Respond",
    "Rule",
    "Stall",
    "WatchAnswer",
    "watch_gone",
]

# Not forwarded either way: they describe one hop, not the message.
_HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-encoding",
        "accept-encoding",
        "authorization",
    }
)
GONE_EVENT = orjson.dumps(
    {
        "type": "ERROR",
        "object": {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "too old resource version (fault injected)",
            "reason": "Expired",
            "code": 410,
        },
    }
)


@dataclass(frozen=True)
class Respond:
    """Answer ``status`` at once, without forwarding (429 may carry a Retry-After)."""

    status: int
    retry_after: float | None = None


@dataclass(frozen=True)
class Delay:
    """Wait ``seconds``, then forward: a slow apiserver."""

    seconds: float


@dataclass(frozen=True)
class Stall:
    """Never forward; answer 504 after ``seconds``: the client's time-out fires first."""

    seconds: float = 60.0


@dataclass(frozen=True)
class Lose:
    """Forward (the request takes effect), then drop the connection without the answer."""


@dataclass(frozen=True)
class CutStream:
    """Forward, and cut the connection after ``after_bytes`` bytes of the response body."""

    after_bytes: int


@dataclass(frozen=True)
class WatchAnswer:
    """Answer a watch with ``lines`` instead of forwarding it, then end the stream."""

    lines: tuple[bytes, ...]


def watch_gone() -> WatchAnswer:
    """The ERROR event a watch from an expired resourceVersion gets (code 410)."""
    return WatchAnswer((GONE_EVENT,))


Fault = Respond | Delay | Stall | Lose | CutStream | WatchAnswer


@dataclass
class Rule:
    """Fire ``fault`` on matching requests with probability ``rate``, at most ``limit`` times.

    ``method`` must match the whole verb; ``path`` and ``query`` are searched for."""

    fault: Fault
    path: str = ""
    method: str = ".*"
    query: str = ""
    rate: float = 1.0
    limit: int | None = None
    fired: int = 0

    def matches(self, method: str, path: str, query: str) -> bool:
        return (
            re.fullmatch(self.method, method) is not None
            and re.search(self.path, path) is not None
            and re.search(self.query, query) is not None
            and (self.limit is None or self.fired < self.limit)
        )


@dataclass
class Exchange:
    """One request through the proxy, logged when it arrives and completed as it goes.

    ``status``: what the client got (None: no answer); ``upstream_status``: what the apiserver
    answered (None: not forwarded, or no answer yet). Times are ``time.monotonic()``."""

    method: str
    path: str
    query: str
    fault: str | None
    started: float
    finished: float | None = None
    status: int | None = None
    upstream_status: int | None = None


@dataclass
class _Upstream:
    server: str
    token: str


@dataclass
class FaultProxy:
    """``async with FaultProxy(server, token) as proxy:`` then ``proxy.write_kubeconfig(path)``."""

    server: str
    token: str
    seed: int = 0
    rules: list[Rule] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._upstream = _Upstream(self.server, self.token)
        self._rng = random.Random(self.seed)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._streams: set[asyncio.Task[None]] = set()
        self._writes: set[asyncio.Future[tuple[int, CIMultiDictProxy[str], bytes]]] = set()
        self.port = 0

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> Self:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # Cancel a handler whose client went away, so a stalled request ends with its client.
        self._runner = web.AppRunner(
            app,
            handle_signals=False,
            handler_cancellation=True,
            access_log=None,
            shutdown_timeout=0.5,
        )
        try:
            await self._runner.setup()
            site = web.TCPSite(self._runner, LOOPBACK, 0)
            await site.start()
            self.port = int(self._runner.addresses[0][1])
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=False, limit=0),
                auto_decompress=True,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
            )
        except BaseException:
            await self.stop()
            raise
        return self

    async def stop(self) -> None:
        self.break_streams()
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def write_kubeconfig(self, path: Path) -> Path:
        """A kubeconfig for the proxy. Its token is a placeholder: the proxy authenticates."""
        document = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "faultproxy", "cluster": {"server": self.url}}],
            "users": [{"name": "faultproxy", "user": {"token": "via-faultproxy"}}],
            "contexts": [
                {"name": "faultproxy", "context": {"cluster": "faultproxy", "user": "faultproxy"}}
            ],
            "current-context": "faultproxy",
        }
        path.write_text(yaml.safe_dump(document))
        return path

    # -- control ------------------------------------------------------------------------------

    def set_upstream(self, server: str, token: str) -> None:
        """Forward to another apiserver from now on (a restarted one on new ports)."""
        self._upstream = _Upstream(server, token)

    def add(self, rule: Rule) -> Rule:
        self.rules.append(rule)
        return rule

    def remove(self, rule: Rule) -> None:
        with contextlib.suppress(ValueError):
            self.rules.remove(rule)

    def clear(self) -> None:
        self.rules.clear()

    def break_streams(self) -> int:
        """Cut every response being streamed now (watches); returns how many."""
        streams = list(self._streams)
        for task in streams:
            task.cancel()
        return len(streams)

    def successes(self, method: str, path: str) -> list[Exchange]:
        """Exchanges the apiserver answered with 2xx, whatever the client got."""
        pattern = re.compile(path)
        return [
            e
            for e in self.exchanges
            if e.method == method
            and pattern.search(e.path)
            and e.upstream_status is not None
            and 200 <= e.upstream_status < 300
        ]

    # -- proxying -----------------------------------------------------------------------------

    def _pick(self, method: str, path: str, query: str) -> Fault | None:
        for rule in self.rules:
            if rule.matches(method, path, query) and self._rng.random() < rule.rate:
                rule.fired += 1
                return rule.fault
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        fault = self._pick(request.method, request.path, request.query_string)
        exchange = Exchange(
            method=request.method,
            path=request.path,
            query=request.query_string,
            fault=type(fault).__name__ if fault is not None else None,
            started=time.monotonic(),
        )
        self.exchanges.append(exchange)
        try:
            return await self._answer(request, fault, exchange)
        finally:
            exchange.finished = time.monotonic()

    async def _answer(
        self, request: web.Request, fault: Fault | None, exchange: Exchange
    ) -> web.StreamResponse:
        match fault:
            case Respond(status=status, retry_after=retry_after):
                exchange.status = status
                return _status_response(status, retry_after)
            case Stall(seconds=seconds):
                await asyncio.sleep(seconds)
                exchange.status = 504
                return _status_response(504, None)
            case WatchAnswer(lines=lines):
                exchange.status = 200
                body = b"".join(line + b"\n" for line in lines)
                return web.Response(status=200, body=body, content_type="application/json")
            case Delay(seconds=seconds):
                await asyncio.sleep(seconds)
            case _:
                pass
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        upstream = self._upstream
        headers["Authorization"] = f"Bearer {upstream.token}"
        url = f"{upstream.server}{request.path_qs}"
        if request.method != "GET":
            # A write, once sent, takes effect whether or not its client waits for the answer:
            # finish it even if the client gives up, and log what the apiserver said.
            forward = asyncio.ensure_future(
                self._write(request.method, url, headers, body, exchange)
            )
            self._writes.add(forward)
            forward.add_done_callback(self._writes.discard)
            status, answer_headers, answer_body = await asyncio.shield(forward)
            if isinstance(fault, Lose):
                _cut(request)
            exchange.status = status
            return web.Response(
                status=status, body=answer_body, headers=_answer_headers(answer_headers)
            )
        assert self._session is not None, "started"
        async with self._session.get(url, headers=headers) as answer:
            exchange.upstream_status = answer.status
            response = web.StreamResponse(
                status=answer.status, headers=_answer_headers(answer.headers)
            )
            await response.prepare(request)
            exchange.status = answer.status
            limit = fault.after_bytes if isinstance(fault, CutStream) else None
            await self._stream(request, answer, response, limit)
            return response

    async def _write(
        self, method: str, url: str, headers: dict[str, str], body: bytes, exchange: Exchange
    ) -> tuple[int, CIMultiDictProxy[str], bytes]:
        assert self._session is not None, "started"
        async with self._session.request(method, url, headers=headers, data=body or None) as answer:
            # Logged here: the handler may be gone (its client gave up) by the time it lands.
            exchange.upstream_status = answer.status
            return answer.status, answer.headers, await answer.read()

    async def _stream(
        self,
        request: web.Request,
        answer: aiohttp.ClientResponse,
        response: web.StreamResponse,
        limit: int | None,
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._streams.add(task)
        sent = 0
        try:
            async for chunk in answer.content.iter_any():
                if limit is not None and sent + len(chunk) >= limit:
                    await response.write(chunk[: max(0, limit - sent)])
                    _cut(request)
                await response.write(chunk)
                sent += len(chunk)
            await response.write_eof()
        except asyncio.CancelledError:
            # break_streams: the connection goes down mid-stream, as a broken network would.
            _drop(request)
            raise
        finally:
            self._streams.discard(task)


def _answer_headers(headers: CIMultiDictProxy[str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in _HOP_HEADERS}


def _status_response(status: int, retry_after: float | None) -> web.Response:
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
    body = orjson.dumps(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": f"fault injected: HTTP {status}",
            "code": status,
        }
    )
    return web.Response(status=status, body=body, headers=headers, content_type="application/json")


def _drop(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


def _cut(request: web.Request) -> NoReturn:
    """Drop the connection and end the handler as aiohttp ends one whose client went away
    (quietly: any other exception would be logged as a server error)."""
    _drop(request)
    raise asyncio.CancelledError


def bind_counts(exchanges: Iterable[Exchange]) -> dict[str, int]:
    """Per ``namespace/pod``: binds the apiserver accepted (2xx), answered or not."""
    counts: dict[str, int] = {}
    for e in exchanges:
        match = _BINDING.fullmatch(e.path)
        if (
            e.method == "POST"
            and match
            and e.upstream_status is not None
            and 200 <= e.upstream_status < 300
        ):
            key = f"{match['ns']}/{match['pod']}"
            counts[key] = counts.get(key, 0) + 1
    return counts


_BINDING = re.compile(r"/api/v1/namespaces/(?P<ns>[^/]+)/pods/(?P<pod>[^/]+)/binding")
