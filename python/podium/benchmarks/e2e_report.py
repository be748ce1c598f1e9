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
from podium.benchmarks.e2e_targets import CeilingBeaten
from podium.benchmarks.e2e_workloads import case_modes
from podium.benchmarks.targets import TargetCheck

DEFINITIONS: dict[str, str] = {
    "modes": "backlog: every pod created and pending before the scheduler's process starts "
    "(its drain rate); rate: pods created at --rate while the scheduler runs (its latency); "
    "burst: created as fast as the bench can while it runs; steady (churn): Jobs of 4 pods "
    "arriving at --churn-jobs-per-s for --churn-seconds, each pod running --churn-run-for on its "
    "KWOK node before it completes",
    "pods_per_s": "backlog: (pods bound - 1) / first to last binding seen (the drain rate; "
    "pods bound / launch to last binding if all were seen at once); "
    "other modes: pods bound / first creation to last binding seen",
    "latency_ms_p50/p90/p99/max": "per pod: binding seen on the bench's watch minus, in backlog "
    "mode, the scheduler's launch (its start is part of draining); in rate and burst mode, the "
    "moment its creation request was sent; for churn, the moment the pod (made by the Job "
    "controller) was first seen on the watch. The bench's monotonic clock",
    "pods": "pods the case waits for: deep_queue counts only the placeable 80% (the other 20% "
    "ask for 16 GPUs, more than any node has, and stay pending; unplaceable_bound counts those "
    "bound anyway); churn: Jobs x 4 pods",
    "create_seconds": "first to last creation request (rate mode: pods / rate)",
    "scheduler_start_seconds": "the scheduler's process launched to ready (podium: caches "
    "synced; kube-scheduler: /readyz; the ceiling: pods listed and its watch open); one process "
    "per case",
    "cpu_seconds": "user + system CPU of the scheduler's process (all threads; /proc/<pid>/stat): "
    "backlog, its whole life (start included); other modes, from ready to the last binding",
    "rss_mib": "the scheduler's resident memory when the case ended (VmRSS)",
    "peak_rss_mib": "the scheduler's highest resident memory in the case (VmHWM; one process per "
    "case)",
    "apiserver_cpu_seconds": "CPU of the apiserver process (kube-apiserver + embedded etcd) "
    "over the case; likewise kwok_cpu_seconds and controller_manager_cpu_seconds",
    "load_start/load_end": "the machine's 1-minute load average (uptime) when the case began "
    "and ended",
    "idle_apiserver_cpu_per_s": "apiserver CPU seconds per second with the nodes heartbeating "
    "and no case running",
    "bind ceiling": "a binder that decides nothing: each pending pod to the next node "
    "round-robin; lists its pods once and watches, finds names with a regular expression over "
    "the raw bytes (no JSON decoding per pod), posts pre-serialized pods/binding bodies over "
    "its own connections (ceiling_connections binds in flight), no client rate limit",
    "reporting ceiling": "the bind ceiling doing what the Kubernetes API asks of any scheduler "
    "beside the Binding, as kube-scheduler and podium do: a Scheduled event (events.k8s.io/v1) "
    "per bound pod, four writers; a FailedScheduling event and a PodScheduled=False condition "
    "for each pod no node can take (deep_queue's fifth), four writers; list+watch of every pod "
    "and node (read and dropped). Its gap to the bind ceiling is the price of those writes and "
    "watches; a scheduler's gap to it is what deciding costs",
    "rounds": "each workload and mode ran this many times by every scheduler, round after round; "
    "targets, flags and the plot take a ceiling's fastest round and a scheduler's median round "
    "by pods/s (the lower middle one)",
    "ceiling_beaten": "cases whose pods/s exceeds a ceiling's in the same workload and mode "
    "(outside backlog, by more than 5%): the ceiling was not one there (the reporting ceiling "
    "is compared with the schedulers only)",
}


def _fmt(value: float, digits: int = 0) -> str:
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


