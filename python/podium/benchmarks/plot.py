"""decisions/s against node count, one line per workload, as a PNG."""

from __future__ import annotations

from pathlib import Path

from podium.benchmarks.core import BenchReport
from podium.benchmarks.targets import RATE_TARGETS, REFERENCE_NODES


def plot_throughput(report: BenchReport, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    skipped: list[str] = []
    for workload in report.options.workloads:
        cases = sorted(
            (c for c in report.cases if c.workload == workload and c.status == "ok" and c.decided),
            key=lambda c: c.nodes,
        )
        if not cases:
            skipped.append(workload)
            continue
        line = ax.plot(
            [c.nodes for c in cases], [c.decisions_per_s for c in cases], marker="o", label=workload
        )
        if workload in RATE_TARGETS:
            ax.scatter(
                [REFERENCE_NODES],
                [RATE_TARGETS[workload]],
                marker="_",
                s=400,
                color=line[0].get_color(),
                label=f"{workload} target",
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("nodes")
    ax.set_ylabel("decisions/s (snapshot + schedule + assume)")
    title = f"podium core, batch {report.options.batch_size}, {report.machine.get('cpus')} CPUs"
    if skipped:
        title += f"\nnot measured (unsupported or failed): {', '.join(skipped)}"
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
