"""``podium bench``: the Typer sub-app the main CLI mounts as ``podium bench``.

Thin: parses options, hands them to ``core.run_benchmark``, prints and writes what it returns.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from podium.benchmarks.synthetic import WORKLOADS

bench_app = typer.Typer(
    name="bench",
    help="Benchmarks of podium (in-process core; results under bench/results).",
    no_args_is_help=True,
    add_completion=False,
)


def _ints(value: str) -> tuple[int, ...]:
    try:
        out = tuple(int(v.replace("_", "")) for v in value.split(",") if v.strip())
    except ValueError as err:
        raise typer.BadParameter(f"expected comma-separated integers, got {value!r}") from err
    if not out or min(out) < 1:
        raise typer.BadParameter("node counts must be positive")
    return out


def _workloads(value: str) -> tuple[str, ...]:
    out = tuple(v.strip() for v in value.split(",") if v.strip())
    unknown = [w for w in out if w not in WORKLOADS]
    if unknown or not out:
        raise typer.BadParameter(f"unknown workloads {unknown}; choose from {', '.join(WORKLOADS)}")
    return out


@bench_app.command("core")
def core_command(
    nodes: Annotated[str, typer.Option(help="Node counts, comma-separated.")] = "1000,5000,20000",
    workloads: Annotated[
        str, typer.Option(help=f"Workloads, comma-separated, of: {', '.join(WORKLOADS)}.")
    ] = ",".join(WORKLOADS),
    pods_per_workload: Annotated[
        int, typer.Option(min=1, help="Pending pods decided per workload and node count.")
    ] = 10_000,
    pods_per_node: Annotated[
        int, typer.Option(min=0, help="Bound pods per node (30: 150,000 at 5,000 nodes).")
    ] = 30,
    batch_size: Annotated[int, typer.Option(min=1, help="Pods per Snapshot.schedule call.")] = 256,
    seed: Annotated[int, typer.Option(help="Seed of the generated clusters and pods.")] = 1,
    out: Annotated[Path, typer.Option(help="Directory for the JSON and the PNG.")] = Path(
        "bench/results"
    ),
    config: Annotated[
        Path | None,
        typer.Option(help="KubeSchedulerConfiguration; its first profile replaces the default."),
    ] = None,
    memory_nodes: Annotated[
        int, typer.Option(min=0, help="Node count of the memory run (0: skip it).")
    ] = 5000,
    case_timeout: Annotated[
        float, typer.Option(min=1, help="Seconds before a case's process is killed.")
    ] = 900.0,
    schedule_budget: Annotated[
        float, typer.Option(min=0.1, help="Seconds of deciding per case; the rest is skipped.")
    ] = 120.0,
    slice_churn: Annotated[
        int,
        typer.Option(
            min=0,
            help="DRA workloads: nodes whose drivers publish their slices again (a newer "
            "generation) before each batch after the first.",
        ),
    ] = 0,
) -> None:
    """Run the core in process over generated clusters; print, write JSON, plot decisions/s."""
    from rich.console import Console

    from podium.benchmarks.core import BenchOptions, run_benchmark
    from podium.benchmarks.plot import plot_throughput
    from podium.benchmarks.profiles import default_profile, file_profile
    from podium.benchmarks.report import print_report, write_json
    from podium.benchmarks.targets import evaluate
    from podium.config import ConfigError, load_config

    options = BenchOptions(
        nodes=_ints(nodes),
        workloads=_workloads(workloads),
        pods_per_workload=pods_per_workload,
        pods_per_node=pods_per_node,
        batch_size=batch_size,
        seed=seed,
        memory_nodes=memory_nodes,
        case_timeout=case_timeout,
        schedule_budget=schedule_budget,
        slice_churn=slice_churn,
    )
    # Piped output (a log, CI) would otherwise wrap the tables at 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 200)
    try:
        profile = file_profile(load_config(config)) if config else default_profile()
    except (ConfigError, ValueError) as err:
        typer.echo(f"podium bench core: {err}", err=True)
        raise typer.Exit(2) from err
    report = run_benchmark(options, profile, progress=console.log)
    checks = evaluate(report)
    print_report(report, checks, console)
    json_path = write_json(report, checks, out)
    png_path = plot_throughput(report, out / "core-throughput.png")
    console.print(f"wrote {json_path} and {png_path}")


@bench_app.command("queue")
def queue_command(
    pending: Annotated[int, typer.Option(min=1, help="Pending pods in the queue.")] = 5000,
    namespaces: Annotated[
        int, typer.Option(min=1, help="Team namespaces, one ElasticQuota each.")
    ] = 50,
    batch: Annotated[int, typer.Option(min=1, help="Pods per pop_batch.")] = 64,
    nodes: Annotated[int, typer.Option(min=1, help="Nodes (the fair share's capacity).")] = 5000,
) -> None:
    """What the fair-share order costs the queue: pods popped per second, kube's order vs fair."""
    from podium.benchmarks.queue_bench import run_queue_bench

    for f in run_queue_bench(pending=pending, namespaces=namespaces, batch=batch, nodes=nodes):
        typer.echo(
            f"{f.order:>4} order: {f.pending} pods in {f.namespaces} namespaces, batches of "
            f"{f.batch}: {f.pods_per_second:,.0f} pods/s, {f.micros_per_batch:,.0f} us/batch "
            f"(load {f.load_average:.2f})"
        )