def print_report(
    report: LoadReport,
    checks: list[TargetCheck],
    beaten: list[CeilingBeaten],
    console: Console,
) -> None:
    o = report.options
    console.print(
        f"{o.nodes:,} KWOK nodes (Lease {report.node_lease_seconds} s; created in "
        f"{report.node_create_seconds:.0f} s, Ready {report.node_ready_seconds:.0f} s later; "
        f"apiserver idle with heartbeats {report.idle_apiserver_cpu_per_s:.2f} CPU-s/s), "
        f"{o.pods:,} pods per case, {o.rounds} round{'s' if o.rounds > 1 else ''}, "
        f"rate mode {o.rate:,.0f} pods/s, churn "
        f"{o.churn_jobs_per_s:g} Jobs/s for {o.churn_seconds:g} s; machine: "
        f"{report.machine.get('cpus')} CPUs, load {report.machine.get('load_average_start')} → "
        f"{report.machine.get('load_average_end')}"
    )
    table = Table(title="end-to-end load on KWOK", title_justify="left")
    for header in (
        "scheduler",
        "workload",
        "mode",
        "bound",
        "pods/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "start s",
        "CPU s",
        "peak MiB",
        "apiserver CPU s",
        "load",
        "round",
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
            _fmt(c.scheduler_start_seconds, 1),
            _fmt(c.cpu_seconds, 1),
            _fmt(c.peak_rss_mib),
            _fmt(c.apiserver_cpu_seconds, 1),
            f"{_fmt(c.load_start, 1)}→{_fmt(c.load_end, 1)}",
            str(c.round + 1),
            "" if c.status == "ok" else f"[red]{c.status}[/]: {c.note}",
        )
    console.print(table)
    for scheduler, why in report.failures.items():
        console.print(f"{TITLES.get(scheduler, scheduler)} stopped early: {why}", style="red")
    for flag in beaten:
        console.print(f"ceiling beaten: {flag}", style="yellow")
    if checks:
        targets = Table(title="issue 16 end-to-end targets", title_justify="left")
        for header in ("target", "wanted", "measured", ""):
            targets.add_column(header)
        for check in checks:
            colour = "green" if check.met else "red"
            targets.add_row(
                check.name, check.target, check.measured, f"[{colour}]{check.status}[/]"
            )
        console.print(targets)


def write_json(
    report: LoadReport,
    checks: list[TargetCheck],
    beaten: list[CeilingBeaten],
    directory: Path,
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    size = f"{report.options.nodes // 1000}k" if report.options.nodes >= 1000 else "small"
    path = directory / f"e2e-load-{size}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    body = {
        "definitions": DEFINITIONS,
        "targets": [dataclasses.asdict(c) for c in checks],
        "ceiling_beaten": [str(b) for b in beaten],
        **dataclasses.asdict(report),
    }
    path.write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    return path


def plot_load(report: LoadReport, path: Path) -> Path:
    """Two panels: pods/s and p99 latency, one bar per scheduler for each workload and mode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [(w, m) for w in report.options.workloads for m in case_modes(w, report.options.modes)]
    schedulers = list(report.options.schedulers)
    width = 0.8 / max(1, len(schedulers))
    fig, (rate_ax, p99_ax) = plt.subplots(2, 1, figsize=(13, 8), dpi=120)
    for offset, scheduler in enumerate(schedulers):
        rates, p99s = [], []
        for workload, mode in groups:
            case = report.case(scheduler, workload, mode)
            rates.append(case.pods_per_s if case else 0.0)
            p99s.append(case.latency_ms_p99 if case else 0.0)
        positions = [i + (offset - (len(schedulers) - 1) / 2) * width for i in range(len(groups))]
        label = TITLES.get(scheduler, scheduler)
        rate_ax.bar(positions, rates, width, label=label)
        p99_ax.bar(positions, p99s, width, label=label)
    labels = [f"{w.replace('_', ' ')}\n{m}" for w, m in groups]
    o = report.options
    for ax, ylabel in ((rate_ax, "pods/s (backlog: drain rate)"), (p99_ax, "p99 ms")):
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_ylabel(ylabel)
        ax.grid(True, axis="y", alpha=0.3)
    p99_ax.set_yscale("log")
    rate_ax.legend(fontsize=8)
    fig.suptitle(
        f"end to end on one apiserver: {o.nodes:,} KWOK nodes heartbeating, {o.pods:,} pods per "
        f"case, rate mode {o.rate:,.0f}/s, {report.machine.get('cpus')} CPUs, load "
        f"{report.machine.get('load_average_start')} → {report.machine.get('load_average_end')} "
        "(0 = incomplete)",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
