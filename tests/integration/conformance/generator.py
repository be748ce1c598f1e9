"""Seeded random clusters and workloads for the conformance test (pure: no I/O, no clock).

``generate(seed, options)`` returns nodes, pods already bound to them (created with
``spec.nodeName``, as another scheduler or a user would) and pending pods for kube-scheduler.
Which features appear follows ``options.plugins`` (podium's implemented plugins), so the test
grows as podium does.

Why checking against the *final* state is sound
-----------------------------------------------
kube-scheduler places pods one at a time; the check evaluates each pod against the cluster as it
is at the end (a placed pod with its own placement removed, a pending pod as is). No pod is
ever removed (one priority everywhere, so no preemption; no controllers run), so the final state
only has *more* pods than any state kube-scheduler saw. For each generated feature:

- Node-local, static facts (taints, ``unschedulable``, labels for ``nodeSelector`` and node
  affinity): nodes never change, so the verdict is the same at any time.
- Resources, pod count, host ports: every pod on a node either was admitted there by
  kube-scheduler against everything already there, or is a pre-bound pod the generator made fit.
  So the final set of pods on a node fits together, and "final minus P, plus P" is that same
  set: P fits. A pending pod failed because its node was too full; nodes only get fuller.
- Required pod anti-affinity: a pod Q placed after P in P's domain would have been refused by
  P's term (kube checks existing pods' anti-affinity against the incoming pod) or by its own
  term matching P. So at the end P still meets no conflicting pod, in either direction. Pending
  pods only see more pods later. Pre-bound pods carry no pod (anti-)affinity terms.
- Required pod affinity comes in two shapes only. (a) "co-location groups": every pod with
  label ``colo=<g>`` carries the same term selecting ``colo=<g>`` with the same topology key.
  The first one placed lands anywhere (kube's rule for a pod matching its own term when no pod
  matches yet); each later one must share a domain with an earlier one, so all of the group
  end up in one domain and, for each, either another member is there or it is alone in the
  cluster. Labels of a group are on no other pod. (b) affinity to pods that exist from the
  start (pre-bound ``role=db-<k>``), which never move. Mixing the shapes (a group member whose
  term another pod does not carry) could make the final state refuse what was fine at the time,
  so the generator never does it.
- Topology spread (DoNotSchedule, zone): every pod with label ``spread=<g>`` carries the same
  constraints and the same (empty) node selector and required node affinity, so all of them
  count over the same domains with the same ``maxSkew``; no other pod has the label. Counts only
  grow, so the minimum over domains never decreases. When P went to zone z, count(z)+1 <=
  min(then) + maxSkew <= min(end) + maxSkew, and every later pod into z checked the same bound;
  so at the end count(z) <= min(end) + maxSkew, which is exactly P's check with P removed
  (removing P can lower the minimum only to count(z)-1, and then the skew is 1). Pods with the
  same labels but other constraints or selectors would break this, hence the groups. A pending
  spread pod may become feasible as others raise the minimum: kube-scheduler requeues it on
  that pod event, and ``settle`` waits (with 1 s backoff) until nothing moves any more.
- Local volumes: pods mount claims already bound to local PVs, each PV pinned to one node by
  its node affinity. Static, like node labels.
- Preferred terms (node affinity, pod affinity, PreferNoSchedule taints) only score.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from podium.testing.nodes import GPU_RESOURCE, HOSTNAME_LABEL, ZONE_LABEL, Taint, make_node
from podium.testing.pods import PAUSE_IMAGE, make_pod

JSON = dict[str, Any]

ZONES = ("zone-a", "zone-b", "zone-c", "zone-d")
DISK_LABEL = "disktype"
DISKS = ("ssd", "hdd", "nvme")
GEN_LABEL = "podium.dev/gen"  # a number, for Gt/Lt
PORTS = (7000, 8080, 9090)
RACKS = 6

# Label keys that tie pods together; the soundness argument above needs each used one way only.
ANTI_LABEL = "anti"
COLO_LABEL = "colo"
SPREAD_LABEL = "spread"
DB_LABEL = "role"

# (group, topology key)
ANTI_GROUPS = (("a0", HOSTNAME_LABEL), ("a1", HOSTNAME_LABEL), ("a2", ZONE_LABEL))
COLO_GROUPS = (("c0", HOSTNAME_LABEL), ("c1", ZONE_LABEL), ("c2", ZONE_LABEL))
DB_ROLES = ("db-0", "db-1", "db-2")  # db-2 is never pre-bound: its followers are infeasible
# (group, maxSkew, extra ScheduleAnyway constraint on hostname)
SPREAD_GROUPS = (("s0", 1, False), ("s1", 2, False), ("s2", 1, True))

TAINTS = (
    Taint("dedicated", "NoSchedule", "infra"),
    Taint("dedicated", "NoSchedule", "batch"),
    Taint("maintenance", "NoExecute"),
    Taint("spot", "PreferNoSchedule", "true"),
)
GPU_TAINT = Taint(GPU_RESOURCE, "NoSchedule", "present")
TOLERATIONS: tuple[JSON, ...] = (
    {"key": "dedicated", "operator": "Equal", "value": "infra", "effect": "NoSchedule"},
    {"key": "dedicated", "operator": "Exists"},
    {"key": "dedicated", "operator": "Equal", "value": "batch"},
    {"key": "maintenance", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60},
    {"key": "spot", "operator": "Equal", "value": "true", "effect": "PreferNoSchedule"},
    {"operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
)
GPU_TOLERATION: JSON = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}

OVERHEAD = {"cpu": "250m", "memory": "64Mi"}

# Plugin names whose features the generator can produce beyond the node-local ones.
INTER_POD_AFFINITY = "InterPodAffinity"
POD_TOPOLOGY_SPREAD = "PodTopologySpread"
VOLUME_BINDING = "VolumeBinding"
# kube-scheduler treats a claim as bound only with this annotation (set by the PV controller,
# which does not run here).
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"


@dataclass(frozen=True)
class Options:
    """What to generate; everything else comes from the seed."""

    plugins: frozenset[str]
    namespace: str = "default"
    scheduler_name: str = "default-scheduler"
    node_prefix: str = "cf"
    node_labels: Mapping[str, str] = field(default_factory=dict)
    nodes: int = 60
    pods: int = 500
    # A RuntimeClass with OVERHEAD (see ``runtime_class``); None: no pod uses overhead.
    runtime_class: str | None = None
    # The StorageClass of the local PVs (cluster-scoped, so unique per run).
    storage_class: str = "cf-local"


@dataclass(frozen=True)
class Volume:
    """A local PV and the claim bound to it (both get status phase Bound once created)."""

    pv: JSON
    claim: JSON


@dataclass(frozen=True)
class Scenario:
    seed: int
    nodes: list[JSON]
    bound: list[JSON]
    pending: list[JSON]
    features: frozenset[str]
    volumes: list[Volume] = field(default_factory=list)
    storage_class: JSON | None = None


def runtime_class(name: str) -> JSON:
    """A RuntimeClass whose pods get ``OVERHEAD`` (the apiserver's admission fills it in)."""
    return {
        "apiVersion": "node.k8s.io/v1",
        "kind": "RuntimeClass",
        "metadata": {"name": name},
        "handler": "runc",
        "overhead": {"podFixed": dict(OVERHEAD)},
    }


def features_for(plugins: frozenset[str]) -> frozenset[str]:
    """The feature families generated for podium's implemented ``plugins``."""
    base = {"resources", "init-containers", "sidecars", "overhead", "node-selector"}
    base |= {"node-affinity", "taints", "unschedulable", "host-ports", "gpus", "infeasible"}
    if INTER_POD_AFFINITY in plugins:
        base |= {"pod-anti-affinity", "pod-affinity", "preferred-pod-affinity"}
    if POD_TOPOLOGY_SPREAD in plugins:
        base |= {"topology-spread"}
    if VOLUME_BINDING in plugins:
        base |= {"local-volumes"}
    return frozenset(base)


def generate(seed: int, options: Options) -> Scenario:
    rng = random.Random(seed)
    features = features_for(options.plugins)
    nodes = [_node(rng, i, options) for i in range(options.nodes)]
    bound = _bound_pods(rng, nodes, options, features)
    pending = [_pending_pod(rng, i, nodes, options, features) for i in range(options.pods)]
    if "local-volumes" not in features:
        return Scenario(seed, nodes, bound, pending, features)
    volumes = _volumes(rng, nodes, options)
    # Claims may be shared (ReadWriteOnce allows pods on one node), which is kube's rule too.
    for pod in pending:
        if rng.random() < 0.06:
            claim = rng.choice(volumes).claim["metadata"]["name"]
            pod["spec"]["volumes"] = [
                {"name": "data", "persistentVolumeClaim": {"claimName": claim}}
            ]
    return Scenario(seed, nodes, bound, pending, features, volumes, storage_class(options))


def storage_class(options: Options) -> JSON:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": options.storage_class},
        "provisioner": "kubernetes.io/no-provisioner",
        "volumeBindingMode": "WaitForFirstConsumer",
    }