@bench_app.command("gpu")
def gpu_command(
    nodes: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="GPU nodes (8 GPUs in 2 NUMA zones; with --dra, 8 GPUs and 4 NICs in slices). "
            "Default 1,000, with --dra 48.",
        ),
    ] = None,
    steps: Annotated[
        int | None,
        typer.Option(min=1, help="Time steps of the job stream. Default 240, with --dra 75."),
    ] = None,
    scenarios: Annotated[
        str,
        typer.Option(
            help="Scenarios, comma-separated, of: steady (load 0.98), queued (load 1.15), "
            "queued-admission (load 1.15, kubelet rejects split single-zone jobs)."
        ),
    ] = "steady,queued,queued-admission",
    load: Annotated[
        float | None,
        typer.Option(min=0.05, max=2.0, help="Instead of the scenarios: one stream at this load."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the job stream.")] = 1,
    dra: Annotated[
        bool,
        typer.Option(
            help="The jobs ask GPUs and aligned NICs through ResourceClaimTemplates, replayed in "
            "real time against kube-scheduler and podium on a local apiserver with "
            "kube-controller-manager (one stream, --load, default 1.15)."
        ),
    ] = False,
    step_seconds: Annotated[
        float, typer.Option(min=0.5, help="With --dra: wall-clock seconds a step lasts.")
    ] = 4.0,
    schedulers: Annotated[
        str, typer.Option(help="With --dra: of kube-scheduler, podium, comma-separated.")
    ] = "kube-scheduler,podium",
    out: Annotated[Path, typer.Option(help="Directory for the JSON.")] = Path("bench/results"),
) -> None:
    """Replay a seeded 1/2/4/8-GPU job stream: podium's NUMA packing vs Least/MostAllocated;
    with --dra, podium vs kube-scheduler placing ResourceClaims on a real apiserver."""
    import dataclasses

    if dra:
        from podium.benchmarks import gpu_replay_dra

        defaults = gpu_replay_dra.ReplayOptions()
        gpu_replay_dra.main(
            gpu_replay_dra.ReplayOptions(
                nodes=nodes or defaults.nodes,
                steps=steps or defaults.steps,
                step_seconds=step_seconds,
                load=load if load is not None else defaults.load,
                seed=seed,
                schedulers=_choices(schedulers, gpu_replay_dra.SCHEDULERS, "scheduler"),
            ),
            out,
            say=lambda line: print(line, file=sys.stderr),
        )
        return

    from podium.benchmarks.gpu_packing import SCENARIOS, StreamOptions, main

    nodes = nodes or StreamOptions().nodes
    steps = steps or StreamOptions().steps
    if load is not None:
        chosen = {f"load-{load:g}": StreamOptions(load=load)}
    else:
        chosen = {
            name: SCENARIOS[name] for name in _choices(scenarios, tuple(SCENARIOS), "scenario")
        }
    main(
        {
            name: dataclasses.replace(options, nodes=nodes, steps=steps, seed=seed)
            for name, options in chosen.items()
        },
        out,
    )


@bench_app.command("gang")
def gang_command(
    nodes: Annotated[str, typer.Option(help="Node counts, comma-separated.")] = "5000,20000",
    sizes: Annotated[str, typer.Option(help="Gang sizes (pods), comma-separated.")] = "8,64,512",
    cases: Annotated[
        str, typer.Option(help="Cases, comma-separated, of: none, rack, block-slices.")
    ] = "none,rack,block-slices",
    gangs: Annotated[int, typer.Option(min=1, help="Gangs placed per case.")] = 10,
    budget: Annotated[float, typer.Option(min=1, help="Seconds of placing per case.")] = 60.0,
    before: Annotated[
        Path | None,
        typer.Option(help="Another build of podium/_core.abi3.so, measured first (A/B)."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Directory for the JSON.")] = Path("bench/results"),
) -> None:
    """Gang placement in the core: ms per gang on a three-level cluster, optionally A/B."""
    import os

    from podium.benchmarks.gang import CASES, GangOptions, report, run, write_json

    options = GangOptions(
        nodes=_ints(nodes),
        sizes=_ints(sizes),
        cases=_choices(cases, CASES, "case"),
        gangs=gangs,
        budget=budget,
        before=before,
    )
    load_start = os.getloadavg()[0]
    results = run(options, progress=lambda line: print(line, file=sys.stderr))
    load_end = os.getloadavg()[0]
    print(report(results, load_start, load_end))
    print(f"wrote {write_json(results, (load_start, load_end), out)}")


def _choices(value: str, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    out = tuple(v.strip() for v in value.split(",") if v.strip())
    unknown = [v for v in out if v not in allowed]
    if unknown or not out:
        raise typer.BadParameter(f"unknown {what} {unknown}; choose from {', '.join(allowed)}")
    return out


@bench_app.command("load")
def load_command(
    nodes: Annotated[
        int, typer.Option(min=1, help="KWOK nodes (64 CPUs, 8 GPUs each): 5000, or 20000.")
    ] = 5000,
    pods: Annotated[
        int, typer.Option(min=1, help="Pods per scheduler, workload and creation mode.")
    ] = 1000,
    rate: Annotated[float, typer.Option(min=1, help="Pods/s created in rate mode.")] = 200.0,
    workloads: Annotated[
        str,
        typer.Option(
            help="Workloads, comma-separated, of: plain, gpu, anti_affinity, spread, gang "
            "(Workload API PodGroups of 8 one-GPU pods; not the ceilings), deep_queue "
            "(20% of the pods unschedulable), churn (Jobs arriving "
            "and completing), dra (1/2/4/8 GPUs and aligned NICs through ResourceClaimTemplates "
            "on driver ResourceSlices; not the ceilings; not run unless named)."
        ),
    ] = "plain,gpu,anti_affinity,spread,gang,deep_queue,churn",
    modes: Annotated[
        str,
        typer.Option(
            help="Creation modes: backlog (all pending before the scheduler starts), rate, "
            "burst. Churn has its own (steady)."
        ),
    ] = "backlog,rate",
    schedulers: Annotated[
        str,
        typer.Option(
            help="Schedulers, of: ceiling, reporting-ceiling (the ceiling that also writes "
            "events and conditions and watches pods and nodes, as every scheduler does; not "
            "by default: not yet a ceiling), kube-scheduler, podium; each workload and mode "
            "runs by them in this order, back to back."
        ),
    ] = "ceiling,kube-scheduler,podium",
    case_timeout: Annotated[
        float, typer.Option(min=1, help="Seconds a case may take from its clock's start.")
    ] = 180.0,
    node_lease_seconds: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="KWOK nodes' Lease duration (renewed every quarter); default 40 s up to 5,000 "
            "nodes, longer above so the Lease writes/s stay those of 5,000 nodes.",
        ),
    ] = None,
    churn_seconds: Annotated[
        float, typer.Option(min=1, help="Churn: seconds Jobs keep arriving.")
    ] = 30.0,
    churn_jobs_per_s: Annotated[
        float, typer.Option(min=0.1, help="Churn: Jobs (of 4 pods) created per second.")
    ] = 10.0,
    churn_run_for: Annotated[
        str, typer.Option(help="Churn: each Job pod's run time (a Go duration).")
    ] = "5s",
    ceiling_connections: Annotated[
        int, typer.Option(min=1, help="The bind ceiling's binds in flight (one per connection).")
    ] = 64,
    rounds: Annotated[
        int,
        typer.Option(
            min=1,
            help="Rounds of each workload and mode by every scheduler, interleaved; targets "
            "take a ceiling's fastest round and a scheduler's median.",
        ),
    ] = 1,
    out: Annotated[Path, typer.Option(help="Directory for the JSON and the PNG.")] = Path(
        "bench/results"
    ),
) -> None:
    """End to end on one local apiserver with KWOK nodes: the bind ceiling, kube-scheduler
    and podium in turn, one process per case."""
    import uvloop
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from podium.benchmarks.e2e_load import MODES, LoadOptions, run_load
    from podium.benchmarks.e2e_report import plot_load, print_report, write_json
    from podium.benchmarks.e2e_schedulers import SCHEDULERS, ClientLimits
    from podium.benchmarks.e2e_targets import ceiling_beaten, evaluate
    from podium.benchmarks.e2e_workloads import WORKLOADS

    options = LoadOptions(
        nodes=nodes,
        pods=pods,
        rate=rate,
        workloads=_choices(workloads, WORKLOADS, "workloads"),
        modes=_choices(modes, MODES, "modes"),
        schedulers=_choices(schedulers, SCHEDULERS, "schedulers"),
        case_timeout=case_timeout,
        node_lease_seconds=node_lease_seconds,
        churn_seconds=churn_seconds,
        churn_jobs_per_s=churn_jobs_per_s,
        churn_run_for=churn_run_for,
        limits=ClientLimits(ceiling_connections=ceiling_connections),
        rounds=rounds,
    )
    console = Console(width=None if sys.stdout.isatty() else 200)
    columns = (
        "{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        report = uvloop.run(run_load(options, progress=progress, say=progress.console.log))
    checks = evaluate(report)
    beaten = ceiling_beaten(report)
    print_report(report, checks, beaten, console)
    json_path = write_json(report, checks, beaten, out)
    size = f"{nodes // 1000}k" if nodes >= 1000 else "small"
    png_path = plot_load(report, out / f"e2e-load-{size}.png")
    console.print(f"wrote {json_path} and {png_path}")


@bench_app.command("tracing")
def tracing_command(
    nodes: Annotated[int, typer.Option(min=1, help="Nodes of the generated cluster.")] = 1000,
    pods: Annotated[int, typer.Option(min=1, help="Pending pods decided per round.")] = 10_000,
    workload: Annotated[
        str, typer.Option(help=f"Workload, one of: {', '.join(WORKLOADS)}.")
    ] = "plain",
    rounds: Annotated[int, typer.Option(min=1, help="Rounds per mode (interleaved).")] = 5,
    batch_size: Annotated[int, typer.Option(min=1, help="Pods per scheduling cycle.")] = 64,
    seed: Annotated[int, typer.Option(help="Seed of the generated cluster and pods.")] = 1,
    out: Annotated[Path, typer.Option(help="Directory for the JSON.")] = Path("bench/results"),
) -> None:
    """The scheduling cycle with tracing off, at sampling ratio 0.01 and 1.0 (OTLP export to a
    receiver process): decisions/s and overhead."""
    from podium.benchmarks.tracing_overhead import (
        TracingBenchOptions,
        format_report,
        run_tracing_benchmark,
        write_report,
    )

    (chosen,) = _workloads(workload)
    options = TracingBenchOptions(
        nodes=nodes,
        pods=pods,
        workload=chosen,
        rounds=rounds,
        batch_size=batch_size,
        seed=seed,
    )
    report = run_tracing_benchmark(options, progress=lambda line: typer.echo(line, err=True))
    typer.echo(format_report(report))
    typer.echo(f"wrote {write_report(report, out)}")


@bench_app.command("soak")
def soak_command(
    duration: Annotated[float, typer.Option(min=1, help="Seconds of churn.")] = 600.0,
    warmup: Annotated[
        float, typer.Option(min=0, help="Seconds left out of the slopes (caches fill up).")
    ] = 120.0,
    interval: Annotated[float, typer.Option(min=0.5, help="Seconds between samples.")] = 5.0,
    nodes: Annotated[int, typer.Option(min=2, help="Nodes (one is replaced at a time).")] = 50,
    live_pods: Annotated[int, typer.Option(min=1, help="Pods alive at steady state.")] = 1000,
    churn: Annotated[float, typer.Option(min=0.1, help="Pods created per second.")] = 20.0,
    node_churn_every: Annotated[
        float, typer.Option(min=1, help="Seconds between node replacements.")
    ] = 10.0,
    out: Annotated[Path, typer.Option(help="Directory for the JSON.")] = Path("bench/results"),
) -> None:
    """Churn pods and nodes on a local apiserver for a bounded time; print RSS and cache size
    over time and their slopes after warm-up."""
    import asyncio

    from podium.benchmarks.soak import SoakOptions, run_soak, write_report

    options = SoakOptions(
        duration=duration,
        warmup=warmup,
        interval=interval,
        nodes=nodes,
        live_pods=live_pods,
        churn_per_second=churn,
        node_churn_every=node_churn_every,
    )
    report = asyncio.run(run_soak(options))
    path = write_report(report, out)
    typer.echo(
        f"after {warmup:.0f}s warm-up: RSS {report.rss_slope_mib_per_min:+.3f} MiB/min, "
        f"cached pods {report.cached_pods_slope_per_min:+.2f}/min, "
        f"cached nodes {report.cached_nodes_slope_per_min:+.2f}/min; wrote {path}"
    )


if __name__ == "__main__":
    bench_app()
