"""The ``podium snapshot`` and ``podium simulate`` commands: arguments in, exit code out."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING

from podium.output import OutputFormat

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["run_simulate", "run_snapshot"]


async def run_snapshot(output: Path, kubeconfig: Path | None, context: str | None) -> int:
    from rich.console import Console

    from podium.kubeclient import api_client
    from podium.snapshotfile import take_snapshot

    api = await api_client(kubeconfig, 0.0, 256, context=context)
    try:
        taken = await take_snapshot(api)
    finally:
        await api.close()
    try:
        await asyncio.to_thread(output.write_bytes, taken.to_json())
    except OSError as err:
        Console(stderr=True).print(f"podium snapshot: {output}: {err.strerror}", markup=False)
        return 2
    counts = ", ".join(f"{len(items)} {kind.name.lower()}" for kind, items in taken.objects.items())
    Console(stderr=True).print(f"podium snapshot: wrote {output}: {counts}", markup=False)
    return 0


def run_simulate(snapshot: Path, workload: Path, config: Path | None, output: OutputFormat) -> int:
    """2 for bad input (the message names the file and field), else 0."""
    from rich.console import Console

    from podium.config import ConfigError, load_config
    from podium.plugins import PluginError
    from podium.simulate import render, simulate
    from podium.snapshotfile import ClusterSnapshot, SnapshotError
    from podium.workload import WorkloadError, load_workload

    err = Console(stderr=True)
    try:
        cfg = load_config(config)
        taken = ClusterSnapshot.read(snapshot)
        pods = load_workload(workload, cfg.profiles[0].scheduler_name)
    except (ConfigError, SnapshotError, WorkloadError) as e:
        err.print(f"podium simulate: {e}", markup=False)
        return 2
    try:
        report = simulate(taken, pods, cfg)
    except PluginError as e:
        err.print(f"podium simulate: {e}", markup=False)
        return 2
    if output is OutputFormat.JSON:
        sys.stdout.buffer.write(report.to_json() + b"\n")
        sys.stdout.flush()
    else:
        render(Console(), report)
    return 0