def _volumes(rng: random.Random, nodes: list[JSON], options: Options) -> list[Volume]:
    volumes = []
    for k, node in enumerate(rng.sample(nodes, max(1, len(nodes) // 4))):
        pv_name = f"{options.node_prefix}-pv-{k:03d}"
        claim_name = f"claim-{k:03d}"
        host = node["metadata"]["name"]
        pv = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": pv_name, "labels": dict(options.node_labels)},
            "spec": {
                "capacity": {"storage": "10Gi"},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": options.storage_class,
                "local": {"path": f"/mnt/disks/{pv_name}"},
                "claimRef": {"namespace": options.namespace, "name": claim_name},
                "nodeAffinity": {
                    "required": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": HOSTNAME_LABEL, "operator": "In", "values": [host]}
                                ]
                            }
                        ]
                    }
                },
            },
        }
        claim = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {
                "name": claim_name,
                "namespace": options.namespace,
                "annotations": {BIND_COMPLETED: "yes"},
            },
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": options.storage_class,
                "volumeName": pv_name,
                "resources": {"requests": {"storage": "10Gi"}},
            },
        }
        volumes.append(Volume(pv, claim))
    return volumes


# -- nodes -------------------------------------------------------------------------------------

_CPU = ("4", "8", "16", "32", "7500m")
_MEMORY = ("8Gi", "16Gi", "64Gi", "128Gi")
_STORAGE = ("20Gi", "100Gi", "1Ti")


