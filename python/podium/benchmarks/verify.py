"""Check where the core put the pods, so a fast answer that ignores a constraint is caught.

Outside every timed region. Resource and taint violations are core bugs; a violated workload
constraint (two replicas of an anti-affinity app on one host, a zone skew above maxSkew, preferred
affinity no better than chance) means the core accepted the plugin but did not apply it, and the
case is reported as unsupported rather than as a measurement.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from podium._core import ClusterState
from podium.benchmarks.synthetic import (
    GPU_TAINT_KEY,
    Cluster,
    NodeInfo,
    PendingRecord,
)

# Preferred affinity to an app living in one of Z zones: chance alone puts ~1/Z of the pods in
# its zone; a working score puts nearly all there while the zone has room.
PREFERRED_HONOURED_MIN = 0.5
_CHECKED_RESOURCES = ("cpu", "memory", "pods", "nvidia.com/gpu", "rdma/hca")


@dataclass(slots=True)
class Verification:
    violations: dict[str, int] = field(default_factory=dict)
    # preferred_affinity: share of placed pods in their target app's zone.
    affinity_share: float | None = None
    # Set when the workload's own constraint was not applied (the case is then unsupported).
    ignored: str | None = None


def verify(
    cluster: Cluster,
    records: Iterable[PendingRecord],
    placements: Mapping[str, str],
    state: ClusterState,
) -> Verification:
    nodes = {n.name: n for n in cluster.nodes}
    result = Verification()
    bad: Counter[str] = Counter()
    placed: list[tuple[PendingRecord, NodeInfo]] = []
    for record in records:
        node_name = placements.get(record.uid)
        if node_name is None:
            continue
        node = nodes.get(node_name)
        if node is None:
            bad["placed on an unknown node"] += 1
            continue
        placed.append((record, node))
        if not _tolerates(record, node):
            bad["placed on a node with an untolerated taint"] += 1
    for node in {n.name: n for _, n in placed}.values():
        usage = state.node_usage(node.name)
        allocatable = node.itype.allocatable()
        for resource in _CHECKED_RESOURCES:
            if usage.get(resource, 0) > allocatable.get(resource, 0):
                bad[f"node over allocatable {resource}"] += 1
    workload = next((r.workload for r, _ in placed), "")
    if workload == "anti_affinity":
        per_host = Counter((r.namespace, r.app, n.name) for r, n in placed)
        doubled = sum(count - 1 for count in per_host.values() if count > 1)
        if doubled:
            bad["replicas sharing a host despite required anti-affinity"] = doubled
            result.ignored = "required podAntiAffinity not applied"
    elif workload == "spread":
        zones_of: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        for r, n in placed:
            zones_of[(r.namespace, r.app)][n.zone] += 1
        skewed = sum(
            1
            for counts in zones_of.values()
            if max(counts[z] for z in cluster.zones) - min(counts[z] for z in cluster.zones) > 1
        )
        if skewed:
            bad["apps with zone skew above maxSkew 1"] = skewed
            result.ignored = "topologySpreadConstraints not applied"
    elif workload == "preferred_affinity" and placed:
        share = sum(1 for r, n in placed if n.zone == r.target_zone) / len(placed)
        result.affinity_share = share
        if share < PREFERRED_HONOURED_MIN:
            result.ignored = (
                f"preferred podAffinity not applied: {share:.0%} of pods in the preferred zone, "
                f"chance gives {1 / len(cluster.zones):.0%}"
            )
    result.violations = dict(bad)
    return result


def _tolerates(record: PendingRecord, node: NodeInfo) -> bool:
    # Generated pending pods tolerate one taint: GPU pods, the GPU nodes' taint.
    return all(t.key == GPU_TAINT_KEY and record.gpus for t in node.taints)
