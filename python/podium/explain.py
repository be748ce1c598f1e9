"""``podium explain NAMESPACE/NAME``: why one pod fits or does not fit each node, and how the
best nodes score.

Three sources of the cluster: a fresh listing of the apiserver into a ``ClusterState`` (the same
parsing the scheduler's cache uses), a snapshot file (``podium snapshot``), or the live
scheduler's own cache through its debug endpoint (``/debug/explain/NAMESPACE/NAME``, see
``explain_live``). The core gives the per-node reasons of every enabled filter and the
feasible nodes' per-plugin scores (``Snapshot.evaluate``). Nothing is scheduled or written.

Which profile judges the pod: the one whose schedulerName the pod names; when no profile does (a
pod of another scheduler), the first profile, and the output says so. A bound pod is judged as if
it were still pending (``Snapshot.explain_bound``: taken off its node, its nodeName ignored), so
the answer for the node it is on says whether podium would have allowed that choice.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from podium._core import ClusterState, CoreError, Kind, Profile
from podium.output import OutputFormat
from podium.plugins import PluginError, PluginSet, load_plugins
from podium.quota_view import quota_path
from podium.rawapi import ApiStatusError, request_bytes

if TYPE_CHECKING:
    from pathlib import Path

    from kubernetes_asyncio.client import ApiClient
    from rich.console import Console

    from podium.config import SchedulerConfig
    from podium.snapshotfile import ClusterSnapshot

HTTP_NOT_FOUND = 404
# How many of the best feasible nodes get their score breakdown shown.
DEFAULT_TOP = 5
# Infeasible nodes named per reason group in the table (the rest are counted).
NODES_PER_GROUP = 6


class ExplainError(Exception):
    """The pod cannot be explained (bad name, missing, finished, gated); the message says why."""


class PodNotFound(ExplainError):
    """The pod does not exist (where it was looked for: the apiserver, a snapshot)."""


@dataclass(frozen=True, slots=True)
class Target:
    namespace: str
    name: str

    @classmethod
    def parse(cls, text: str) -> Target:
        namespace, sep, name = text.partition("/")
        if not sep:
            namespace, name = "default", text
        if not namespace or not name or "/" in name:
            raise ExplainError(f"pod {text!r}: expected NAMESPACE/NAME or NAME")
        return cls(namespace, name)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class PodFacts:
    """The few fields of the pod that decide how it is explained."""

    uid: str
    scheduler_name: str
    node_name: str | None
    phase: str
    gated: bool

    @classmethod
    def of(cls, target: Target, pod: Any) -> PodFacts:
        if not isinstance(pod, dict):
            raise ExplainError(f"Pod {target}: not a JSON object")
        metadata = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        uid = metadata.get("uid")
        if not isinstance(uid, str) or not uid:
            raise ExplainError(f"Pod {target}: metadata.uid: missing")
        return cls(
            uid=uid,
            scheduler_name=str(spec.get("schedulerName") or "default-scheduler"),
            node_name=spec.get("nodeName") or None,
            phase=str(status.get("phase") or ""),
            gated=bool(spec.get("schedulingGates")),
        )


@dataclass(frozen=True, slots=True)
class ScoredNode:
    """A feasible node's total and its per-plugin (normalized score, weight)."""

    node: str
    total: int
    plugins: tuple[tuple[str, int, int], ...]


