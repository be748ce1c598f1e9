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
from podium.logs import LogFormat
from podium.output import OutputFormat

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
    log_format: Annotated[LogFormat, typer.Option(help="text or json")] = LogFormat.TEXT,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR")] = "INFO",
    trace_endpoint: Annotated[
        str | None,
        typer.Option(
            help="OTLP/HTTP traces endpoint, e.g. http://localhost:4318/v1/traces (overrides "
            "the config's otlpEndpoint and OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT).",
        ),
    ] = None,
) -> None:
    """Run the scheduler against a cluster until SIGTERM or SIGINT (then it releases its lease)."""
    from podium.config import ConfigError, load_config
    from podium.logs import setup_logging
    from podium.runner import RunOptions, serve
    from podium.tracing import TracingConfigError, TracingOptions

    setup_logging(log_format, log_level)
    try:
        cfg = load_config(config)
        tracing = TracingOptions.resolve(
            endpoint=trace_endpoint or cfg.podium.otlp_endpoint,
            sampling_ratio=cfg.podium.trace_sample_ratio,
        )
    except (ConfigError, TracingConfigError) as err:
        typer.echo(f"podium: {err}", err=True)
        raise typer.Exit(2) from err
    options = RunOptions(
        kubeconfig=kubeconfig or (Path(cfg.kubeconfig) if cfg.kubeconfig else None),
        listen=listen,
        tracing=tracing,
    )
    from podium.plugins import PluginError

    try:
        _run_async(serve(cfg, options))
    except PluginError as err:
        typer.echo(f"podium: {err}", err=True)
        raise typer.Exit(2) from err


@app.command()
def dev(
    nodes: Annotated[int, typer.Option(min=1, help="KWOK nodes to create.")] = 60,
    pods: Annotated[
        int,
        typer.Option(min=1, help="About how many pods the Deployments, Jobs and bare pods make."),
    ] = 600,
    seed: Annotated[int, typer.Option(help="Seed of the demo workload.")] = 7,
    config: Annotated[Path | None, typer.Option(help="KubeSchedulerConfiguration file.")] = None,
    log_level: Annotated[str, typer.Option(help="Log level of the scheduler.")] = "WARNING",
) -> None:
    """Start a local cluster with KWOK nodes, run Deployments, Jobs and gangs, summarise, stop."""
    from podium.config import ConfigError, load_config
    from podium.demo import DemoOptions, run_demo
    from podium.logs import setup_logging

    setup_logging(LogFormat.TEXT, log_level)
    try:
        cfg = load_config(config)
    except ConfigError as err:
        typer.echo(f"podium: {err}", err=True)
        raise typer.Exit(2) from err
    if config is None:
        # kube's default client limits (50 qps) are for sharing a production apiserver; the
        # demo's apiserver is podium's alone.
        cfg = dataclasses.replace(cfg, qps=2000.0, burst=4000)
    result = _run_async(run_demo(cfg, DemoOptions(nodes=nodes, pods=pods, seed=seed)))
    if not result.settled:
        raise typer.Exit(1)


@app.command()
def quotas(
    kubeconfig: Annotated[
        Path | None,
        typer.Option(help="kubeconfig file; in-cluster credentials when omitted."),
    ] = None,
    context: Annotated[str | None, typer.Option(help="kubeconfig context.")] = None,
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="table or json")
    ] = OutputFormat.TABLE,
) -> None:
    """Every ElasticQuota: min, max and use per resource, borrowed, lent, pending pods."""
    from podium.quotas_cli import run_quotas

    raise typer.Exit(_run_async(run_quotas(kubeconfig, context, output)))


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
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="table or json")
    ] = OutputFormat.TABLE,
    feasible_only: Annotated[
        bool, typer.Option(help="Table: do not list the feasible nodes by name.")
    ] = False,
    snapshot: Annotated[
        Path | None, typer.Option(help="Explain from a `podium snapshot` file.")
    ] = None,
    live: Annotated[
        str | None,
        typer.Option(
            "--from", help="A running scheduler's health address, e.g. http://host:10351."
        ),
    ] = None,
    top: Annotated[int, typer.Option(min=0, help="Best nodes whose scores are shown.")] = 5,
) -> None:
    """Why a pod fits or not on each node (grouped by reason), and the best nodes' scores."""
    from podium.explain import run_explain

    raise typer.Exit(
        _run_async(
            run_explain(
                pod,
                kubeconfig,
                context,
                config,
                output,
                feasible_only,
                snapshot=snapshot,
                live=live,
                top=top,
            )
        )
    )


