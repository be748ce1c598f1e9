"""Gang placement in the core (issue 18): gangs of 8, 64 and 512 one-GPU pods placed one after
another on a generated three-level cluster (blocks of racks of GPU hosts), timed per
``Snapshot.schedule_gang`` call.

Each (core build, node count, case, gang size) runs in a fresh process (``run_worker``), so a
second build of the extension (``--before``: another ``_core`` shared object, e.g. main's
before a change) is measured in the same run, minutes apart, on the same machine. Cases:

- ``none``: no topology request (every build);
- ``rack``: ``podium.dev/rack: required`` (every build; gangs larger than a rack do not fit);
- ``block-slices``: ``podium.dev/topology-level`` block, required, slices of 8 per rack (the
  three-level request; builds without topology levels skip it).

The cluster: GPU hosts of 8 ``nvidia.com/gpu``, 32 per rack, 8 racks per block; about half the
hosts run a bound 4-GPU pod, so domains differ in what they have free. Gangs are placed one after
another (each sees the ones before, as assumed pods), up to ``--gangs`` per case or the time
budget. ``podium bench gang --help``.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

BLOCK_LABEL = "topology.kubernetes.io/block"
RACK_LABEL = "topology.kubernetes.io/rack"
HOST_LABEL = "kubernetes.io/hostname"
GPU = "nvidia.com/gpu"
GROUP_LABEL = "scheduling.x-k8s.io/pod-group"
NODES_PER_RACK = 32
RACKS_PER_BLOCK = 8
GPUS_PER_NODE = 8
SLICE_SIZE = 8
NAMESPACE = "train"
CASES = ("none", "rack", "block-slices")

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class GangOptions:
    nodes: tuple[int, ...] = (5_000, 20_000)
    sizes: tuple[int, ...] = (8, 64, 512)
    cases: tuple[str, ...] = CASES
    gangs: int = 10
    budget: float = 60.0  # seconds of placing per case
    seed: int = 1
    before: Path | None = None  # another build of podium._core, measured first
    timeout: float = 900.0


@dataclass(slots=True)
class CaseFigures:
    build: str  # "before" or "after"
    core_build: str  # "release" / "debug" (see core.core_build)
    nodes: int
    case: str
    size: int
    gangs: int = 0
    placed: int = 0
    ms: list[float] = field(default_factory=list)
    ready_seconds: float = 0.0
    skipped: str = ""
    error: str = ""

    @property
    def median_ms(self) -> float:
        return statistics.median(self.ms) if self.ms else 0.0

    @property
    def max_ms(self) -> float:
        return max(self.ms) if self.ms else 0.0


def _node(i: int) -> Json:
    rack = i // NODES_PER_RACK
    block = rack // RACKS_PER_BLOCK
    name = f"gpu-{i:05d}"
    return {
        "metadata": {
            "name": name,
            "uid": f"uid-{name}",
            "resourceVersion": "1",
            "labels": {
                BLOCK_LABEL: f"b{block:03d}",
                RACK_LABEL: f"r{rack:04d}",
                HOST_LABEL: name,
            },
        },
        "spec": {},
        "status": {
            "allocatable": {
                "cpu": "96",
                "memory": "1024Gi",
                "pods": "110",
                GPU: str(GPUS_PER_NODE),
            },
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def _pod(name: str, gpus: int, node: str | None = None, group: str | None = None) -> Json:
    labels = {GROUP_LABEL: group} if group else {}
    pod: Json = {
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "uid": f"uid-{name}",
            "resourceVersion": "1",
            "creationTimestamp": "2026-12-02T00:00:00Z",
            "labels": labels,
        },
        "spec": {
            "schedulerName": "podium",
            "containers": [
                {
                    "name": "trainer",
                    "image": "registry.example/trainer:1",
                    "resources": {
                        "requests": {"cpu": "8", "memory": "64Gi", GPU: str(gpus)},
                        "limits": {GPU: str(gpus)},
                    },
                }
            ],
        },
        "status": {"phase": "Running" if node else "Pending"},
    }
    if node:
        pod["spec"]["nodeName"] = node
    return pod


def _group(name: str, size: int, case: str) -> Json:
    annotations: dict[str, str] = {}
    if case == "rack":
        annotations["podium.dev/rack"] = "required"
    elif case == "block-slices":
        annotations["podium.dev/topology-level"] = BLOCK_LABEL
        annotations["podium.dev/slice-size"] = str(SLICE_SIZE)
        annotations["podium.dev/slice-level"] = RACK_LABEL
    return {
        "apiVersion": "scheduling.x-k8s.io/v1alpha1",
        "kind": "PodGroup",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "uid": f"uid-{name}",
            "resourceVersion": "1",
            "creationTimestamp": "2026-12-02T00:00:00Z",
            "annotations": annotations,
        },
        "spec": {"minMember": size},
    }


def _pages(kind: str, items: list[Json], page: int = 500) -> Iterator[bytes]:
    for start in range(0, len(items), page):
        yield orjson.dumps(
            {"kind": f"{kind}List", "metadata": {}, "items": items[start : start + page]}
        )


# A worker's first lines: another build of ``podium._core`` is loaded under that name before
# anything imports ``podium`` (whose ``__init__`` imports the installed one).
_BOOTSTRAP = """
import importlib.util, json, sys
if sys.argv[1]:
    spec = importlib.util.spec_from_file_location("podium._core", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    sys.modules["podium._core"] = module
    spec.loader.exec_module(module)
from podium.benchmarks.gang import run_worker
print(json.dumps(run_worker(json.loads(sys.argv[2]))))
"""


def run_worker(args: Json) -> Json:
    """One case in this process: load the cluster, place gangs one after another."""
    from podium import _core as core
    from podium.benchmarks.core import core_build
    from podium.config import Profile as ConfigProfile

    figures = CaseFigures(
        build=args["build"],
        core_build=core_build(Path(core.__file__ or "")),
        nodes=args["nodes"],
        case=args["case"],
        size=args["size"],
    )
    if figures.case == "block-slices" and not hasattr(core.PodGroup, "slice_size"):
        figures.skipped = "this build has no topology levels"
        return asdict(figures)
    rng = random.Random(args["seed"])
    started = time.perf_counter()
    state = core.ClusterState(["podium"])
    nodes = [_node(i) for i in range(figures.nodes)]
    for body in _pages("Node", nodes):
        state.apply_list(core.Kind.NODE, body)
    bound = [
        _pod(f"busy-{i}", 4, node["metadata"]["name"])
        for i, node in enumerate(nodes)
        if rng.random() < 0.5
    ]
    for body in _pages("Pod", bound):
        state.apply_list(core.Kind.POD, body)
    profile = core.Profile(ConfigProfile().core_spec())
    figures.ready_seconds = time.perf_counter() - started
    deadline = time.perf_counter() + args["budget"]
    for g in range(args["gangs"]):
        if time.perf_counter() > deadline:
            break
        name = f"g{g:03d}"
        line = orjson.dumps({"type": "ADDED", "object": _group(name, figures.size, figures.case)})
        state.apply_event(core.Kind.POD_GROUP, line)
        uids = []
        for m in range(figures.size):
            pod = _pod(f"{name}-{m:03d}", 1, group=name)
            state.apply_event(core.Kind.POD, orjson.dumps({"type": "ADDED", "object": pod}))
            uids.append(pod["metadata"]["uid"])
        group = state.pod_group(NAMESPACE, name)
        assert group is not None, name
        snapshot = state.snapshot()
        t0 = time.perf_counter()
        decisions = snapshot.schedule_gang(uids, profile, group, [name])
        figures.ms.append((time.perf_counter() - t0) * 1000)
        figures.gangs += 1
        if all(d.node for d in decisions):
            figures.placed += 1
            for d in decisions:
                assert d.node is not None
                state.assume(d.uid, d.node, d.allocation, d.volumes, d.claims)
        else:
            # The cluster is full for this gang (or its level never fits): later gangs of the
            # same size would only measure the same failure.
            figures.error = decisions[0].message[:300]
            break
    return asdict(figures)


def _run_case(
    options: GangOptions, build: str, core: Path | None, nodes: int, case: str, size: int
) -> CaseFigures:
    args = {
        "build": build,
        "core": str(core) if core else None,
        "nodes": nodes,
        "case": case,
        "size": size,
        "gangs": options.gangs,
        "budget": options.budget,
        "seed": options.seed,
    }
    try:
        done = subprocess.run(
            [sys.executable, "-c", _BOOTSTRAP, str(core or ""), json.dumps(args)],
            capture_output=True,
            text=True,
            timeout=options.timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return CaseFigures(
            build, "", nodes, case, size, error=f"timed out after {options.timeout:.0f} s"
        )
    if done.returncode != 0:
        return CaseFigures(build, "", nodes, case, size, error=done.stderr.strip()[-300:])
    raw = json.loads(done.stdout.strip().splitlines()[-1])
    return CaseFigures(**raw)


def run(options: GangOptions, progress: Any = print) -> list[CaseFigures]:
    builds: list[tuple[str, Path | None]] = [("after", None)]
    if options.before is not None:
        builds.insert(0, ("before", options.before))
    out: list[CaseFigures] = []
    for nodes in options.nodes:
        for case in options.cases:
            for size in options.sizes:
                for build, core in builds:
                    load = os.getloadavg()[0]
                    progress(f"{build}: {nodes:,} nodes, {case}, gangs of {size} (load {load:.1f})")
                    figures = _run_case(options, build, core, nodes, case, size)
                    out.append(figures)
                    progress(f"  {_line(figures)}")
    return out


def _line(f: CaseFigures) -> str:
    if f.skipped:
        return f"{f.build:6} {f.nodes:>6,} {f.case:12} {f.size:>4}  skipped: {f.skipped}"
    head = (
        f"{f.build:6} {f.nodes:>6,} {f.case:12} {f.size:>4}  {f.median_ms:9.2f} ms/gang "
        f"(max {f.max_ms:.2f}; {f.placed}/{f.gangs} placed; {f.core_build})"
    )
    return head + (f"  [{f.error[:160]}]" if f.error else "")


def report(results: list[CaseFigures], load_start: float, load_end: float) -> str:
    lines = [
        "gang placement: median ms per Snapshot.schedule_gang call",
        f"load average (1 min): {load_start:.2f} at the start, {load_end:.2f} at the end; "
        f"{os.cpu_count()} cpus",
        f"{'build':6} {'nodes':>6} {'case':12} {'size':>4}  figures",
    ]
    lines.extend(_line(f) for f in results)
    return "\n".join(lines)


def write_json(results: list[CaseFigures], loads: tuple[float, float], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"gang-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(
        json.dumps(
            {
                "load_average_start": loads[0],
                "load_average_end": loads[1],
                "cpus": os.cpu_count(),
                "cases": [{**asdict(f), "median_ms": f.median_ms} for f in results],
            },
            indent=1,
        )
    )
    return path
