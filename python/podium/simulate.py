"""``podium simulate``: run the scheduler offline on a cluster snapshot and a workload file.

The snapshot is loaded into a ``ClusterState`` (no apiserver), the workload's pods are added as
pending, and the core decides them exactly as a live cycle would: highest priority first, then
in file order, each placement counted before the next pod is decided. Nothing is bound: chosen
pods are assumed in the state, which gives the utilisation after.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from podium._core import Code, Kind, Profile
from podium.plugins import load_plugins

if TYPE_CHECKING:
    from rich.console import Console

    from podium.config import SchedulerConfig
    from podium.snapshotfile import ClusterSnapshot

__all__ = ["SimulationReport", "render", "simulate"]

# Resources the utilisation table always shows (others appear when any node has them).
_SHOWN_FIRST = ("cpu", "memory", "nvidia.com/gpu", "pods")


@dataclass(frozen=True, slots=True)
class Placement:
    pod: str
    node: str
    score: int
    allocation: str | None = None


@dataclass(frozen=True, slots=True)
class Unplaced:
    pod: str
    code: str
    message: str


@dataclass(slots=True)
class SimulationReport:
    nodes: int
    placed: list[Placement] = field(default_factory=list)
    pending: list[Unplaced] = field(default_factory=list)
    # resource -> (requested, allocatable)
    before: dict[str, tuple[int, int]] = field(default_factory=dict)
    after: dict[str, tuple[int, int]] = field(default_factory=dict)
    # Objects of the snapshot the core could not parse (kept as invalid records).
    snapshot_errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        def usage(totals: dict[str, tuple[int, int]]) -> dict[str, Any]:
            return {
                name: {"requested": req, "allocatable": alloc, "percent": _percent(req, alloc)}
                for name, (req, alloc) in totals.items()
            }

        return {
            "nodes": self.nodes,
            "placed": [
                {"pod": p.pod, "node": p.node, "score": p.score, "allocation": p.allocation}
                for p in self.placed
            ],
            "pending": [{"pod": u.pod, "code": u.code, "message": u.message} for u in self.pending],
            "utilisation": {"before": usage(self.before), "after": usage(self.after)},
            "snapshotErrors": self.snapshot_errors,
        }

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2)


def _percent(requested: int, allocatable: int) -> float:
    return round(100.0 * requested / allocatable, 1) if allocatable > 0 else 0.0


def simulate(
    snapshot: ClusterSnapshot, workload: list[dict[str, Any]], config: SchedulerConfig
) -> SimulationReport:
    """Place ``workload`` (complete Pod objects, see ``podium.workload``) on ``snapshot``."""
    state, errors = snapshot.state(config.scheduler_names)
    report = SimulationReport(nodes=state.node_count, snapshot_errors=errors)
    report.before = state.capacity_totals()
    order: dict[str, int] = {}
    names: dict[str, str] = {}
    for index, pod in enumerate(workload):
        line = orjson.dumps({"type": "ADDED", "object": pod})
        change = state.apply_event(Kind.POD, line)
        names[change.uid] = f"{change.namespace}/{change.name}"
        order[change.uid] = index
        if change.scheduler_name not in config.scheduler_names:
            report.pending.append(
                Unplaced(
                    names[change.uid],
                    "NoProfile",
                    f"spec.schedulerName {change.scheduler_name!r} has no profile in the config",
                )
            )
        elif change.gated:
            report.pending.append(Unplaced(names[change.uid], "Gated", "has spec.schedulingGates"))
    queued = [p for p in state.pending() if p.uid in order]
    queued.sort(key=lambda p: (-p.priority, order[p.uid]))
    by_profile: dict[str, list[str]] = defaultdict(list)
    for waiting in queued:
        by_profile[waiting.scheduler_name].append(waiting.uid)
    for scheduler_name, uids in by_profile.items():
        settings = config.profile(scheduler_name)
        if settings is None:  # the state only holds pods of the config's profiles
            continue
        # Python plugins judge here too (their background refreshes are not started offline).
        plugins = load_plugins(scheduler_name, settings.python_plugins)
        judge = plugins.judge if plugins.judges else None
        decisions = state.snapshot().schedule(uids, Profile(settings.core_spec()), judge)
        for decision in decisions:
            pod_name = names[decision.uid]
            if decision.code == Code.SUCCESS and decision.node is not None:
                state.assume(decision.uid, decision.node, decision.allocation)
                report.placed.append(
                    Placement(pod_name, decision.node, decision.score, decision.allocation)
                )
            else:
                report.pending.append(Unplaced(pod_name, decision.code.name, decision.message))
    # Reported in the workload's order, whatever order they were decided in.
    position = {names[uid]: index for uid, index in order.items()}
    report.placed.sort(key=lambda p: position[p.pod])
    report.pending.sort(key=lambda u: position[u.pod])
    report.after = state.capacity_totals()
    return report


def render(console: Console, report: SimulationReport) -> None:
    from rich.table import Table

    console.print(
        f"[bold]{len(report.placed)} placed, {len(report.pending)} pending[/bold] "
        f"on {report.nodes} nodes"
    )
    by_node: dict[str, list[str]] = defaultdict(list)
    for p in report.placed:
        by_node[p.node].append(p.pod)
    if by_node:
        table = Table("node", "pods placed")
        for node in sorted(by_node):
            table.add_row(node, ", ".join(by_node[node]))
        console.print(table)
    if report.pending:
        table = Table("pending pod", "why")
        for u in report.pending:
            table.add_row(u.pod, u.message)
        console.print(table)
    table = Table("resource", "before", "after")
    shown = [r for r in _SHOWN_FIRST if r in report.after]
    shown += sorted(r for r in report.after if r not in _SHOWN_FIRST)
    for resource in shown:
        before = report.before.get(resource, (0, 0))
        after = report.after[resource]
        if after[1] == 0:
            continue
        table.add_row(resource, _usage(resource, *before), _usage(resource, *after))
    console.print(table)
    for error in report.snapshot_errors:
        console.print(f"[yellow]snapshot: {error}[/yellow]", markup=True)


def _usage(resource: str, requested: int, allocatable: int) -> str:
    used, total = _amount(resource, requested), _amount(resource, allocatable)
    return f"{used}/{total} ({_percent(requested, allocatable)}%)"


def _amount(resource: str, value: int) -> str:
    if resource == "cpu":
        return f"{value / 1000:g}"
    if resource in ("memory", "ephemeral-storage"):
        return f"{value / 2**30:.1f}Gi"
    return str(value)
