"""podium and the real kube-scheduler 1.37 on the same generated cluster with Workload-API gangs.

kube-scheduler runs with its gang scheduling (``GangScheduling``) and topology plugins
(``TopologyPlacementGenerator``, ``PodGroupPodsCount``), on by default with the local cluster's
feature gates. A seeded scenario of GPU nodes in blocks (``topology.kubernetes.io/block``, a few
nodes in none) and ``scheduling.k8s.io/v1beta1`` PodGroups is placed by kube-scheduler, its pods
are deleted, and the same PodGroups and pods (same names, same nodes) are placed by podium. Both
must place only whole gangs, each placed gang of a group with a topology key must sit in one
domain of that key, every gang kube-scheduler places, podium places too, and both write the
same ``PodGroupInitiallyScheduled`` status and reason on every PodGroup.

Why the last check is sound here: gangs arrive in two waves, those with a topology key first,
each wave's pods created once its PodGroups exist. The keyed gangs that can fit ask at most 16
GPUs and there are more blocks (of 40 GPUs) than such gangs, so each fits in a block whatever
the other keyed gangs chose; the unkeyed gangs that can fit ask at most 12 GPUs in pods of at
most 4, and the two waves together ask less than 3/4 of the cluster, so some node always holds a
4-GPU pod. What cannot fit is impossible by construction (more GPUs than a block holds, for a
keyed gang; more than the cluster holds, for an unkeyed one), so both schedulers leave it
pending, whatever they chose before. A disagreement is then a bug in one of them, not a
different but equally good choice.

By hand, a sweep: ``PODIUM_WORKLOAD_CONFORMANCE_SEEDS=1-10 .venv/bin/python -m pytest
tests/integration/test_workload_gang_conformance.py``.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from kubernetes_asyncio.client import ApiClient

from podium.config import parse_config
from podium.rawapi import request_bytes
from podium.runner import Podium
from podium.testing.binaries import Binaries
from podium.testing.cluster import LocalCluster
from podium.testing.kube_scheduler import KubeScheduler
from podium.testing.nodes import GPU_RESOURCE, create_nodes, make_node
from podium.testing.podgroups import create_workload_pod_group, make_workload_pod_group
from podium.testing.pods import make_pod
from podium.testing.waiting import until

from .conformance.generator import parse_seeds
from .conformance.settle import wait_settled

SEEDS = parse_seeds(os.environ.get("PODIUM_WORKLOAD_CONFORMANCE_SEEDS", "1"))
BLOCK_LABEL = "topology.kubernetes.io/block"
BLOCKS = 5
NODES_PER_BLOCK = 5
LOOSE_NODES = 4
GPUS_PER_NODE = 8

pytestmark = pytest.mark.timeout(600)


@dataclass(frozen=True)
class GangSpec:
    name: str
    members: int
    gpus: int  # per member
    keyed: bool  # the PodGroup names the block label as its topology key


def _gangs(seed: int) -> tuple[list[GangSpec], list[GangSpec]]:
    """(keyed wave, unkeyed wave), each with one gang that can never fit."""
    rng = random.Random(seed)
    keyed = []
    for i in range(BLOCKS - 1):
        gpus = rng.choice((1, 2, 4))
        keyed.append(GangSpec(f"k{i}", rng.randint(2, 16 // gpus), gpus, True))
    # More than a block's 40 GPUs: no block holds it, though the cluster could.
    keyed.append(GangSpec("k-huge", 6, 8, True))
    unkeyed = []
    for i in range(6):
        gpus = rng.choice((1, 2, 4))
        unkeyed.append(GangSpec(f"u{i}", rng.randint(2, 12 // gpus), gpus, False))
    # More members than the cluster has GPUs for.
    nodes = BLOCKS * NODES_PER_BLOCK + LOOSE_NODES
    unkeyed.append(GangSpec("u-huge", nodes + 1, GPUS_PER_NODE, False))
    rng.shuffle(keyed)
    rng.shuffle(unkeyed)
    return keyed, unkeyed


def _nodes(suffix: str, labels: Mapping[str, str]) -> list[dict[str, Any]]:
    nodes = [
        make_node(
            f"wc-{b}-{i}-{suffix}",
            gpus=GPUS_PER_NODE,
            labels=labels,
            rack=f"block-{b}-{suffix}",
            rack_label=BLOCK_LABEL,
        )
        for b in range(BLOCKS)
        for i in range(NODES_PER_BLOCK)
    ]
    nodes += [
        make_node(f"wc-loose-{i}-{suffix}", gpus=GPUS_PER_NODE, labels=labels)
        for i in range(LOOSE_NODES)
    ]
    return nodes


async def _place(
    api: ApiClient,
    namespace: str,
    scheduler_name: str,
    waves: Iterable[list[GangSpec]],
    labels: Mapping[str, str],
) -> dict[str, dict[str, str]]:
    """Creates each wave's PodGroups and pods and waits for the scheduler to settle; returns the
    bound members by gang."""
    for wave in waves:
        for gang in wave:
            group = make_workload_pod_group(
                gang.name,
                namespace,
                min_count=gang.members,
                topology_key=BLOCK_LABEL if gang.keyed else None,
            )
            await create_workload_pod_group(api, group)
        for gang in wave:
            for i in range(gang.members):
                pod = make_pod(
                    f"{gang.name}-{i}",
                    namespace,
                    scheduler_name=scheduler_name,
                    requests={"cpu": "100m", GPU_RESOURCE: gang.gpus},
                    limits={GPU_RESOURCE: gang.gpus},
                    node_selector=dict(labels),
                    pod_group=gang.name,
                )
                await request_bytes(api, "POST", f"/api/v1/namespaces/{namespace}/pods", body=pod)
        await wait_settled(api, namespace)
    pods = orjson.loads(await request_bytes(api, "GET", f"/api/v1/namespaces/{namespace}/pods"))
    bound: dict[str, dict[str, str]] = {}
    for pod in pods["items"]:
        node = pod["spec"].get("nodeName")
        if node:
            gang = pod["spec"]["schedulingGroup"]["podGroupName"]
            bound.setdefault(gang, {})[pod["metadata"]["name"]] = node
    return bound


async def _clear(api: ApiClient, namespace: str) -> None:
    """Deletes the first run's pods and PodGroups and waits until they are gone. No kubelet:
    grace 0 removes pods at once. No controller-manager: the PodGroupProtection admission
    plugin's finalizer, which its controller would lift once no pod uses the group, is lifted
    here."""
    groups = f"/apis/scheduling.k8s.io/v1beta1/namespaces/{namespace}/podgroups"
    collections = (f"/api/v1/namespaces/{namespace}/pods", groups)
    for collection in collections:
        await request_bytes(api, "DELETE", collection, query={"gracePeriodSeconds": 0})
    for group in orjson.loads(await request_bytes(api, "GET", groups))["items"]:
        await request_bytes(
            api,
            "PATCH",
            f"{groups}/{group['metadata']['name']}",
            body={"metadata": {"finalizers": None}},
            content_type="application/merge-patch+json",
        )

    async def gone() -> bool:
        for collection in collections:
            if orjson.loads(await request_bytes(api, "GET", collection))["items"]:
                return False
        return True

    await until(gone, "the first run's pods and PodGroups to be deleted", 60)


async def _conditions(api: ApiClient, groups: str) -> dict[str, tuple[str, str]]:
    """Each PodGroup's PodGroupInitiallyScheduled (status, reason)."""
    out = {}
    for group in orjson.loads(await request_bytes(api, "GET", groups))["items"]:
        for condition in group.get("status", {}).get("conditions", []):
            if condition["type"] == "PodGroupInitiallyScheduled":
                out[group["metadata"]["name"]] = (condition["status"], condition["reason"])
    return out