@dataclass(frozen=True, slots=True)
class Explanation:
    target: Target
    pod: PodFacts
    profile: str
    # The pod's schedulerName has no profile here: judged by `profile` instead.
    foreign: bool
    # Node name -> failing reasons (empty: feasible).
    nodes: dict[str, list[str]]
    # The best feasible nodes, best first, with their score breakdown.
    best: tuple[ScoredNode, ...] = ()
    # A score plugin's PreScore failed (no breakdown then).
    score_error: str | None = None
    # Node name -> the filter that gave each of its reasons (same order as ``nodes``).
    filters: dict[str, list[str]] = field(default_factory=dict)
    # The pod's ElasticQuota and its ancestors', nearest first, one line each (use, min, max,
    # weight, fair-share key): the quota view.
    quotas: tuple[str, ...] = ()

    @property
    def feasible(self) -> list[str]:
        return sorted(n for n, reasons in self.nodes.items() if not reasons)

    def rejections(self, node: str) -> list[str]:
        """The node's reasons, each as ``Filter: reason`` when the filter is known."""
        reasons = self.nodes[node]
        filters = self.filters.get(node, [])
        if len(filters) != len(reasons):
            return list(reasons)
        return [f"{by}: {why}" for by, why in zip(filters, reasons, strict=True)]

    def groups(self) -> list[tuple[tuple[str, ...], list[str]]]:
        """Infeasible nodes grouped by their exact rejections (``Filter: reason``), largest
        group first."""
        by_reasons: dict[tuple[str, ...], list[str]] = {}
        for node, reasons in sorted(self.nodes.items()):
            if reasons:
                by_reasons.setdefault(tuple(self.rejections(node)), []).append(node)
        return sorted(by_reasons.items(), key=lambda item: (-len(item[1]), item[0]))

    def summary(self) -> str:
        """kube-scheduler's message form: ``2/5 nodes are available: 3 Insufficient cpu.``"""
        counts: Counter[str] = Counter()
        for reasons in self.nodes.values():
            counts.update(set(reasons))
        parts = sorted(f"{n} {r}" for r, n in counts.items())
        text = f"{len(self.feasible)}/{len(self.nodes)} nodes are available"
        return f"{text}: {', '.join(parts)}." if parts else f"{text}."

    def to_dict(self) -> dict[str, Any]:
        return {
            "pod": str(self.target),
            "uid": self.pod.uid,
            "schedulerName": self.pod.scheduler_name,
            "nodeName": self.pod.node_name,
            "phase": self.pod.phase,
            "profile": self.profile,
            "foreignScheduler": self.foreign,
            "feasible": self.feasible,
            "summary": self.summary(),
            "nodes": self.nodes,
            "rejectedBy": self.filters,
            "groups": [{"reasons": list(r), "nodes": n} for r, n in self.groups()],
            "best": [
                {
                    "node": b.node,
                    "total": b.total,
                    "plugins": [{"name": p, "score": s, "weight": w} for p, s, w in b.plugins],
                }
                for b in self.best
            ],
            "scoreError": self.score_error,
            "quotas": list(self.quotas),
        }

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict(), option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)

    @classmethod
    def from_dict(cls, data: Any) -> Explanation:
        """The inverse of ``to_dict`` (what the live scheduler's endpoint answers)."""
        try:
            target = Target.parse(data["pod"])
            facts = PodFacts(
                uid=str(data["uid"]),
                scheduler_name=str(data["schedulerName"]),
                node_name=data["nodeName"],
                phase=str(data.get("phase") or ""),
                gated=False,
            )
            best = tuple(
                ScoredNode(
                    str(b["node"]),
                    int(b["total"]),
                    tuple(
                        (str(p["name"]), int(p["score"]), int(p["weight"])) for p in b["plugins"]
                    ),
                )
                for b in data["best"]
            )
            return cls(
                target,
                facts,
                str(data["profile"]),
                bool(data["foreignScheduler"]),
                {str(k): [str(r) for r in v] for k, v in data["nodes"].items()},
                best,
                data.get("scoreError"),
                {str(k): [str(f) for f in v] for k, v in (data.get("rejectedBy") or {}).items()},
                tuple(str(q) for q in data.get("quotas") or ()),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ExplainError(f"unexpected answer from the scheduler: {err!r}") from err


async def load_state(api: ApiClient, scheduler_names: list[str]) -> ClusterState:
    """A ClusterState holding what the scheduler's cache holds, listed page by page."""
    from podium.snapshotfile import take_snapshot

    state, _ = (await take_snapshot(api)).state(scheduler_names)
    return state


def explain_in(
    state: ClusterState,
    target: Target,
    pod: PodFacts,
    config: SchedulerConfig,
    *,
    raw: bytes | None = None,
    top: int = DEFAULT_TOP,
    plugins: Mapping[str, PluginSet] | None = None,
) -> Explanation:
    """Explain ``pod`` against ``state``. A pending pod is judged from ``raw`` (its JSON) when
    given, so it need not be one of the state's pending pods (another scheduler's pod, a pod the
    cache has not seen yet); otherwise the state must hold it as pending. ``plugins``: the
    profiles' Python plugins (a running scheduler's); loaded afresh when None (their background
    sources not read)."""
    if pod.phase in ("Succeeded", "Failed"):
        raise ExplainError(f"Pod {target}: has finished (phase {pod.phase}); it uses no node")
    chosen = config.profile(pod.scheduler_name)
    profile = chosen or config.profiles[0]
    core_profile = Profile(profile.core_spec())
    chosen_plugins = (plugins or {}).get(profile.scheduler_name)
    if chosen_plugins is None:
        try:
            chosen_plugins = load_plugins(profile.scheduler_name, profile.python_plugins)
        except PluginError as err:
            raise ExplainError(str(err)) from err
    judge = chosen_plugins.judge if chosen_plugins.judges else None
    snapshot = state.snapshot()
    if pod.node_name is None and pod.gated:
        raise ExplainError(f"Pod {target}: has spec.schedulingGates; no scheduler looks at it")
    try:
        if pod.node_name is not None:
            result = snapshot.evaluate(pod.uid, core_profile, bound=True, plugins=judge)
        else:
            subject = raw if raw is not None else pod.uid
            result = snapshot.evaluate(subject, core_profile, plugins=judge)
    except CoreError as err:
        # Listed after the pod was read: it changed (bound, deleted, its node gone) meanwhile.
        raise ExplainError(f"Pod {target}: {err}") from err
    best = tuple(
        ScoredNode(s.node, s.total, tuple((name, score, w) for name, score, w in s.plugins))
        for s in result.scores[: max(top, 0)]
    )
    return Explanation(
        target,
        pod,
        profile.scheduler_name,
        chosen is None,
        result.reasons,
        best,
        result.score_error,
        result.filters,
        tuple(quota_path(state.quotas(), target.namespace)),
    )


async def read_pod(api: ApiClient, target: Target) -> tuple[PodFacts, bytes]:
    path = f"/api/v1/namespaces/{target.namespace}/pods/{target.name}"
    try:
        raw = await request_bytes(api, "GET", path)
    except ApiStatusError as err:
        if err.status == HTTP_NOT_FOUND:
            raise PodNotFound(f"Pod {target}: not found") from err
        raise
    return PodFacts.of(target, orjson.loads(raw)), raw


async def explain(
    api: ApiClient, target: Target, config: SchedulerConfig, top: int = DEFAULT_TOP
) -> Explanation:
    """Read the pod and the cluster, then explain the pod."""
    pod, raw = await read_pod(api, target)
    state = await load_state(api, config.scheduler_names)
    return explain_in(state, target, pod, config, raw=raw, top=top)


def explain_snapshot(
    snapshot: ClusterSnapshot, target: Target, config: SchedulerConfig, top: int = DEFAULT_TOP
) -> Explanation:
    """Explain a pod of a snapshot file against the rest of it."""
    for obj in snapshot.objects.get(Kind.POD, ()):
        meta = obj.get("metadata") or {}
        if meta.get("namespace") == target.namespace and meta.get("name") == target.name:
            state, _ = snapshot.state(config.scheduler_names)
            raw = orjson.dumps(obj)
            return explain_in(state, target, PodFacts.of(target, obj), config, raw=raw, top=top)
    raise PodNotFound(f"Pod {target}: not in the snapshot")


async def explain_live(
    api: ApiClient,
    state: ClusterState,
    config: SchedulerConfig,
    target: Target,
    top: int = DEFAULT_TOP,
    plugins: Mapping[str, PluginSet] | None = None,
) -> Explanation:
    """For the scheduler's debug endpoint: the pod as the apiserver has it now, judged against
    the scheduler's own cache (assumed pods included), off the event loop."""
    import asyncio

    pod, raw = await read_pod(api, target)
    return await asyncio.to_thread(
        explain_in, state, target, pod, config, raw=raw, top=top, plugins=plugins
    )


async def fetch_live(url: str, target: Target, top: int) -> Explanation:
    """Ask a running scheduler's debug endpoint."""
    import aiohttp

    address = f"{url.rstrip('/')}/debug/explain/{target.namespace}/{target.name}"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
            session.get(address, params={"top": str(top)}) as response,
        ):
            body = await response.read()
    except aiohttp.ClientError as err:
        raise ExplainError(f"{address}: {err}") from err
    if response.status != 200:
        try:
            message = orjson.loads(body)["error"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            message = body[:200].decode("utf-8", "replace")
        error = PodNotFound if response.status == HTTP_NOT_FOUND else ExplainError
        raise error(f"{address}: HTTP {response.status}: {message}")
    try:
        return Explanation.from_dict(orjson.loads(body))
    except orjson.JSONDecodeError as err:
        raise ExplainError(f"{address}: not JSON: {err}") from err


def render(console: Console, result: Explanation, *, show_all: bool = True) -> None:
    """The best nodes' score breakdown, the infeasible nodes grouped by reason, and kube's
    one-line summary. ``show_all``: also list every feasible node by name."""
    from rich.table import Table

    where = f" (bound to {result.pod.node_name})" if result.pod.node_name else " (pending)"
    console.print(f"[bold]Pod {result.target}[/bold]{where}, profile {result.profile!r}")
    if result.foreign:
        console.print(
            f"[yellow]schedulerName {result.pod.scheduler_name!r} has no podium profile; "
            f"judged by {result.profile!r}[/yellow]"
        )
    if result.pod.node_name and result.pod.node_name in result.nodes:
        reasons = result.rejections(result.pod.node_name)
        verdict = "feasible" if not reasons else "infeasible: " + ", ".join(reasons)
        console.print(f"its node {result.pod.node_name}: {verdict}", markup=False)
    if result.best:
        plugins = [name for name, _, _ in result.best[0].plugins]
        table = Table("best nodes", "total", *plugins, title="scores (normalized x weight)")
        for scored in result.best:
            cells = [f"{score}x{weight}" for _, score, weight in scored.plugins]
            label = f"{scored.node} *" if scored.node == result.pod.node_name else scored.node
            table.add_row(label, str(scored.total), *cells)
        console.print(table)
    elif result.score_error:
        console.print(f"[red]scoring failed: {result.score_error}[/red]")
    feasible = result.feasible
    if feasible and show_all:
        console.print(f"feasible ({len(feasible)}): {_names(feasible, len(feasible))}")
    groups = result.groups()
    if groups:
        table = Table("nodes", "count", "rejected because", title="infeasible nodes by reason")
        for group, nodes in groups:
            table.add_row(_names(nodes, NODES_PER_GROUP), str(len(nodes)), "\n".join(group))
        console.print(table)
    for line in result.quotas:
        console.print(f"quota {line}", markup=False, highlight=False)
    console.print(result.summary())


def _names(nodes: list[str], limit: int) -> str:
    shown = ", ".join(nodes[:limit])
    return f"{shown}, … (+{len(nodes) - limit} more)" if len(nodes) > limit else shown


async def run_explain(
    pod: str,
    kubeconfig: Path | None,
    context: str | None,
    config_path: Path | None,
    output: OutputFormat,
    feasible_only: bool,
    *,
    snapshot: Path | None = None,
    live: str | None = None,
    top: int = DEFAULT_TOP,
) -> int:
    """The ``podium explain`` command; returns its exit code (2: bad input or pod)."""
    from rich.console import Console

    from podium.config import ConfigError, load_config
    from podium.kubeclient import api_client
    from podium.snapshotfile import ClusterSnapshot, SnapshotError

    err = Console(stderr=True)
    if snapshot is not None and live is not None:
        err.print("podium explain: --snapshot and --from: give at most one")
        return 2
    try:
        target = Target.parse(pod)
        cfg = load_config(config_path)
        if live is not None:
            result = await fetch_live(live, target, top)
        elif snapshot is not None:
            result = explain_snapshot(ClusterSnapshot.read(snapshot), target, cfg, top)
        else:
            api = await api_client(kubeconfig, cfg.qps, cfg.burst, context=context)
            try:
                result = await explain(api, target, cfg, top)
            finally:
                await api.close()
    except (ExplainError, ConfigError, SnapshotError) as e:
        err.print(f"podium explain: {e}", markup=False)
        return 2
    if output is OutputFormat.JSON:
        sys.stdout.buffer.write(result.to_json() + b"\n")
        sys.stdout.flush()
    else:
        render(Console(), result, show_all=not feasible_only)
    return 0
