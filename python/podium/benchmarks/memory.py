"""The memory run: RSS of a process holding a loaded cluster (issue 4: 5,000 nodes, 150,000 pods).

A fresh process imports what the scheduler process imports (when it can), records its baseline,
loads nodes and pods from list pages, takes a snapshot, collects garbage and reads its RSS: the
figure an operator would see for the cache, the interpreter and the libraries together.
"""

from __future__ import annotations

import gc
import importlib
from dataclasses import dataclass
from pathlib import Path

from podium.benchmarks.case import load_cluster
from podium.benchmarks.load import LoadTiming
from podium.benchmarks.rss import current_rss_mib, peak_rss_mib


@dataclass(frozen=True, slots=True)
class MemorySpec:
    nodes: int
    bound_pods: int
    node_pages: Path
    pod_pages: Path


@dataclass(slots=True)
class MemoryResult:
    nodes: int
    bound_pods: int
    scheduler_modules: bool  # podium.runner and its libraries were imported for the baseline
    baseline_rss_mib: float
    rss_after_load_mib: float
    peak_rss_mib: float
    ready_seconds: float
    node_load: LoadTiming
    pod_load: LoadTiming
    cached_nodes: int
    cached_pods: int

    @property
    def state_mib(self) -> float:
        return self.rss_after_load_mib - self.baseline_rss_mib


def run_memory(spec: MemorySpec) -> MemoryResult:
    try:
        importlib.import_module("podium.runner")
        scheduler_modules = True
    except ImportError:
        scheduler_modules = False
    gc.collect()
    baseline = current_rss_mib()
    loaded = load_cluster(spec.node_pages, spec.pod_pages)
    gc.collect()
    return MemoryResult(
        nodes=spec.nodes,
        bound_pods=spec.bound_pods,
        scheduler_modules=scheduler_modules,
        baseline_rss_mib=baseline,
        rss_after_load_mib=current_rss_mib(),
        peak_rss_mib=peak_rss_mib(),
        ready_seconds=loaded.ready_seconds,
        node_load=loaded.nodes,
        pod_load=loaded.pods,
        cached_nodes=loaded.state.node_count,
        cached_pods=loaded.state.pod_count,
    )