def _node(rng: random.Random, i: int, options: Options) -> JSON:
    labels = dict(options.node_labels)
    if rng.random() < 0.8:
        labels[DISK_LABEL] = rng.choice(DISKS)
    if rng.random() < 0.9:
        labels[GEN_LABEL] = str(rng.randint(1, 6))
    gpus = rng.choice((2, 4, 8)) if rng.random() < 0.25 else 0
    taints: list[Taint] = []
    if gpus and rng.random() < 0.75:
        taints.append(GPU_TAINT)
    if rng.random() < 0.2:
        taints.append(rng.choice(TAINTS))
        if rng.random() < 0.2:
            other = rng.choice(TAINTS)
            if all(t.key != other.key or t.effect != other.effect for t in taints):
                taints.append(other)
    return make_node(
        f"{options.node_prefix}-{i:03d}",
        cpu=rng.choice(_CPU),
        memory=rng.choice(_MEMORY),
        pods=rng.choices((6, 16, 110), weights=(2, 3, 5))[0],
        ephemeral_storage=rng.choice(_STORAGE),
        gpus=gpus,
        zone=ZONES[i % len(ZONES)],
        rack=f"rack-{i % RACKS}",
        labels=labels,
        taints=taints,
        unschedulable=rng.random() < 0.05,
    )


# -- pods bound from the start -----------------------------------------------------------------


def _bound_pods(
    rng: random.Random, nodes: list[JSON], options: Options, features: frozenset[str]
) -> list[JSON]:
    """Pods on about half the nodes, each set fitting its node (requests, count, ports)."""
    pods: list[JSON] = []
    db_roles = DB_ROLES[:-1] if "pod-affinity" in features else ()
    for node in nodes:
        if rng.random() < 0.5:
            continue
        name = node["metadata"]["name"]
        allocatable = node["status"]["allocatable"]
        cpu_left = _millis(allocatable["cpu"])
        free_ports = list(PORTS)
        for _ in range(rng.randint(1, min(3, int(allocatable["pods"]) - 1))):
            cpu = rng.choice((250, 500, 1000, 2000))
            if cpu > cpu_left // 2:
                break
            cpu_left -= cpu
            labels = {"app": "existing"}
            if db_roles and rng.random() < 0.3:
                labels[DB_LABEL] = rng.choice(db_roles)
            ports: tuple[int, ...] = ()
            if free_ports and rng.random() < 0.3:
                ports = (free_ports.pop(rng.randrange(len(free_ports))),)
            pods.append(
                make_pod(
                    f"bound-{len(pods):03d}",
                    options.namespace,
                    scheduler_name=options.scheduler_name,
                    node_name=name,
                    requests={"cpu": f"{cpu}m", "memory": rng.choice(("256Mi", "1Gi"))},
                    labels=labels,
                    host_ports=ports,
                )
            )
    return pods


