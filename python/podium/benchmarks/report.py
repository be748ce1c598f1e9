"""Print a benchmark report as rich tables and write it as JSON."""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from podium.benchmarks.case import CaseResult
from podium.benchmarks.core import BenchReport
from podium.benchmarks.dra_workloads import DRA_WORKLOADS
from podium.benchmarks.targets import TargetCheck, dra_ratio, extended_twin

# What each figure means; written into the JSON so a result file explains itself.
DEFINITIONS: dict[str, str] = {
    "decisions_per_s": "pods decided / time of the cycle (snapshot + Snapshot.schedule + assume "
    "of the successes), summed over batches; what the scheduling loop sustains with the core",
    "core_decisions_per_s": "pods decided / time inside Snapshot.schedule only",
    "decision_us_p50/p99": "per pod, as the core reports it: Decision.filter_seconds + "
    "score_seconds",
    "batch_us_per_pod_p50/p99": "per batch, wall time of its cycle / pods in it (wall clock)",
    "placed_share": "share of decided pods placed (code SUCCESS); the rest found no feasible node",
    "ready_seconds": "core time to load nodes and pods from list pages (begin_relist, apply_list "
    "per page, end_relist) and take the first snapshot; page generation and reads excluded",
    "rss_loaded_mib": "RSS after loading the cluster (before the pending pods)",
    "rss_end_mib": "RSS (/proc/self/statm) after the last batch",
    "peak_rss_mib": "ru_maxrss of the case's own process",
    "unsupported": "the profile lacks the plugin the workload's constraints need, or the core "
    "accepted it but placements show the constraint ignored: not a measurement of that workload",
}


def _fmt(value: float, digits: int = 0) -> str:
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


def print_report(report: BenchReport, checks: list[TargetCheck], console: Console) -> None:
    table = Table(title="podium core benchmark", title_justify="left")
    for header in (
        "nodes",
        "workload",
        "status",
        "decisions/s",
        "core only/s",
        "decision µs p50/p99",
        "batch µs/pod p50/p99",
        "placed",
        "ready s",
        "RSS MiB end/peak",
    ):
        table.add_column(header, justify="left" if header in {"workload", "status"} else "right")
    notes: list[str] = []
    for case in report.cases:
        # An unsupported case's figures stay in the JSON for diagnosis; shown, they would read as
        # a measurement of the workload.
        measured = case.decided > 0 and case.status in {"ok", "violations"}
        style = None if case.status == "ok" else "dim"
        table.add_row(
            f"{case.nodes:,}",
            case.workload,
            case.status if case.status == "ok" else f"[yellow]{case.status}[/]",
            _fmt(case.decisions_per_s) if measured else "-",
            _fmt(case.core_decisions_per_s) if measured else "-",
            f"{_fmt(case.decision_us_p50, 1)} / {_fmt(case.decision_us_p99, 1)}"
            if measured
            else "-",
            f"{_fmt(case.batch_us_per_pod_p50, 1)} / {_fmt(case.batch_us_per_pod_p99, 1)}"
            if measured
            else "-",
            f"{case.placed_share:.0%}" if measured else "-",
            f"{case.ready_seconds:.2f}" if case.ready_seconds else "-",
            f"{case.rss_end_mib:,.0f} / {case.peak_rss_mib:,.0f}" if case.peak_rss_mib else "-",
            style=style,
        )
        if case.plugin_us_p50:
            notes.append(
                f"{case.nodes:,} nodes, {case.workload}: Python plugins "
                f"{_fmt(case.plugin_us_p50, 1)} / {_fmt(case.plugin_us_p99, 1)} µs per pod "
                f"(p50/p99), {case.plugin_us_per_node:.2f} µs per node judged "
                f"({case.plugin_cpu_us_per_node:.2f} µs of CPU)"
            )
        if case.note or case.violations:
            detail = case.note
            if case.violations:
                detail += ("; " if detail else "") + ", ".join(
                    f"{k}: {v}" for k, v in case.violations.items()
                )
            notes.append(f"{case.nodes:,} nodes, {case.workload}: {detail}")
        if case.unplaced_by_reasons:
            notes.append(f"{case.nodes:,} nodes, {case.workload}: {_unplaced(case)}")
    console.print(table)
    console.print(
        f"{report.machine.get('cpus')} CPUs, core {report.machine.get('core_build')} build at "
        f"{report.machine.get('commit')}, load average {report.machine.get('load_average_start')}"
        f" at the start, {report.machine.get('load_average_end')} at the end",
        style="dim",
    )
    if report.machine.get("core_build") == "debug":
        console.print(
            "WARNING: podium._core is a debug build (maturin develop without --release): "
            "these figures are not representative of the core.",
            style="bold red",
        )
    console.print(
        "decisions/s: cycle rate (snapshot + schedule + assume). core only: inside "
        "Snapshot.schedule. decision µs: Decision.filter_seconds + score_seconds per pod (core "
        "clock). batch µs/pod: wall time per batch / batch size. placed: share of pods with a "
        "feasible node. RSS: /proc/self/statm at the end, ru_maxrss.",
        style="dim",
    )
    for note in notes:
        console.print(f"  [yellow]•[/] {note}")
    if report.profile.rejected:
        console.print(
            "the profile lacks (the core rejects them): "
            + ", ".join(sorted(report.profile.rejected)),
            style="yellow",
        )
    _print_breakdown(report, console)
    _print_dra(report, console)
    if report.memory is not None:
        m = report.memory
        console.print(
            f"memory run: {m.nodes:,} nodes + {m.bound_pods:,} pods: "
            f"RSS {m.rss_after_load_mib:,.0f} MiB after load "
            f"(baseline {m.baseline_rss_mib:,.0f} MiB"
            f"{' with the scheduler modules' if m.scheduler_modules else ''}, state "
            f"{m.state_mib:,.0f} MiB), peak {m.peak_rss_mib:,.0f} MiB, ready in "
            f"{m.ready_seconds:.2f} s (nodes {m.node_load.core_seconds:.2f} s, pods "
            f"{m.pod_load.core_seconds:.2f} s = "
            f"{m.pod_load.core_seconds / max(1, m.pod_load.items) * 1e6:.1f} µs/pod, "
            f"{m.pod_load.bytes / max(1e-9, m.pod_load.core_seconds) / 1e6:.0f} MB/s of JSON)"
        )
    elif report.memory_failure:
        console.print(f"memory run failed: {report.memory_failure}", style="red")
    targets = Table(title="issue 4 targets", title_justify="left")
    for header in ("target", "wanted", "measured", ""):
        targets.add_column(header)
    for check in checks:
        colour = "green" if check.met else "red"
        targets.add_row(check.name, check.target, check.measured, f"[{colour}]{check.status}[/]")
    console.print(targets)