def _check(
    who: str,
    gangs: list[GangSpec],
    bound: Mapping[str, Mapping[str, str]],
    block_of: Mapping[str, str],
) -> list[str]:
    """What breaks the gang and topology rules in one scheduler's outcome."""
    problems = []
    for gang in gangs:
        nodes = list(bound.get(gang.name, {}).values())
        if nodes and len(nodes) != gang.members:
            problems.append(f"{who}: gang {gang.name}: {len(nodes)} of {gang.members} bound")
        if nodes and gang.keyed:
            blocks = {block_of.get(n) for n in nodes}
            if len(blocks) != 1 or None in blocks:
                problems.append(f"{who}: gang {gang.name} spans blocks {sorted(map(str, blocks))}")
    return problems


@pytest.mark.parametrize("seed", SEEDS)
async def test_podium_places_the_workload_gangs_kube_scheduler_places(
    seed: int,
    api: ApiClient,
    cluster: LocalCluster,
    binaries: Binaries,
    namespace: str,
    node_labels: dict[str, str],
) -> None:
    suffix = node_labels["podium.dev/test"]
    nodes = _nodes(suffix, node_labels)
    await create_nodes(api, nodes)
    block_of = {
        n["metadata"]["name"]: n["metadata"]["labels"][BLOCK_LABEL]
        for n in nodes
        if BLOCK_LABEL in n["metadata"]["labels"]
    }
    keyed, unkeyed = _gangs(seed)
    gangs = keyed + unkeyed

    groups = f"/apis/scheduling.k8s.io/v1beta1/namespaces/{namespace}/podgroups"
    kube_name = f"wconf-{uuid.uuid4().hex[:8]}"
    scheduler = KubeScheduler(
        cluster,
        binaries=binaries,
        profiles=[{"schedulerName": kube_name}],
        config={"podInitialBackoffSeconds": 1, "podMaxBackoffSeconds": 1},
    )
    await scheduler.start_async()
    try:
        kube = await _place(api, namespace, kube_name, (keyed, unkeyed), node_labels)
    finally:
        scheduler.stop()
    kube_conditions = await _conditions(api, groups)
    await _clear(api, namespace)

    config = parse_config(
        {
            "apiVersion": "kubescheduler.config.k8s.io/v1",
            "kind": "KubeSchedulerConfiguration",
            "profiles": [{"schedulerName": f"{kube_name}-podium"}],
        }
    )
    async with Podium(config, api, identity="workload-conformance") as podium:
        await podium.start_scheduling()
        ours = await _place(api, namespace, f"{kube_name}-podium", (keyed, unkeyed), node_labels)
        await podium.gangs.flush()
    our_conditions = await _conditions(api, groups)

    header = (
        f"seed {seed}: {len(nodes)} nodes, gangs "
        + ", ".join(f"{g.name}({g.members}x{g.gpus}{' keyed' if g.keyed else ''})" for g in gangs)
        + f"; kube-scheduler placed {sorted(kube)}, podium placed {sorted(ours)}"
    )
    print(header)
    problems = _check("kube-scheduler", gangs, kube, block_of) + _check(
        "podium", gangs, ours, block_of
    )
    problems += [
        f"gang {name}: kube-scheduler placed it, podium did not"
        for name in sorted(kube.keys() - ours.keys())
    ]
    # The PodGroupInitiallyScheduled condition: the same status and reason from both (the
    # messages are each scheduler's own words).
    problems += [
        f"gang {name}: PodGroupInitiallyScheduled kube-scheduler {kube_conditions.get(name)}, "
        f"podium {our_conditions.get(name)}"
        for name in sorted(g.name for g in gangs)
        if kube_conditions.get(name) != our_conditions.get(name)
    ]
    # Both verdicts exercised: something placed, and the impossible gangs left pending.
    assert kube and ours, header
    assert not {"k-huge", "u-huge"} & (kube.keys() | ours.keys()), header
    # kube-scheduler's words, which podium's must equal (above): Scheduled for what it placed,
    # Unschedulable for what cannot fit.
    assert all(kube_conditions.get(name) == ("True", "Scheduled") for name in kube), kube_conditions
    assert (
        kube_conditions.get("k-huge")
        == kube_conditions.get("u-huge")
        == (
            "False",
            "Unschedulable",
        )
    ), kube_conditions
    assert not problems, f"{header}\n" + "\n".join(problems)
