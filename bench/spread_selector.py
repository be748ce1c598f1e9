"""Spread pods whose selector matches a large Deployment: CPU per decision of the core.

``podium bench core``'s ``spread`` apps have 24 replicas, so a pod's selector picks at most 24
placed pods and counting them is cheap however the count is kept. A Deployment of thousands of
replicas spread over zones is the case PodTopologySpread's per-batch counts
(``plugins/pod_topology_spread/counts.rs``) are for: ``BOUND`` running replicas on ``NODES``
nodes (three zones), then ``PENDING`` more decided in batches of ``BATCH`` with a zone
constraint (maxSkew 1, DoNotSchedule) selecting them all, under the default profile. Prints one
JSON line: process CPU (user + sys, every thread) per decision over snapshot, schedule and
assume, and a SHA-256 of the decisions (uid, code, node, score) to compare builds by. A fifth
argument ``host`` adds a ``kubernetes.io/hostname`` constraint, ScheduleAnyway (maxSkew 1),
which PreScore counts per node.

    .venv/bin/python bench/spread_selector.py NODES BOUND PENDING BATCH [host]

(A/B: ``PYTHONPATH`` naming a copy of ``python/`` holding the other build's ``_core``.)
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import time
from typing import Any

import podium._core as core
from podium.benchmarks.profiles import default_profile

ZONE = "topology.kubernetes.io/zone"
ZONES = ("za", "zb", "zc")
SELECTOR = {"matchLabels": {"app": "big"}}
ZONE_SPREAD = {
    "maxSkew": 1,
    "topologyKey": ZONE,
    "whenUnsatisfiable": "DoNotSchedule",
    "labelSelector": SELECTOR,
}
HOST_SPREAD = {
    "maxSkew": 1,
    "topologyKey": "kubernetes.io/hostname",
    "whenUnsatisfiable": "ScheduleAnyway",
    "labelSelector": SELECTOR,
}


def _event(obj: dict[str, Any]) -> bytes:
    return json.dumps({"type": "ADDED", "object": obj}).encode()


def _node(i: int) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"n{i}",
            "uid": f"n{i}",
            "labels": {"kubernetes.io/hostname": f"n{i}", ZONE: ZONES[i % len(ZONES)]},
        },
        "status": {
            "allocatable": {"cpu": "64", "memory": "256Gi", "pods": "250"},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def _pod(name: str, spread: list[dict[str, Any]], node: str | None = None) -> dict[str, Any]:
    container = {
        "name": "c",
        "image": "app",
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
    }
    spec: dict[str, Any] = {
        "schedulerName": "podium",
        "containers": [container],
        "topologySpreadConstraints": spread,
    }
    if node is not None:
        spec["nodeName"] = node
    return {
        "metadata": {"name": name, "namespace": "ns", "uid": name, "labels": {"app": "big"}},
        "spec": spec,
        "status": {"phase": "Running" if node is not None else "Pending"},
    }


def main(nodes: int, bound: int, pending: int, batch: int, host: bool) -> dict[str, Any]:
    spread = [ZONE_SPREAD, HOST_SPREAD] if host else [ZONE_SPREAD]
    rng = random.Random(1)
    state = core.ClusterState(["podium"])
    for i in range(nodes):
        state.apply_event(core.Kind.NODE, _event(_node(i)))
    for i in range(bound):
        state.apply_event(core.Kind.POD, _event(_pod(f"b{i}", spread, f"n{rng.randrange(nodes)}")))
    uids = [f"p{i}" for i in range(pending)]
    for uid in uids:
        state.apply_event(core.Kind.POD, _event(_pod(uid, spread)))
    profile = core.Profile(default_profile().spec)
    digest = hashlib.sha256()
    cpu = 0.0
    for start in range(0, len(uids), batch):
        started = time.process_time()
        decisions = state.snapshot().schedule(uids[start : start + batch], profile, None)
        for d in decisions:
            if d.code == core.Code.SUCCESS and d.node is not None:
                state.assume(d.uid, d.node, d.allocation, d.volumes, d.claims)
        cpu += time.process_time() - started
        for d in decisions:
            digest.update(f"{d.uid} {d.code.name} {d.node} {d.score}\n".encode())
    placed = sum(1 for uid in uids if state.pending_pod(uid) is None)
    return {
        "nodes": nodes,
        "bound": bound,
        "pending": pending,
        "batch": batch,
        "host": host,
        "placed": placed,
        "cpu_us_per_decision": cpu / len(uids) * 1e6,
        "decisions_sha256": digest.hexdigest(),
    }


if __name__ == "__main__":
    sizes = [int(a) for a in sys.argv[1:5]]
    host = sys.argv[5:6] == ["host"]
    print(json.dumps(main(sizes[0], sizes[1], sizes[2], sizes[3], host)))