def _millis(cpu: str) -> int:
    return int(cpu[:-1]) if cpu.endswith("m") else int(cpu) * 1000


# -- pending pods ------------------------------------------------------------------------------


def _pending_pod(
    rng: random.Random, i: int, nodes: list[JSON], options: Options, features: frozenset[str]
) -> JSON:
    requests: dict[str, str] = {
        "cpu": rng.choice(("50m", "100m", "250m", "500m", "1", "2", "3")),
        "memory": rng.choice(("64Mi", "256Mi", "1Gi", "2Gi", "6Gi")),
    }
    if rng.random() < 0.2:
        requests["ephemeral-storage"] = rng.choice(("1Gi", "10Gi", "50Gi"))
    limits: dict[str, str] = {}
    tolerations: list[JSON] = []
    if rng.random() < 0.15:
        gpus = str(rng.choice((1, 2, 4, 8)))
        requests[GPU_RESOURCE] = limits[GPU_RESOURCE] = gpus
        if rng.random() < 0.8:
            tolerations.append(GPU_TOLERATION)
    if rng.random() < 0.3:
        tolerations.extend(rng.sample(TOLERATIONS, rng.randint(1, 2)))
    labels: dict[str, str] = {"app": f"app-{rng.randrange(5)}"}
    node_selector: dict[str, str] = {}
    affinity: JSON = {}
    kind = rng.random()
    if kind < 0.15:
        node_selector[DISK_LABEL] = rng.choice(DISKS)
    elif kind < 0.40:
        affinity["nodeAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [_node_term(rng, nodes) for _ in range(rng.randint(1, 2))]
            }
        }
    if rng.random() < 0.2:
        affinity.setdefault("nodeAffinity", {})[
            "preferredDuringSchedulingIgnoredDuringExecution"
        ] = [{"weight": rng.randint(1, 100), "preference": _node_term(rng, nodes)}]

    # Impossible everywhere, in ways of several filters.
    if rng.random() < 0.03:
        trouble = rng.randrange(3)
        if trouble == 0:
            requests["cpu"] = "100"
        elif trouble == 1:
            node_selector[DISK_LABEL] = "tape"
        else:
            requests[GPU_RESOURCE] = limits[GPU_RESOURCE] = "16"

    spread: list[JSON] = []
    if "pod-anti-affinity" in features and rng.random() < 0.12:
        group, key = rng.choice(ANTI_GROUPS)
        labels[ANTI_LABEL] = group
        affinity.setdefault("podAntiAffinity", {})[
            "requiredDuringSchedulingIgnoredDuringExecution"
        ] = [{"labelSelector": {"matchLabels": {ANTI_LABEL: group}}, "topologyKey": key}]
    roll = rng.random()
    if "pod-affinity" in features and roll < 0.06:
        group, key = rng.choice(COLO_GROUPS)
        labels[COLO_LABEL] = group
        affinity["podAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {
                    "labelSelector": {
                        "matchExpressions": [
                            {"key": COLO_LABEL, "operator": "In", "values": [group]}
                        ]
                    },
                    "topologyKey": key,
                }
            ]
        }
    elif "pod-affinity" in features and roll < 0.10:
        affinity["podAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {
                    "labelSelector": {"matchLabels": {DB_LABEL: rng.choice(DB_ROLES)}},
                    "namespaces": [options.namespace],
                    "topologyKey": rng.choice((ZONE_LABEL, HOSTNAME_LABEL)),
                }
            ]
        }
    elif "topology-spread" in features and roll < 0.24:
        group, skew, by_host = rng.choice(SPREAD_GROUPS)
        labels[SPREAD_LABEL] = group
        spread.append(
            {
                "maxSkew": skew,
                "topologyKey": ZONE_LABEL,
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {SPREAD_LABEL: group}},
            }
        )
        if by_host:
            spread.append(
                {
                    "maxSkew": 1,
                    "topologyKey": HOSTNAME_LABEL,
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": {SPREAD_LABEL: group}},
                }
            )
        # One set of eligible domains per group (nodeAffinityPolicy Honor): see the docstring.
        node_selector.clear()
        if "nodeAffinity" in affinity:
            affinity["nodeAffinity"].pop("requiredDuringSchedulingIgnoredDuringExecution", None)
            if not affinity["nodeAffinity"]:
                del affinity["nodeAffinity"]
    if "preferred-pod-affinity" in features and rng.random() < 0.08:
        which = rng.choice(("podAffinity", "podAntiAffinity"))
        affinity.setdefault(which, {})["preferredDuringSchedulingIgnoredDuringExecution"] = [
            {
                "weight": rng.randint(1, 100),
                "podAffinityTerm": {
                    "labelSelector": {"matchLabels": {"app": f"app-{rng.randrange(5)}"}},
                    "topologyKey": rng.choice((ZONE_LABEL, HOSTNAME_LABEL)),
                },
            }
        ]

    init_requests: dict[str, str] | None = None
    if rng.random() < 0.15:
        init_requests = {
            "cpu": rng.choice(("500m", "2", "4")),
            "memory": rng.choice(("128Mi", "4Gi")),
        }
    pod = make_pod(
        f"p-{i:04d}",
        options.namespace,
        scheduler_name=options.scheduler_name,
        requests=requests,
        limits=limits or None,
        init_requests=init_requests,
        node_selector=node_selector,
        tolerations=tolerations,
        affinity=affinity or None,
        topology_spread_constraints=spread,
        labels=labels,
    )
    spec = pod["spec"]
    if rng.random() < 0.1:
        sidecar = {
            "name": "sidecar",
            "image": PAUSE_IMAGE,
            "restartPolicy": "Always",
            "resources": {"requests": {"cpu": rng.choice(("100m", "1")), "memory": "128Mi"}},
        }
        inits = spec.setdefault("initContainers", [])
        inits.insert(rng.randint(0, len(inits)), sidecar)
    if rng.random() < 0.1:
        spec["containers"].append(
            {
                "name": "second",
                "image": PAUSE_IMAGE,
                "resources": {"requests": {"cpu": rng.choice(("100m", "1")), "memory": "1Gi"}},
            }
        )
    if rng.random() < 0.1:
        port = rng.choice(PORTS)
        protocol = rng.choices(("TCP", "UDP"), weights=(4, 1))[0]
        spec["containers"][0]["ports"] = [
            {"containerPort": port, "hostPort": port, "protocol": protocol}
        ]
    if options.runtime_class is not None and rng.random() < 0.08:
        spec["runtimeClassName"] = options.runtime_class
    return pod