@app.command()
def extender(
    config: Annotated[
        Path | None,
        typer.Option(help="KubeSchedulerConfiguration; its profile's plugins judge the pods."),
    ] = None,
    kubeconfig: Annotated[
        Path | None,
        typer.Option(help="kubeconfig file; in-cluster credentials when omitted."),
    ] = None,
    listen: Annotated[str, typer.Option(help="host:port of the extender endpoints.")] = (
        "0.0.0.0:8888"
    ),
    url_prefix: Annotated[
        str, typer.Option(help="Path the verbs sit under (the urlPrefix's path part).")
    ] = "",
    profile: Annotated[
        str | None, typer.Option(help="schedulerName of the profile to use (default: first).")
    ] = None,
    tls_cert_file: Annotated[
        Path | None, typer.Option(help="Serve HTTPS with this certificate (PEM).")
    ] = None,
    tls_key_file: Annotated[Path | None, typer.Option(help="Private key of the cert.")] = None,
    health_listen: Annotated[
        str | None, typer.Option(help="host:port for /healthz, /readyz, /metrics.")
    ] = None,
    log_format: Annotated[LogFormat, typer.Option(help="text or json")] = LogFormat.TEXT,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR")] = "INFO",
) -> None:
    """Serve kube-scheduler's extender protocol (filter, prioritize, bind) with podium's core."""
    from podium.config import ConfigError, load_config
    from podium.extender import TlsFiles
    from podium.extender_runner import ExtenderOptions, run_extender
    from podium.health import parse_address
    from podium.logs import setup_logging

    setup_logging(log_format, log_level)
    if (tls_cert_file is None) != (tls_key_file is None):
        typer.echo("podium: --tls-cert-file and --tls-key-file go together", err=True)
        raise typer.Exit(2)
    try:
        cfg = load_config(config)
        for address in (listen, health_listen):
            if address is not None:
                parse_address(address)
    except (ConfigError, ValueError) as err:
        typer.echo(f"podium: {err}", err=True)
        raise typer.Exit(2) from err
    if profile is not None and cfg.profile(profile) is None:
        known = ", ".join(cfg.scheduler_names)
        typer.echo(f"podium: --profile: no profile {profile!r} (profiles: {known})", err=True)
        raise typer.Exit(2)
    tls = (
        TlsFiles(tls_cert_file, tls_key_file)
        if tls_cert_file is not None and tls_key_file is not None
        else None
    )
    options = ExtenderOptions(
        listen=listen,
        url_prefix=url_prefix,
        profile=profile,
        tls=tls,
        kubeconfig=kubeconfig or (Path(cfg.kubeconfig) if cfg.kubeconfig else None),
        health_listen=health_listen,
    )
    from podium.plugins import PluginError

    try:
        _run_async(run_extender(cfg, options))
    except PluginError as err:
        typer.echo(f"podium: {err}", err=True)
        raise typer.Exit(2) from err
    except KeyboardInterrupt:
        logging.getLogger("podium").info("interrupted; stopped")


@app.command()
def snapshot(
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write (JSON).")],
    kubeconfig: Annotated[
        Path | None,
        typer.Option(help="kubeconfig file; in-cluster credentials when omitted."),
    ] = None,
    context: Annotated[str | None, typer.Option(help="kubeconfig context.")] = None,
) -> None:
    """Save the cluster's nodes, pods, namespaces, volumes and topology objects to a file."""
    from podium.simulate_cli import run_snapshot

    raise typer.Exit(_run_async(run_snapshot(output, kubeconfig, context)))


@app.command()
def simulate(
    snapshot: Annotated[Path, typer.Option(help="File written by `podium snapshot`.")],
    workload: Annotated[
        Path, typer.Option(help="YAML of Pods (or Deployments/Jobs/... with replicas).")
    ],
    config: Annotated[
        Path | None,
        typer.Option(help="KubeSchedulerConfiguration whose profiles schedule the workload."),
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="table or json")
    ] = OutputFormat.TABLE,
) -> None:
    """Where a workload would go on a snapshot, what stays pending and why (offline)."""
    from podium.simulate_cli import run_simulate

    raise typer.Exit(run_simulate(snapshot, workload, config, output))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
