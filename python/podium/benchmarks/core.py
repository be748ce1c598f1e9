"""The in-process core benchmark (issue 4): generated clusters, five workloads, the core alone.

For each node count the cluster (nodes + bound pods) is generated once into page files; each
workload then runs in a fresh process that loads those pages as the reflector would, applies its
pending pods and decides them batch by batch (see ``case``). A memory run loads the issue's
reference size (5,000 nodes, 150,000 pods) in a process of its own.

``podium bench core --help`` (or ``python -m podium.benchmarks.cli core --help``).
"""

from __future__ import annotations

import os
import platform
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from podium.benchmarks.case import CaseResult, CaseSpec, run_case
from podium.benchmarks.dra_workloads import (
    DRA_WORKLOADS,
    EXT_WORKLOADS,
    device_classes,
    is_dra,
    node_slices,
    on_gpu_cluster,
)
from podium.benchmarks.isolate import IsolatedFailure, run_isolated
from podium.benchmarks.memory import MemoryResult, MemorySpec, run_memory
from podium.benchmarks.pagefile import PageFile, write_pages
from podium.benchmarks.profiles import ResolvedProfile, missing_plugins
from podium.benchmarks.synthetic import (
    ClusterShape,
    bound_pods,
    list_pages,
    node_objects,
    plan_cluster,
)


@dataclass(frozen=True, slots=True)
class BenchOptions:
    nodes: tuple[int, ...] = (1_000, 5_000, 20_000)
    workloads: tuple[str, ...] = (
        "plain",
        "plain_quota",
        "gpu",
        "anti_affinity",
        "spread",
        "preferred_affinity",
        *DRA_WORKLOADS,
        *EXT_WORKLOADS,
    )
    pods_per_workload: int = 10_000
    pods_per_node: int = 30
    batch_size: int = 256
    page_size: int = 500
    seed: int = 1
    memory_nodes: int = 5_000  # 0: no memory run
    case_timeout: float = 900.0
    schedule_budget: float = 120.0
    # DRA workloads: nodes whose slices are published again before each batch after the first.
    slice_churn: int = 0


@dataclass(slots=True)
class GeneratedCluster:
    nodes: int
    bound_pods: int
    generate_seconds: float
    node_pages: PageFile
    pod_pages: PageFile
    # The GPU-only cluster's DRA objects: DeviceClasses, then ResourceSlices.
    dra_pages: tuple[PageFile, ...] = ()


@dataclass(slots=True)
class BenchReport:
    options: BenchOptions
    profile: ResolvedProfile
    started: str
    machine: dict[str, str | int]
    clusters: list[GeneratedCluster] = field(default_factory=list)
    cases: list[CaseResult] = field(default_factory=list)
    memory: MemoryResult | None = None
    memory_failure: str = ""


Progress = Callable[[str], None]


def run_benchmark(
    options: BenchOptions, profile: ResolvedProfile, progress: Progress = lambda _: None
) -> BenchReport:
    report = BenchReport(
        options=options,
        profile=profile,
        started=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        machine=machine_info(),
    )
    sizes = list(options.nodes)
    if options.memory_nodes and options.memory_nodes not in sizes:
        sizes.append(options.memory_nodes)
    with tempfile.TemporaryDirectory(prefix="podium-bench-") as tmp:
        for nodes in sizes:
            shape = ClusterShape(
                nodes=nodes, pods_per_node=options.pods_per_node, seed=options.seed
            )
            general = [w for w in options.workloads if not on_gpu_cluster(w)]
            if not general and nodes != options.memory_nodes:
                # Only GPU-cluster workloads at this size: the general cluster is not needed.
                general_cluster = None
            else:
                progress(f"generating {nodes:,} nodes, {nodes * options.pods_per_node:,} pods")
                general_cluster = _generate(shape, Path(tmp), options.page_size)
                report.clusters.append(general_cluster)
            if nodes in options.nodes:
                if general_cluster is not None:
                    for workload in general:
                        progress(f"{nodes:,} nodes: {workload}")
                        report.cases.append(
                            _run_workload(options, profile, shape, general_cluster, workload)
                        )
                _run_gpu_workloads(options, profile, nodes, Path(tmp), report, progress)
            if general_cluster is None:
                continue
            if nodes == options.memory_nodes:
                progress(f"memory run: {nodes:,} nodes, {general_cluster.bound_pods:,} pods")
                spec = MemorySpec(
                    nodes,
                    general_cluster.bound_pods,
                    general_cluster.node_pages.path,
                    general_cluster.pod_pages.path,
                )
                try:
                    report.memory = run_isolated(run_memory, spec, options.case_timeout)
                except IsolatedFailure as err:
                    report.memory_failure = str(err)
            general_cluster.node_pages.path.unlink()
            general_cluster.pod_pages.path.unlink()
    report.machine["load_average_end"] = f"{os.getloadavg()[0]:.2f}"
    return report


def _run_gpu_workloads(
    options: BenchOptions,
    profile: ResolvedProfile,
    nodes: int,
    directory: Path,
    report: BenchReport,
    progress: Progress,
) -> None:
    """The DRA workloads and their extended-resource twins, on a GPU cluster of their own."""
    workloads = [w for w in options.workloads if on_gpu_cluster(w)]
    if not workloads:
        return
    shape = gpu_cluster_shape(nodes, options.seed)
    progress(f"generating {nodes:,} GPU nodes (8 GPUs, 4 NICs) and their slices")
    cluster = _generate(shape, directory, options.page_size, dra=True)
    for workload in workloads:
        progress(f"{nodes:,} GPU nodes: {workload}")
        report.cases.append(_run_workload(options, profile, shape, cluster, workload))
    for pages in (cluster.node_pages, cluster.pod_pages, *cluster.dra_pages):
        pages.path.unlink()


