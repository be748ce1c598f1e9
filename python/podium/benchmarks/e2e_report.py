"""The load benchmark's report: a rich table, a JSON file and a PNG (pods/s and p99 latency per
scheduler, workload and creation mode)."""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table

from podium.benchmarks.e2e_load import LoadReport
from podium.benchmarks.e2e_schedulers import TITLES
from podium.benchmarks.targets import TargetCheck

DEFINITIONS: dict[str, str] = {
    "pods_per_s": "pods bound / seconds from the first creation request to the last binding seen",
    "latency_ms_p50/p90/p99/max": "per pod: binding seen on the bench's watch minus the moment "
    "its creation request was sent (the bench's monotonic clock)",
    "create_seconds": "first to last creation request (rate mode: pods / rate)",
    "cpu_seconds": "user + system CPU of the scheduler's process from just before the first "
    "creation to the last binding (all threads; /proc/<pid>/stat)",
    "rss_mib": "the scheduler's resident memory when the case ended (VmRSS)",
    "peak_rss_mib": "the scheduler's highest resident memory so far (VmHWM; one process per "
    "scheduler serves all its cases, so this includes startup and earlier cases)",
    "bind ceiling": "a binder that decides nothing: each pending pod to the next node "
    "round-robin, same client limits and bind concurrency as podium",
}


def _fmt(value: float, digits: int = 0) -> str:
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


def print_report(report: LoadReport, checks: list[TargetCheck], console: Console) -> None:
    o = report.options
    console.print(
        f"{o.nodes:,} nodes, {o.pods:,} pods per case, rate mode {o.rate:,.0f} pods/s; "
        f"nodes created in {report.node_create_seconds:.1f} s; machine: "
        f"{report.machine.get('cpus')} CPUs, load {report.machine.get('load_average_start')} → "
        f"{report.machine.get('load_average_end')}"
    )
    table = Table(title="end-to-end load", title_justify="left")
    for header in (
        "scheduler",
        "workload",
        "mode",
        "bound",
        "pods/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "CPU s",
        "RSS MiB",
        "peak MiB",
        "",
    ):
        table.add_column(header, justify="left" if header in {"scheduler", "workload"} else "right")
    for c in report.cases:
        table.add_row(
            TITLES.get(c.scheduler, c.scheduler),
            c.workload,
            c.mode,
            f"{c.bound:,}/{c.pods:,}",
            _fmt(c.pods_per_s),
            _fmt(c.latency_ms_p50),
            _fmt(c.latency_ms_p90),
            _fmt(c.latency_ms_p99),
            _fmt(c.cpu_seconds, 1),
            _fmt(c.rss_mib),
            _fmt(c.peak_rss_mib),
            "" if c.status == "ok" else f"[red]{c.status}[/]: {c.note}",
        )
    console.print(table)
    for scheduler, why in report.failures.items():
        console.print(f"{TITLES.get(scheduler, scheduler)} stopped early: {why}", style="red")
    if checks:
        targets = Table(title="DESIGN §8 end-to-end targets", title_justify="left")
        for header in ("target", "wanted", "measured", ""):
            targets.add_column(header)
        for check in checks:
            colour = "green" if check.met else "red"
            targets.add_row(
                check.name, check.target, check.measured, f"[{colour}]{check.status}[/]"
            )
        console.print(targets)


def write_json(report: LoadReport, checks: list[TargetCheck], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"e2e-load-{time.strftime('%Y%m%d-%H%M%S')}.json"
    body = {
        "definitions": DEFINITIONS,
        "targets": [dataclasses.asdict(c) for c in checks],
        **dataclasses.asdict(report),
    }
    path.write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    return path


def plot_load(report: LoadReport, path: Path) -> Path:
    """Two panels: pods/s and p99 latency, one bar per scheduler for each workload and mode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [(w, m) for w in report.options.workloads for m in report.options.modes]
    schedulers = list(report.options.schedulers)
    width = 0.8 / max(1, len(schedulers))
    fig, (rate_ax, p99_ax) = plt.subplots(1, 2, figsize=(12, 4.5), dpi=120)
    for offset, scheduler in enumerate(schedulers):
        rates, p99s = [], []
        for workload, mode in groups:
            case = next(
                (
                    c
                    for c in report.cases
                    if (c.scheduler, c.workload, c.mode) == (scheduler, workload, mode)
                ),
                None,
            )
            ok = case is not None and case.status == "ok"
            rates.append(case.pods_per_s if ok and case else 0.0)
            p99s.append(case.latency_ms_p99 if ok and case else 0.0)
        positions = [i + (offset - (len(schedulers) - 1) / 2) * width for i in range(len(groups))]
        label = TITLES.get(scheduler, scheduler)
        rate_ax.bar(positions, rates, width, label=label)
        p99_ax.bar(positions, p99s, width, label=label)
    labels = [f"{w}\n{m}" for w, m in groups]
    o = report.options
    for ax, ylabel in ((rate_ax, "pods/s (first creation → last bound)"), (p99_ax, "p99 ms")):
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_ylabel(ylabel)
        ax.grid(True, axis="y", alpha=0.3)
    p99_ax.set_yscale("log")
    rate_ax.legend(fontsize=8)
    fig.suptitle(
        f"end to end on one apiserver: {o.nodes:,} nodes, {o.pods:,} pods per case, rate mode "
        f"{o.rate:,.0f}/s, {report.machine.get('cpus')} CPUs (0 = incomplete)",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
