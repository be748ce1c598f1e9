"""The bind ceiling: the fastest binder this benchmark can put on the apiserver. It decides
nothing: each pending pod of its schedulerName goes to the next node round-robin.

With ``--report`` it is the *reporting ceiling*: it also does what the Kubernetes API asks of
any scheduler beside the Binding, as kube-scheduler and podium both do, so the gap between the
two ceilings is the price of those writes on this apiserver, and the gap between the reporting
ceiling and a scheduler is what deciding costs. The extra work is: a ``Scheduled`` event
(``events.k8s.io/v1``) per bound pod, four writers as podium's recorder; for each pod it must
leave pending (``--report-label-selector``), a ``FailedScheduling`` event and a
``PodScheduled=False`` condition; and list+watch of every pod and node, as a scheduler's
informers do (what it reads is dropped: the apiserver's cost is the point). Its reports wait
while any bind is queued or in flight: of every order of the same writes, the one that binds
fastest, so it stays a ceiling for any scheduler that writes them (a scheduler's own event
writers may keep pace with its binds or fall behind them; how far is theirs to choose).

Made to be a ceiling, not a scheduler: it lists the pods already pending once, then watches for
new ones; it finds a pod's name and namespace with one regular expression over the raw bytes
(no JSON decoding per pod), posts pre-serialized ``pods/binding`` bodies over its own keep-alive
connections (``--connections`` binds in flight, one per connection: HTTP/1.1), with no client
rate limit and no per-request objects beyond aiohttp's. Its pods/s is the most binds/s the
apiserver takes on this machine while the bench watches; a scheduler measured above it is
flagged in the report.

``python -m podium.benchmarks.ceiling --kubeconfig K --scheduler-name S --ready-file F``
(the load benchmark starts it as a process, to measure its CPU and memory like any scheduler).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import logging
import re
import ssl
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml

log = logging.getLogger("podium.benchmarks.ceiling")

# A pod's metadata as the apiserver serializes it (Go struct order: name, generateName,
# namespace, ...), in a list item or a watch event alike.
_POD_KEY = re.compile(
    rb'"metadata":\{"name":"([^"]+)",(?:"generateName":"[^"]*",)?"namespace":"([^"]+)"'
)
_EVENT_TYPE = re.compile(rb'^\{"type":"([A-Z]+)"')
_RESOURCE_VERSION = re.compile(rb'"resourceVersion":"([0-9]+)"')
_HTTP_GONE = b'"code":410'


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where the apiserver is and how to talk to it, from a kubeconfig's current context."""

    server: str
    token: str | None
    ssl: ssl.SSLContext | bool

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


def read_kubeconfig(path: Path) -> Endpoint:
    """The server, bearer token and TLS settings of ``path``'s current context."""
    document = yaml.safe_load(path.read_text())
    contexts = {c["name"]: c["context"] for c in document.get("contexts") or []}
    current: dict[str, Any] = contexts.get(document.get("current-context")) or next(
        iter(contexts.values()), {}
    )
    clusters = {c["name"]: c["cluster"] for c in document["clusters"]}
    users = {u["name"]: u.get("user") or {} for u in document.get("users") or []}
    cluster = clusters.get(current.get("cluster")) or document["clusters"][0]["cluster"]
    user = users.get(current.get("user")) or {}
    tls: ssl.SSLContext | bool = True
    if cluster.get("insecure-skip-tls-verify"):
        tls = False
    elif cluster.get("certificate-authority-data"):
        tls = ssl.create_default_context(
            cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
        )
    elif cluster.get("certificate-authority"):
        tls = ssl.create_default_context(cafile=cluster["certificate-authority"])
    return Endpoint(server=cluster["server"].rstrip("/"), token=user.get("token"), ssl=tls)


def pod_keys(body: bytes) -> Iterator[tuple[str, str]]:
    """(namespace, name) of every pod serialized in ``body`` (a list or a watch event)."""
    for match in _POD_KEY.finditer(body):
        yield match.group(2).decode(), match.group(1).decode()