def _node_term(rng: random.Random, nodes: list[JSON]) -> JSON:
    expressions = [_expression(rng) for _ in range(rng.randint(1, 2))]
    term: JSON = {"matchExpressions": expressions}
    if rng.random() < 0.05:
        # The apiserver allows exactly one value for a field selector.
        name = rng.choice(nodes)["metadata"]["name"]
        operator = rng.choice(("In", "NotIn"))
        term["matchFields"] = [{"key": "metadata.name", "operator": operator, "values": [name]}]
    return term


def _expression(rng: random.Random) -> JSON:
    operator = rng.choice(("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"))
    if operator in ("Gt", "Lt"):
        return {"key": GEN_LABEL, "operator": operator, "values": [str(rng.randint(1, 6))]}
    key = rng.choice((DISK_LABEL, ZONE_LABEL, DISK_LABEL))
    if operator in ("Exists", "DoesNotExist"):
        return {"key": key, "operator": operator}
    pool = ZONES if key == ZONE_LABEL else DISKS
    return {"key": key, "operator": operator, "values": rng.sample(pool, rng.randint(1, 2))}


def parse_seeds(text: str) -> list[int]:
    """``"7"``, ``"1-20"`` or ``"1-5,9,12-13"`` -> the seeds, in order, without repeats."""
    seeds: list[int] = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        low, dash, high = part.partition("-")
        try:
            first = int(low)
            last = int(high) if dash else first
        except ValueError:
            raise ValueError(f"bad seed range {part!r} in {text!r}") from None
        if last < first:
            raise ValueError(f"bad seed range {part!r} in {text!r}: end before start")
        seeds.extend(s for s in range(first, last + 1) if s not in seeds)
    if not seeds:
        raise ValueError(f"no seeds in {text!r}")
    return seeds