def gpu_cluster_shape(nodes: int, seed: int) -> ClusterShape:
    """The DRA workloads' cluster: GPU nodes only, idle (no bound pods), so a DRA workload and
    its extended-resource twin start from the same free devices."""
    return ClusterShape(nodes=nodes, pods_per_node=0, gpu_share=1.0, seed=seed)


def _generate(
    shape: ClusterShape, directory: Path, page_size: int, *, dra: bool = False
) -> GeneratedCluster:
    if dra and (shape.gpu_share < 1 or shape.pods_per_node):
        # The drivers' slices go on every node and know nothing of the bound pods' device-plugin
        # GPUs: on a mixed, busy cluster DRA pods would see devices their twins cannot (an
        # out-of-tree run on such a cluster placed 1,621 8-GPU claims against 416 twins).
        raise ValueError(f"DRA slices need an idle GPU-only cluster (gpu_cluster_shape): {shape}")
    started = time.perf_counter()
    cluster = plan_cluster(shape)
    tag = f"{shape.nodes}-gpu" if dra else f"{shape.nodes}"
    node_file = write_pages(
        directory / f"nodes-{tag}.pages",
        list_pages("Node", node_objects(cluster), page_size=page_size),
    )
    pod_file = write_pages(
        directory / f"pods-{tag}.pages",
        list_pages("Pod", bound_pods(cluster), page_size=page_size),
    )
    dra_pages: tuple[PageFile, ...] = ()
    if dra:
        names = [n.name for n in cluster.nodes]
        dra_pages = (
            write_pages(
                directory / f"deviceclasses-{tag}.pages",
                list_pages("DeviceClass", device_classes(), page_size=page_size),
            ),
            write_pages(
                directory / f"resourceslices-{tag}.pages",
                list_pages("ResourceSlice", node_slices(names), page_size=page_size),
            ),
        )
    return GeneratedCluster(
        nodes=shape.nodes,
        bound_pods=cluster.pod_count,
        generate_seconds=time.perf_counter() - started,
        node_pages=node_file,
        pod_pages=pod_file,
        dra_pages=dra_pages,
    )


def _run_workload(
    options: BenchOptions,
    profile: ResolvedProfile,
    shape: ClusterShape,
    cluster: GeneratedCluster,
    workload: str,
) -> CaseResult:
    missing = missing_plugins(profile, workload)
    if missing:
        reasons = [f"{m} ({profile.rejected[m]})" if m in profile.rejected else m for m in missing]
        return CaseResult(
            nodes=shape.nodes,
            bound_pods=cluster.bound_pods,
            workload=workload,
            status="unsupported",
            note="not measured, the profile lacks " + ", ".join(reasons),
        )
    spec = CaseSpec(
        shape=shape,
        workload=workload,
        pods=options.pods_per_workload,
        batch_size=options.batch_size,
        profile_spec=profile.spec,
        node_pages=cluster.node_pages.path,
        pod_pages=cluster.pod_pages.path,
        schedule_budget=options.schedule_budget,
        dra_pages=tuple(p.path for p in cluster.dra_pages) if is_dra(workload) else (),
        slice_churn=options.slice_churn,
        python_plugins=profile.python_plugins,
    )
    try:
        return run_isolated(run_case, spec, options.case_timeout)
    except IsolatedFailure as err:
        return CaseResult(
            nodes=shape.nodes,
            bound_pods=cluster.bound_pods,
            workload=workload,
            status=err.kind,
            note=err.detail.strip().splitlines()[0] if err.detail.strip() else err.kind,
        )


def machine_info() -> dict[str, str | int]:
    from podium import _core

    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count() or 0,
        "core_version": _core.__version__,
        "core_build": core_build(Path(_core.__file__ or "")),
        "commit": _git_commit(),
        # Other work on a shared machine skews every figure: the 1-minute load at the start.
        "load_average_start": f"{os.getloadavg()[0]:.2f}",
    }


def core_build(path: Path) -> str:
    """ "debug" when the extension has DWARF sections: ``maturin develop`` without ``--release``
    builds the dev profile (no optimisation), whose figures mean nothing; the crate's release
    profile strips debug info. Sections are read from the ELF header: the bytes ".debug_info"
    also occur as data inside any Rust binary (std's symboliser names them)."""
    try:
        names = elf_section_names(path.read_bytes())
    except (OSError, ValueError, struct.error):
        return "unknown"
    return "debug" if any(n.startswith(".debug_") for n in names) else "release"


def elf_section_names(data: bytes) -> list[str]:
    if data[:5] != b"\x7fELF\x02":  # 64-bit ELF only
        raise ValueError("not a 64-bit ELF file")
    order = "<" if data[5] == 1 else ">"
    shoff = struct.unpack_from(order + "Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from(order + "HHH", data, 0x3A)
    strtab_offset = struct.unpack_from(order + "Q", data, shoff + shstrndx * shentsize + 0x18)[0]
    names = []
    for i in range(shnum):
        name_offset = struct.unpack_from(order + "I", data, shoff + i * shentsize)[0]
        start = strtab_offset + name_offset
        names.append(data[start : data.index(b"\0", start)].decode("ascii", "replace"))
    return names


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()