def binding(namespace: str, name: str, node: str) -> tuple[str, bytes]:
    """The path and the serialized body of the Binding of pod ``namespace/name`` to ``node``."""
    body = (
        b'{"apiVersion":"v1","kind":"Binding","metadata":{"name":"%s","namespace":"%s"},'
        b'"target":{"apiVersion":"v1","kind":"Node","name":"%s"}}'
        % (name.encode(), namespace.encode(), node.encode())
    )
    return f"/api/v1/namespaces/{namespace}/pods/{name}/binding", body


class Binder:
    """Binds what it is given, ``connections`` requests in flight, each on its connection."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        endpoint: Endpoint,
        nodes: Sequence[str],
        reporter: Reporter | None = None,
        idle: asyncio.Event | None = None,
    ) -> None:
        if not nodes:
            raise ValueError("the bind ceiling needs at least one node")
        self._reporter = reporter
        # Set while no bind is queued or in flight: the reporter's writers wait for it.
        self.idle = idle if idle is not None else asyncio.Event()
        self.idle.set()
        self._pending = 0
        self._session = session
        self._endpoint = endpoint
        self._next_node = itertools.cycle(nodes)
        self._queue: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue()
        self._seen: set[tuple[str, str]] = set()
        self.bound = 0
        self.failed = 0

    def add(self, namespace: str, name: str) -> None:
        if (namespace, name) in self._seen:
            return
        self._seen.add((namespace, name))
        self._pending += 1
        self.idle.clear()
        self._queue.put_nowait((namespace, name, next(self._next_node)))

    async def worker(self) -> None:
        headers = {**self._endpoint.headers, "Content-Type": "application/json"}
        while True:
            namespace, name, node = await self._queue.get()
            path, body = binding(namespace, name, node)
            try:
                async with self._session.post(
                    self._endpoint.server + path, data=body, headers=headers, ssl=self._endpoint.ssl
                ) as response:
                    await response.read()
                    if response.status < 300:
                        self.bound += 1
                        if self._reporter is not None:
                            self._reporter.scheduled(namespace, name, node)
                    else:
                        self.failed += 1
                        log.warning("bind %s: HTTP %s", path, response.status)
            except (aiohttp.ClientError, TimeoutError) as error:
                self.failed += 1
                log.warning("bind %s: %r", path, error)
            finally:
                self._pending -= 1
                if not self._pending:
                    self.idle.set()


# As podium's event recorder and condition writer: four requests in flight each.
_REPORT_WRITERS = 4


def event(namespace: str, name: str, type: str, reason: str, action: str, note: str) -> bytes:
    """The serialized ``events.k8s.io/v1`` Event about pod ``namespace/name``, as podium's
    recorder writes it (reporting controller ``podium``: the ceiling stands in for it)."""
    now = time.time()
    return orjson.dumps(
        {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": f"{name}.{time.time_ns():x}", "namespace": namespace},
            "eventTime": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "reportingController": "podium",
            "reportingInstance": "bench-ceiling",
            "action": action,
            "reason": reason,
            "regarding": {"apiVersion": "v1", "kind": "Pod", "name": name, "namespace": namespace},
            "note": note,
            "type": type,
        }
    )


def unschedulable_condition(message: str) -> bytes:
    """The strategic-merge patch of a pod's status setting ``PodScheduled=False``."""
    condition = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": message,
        "lastTransitionTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return orjson.dumps({"status": {"conditions": [condition]}})


