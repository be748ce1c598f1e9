"""``podium``: run the scheduler, try it on a local cluster, benchmark it."""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from podium import __version__
from podium.benchmarks.cli import bench_app

T = TypeVar("T")

app = typer.Typer(
    name="podium",
    help="A Kubernetes secondary scheduler for large GPU clusters.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _run_async(main: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on uvloop (the fastest loop for many sockets)."""
    import uvloop

    return uvloop.run(main)


app.add_typer(bench_app, name="bench")


@app.command()
def version() -> None:
    """Print podium's version."""
    typer.echo(__version__)


@app.command()
def run(
    config: Annotated[
        Path | None,
        typer.Option(help="KubeSchedulerConfiguration file (kubescheduler.config.k8s.io/v1)."),
    ] = None,
    kubeconfig: Annotated[
        Path | None,
        typer.Option(help="kubeconfig file; in-cluster credentials when omitted."),
    ] = None,
    listen: Annotated[
        str | None,
        typer.Option(help="host:port for /metrics, /healthz and /readyz (overrides the config)."),
    ] = None,
    log_format: Annotated[str, typer.Option(help="text or json")] = "text",
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR")] = "INFO",
    trace_endpoint: Annotated[
        str | None,
        typer.Option(
            envvar="OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            help="OTLP/HTTP traces endpoint, e.g. http://localhost:4318/v1/traces.",
        ),
    ] = None,
) -> None:
    """Run the scheduler against a cluster until interrupted."""
    from podium.config import ConfigError, load_config
    from podium.logs import setup_logging
    from podium.runner import RunOptions, run_scheduler

    setup_logging(log_format, log_level)
    try:
        cfg = load_config(config)
    except ConfigError as err:
        typer.echo(f"podium: {err}", err=True)
        raise typer.Exit(2) from err
    options = RunOptions(
        kubeconfig=kubeconfig or (Path(cfg.kubeconfig) if cfg.kubeconfig else None),
        listen=listen,
        trace_endpoint=trace_endpoint,
    )
    try:
        _run_async(run_scheduler(cfg, options))
    except KeyboardInterrupt:
        logging.getLogger("podium").info("interrupted; stopped")


@app.command()
def dev(
    nodes: Annotated[int, typer.Option(min=1, help="Fake nodes to create.")] = 60,
    pods: Annotated[int, typer.Option(min=1, help="Demo pods to submit.")] = 600,
    seed: Annotated[int, typer.Option(help="Seed of the demo workload.")] = 7,
    config: Annotated[Path | None, typer.Option(help="KubeSchedulerConfiguration file.")] = None,
    log_level: Annotated[str, typer.Option(help="Log level of the scheduler.")] = "WARNING",
) -> None:
    """Start a local cluster, schedule a demo workload with GPUs, print a summary, stop."""
    from podium.config import ConfigError, load_config
    from podium.demo import DemoOptions, run_demo
    from podium.logs import setup_logging

    setup_logging("text", log_level)
    try:
        cfg = load_config(config)
    except ConfigError as err:
        typer.echo(f"podium: {err}", err=True)
        raise typer.Exit(2) from err
    if config is None:
        # kube's default client limits (50 qps) are for sharing a production apiserver; the
        # demo's apiserver is podium's alone.
        cfg = dataclasses.replace(cfg, qps=2000.0, burst=4000)
    ok = _run_async(run_demo(cfg, DemoOptions(nodes=nodes, pods=pods, seed=seed)))
    if not ok:
        raise typer.Exit(1)


@app.command()
def explain(
    pod: Annotated[
        str, typer.Argument(help="NAMESPACE/NAME of the pod (NAME: namespace default).")
    ],
    kubeconfig: Annotated[
        Path | None,
        typer.Option(help="kubeconfig file; in-cluster credentials when omitted."),
    ] = None,
    context: Annotated[str | None, typer.Option(help="kubeconfig context.")] = None,
    config: Annotated[
        Path | None,
        typer.Option(help="KubeSchedulerConfiguration whose profiles judge the pod."),
    ] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="table or json")] = "table",
    feasible_only: Annotated[
        bool, typer.Option(help="Table: list only feasible nodes (and the pod's own).")
    ] = False,
) -> None:
    """Why a pod fits or not on each node, by every enabled filter (nothing is scheduled)."""
    from podium.explain import run_explain

    raise typer.Exit(
        _run_async(run_explain(pod, kubeconfig, context, config, output, feasible_only))
    )


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
