"""``podium extender``: podium's filters and scores for the default kube-scheduler, over its
HTTP(S) extender protocol.

kube-scheduler, configured with an ``extenders:`` entry whose ``urlPrefix`` points here, POSTs
JSON to ``<urlPrefix>/<verb>``:

- ``filter`` (ExtenderArgs → ExtenderFilterResult): the pod and the nodes its own filters kept,
  as names (``nodeCacheCapable: true``) or as full Node objects. podium answers which of them
  pass every filter of its profile (NUMA single-zone fit, racks, ...), and why the rest fail.
- ``prioritize`` (ExtenderArgs → HostPriorityList): podium's weighted score per node, mapped
  onto 1..10 (kube's MaxExtenderPriority) from its worst to its best feasible node, 0 for nodes
  it rejects; kube-scheduler multiplies it by the entry's weight.
- ``bind`` (ExtenderBindingArgs → ExtenderBindingResult): POST pods/binding as podium's
  binder does, then count the pod on its node at once (the watch confirms it later).

Nodes and pods are judged against podium's own informer cache (the same ``Cache`` and Rust
``ClusterState`` as ``podium run``), so only node names need to travel. The pod is taken from the
request (it may not be in the cache yet). A node kube-scheduler names that the cache does not
have fails with a reason saying so. The core runs with the GIL released, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from podium._core import ClusterState, CoreError, Evaluation, Profile
from podium.binder import binding_body
from podium.plugins import PluginSet
from podium.rawapi import ApiStatusError, request_bytes

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

__all__ = [
    "MAX_EXTENDER_PRIORITY",
    "BindArgs",
    "Extender",
    "ExtenderArgs",
    "ExtenderInputError",
    "ExtenderServer",
    "TlsFiles",
]

log = logging.getLogger(__name__)

# kube-scheduler's extender scores run 0..MaxExtenderPriority.
MAX_EXTENDER_PRIORITY = 10
# Requests larger than this are refused (a NodeList of thousands of full nodes fits).
MAX_REQUEST_BYTES = 256 * 2**20


class ExtenderInputError(ValueError):
    """A malformed extender request; the message names the field."""


@dataclass(frozen=True, slots=True)
class ExtenderArgs:
    """kube-scheduler's ExtenderArgs: the pod, and the candidate nodes by name or in full."""

    pod: dict[str, Any]
    pod_json: bytes
    node_names: list[str]
    # Set when kube-scheduler sent full Node objects (not nodeCacheCapable): the answer must
    # send the kept ones back in full.
    nodes: list[dict[str, Any]] | None

    @property
    def pod_name(self) -> str:
        meta = self.pod.get("metadata") or {}
        return f"{meta.get('namespace', '')}/{meta.get('name', '')}"

    @classmethod
    def parse(cls, body: bytes) -> ExtenderArgs:
        data = _object(body, "ExtenderArgs")
        pod = data.get("Pod")
        if not isinstance(pod, dict):
            raise ExtenderInputError("ExtenderArgs.Pod: must be a Pod object")
        names = data.get("NodeNames")
        node_list = data.get("Nodes")
        if names is not None:
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ExtenderInputError("ExtenderArgs.NodeNames: must be a list of strings")
            return cls(pod, orjson.dumps(pod), names, None)
        if node_list is None:
            raise ExtenderInputError("ExtenderArgs: neither NodeNames nor Nodes is set")
        items = node_list.get("items") if isinstance(node_list, dict) else None
        if not isinstance(items, list):
            raise ExtenderInputError("ExtenderArgs.Nodes.items: must be a list of Node objects")
        nodes: list[dict[str, Any]] = []
        names = []
        for i, item in enumerate(items):
            name = (item.get("metadata") or {}).get("name") if isinstance(item, dict) else None
            if not isinstance(name, str) or not name:
                raise ExtenderInputError(f"ExtenderArgs.Nodes.items[{i}].metadata.name: missing")
            nodes.append(item)
            names.append(name)
        return cls(pod, orjson.dumps(pod), names, nodes)


@dataclass(frozen=True, slots=True)
class BindArgs:
    """kube-scheduler's ExtenderBindingArgs."""

    name: str
    namespace: str
    uid: str
    node: str
    allocation: str | None = None

    @classmethod
    def parse(cls, body: bytes) -> BindArgs:
        data = _object(body, "ExtenderBindingArgs")
        values: dict[str, str] = {}
        for field in ("PodName", "PodNamespace", "PodUID", "Node"):
            value = data.get(field)
            if not isinstance(value, str) or not value:
                raise ExtenderInputError(f"ExtenderBindingArgs.{field}: must be a non-empty string")
            values[field] = value
        return cls(values["PodName"], values["PodNamespace"], values["PodUID"], values["Node"])