class Reporter:
    """The writes beside the Binding: events and conditions, each from its own queue."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        endpoint: Endpoint,
        nodes: int,
        binds_idle: asyncio.Event,
    ) -> None:
        self._binds_idle = binds_idle
        self._session = session
        self._endpoint = endpoint
        self._nodes = nodes
        self._events: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._conditions: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._seen: set[tuple[str, str]] = set()
        self.written = 0
        self.failed = 0

    def scheduled(self, namespace: str, name: str, node: str) -> None:
        note = f"Successfully assigned {namespace}/{name} to {node}"
        body = event(namespace, name, "Normal", "Scheduled", "Binding", note)
        self._events.put_nowait((f"/apis/events.k8s.io/v1/namespaces/{namespace}/events", body))

    def unschedulable(self, namespace: str, name: str) -> None:
        if (namespace, name) in self._seen:
            return
        self._seen.add((namespace, name))
        message = f"0/{self._nodes} nodes are available: {self._nodes} Insufficient nvidia.com/gpu."
        body = event(namespace, name, "Warning", "FailedScheduling", "Scheduling", message)
        self._events.put_nowait((f"/apis/events.k8s.io/v1/namespaces/{namespace}/events", body))
        self._conditions.put_nowait(
            (f"/api/v1/namespaces/{namespace}/pods/{name}/status", unschedulable_condition(message))
        )

    async def event_writer(self) -> None:
        await self._write(self._events, "POST", "application/json")

    async def condition_writer(self) -> None:
        await self._write(self._conditions, "PATCH", "application/strategic-merge-patch+json")

    async def _write(
        self, queue: asyncio.Queue[tuple[str, bytes]], method: str, content_type: str
    ) -> None:
        headers = {**self._endpoint.headers, "Content-Type": content_type}
        while True:
            await self._binds_idle.wait()
            path, body = await queue.get()
            # Binds that came while this writer waited for work still go first.
            await self._binds_idle.wait()
            try:
                async with self._session.request(
                    method,
                    self._endpoint.server + path,
                    data=body,
                    headers=headers,
                    ssl=self._endpoint.ssl,
                ) as response:
                    await response.read()
                    if response.status < 300:
                        self.written += 1
                    else:
                        self.failed += 1
                        log.warning("%s %s: HTTP %s", method, path, response.status)
            except (aiohttp.ClientError, TimeoutError) as error:
                self.failed += 1
                log.warning("%s %s: %r", method, path, error)


async def _get(
    session: aiohttp.ClientSession, endpoint: Endpoint, path: str, **query: str
) -> bytes:
    async with session.get(
        endpoint.server + path, params=query, headers=endpoint.headers, ssl=endpoint.ssl
    ) as response:
        body = await response.read()
        if response.status >= 300:
            raise RuntimeError(f"GET {path}: HTTP {response.status}: {body[:200]!r}")
        return body


async def node_names(
    session: aiohttp.ClientSession, endpoint: Endpoint, label_selector: str | None
) -> list[str]:
    query = {"labelSelector": label_selector} if label_selector else {}
    body = orjson.loads(await _get(session, endpoint, "/api/v1/nodes", **query))
    return sorted(item["metadata"]["name"] for item in body["items"])


async def _lines(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    buffer = b""
    async for chunk in response.content.iter_any():
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if line:
                yield line


async def _watch(
    session: aiohttp.ClientSession,
    endpoint: Endpoint,
    path: str,
    query: dict[str, str],
    opened: asyncio.Event,
) -> AsyncGenerator[bytes]:
    """The lines of a watch of ``path`` from ``query``'s resourceVersion; ``opened`` is set once
    the apiserver answers. Ends quietly when the connection drops (the caller watches again)."""
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=300)
    async with session.get(
        endpoint.server + path,
        params={**query, "watch": "true"},
        headers=endpoint.headers,
        ssl=endpoint.ssl,
        timeout=timeout,
    ) as response:
        if response.status >= 300:
            raise RuntimeError(f"watch {path}: HTTP {response.status}")
        opened.set()
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async for line in _lines(response):
                yield line


async def feed(
    session: aiohttp.ClientSession,
    endpoint: Endpoint,
    take: Callable[[str, str], None],
    query: dict[str, str],
    opened: asyncio.Event,
) -> None:
    """Lists the pending pods once (each to ``take``), then watches for more; re-lists if the
    watch expires."""
    path = "/api/v1/pods"
    while True:
        listed = await _get(session, endpoint, path, **query)
        for namespace, name in pod_keys(listed):
            take(namespace, name)
        version = _RESOURCE_VERSION.search(listed)
        resource_version = version.group(1).decode() if version else "0"
        while True:
            gone = False
            watch_query = {**query, "resourceVersion": resource_version}
            watching = _watch(session, endpoint, path, watch_query, opened)
            async with contextlib.aclosing(watching) as lines:  # a break closes the response
                async for line in lines:
                    event = _EVENT_TYPE.match(line)
                    kind = event.group(1) if event else b""
                    if kind == b"ERROR":
                        gone = _HTTP_GONE in line
                        break
                    version = _RESOURCE_VERSION.search(line)
                    if version:
                        resource_version = version.group(1).decode()
                    if kind == b"ADDED":
                        for namespace, name in pod_keys(line):
                            take(namespace, name)
            if gone:
                break  # re-list


async def mirror(
    session: aiohttp.ClientSession, endpoint: Endpoint, path: str, opened: asyncio.Event
) -> None:
    """An informer's load on the apiserver without its work: lists ``path`` a page at a time,
    then watches it from there, dropping what it reads; re-lists if the watch expires."""
    while True:
        resource_version, token = "0", ""
        while True:
            page = await _get(
                session, endpoint, path, limit="1000", **({"continue": token} if token else {})
            )
            listed = orjson.loads(page)["metadata"]
            resource_version, token = listed.get("resourceVersion", "0"), listed.get("continue")
            if not token:
                break
        query = {"resourceVersion": resource_version}
        async with contextlib.aclosing(_watch(session, endpoint, path, query, opened)) as lines:
            async for line in lines:
                if line.startswith(b'{"type":"ERROR"'):
                    break


async def run(args: argparse.Namespace) -> None:
    endpoint = read_kubeconfig(args.kubeconfig)
    writers = _REPORT_WRITERS * 2 if args.report else 0
    # One connection per bind in flight and per report writer; the lists and watches get theirs.
    connector = aiohttp.TCPConnector(limit=args.connections + writers + 6, ttl_dns_cache=None)
    async with aiohttp.ClientSession(connector=connector) as session:
        nodes = await node_names(session, endpoint, args.node_selector)
        binds_idle = asyncio.Event()
        reporter = Reporter(session, endpoint, len(nodes), binds_idle) if args.report else None
        binder = Binder(session, endpoint, nodes, reporter, binds_idle)
        selector = f"spec.schedulerName={args.scheduler_name},spec.nodeName="
        query = {"fieldSelector": selector}
        if args.label_selector:
            query["labelSelector"] = args.label_selector
        opened: list[asyncio.Event] = []
        async with asyncio.TaskGroup() as group:
            for _ in range(args.connections):
                group.create_task(binder.worker())
            opened.append(asyncio.Event())
            group.create_task(feed(session, endpoint, binder.add, query, opened[-1]))
            if reporter is not None:
                for _ in range(_REPORT_WRITERS):
                    group.create_task(reporter.event_writer())
                    group.create_task(reporter.condition_writer())
                if args.report_label_selector:
                    report_query = {
                        "fieldSelector": selector,
                        "labelSelector": args.report_label_selector,
                    }
                    opened.append(asyncio.Event())
                    group.create_task(
                        feed(session, endpoint, reporter.unschedulable, report_query, opened[-1])
                    )
                for path in ("/api/v1/pods", "/api/v1/nodes"):
                    opened.append(asyncio.Event())
                    group.create_task(mirror(session, endpoint, path, opened[-1]))
            for event in opened:
                await event.wait()
            args.ready_file.write_text(f"{len(nodes)} nodes\n")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--scheduler-name", required=True)
    parser.add_argument("--ready-file", type=Path, required=True)
    parser.add_argument("--node-selector", default=None, help="label selector of the nodes")
    parser.add_argument("--label-selector", default=None, help="label selector of the pods")
    parser.add_argument(
        "--connections", type=int, default=32, help="binds in flight, one per connection"
    )
    parser.add_argument(
        "--report",
        action="store_true",
        help="the reporting ceiling: also write events and conditions, and watch every pod and "
        "node, as a scheduler must",
    )
    parser.add_argument(
        "--report-label-selector",
        default=None,
        help="with --report: label selector of the pods to report unschedulable, not bind",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    import uvloop

    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(run(args))


if __name__ == "__main__":
    main()