def _unplaced(case: CaseResult) -> str:
    """Why the case's pods were left without a node, the commonest reasons first."""
    left = sum(case.unplaced_by_reasons.values())
    by_count = sorted(case.unplaced_by_reasons.items(), key=lambda kv: -kv[1])
    shown = "; ".join(f"{pods:,} for {why}" for why, pods in by_count[:3])
    more = f"; {len(by_count) - 3} more" if len(by_count) > 3 else ""
    return (
        f"{left:,} pods left without a node: {shown}{more}. "
        f"Last diagnosis: {case.last_unplaced_message}"
    )


def _print_dra(report: BenchReport, console: Console) -> None:
    """DRA claims against the same pods asking extended resources (issue 17)."""
    rows = [
        (c.nodes, c.workload, c, dra_ratio(report, c.nodes, c.workload))
        for c in report.cases
        if c.workload in DRA_WORKLOADS
    ]
    if not rows:
        return
    table = Table(
        title="DRA claims vs the same pods asking nvidia.com/gpu (extended resources)",
        title_justify="left",
    )
    for header in (
        "nodes",
        "workload",
        "DRA decisions/s",
        "extended decisions/s",
        "ratio",
        "CPU µs/decision",
        "after the first batch",
        "first batch CPU ms",
        "slices applied CPU ms",
        "republished: slices, CPU ms",
    ):
        table.add_column(header, justify="left" if header == "workload" else "right")
    for nodes, workload, case, ratio in rows:
        twin = next(
            (c for c in report.cases if c.nodes == nodes and c.workload == extended_twin(workload)),
            None,
        )
        table.add_row(
            f"{nodes:,}",
            f"{workload} / {extended_twin(workload)}",
            _fmt(case.decisions_per_s) if case.decided else "-",
            _fmt(twin.decisions_per_s) if twin is not None and twin.decided else "-",
            f"{ratio:.2f}" if ratio is not None else "-",
            _pair(case.cpu_us_per_decision, twin.cpu_us_per_decision if twin else None),
            _pair(
                case.cpu_us_per_decision_after_first,
                twin.cpu_us_per_decision_after_first if twin else None,
            ),
            _pair(
                case.first_batch_cpu_seconds * 1e3,
                twin.first_batch_cpu_seconds * 1e3 if twin else None,
            ),
            f"{case.dra_load_cpu_seconds * 1e3:.1f}",
            f"{case.churn_slices:,}, {case.churn_apply_cpu_seconds * 1e3:.1f}",
        )
    console.print(table)


def _pair(dra: float, twin: float | None) -> str:
    """DRA's figure / the twin's."""
    return f"{dra:.1f} / {twin:.1f}" if twin is not None else f"{dra:.1f} / -"


def _print_breakdown(report: BenchReport, console: Console) -> None:
    """Where the cycle time goes, per measured case: the profile for a missed target."""
    table = Table(title="where the time goes (seconds summed over batches)", title_justify="left")
    for header in (
        "nodes",
        "workload",
        "snapshot",
        "schedule",
        "assume",
        "Σ filter",
        "Σ score",
        "filter µs p50/p99",
        "score µs p50/p99",
        "evaluated",
        "feasible",
        "apply pending s",
    ):
        table.add_column(header, justify="left" if header == "workload" else "right")
    for c in report.cases:
        if not c.decided or c.status not in {"ok", "violations"}:
            continue
        table.add_row(
            f"{c.nodes:,}",
            c.workload,
            f"{c.snapshot_seconds:.3f}",
            f"{c.schedule_seconds:.3f}",
            f"{c.assume_seconds:.3f}",
            f"{c.filter_seconds_sum:.3f}",
            f"{c.score_seconds_sum:.3f}",
            f"{_fmt(c.filter_us_p50, 1)} / {_fmt(c.filter_us_p99, 1)}",
            f"{_fmt(c.score_us_p50, 1)} / {_fmt(c.score_us_p99, 1)}",
            f"{c.mean_evaluated_nodes:,.0f}",
            f"{c.mean_feasible_nodes:,.0f}",
            f"{c.pending_apply_seconds:.3f}",
        )
    if table.row_count:
        console.print(table)


def _default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bytes):
        return orjson.loads(value)
    raise TypeError


def write_json(report: BenchReport, checks: list[TargetCheck], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"core-{time.strftime('%Y%m%d-%H%M%S')}.json"
    body = {
        "definitions": DEFINITIONS,
        "targets": [dataclasses.asdict(c) for c in checks],
        **dataclasses.asdict(report),
    }
    path.write_bytes(
        orjson.dumps(body, default=_default, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    )
    return path