def _object(body: bytes, what: str) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise ExtenderInputError(f"{what}: not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise ExtenderInputError(f"{what}: must be a JSON object")
    return data


def scaled_priorities(evaluation: Evaluation, names: Sequence[str]) -> list[dict[str, Any]]:
    """podium's totals mapped linearly onto 1..MAX_EXTENDER_PRIORITY between the worst and the
    best feasible node (all equal: all get the top), so podium's ranking keeps its order however
    close the totals are; nodes podium finds infeasible (or does not know) get 0."""
    totals = {s.node: s.total for s in evaluation.scores}
    low, high = min(totals.values(), default=0), max(totals.values(), default=0)
    span = high - low
    out = []
    for name in names:
        total = totals.get(name)
        if total is None:
            score = 0
        elif span == 0:
            score = MAX_EXTENDER_PRIORITY
        else:
            score = 1 + ((total - low) * (MAX_EXTENDER_PRIORITY - 1) + span // 2) // span
        out.append({"Host": name, "Score": score})
    return out


class Extender:
    """The three verbs over one ClusterState and one profile."""

    def __init__(
        self,
        state: ClusterState,
        profile: Profile,
        api: ApiClient | None,
        plugins: PluginSet | None = None,
    ) -> None:
        self._state = state
        self._profile = profile
        self._api = api
        self._judge = plugins.judge if plugins is not None and plugins.judges else None
        # filter then prioritize come back to back for one pod: the second reuses the first's
        # evaluation while nothing in the cache changed.
        self._last: tuple[tuple[bytes, int, tuple[str, ...]], Evaluation] | None = None

    async def evaluate(self, args: ExtenderArgs) -> Evaluation:
        key = (args.pod_json, self._state.generation, tuple(args.node_names))
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        snapshot = self._state.snapshot()
        try:
            result = await asyncio.to_thread(
                snapshot.evaluate,
                args.pod_json,
                self._profile,
                args.node_names,
                plugins=self._judge,
            )
        except CoreError as err:
            raise ExtenderInputError(f"ExtenderArgs.Pod: {err}") from err
        self._last = (key, result)
        return result

    async def filter(self, args: ExtenderArgs) -> dict[str, Any]:
        result = await self.evaluate(args)
        failed = {node: ", ".join(reasons) for node, reasons in result.reasons.items() if reasons}
        kept = [name for name in args.node_names if name not in failed]
        answer: dict[str, Any] = {"FailedNodes": failed, "Error": ""}
        if args.nodes is None:
            answer["NodeNames"] = kept
        else:
            keep = set(kept)
            answer["Nodes"] = {
                "items": [
                    n for n, name in zip(args.nodes, args.node_names, strict=True) if name in keep
                ]
            }
        log.debug("filter %s: %d of %d nodes kept", args.pod_name, len(kept), len(args.node_names))
        return answer

    async def prioritize(self, args: ExtenderArgs) -> list[dict[str, Any]]:
        result = await self.evaluate(args)
        return scaled_priorities(result, args.node_names)

    async def bind(self, args: BindArgs) -> dict[str, Any]:
        if self._api is None:
            return {"Error": "bind: this extender has no apiserver client"}
        path = f"/api/v1/namespaces/{args.namespace}/pods/{args.name}/binding"
        try:
            await request_bytes(self._api, "POST", path, body=binding_body(args, args.node))
        except ApiStatusError as err:
            # kube-scheduler forgets its assumption and retries the pod: nothing to undo here.
            return {"Error": str(err)}
        # Count it now: the next filter must see it even before the watch does. A pod not in the
        # cache yet is skipped: the watch will bring it, bound.
        with contextlib.suppress(CoreError):
            self._state.assume(args.uid, args.node, None)
        log.info("bound %s/%s to %s", args.namespace, args.name, args.node)
        return {"Error": ""}


@dataclass(frozen=True, slots=True)
class TlsFiles:
    cert_file: Path
    key_file: Path

    def context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


class ExtenderServer:
    """The extender's HTTP(S) endpoints: ``<prefix>/filter``, ``/prioritize``, ``/bind``, and
    ``/healthz``."""

    def __init__(
        self,
        extender: Extender,
        host: str,
        port: int,
        *,
        prefix: str = "",
        tls: TlsFiles | None = None,
    ) -> None:
        self._extender = extender
        self._host = host
        self._port = port
        self._prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self._tls = tls
        self._runner: web.AppRunner | None = None
        self.port = port

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        app.router.add_post(f"{self._prefix}/filter", self._filter)
        app.router.add_post(f"{self._prefix}/prioritize", self._prioritize)
        app.router.add_post(f"{self._prefix}/bind", self._bind)
        app.router.add_get("/healthz", self._healthz)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        ssl_context = self._tls.context() if self._tls is not None else None
        site = web.TCPSite(runner, self._host, self._port, ssl_context=ssl_context)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        scheme = "https" if self._tls else "http"
        log.info("extender listening on %s://%s:%d%s", scheme, self._host, self.port, self._prefix)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, _: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _filter(self, request: web.Request) -> web.Response:
        try:
            args = ExtenderArgs.parse(await request.read())
            return _json(await self._extender.filter(args))
        except ExtenderInputError as err:
            log.warning("filter: %s", err)
            return _json({"Error": str(err), "FailedNodes": {}}, status=400)

    async def _prioritize(self, request: web.Request) -> web.Response:
        try:
            args = ExtenderArgs.parse(await request.read())
            return _json(await self._extender.prioritize(args))
        except ExtenderInputError as err:
            log.warning("prioritize: %s", err)
            return _json({"Error": str(err)}, status=400)

    async def _bind(self, request: web.Request) -> web.Response:
        try:
            args = BindArgs.parse(await request.read())
        except ExtenderInputError as err:
            log.warning("bind: %s", err)
            return _json({"Error": str(err)}, status=400)
        return _json(await self._extender.bind(args))


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")
