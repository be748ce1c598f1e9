"""``podium explain NAMESPACE/NAME``: why one pod fits or does not fit each node.

Lists the cluster once into a fresh ``ClusterState`` (the same parsing the scheduler's cache
uses), then asks the core for the per-node reasons of every enabled filter
(``Snapshot.explain``). Nothing is scheduled or written.

Which profile judges the pod: the one whose schedulerName the pod names; when no profile does (a
pod of another scheduler), the first profile, and the output says so. A bound pod is judged as if
it were still pending (``Snapshot.explain_bound``: taken off its node, its nodeName ignored), so
the answer for the node it is on says whether podium would have allowed that choice.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from podium._core import ClusterState, CoreError, Kind, Profile
from podium.rawapi import ApiStatusError, request_bytes

if TYPE_CHECKING:
    from pathlib import Path

    from kubernetes_asyncio.client import ApiClient
    from rich.console import Console

    from podium.config import SchedulerConfig

# What is listed to build the state: everything the filters read. Kinds the core does not store
# yet are skipped by it; listing them costs one request each.
LISTED: tuple[tuple[Kind, str], ...] = (
    (Kind.NODE, "/api/v1/nodes"),
    (Kind.POD, "/api/v1/pods"),
    (Kind.PERSISTENT_VOLUME, "/api/v1/persistentvolumes"),
    (Kind.PERSISTENT_VOLUME_CLAIM, "/api/v1/persistentvolumeclaims"),
    (Kind.STORAGE_CLASS, "/apis/storage.k8s.io/v1/storageclasses"),
)
PAGE_SIZE = 500
HTTP_NOT_FOUND = 404


class ExplainError(Exception):
    """The pod cannot be explained (bad name, missing, finished, gated); the message says why."""


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
class Explanation:
    target: Target
    pod: PodFacts
    profile: str
    # The pod's schedulerName has no profile here: judged by `profile` instead.
    foreign: bool
    # Node name -> failing reasons (empty: feasible).
    nodes: dict[str, list[str]]

    @property
    def feasible(self) -> list[str]:
        return sorted(n for n, reasons in self.nodes.items() if not reasons)

    def summary(self) -> str:
        """kube-scheduler's message form: ``2/5 nodes are available: 3 Insufficient cpu.``"""
        counts: Counter[str] = Counter()
        for reasons in self.nodes.values():
            counts.update(set(reasons))
        parts = sorted(f"{n} {r}" for r, n in counts.items())
        text = f"{len(self.feasible)}/{len(self.nodes)} nodes are available"
        return f"{text}: {', '.join(parts)}." if parts else f"{text}."

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "pod": str(self.target),
                "uid": self.pod.uid,
                "schedulerName": self.pod.scheduler_name,
                "nodeName": self.pod.node_name,
                "profile": self.profile,
                "foreignScheduler": self.foreign,
                "feasible": self.feasible,
                "summary": self.summary(),
                "nodes": self.nodes,
            },
            option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2,
        )


async def load_state(api: ApiClient, scheduler_names: list[str]) -> ClusterState:
    """A ClusterState holding the whole cluster, listed page by page."""
    state = ClusterState(scheduler_names)
    for kind, path in LISTED:
        continue_token: str | None = None
        while True:
            query: dict[str, str | int | bool] = {"limit": PAGE_SIZE}
            if continue_token:
                query["continue"] = continue_token
            page = state.apply_list(kind, await request_bytes(api, "GET", path, query=query))
            continue_token = page.continue_token
            if not continue_token:
                break
    return state


def explain_in(
    state: ClusterState, target: Target, pod: PodFacts, config: SchedulerConfig
) -> Explanation:
    """Explain ``pod`` against ``state`` (which must treat ``pod.scheduler_name`` as its own)."""
    if pod.phase in ("Succeeded", "Failed"):
        raise ExplainError(f"Pod {target}: has finished (phase {pod.phase}); it uses no node")
    chosen = config.profile(pod.scheduler_name)
    profile = chosen or config.profiles[0]
    core_profile = Profile(profile.core_spec())
    snapshot = state.snapshot()
    if pod.node_name is None and pod.gated:
        raise ExplainError(f"Pod {target}: has spec.schedulingGates; no scheduler looks at it")
    try:
        if pod.node_name is not None:
            nodes = snapshot.explain_bound(pod.uid, core_profile)
        else:
            nodes = snapshot.explain(pod.uid, core_profile)
    except CoreError as err:
        # Listed after the pod was read: it changed (bound, deleted, its node gone) meanwhile.
        raise ExplainError(f"Pod {target}: {err}") from err
    return Explanation(target, pod, profile.scheduler_name, chosen is None, nodes)


async def explain(api: ApiClient, target: Target, config: SchedulerConfig) -> Explanation:
    """Read the pod and the cluster, then explain the pod."""
    path = f"/api/v1/namespaces/{target.namespace}/pods/{target.name}"
    try:
        raw = await request_bytes(api, "GET", path)
    except ApiStatusError as err:
        if err.status == HTTP_NOT_FOUND:
            raise ExplainError(f"Pod {target}: not found") from err
        raise
    pod = PodFacts.of(target, orjson.loads(raw))
    # The pod's own scheduler counts as "ours" so an unbound pod of any scheduler is pending.
    names = list(dict.fromkeys([*config.scheduler_names, pod.scheduler_name]))
    state = await load_state(api, names)
    return explain_in(state, target, pod, config)


def render(console: Console, result: Explanation, *, show_all: bool = True) -> None:
    """A table of nodes (feasible first) with their reasons, and kube's one-line summary."""
    from rich.table import Table

    where = f" (bound to {result.pod.node_name})" if result.pod.node_name else " (pending)"
    console.print(f"[bold]Pod {result.target}[/bold]{where}, profile {result.profile!r}")
    if result.foreign:
        console.print(
            f"[yellow]schedulerName {result.pod.scheduler_name!r} has no podium profile; "
            f"judged by {result.profile!r}[/yellow]"
        )
    table = Table("node", "feasible", "reasons")
    order = sorted(result.nodes.items(), key=lambda item: (bool(item[1]), item[0]))
    for node, reasons in order:
        if not show_all and reasons and node != result.pod.node_name:
            continue
        mark = "[green]yes[/green]" if not reasons else "[red]no[/red]"
        label = f"{node} *" if node == result.pod.node_name else node
        table.add_row(label, mark, "\n".join(reasons))
    console.print(table)
    console.print(result.summary())


async def run_explain(
    pod: str,
    kubeconfig: Path | None,
    context: str | None,
    config_path: Path | None,
    output: str,
    feasible_only: bool,
) -> int:
    """The ``podium explain`` command; returns its exit code (2: bad input or pod)."""
    from rich.console import Console

    from podium.config import ConfigError, load_config
    from podium.kubeclient import api_client

    err = Console(stderr=True)
    if output not in ("table", "json"):
        err.print(f"podium explain: --output: {output!r} is not table or json")
        return 2
    try:
        target = Target.parse(pod)
        cfg = load_config(config_path)
    except (ExplainError, ConfigError) as e:
        err.print(f"podium explain: {e}", markup=False)
        return 2
    api = await api_client(kubeconfig, cfg.qps, cfg.burst, context=context)
    try:
        result = await explain(api, target, cfg)
    except ExplainError as e:
        err.print(f"podium explain: {e}", markup=False)
        return 2
    finally:
        await api.close()
    if output == "json":
        sys.stdout.buffer.write(result.to_json() + b"\n")
        sys.stdout.flush()
    else:
        render(Console(), result, show_all=not feasible_only)
    return 0
