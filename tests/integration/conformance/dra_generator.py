"""Seeded random DRA clusters and claims for the DynamicResources conformance test (pure: no
I/O, no clock).

``generate(seed, options)`` returns nodes, the ResourceSlices a GPU driver and an RDMA NIC driver
would publish for them, DeviceClasses, ResourceClaims, ResourceClaimTemplates and pending pods.
The random choices depend on the seed only, never on names, so the same seed gives the same
cluster under other names (a second copy for podium to schedule itself).

Every device is also kept as a plain ``Device`` and every CEL selector comes with a Python
predicate saying the same thing (``Selector``), so ``dra_validity`` can check allocations without
any CEL implementation: that reading is independent of podium's and kube's.

The cluster (per node, drawn from the seed):

- ``h100``: 8 H100 GPUs (80Gi) on 4 PCIe roots (two a root), 4 RDMA NICs of 400G (one a root).
- ``a100``: 4 A100 GPUs (40Gi) on 2 roots, 2 NICs of 200G, not RDMA.
- ``part``: like ``h100``, but GPUs 0-3 are partitionable (DRAPartitionableDevices): each also
  shows two 40Gi halves, and the whole GPU and its halves draw on one counter set of 80Gi, so a
  whole GPU excludes its halves. The counters are a slice of their own in the pool (a slice has
  devices or shared counters, not both).
- ``tainted``: like ``h100``, with GPUs 6 and 7 tainted NoSchedule (DRADeviceTaints): only
  requests tolerating the taint may have them.

No node has a device plugin: every 12th pod asks 1, 2 or 4 whole GPUs as the extended resource
``<tag>.example.com/gpu``, which a DeviceClass names (DRAExtendedResource), so the scheduler
allocates them through a claim it makes for the pod.

Why judging against the final state is sound: devices never change, no pod or claim is deleted,
and an allocation, once written, stays (the claim stays reserved for its bound pod). So devices
only get taken. A pending pod was infeasible when kube-scheduler last tried it, and stays so; a
bound pod's allocation is disjoint from every other at the end (kube's own invariant), so with
that allocation taken off it fits again on its node. The one exception, kept out: adminAccess on
partitionable devices (see ``_claim``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podium.testing.dra import PCIE_ROOT, RESOURCE_API
from podium.testing.nodes import make_node
from podium.testing.pods import make_pod

JSON = dict[str, Any]

GI = 1024**3
TAINT_KEY = "example.com/unhealthy"
TOLERATION: JSON = {"key": TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}
NODE_KINDS = (("h100", 5), ("a100", 2), ("part", 2), ("tainted", 2))
DRIVER_VERSIONS = ("1.2.3", "2.0.1")
# A namespace must carry this label for its claims to ask adminAccess.
ADMIN_ACCESS_LABEL = "resource.kubernetes.io/admin-access"


@dataclass(frozen=True)
class Device:
    """A published device, as the checker reads it: attributes by unqualified name (the
    driver's domain) except ``PCIE_ROOT``, capacities in bytes (or bits/s)."""

    driver: str
    pool: str
    name: str
    attributes: Mapping[str, bool | int | str]
    capacity: Mapping[str, int]
    tainted: bool = False
    # counter set -> memory drawn from it
    consumes: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Selector:
    """A CEL expression (as the claim carries it) and the same test in Python."""

    cel: str
    holds: Callable[[Device], bool]
    label: str


@dataclass(frozen=True)
class Request:
    """One ``exactly`` request, or a subrequest of ``firstAvailable``."""

    name: str
    device_class: str
    count: int = 1
    all_devices: bool = False
    selectors: tuple[Selector, ...] = ()
    tolerates: bool = False
    # adminAccess (DRAAdminAccess, GA): the devices are monitored, not taken, so they may be
    # in use by others and stay free for others.
    admin: bool = False

    def exactly(self) -> JSON:
        body: JSON = {"deviceClassName": self.device_class}
        if self.all_devices:
            body["allocationMode"] = "All"
        else:
            body["allocationMode"] = "ExactCount"
            body["count"] = self.count
        if self.selectors:
            body["selectors"] = [{"cel": {"expression": s.cel}} for s in self.selectors]
        if self.tolerates:
            body["tolerations"] = [dict(TOLERATION)]
        if self.admin:
            body["adminAccess"] = True
        return body


@dataclass(frozen=True)
class ClaimSpec:
    """What a claim asks: requests (each a list of alternatives: one for ``exactly``, several
    for ``firstAvailable``) and whether all its devices share a PCIe root."""

    requests: tuple[tuple[Request, ...], ...]
    aligned: bool = False
    shape: str = ""
    # The requests' names, when not ``r<index>`` (a scheduler's claim for extended resources).
    names: tuple[str, ...] = ()

    def request_name(self, index: int) -> str:
        return self.names[index] if self.names else f"r{index}"

    def spec(self) -> JSON:
        requests: list[JSON] = []
        for index, alternatives in enumerate(self.requests):
            name = self.request_name(index)
            if len(alternatives) == 1:
                requests.append({"name": name, "exactly": alternatives[0].exactly()})
            else:
                requests.append(
                    {
                        "name": name,
                        "firstAvailable": [{"name": a.name, **a.exactly()} for a in alternatives],
                    }
                )
        devices: JSON = {"requests": requests}
        if self.aligned:
            devices["constraints"] = [{"matchAttribute": PCIE_ROOT}]
        return {"devices": devices}


@dataclass(frozen=True)
class DraOptions:
    namespace: str
    scheduler_name: str
    node_prefix: str
    node_labels: Mapping[str, str]
    # Makes drivers and classes unique to the run (they are cluster-scoped).
    tag: str
    nodes: int = 40
    pods: int = 300


@dataclass(frozen=True)
class DraScenario:
    seed: int
    nodes: list[JSON]
    slices: list[JSON]
    classes: list[JSON]
    claims: list[JSON]
    templates: list[JSON]
    pods: list[JSON]
    devices: list[Device]
    # pool -> counter set -> memory it holds
    counters: Mapping[str, Mapping[str, int]]
    # class name -> its selectors (the driver test first)
    class_selectors: Mapping[str, tuple[Selector, ...]]
    # claim name (or template name) -> what it asks
    claim_specs: Mapping[str, ClaimSpec]
    # pod name -> (pod claim name, claim name or None, template name or None)
    pod_claims: Mapping[str, list[tuple[str, str | None, str | None]]]
    shapes: frozenset[str]
    # pod name -> GPUs it asks as the extended resource ``extended_resource``
    extended: Mapping[str, int] = field(default_factory=dict)
    extended_resource: str = ""
    extended_class: str = ""

    def extended_spec(self, pod: str, request_name: str) -> ClaimSpec:
        """What the scheduler's claim for the pod's extended resources must ask."""
        request = Request(request_name, self.extended_class, count=self.extended[pod])
        return ClaimSpec(((request,),), shape="extended resource", names=(request_name,))


class _Vocabulary:
    """The drivers, classes and selectors of one run."""

    def __init__(self, tag: str) -> None:
        self.gpu_driver = f"gpu.{tag}.example.com"
        self.nic_driver = f"nic.{tag}.example.com"
        self.gpu_class = f"gpu-{tag}"
        self.whole_class = f"gpu-whole-{tag}"
        self.nic_class = f"nic-{tag}"
        self.extended_class = f"gpu-extended-{tag}"
        self.extended_resource = f"{tag}.example.com/gpu"
        g, n = self.gpu_driver, self.nic_driver
        is_gpu = Selector(f"device.driver == {g!r}", lambda d: d.driver == g, "driver")
        is_nic = Selector(f"device.driver == {n!r}", lambda d: d.driver == n, "driver")
        whole = Selector(
            f"!device.attributes[{g!r}].partition", lambda d: not d.attributes["partition"], "whole"
        )
        self.classes: dict[str, tuple[Selector, ...]] = {
            self.gpu_class: (is_gpu,),
            self.whole_class: (is_gpu, whole),
            self.nic_class: (is_nic,),
            self.extended_class: (is_gpu, whole),
        }
        self.gpu_selectors = (
            Selector(
                f"device.attributes[{g!r}].productName == 'H100'",
                lambda d: d.attributes["productName"] == "H100",
                "H100",
            ),
            Selector(
                f"device.attributes[{g!r}].productName == 'A100'",
                lambda d: d.attributes["productName"] == "A100",
                "A100",
            ),
            Selector(
                f"device.capacity[{g!r}].memory.compareTo(quantity('40Gi')) >= 0",
                lambda d: d.capacity["memory"] >= 40 * GI,
                "memory>=40Gi",
            ),
            Selector(
                f"device.capacity[{g!r}].memory.compareTo(quantity('64Gi')) > 0",
                lambda d: d.capacity["memory"] > 64 * GI,
                "memory>64Gi",
            ),
            Selector(
                f"device.attributes[{g!r}].driverVersion.isGreaterThan(semver('1.5.0'))",
                lambda d: _semver(str(d.attributes["driverVersion"])) > (1, 5, 0),
                "driver>1.5.0",
            ),
            Selector(
                f"device.attributes[{g!r}].index < 4",
                lambda d: int(d.attributes["index"]) < 4,
                "index<4",
            ),
            whole,
        )
        self.high_index = Selector(
            f"device.attributes[{g!r}].index >= 4",
            lambda d: int(d.attributes["index"]) >= 4,
            "index>=4",
        )
        self.nic_selectors = (
            Selector(
                f"device.attributes[{n!r}].rdma", lambda d: d.attributes["rdma"] is True, "rdma"
            ),
            Selector(
                f"device.capacity[{n!r}].bandwidth.compareTo(quantity('400G')) >= 0",
                lambda d: d.capacity["bandwidth"] >= 400 * 10**9,
                "bandwidth>=400G",
            ),
        )


def _semver(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def generate(seed: int, options: DraOptions) -> DraScenario:
    rng = random.Random(seed)
    vocab = _Vocabulary(options.tag)
    nodes: list[JSON] = []
    slices: list[JSON] = []
    devices: list[Device] = []
    counters: dict[str, dict[str, int]] = {}
    kinds = [k for k, weight in NODE_KINDS for _ in range(weight)]
    for index in range(options.nodes):
        name = f"{options.node_prefix}-{index}"
        kind = kinds[index % len(kinds)] if index < len(kinds) else rng.choice(kinds)
        nodes.append(make_node(name, cpu="64", memory="512Gi", labels=options.node_labels))
        node_devices, node_slices, node_counters = _node_devices(rng, vocab, name, kind)
        devices += node_devices
        slices += node_slices
        if node_counters:
            counters[name] = node_counters
    classes = [_device_class(name, sels) for name, sels in vocab.classes.items()]
    for c in classes:
        if c["metadata"]["name"] == vocab.extended_class:
            c["spec"]["extendedResourceName"] = vocab.extended_resource

    claims: list[JSON] = []
    templates: list[JSON] = []
    pods: list[JSON] = []
    claim_specs: dict[str, ClaimSpec] = {}
    pod_claims: dict[str, list[tuple[str, str | None, str | None]]] = {}
    shapes: set[str] = set()
    extended: dict[str, int] = {}
    pod_index = 0

    def extended_pod(gpus: int) -> None:
        nonlocal pod_index
        name = f"p{pod_index:04d}"
        pod_index += 1
        resource = vocab.extended_resource
        pods.append(
            make_pod(
                name,
                options.namespace,
                scheduler_name=options.scheduler_name,
                requests={"cpu": "100m", "memory": "64Mi", resource: gpus},
                limits={resource: gpus},
                node_selector=options.node_labels,
            )
        )
        pod_claims[name] = []
        extended[name] = gpus
        shapes.add(f"extended resource x{gpus}")

    def new_pod(claims_of_pod: list[tuple[str, str | None, str | None]]) -> None:
        nonlocal pod_index
        name = f"p{pod_index:04d}"
        pod_index += 1
        pod = make_pod(
            name,
            options.namespace,
            scheduler_name=options.scheduler_name,
            requests={"cpu": "100m", "memory": "64Mi"},
            node_selector=options.node_labels,
        )
        pod["spec"]["resourceClaims"] = [
            {"name": pc, "resourceClaimName": c}
            if c is not None
            else {"name": pc, "resourceClaimTemplateName": t}
            for pc, c, t in claims_of_pod
        ]
        pod["spec"]["containers"][0]["resources"]["claims"] = [
            {"name": pc} for pc, _, _ in claims_of_pod
        ]
        pods.append(pod)
        pod_claims[name] = claims_of_pod

    def new_claim(spec: ClaimSpec) -> str:
        name = f"c{len(claim_specs):04d}"
        claim_specs[name] = spec
        claims.append(
            {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceClaim",
                "metadata": {"name": name, "namespace": options.namespace},
                "spec": spec.spec(),
            }
        )
        shapes.add(spec.shape)
        return name

    def new_template(spec: ClaimSpec) -> str:
        name = f"t{len(claim_specs):04d}"
        claim_specs[name] = spec
        templates.append(
            {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceClaimTemplate",
                "metadata": {"name": name, "namespace": options.namespace},
                "spec": {"spec": spec.spec()},
            }
        )
        shapes.add(f"template {spec.shape}")
        return name

    # Near misses first, so that the first wave on an empty cluster has pods refused for what
    # they ask rather than for want of free devices.
    for probe in _probes(vocab):
        if pod_index < options.pods:
            new_pod([("devices", new_claim(probe), None)])
    while pod_index < options.pods:
        if pod_index % 12 == 11:
            extended_pod(rng.choice((1, 2, 4)))
            continue
        roll = rng.random()
        if roll < 0.10:
            # A claim shared by two or three pods: they all go where it is allocated.
            claim = new_claim(_claim(rng, vocab, shared=True))
            shapes.add("shared")
            for _ in range(min(rng.randint(2, 3), options.pods - pod_index)):
                new_pod([("devices", claim, None)])
        elif roll < 0.25:
            template = new_template(_claim(rng, vocab))
            new_pod([("devices", None, template)])
        elif roll < 0.35:
            # Two claims of one pod: both on the pod's node, no device in both.
            first = new_claim(_claim(rng, vocab))
            second = new_claim(_claim(rng, vocab))
            shapes.add("two claims")
            new_pod([("a", first, None), ("b", second, None)])
        else:
            new_pod([("devices", new_claim(_claim(rng, vocab)), None)])

    return DraScenario(
        seed=seed,
        nodes=nodes,
        slices=slices,
        classes=classes,
        claims=claims,
        templates=templates,
        pods=pods,
        devices=devices,
        counters=counters,
        class_selectors=vocab.classes,
        claim_specs=claim_specs,
        pod_claims=pod_claims,
        shapes=frozenset(shapes),
        extended=extended,
        extended_resource=vocab.extended_resource,
        extended_class=vocab.extended_class,
    )


def _claim(rng: random.Random, vocab: _Vocabulary, *, shared: bool = False) -> ClaimSpec:
    """One claim, of a shape drawn by weight."""
    shape = rng.choices(
        ("gpus", "aligned", "all", "first", "nic", "admin"),
        weights=(40, 25, 6, 12, 17, 4) if not shared else (60, 30, 0, 10, 0, 0),
    )[0]
    if shape == "admin":
        # Never partitionable GPUs (index < 4 on a partitioned node): an adminAccess device
        # must have its counters free when allocated, yet holds none afterwards (kube's
        # allocateDevice checks them, its allocated state skips adminAccess results; podium
        # does the same), so a later claim may draw them and the final state would refuse
        # what was fine at the time.
        count = rng.choice((1, 2))
        request = Request(
            "gpu",
            vocab.gpu_class,
            count=count,
            selectors=(vocab.high_index,),
            tolerates=rng.random() < 0.3,
            admin=True,
        )
        return ClaimSpec(((request,),), shape=f"adminAccess gpus x{count}")
    if shape == "gpus":
        count = rng.choices((1, 2, 4, 8), weights=(60, 25, 10, 5))[0]
        request = _gpu_request(rng, vocab, "gpu", count)
        return ClaimSpec(((request,),), shape=f"gpus x{count}")
    if shape == "aligned":
        # GPUs and a NIC behind one PCIe root: two GPUs a root, so 4 fits only on partitions.
        count = rng.choices((1, 2, 4), weights=(45, 40, 15))[0]
        gpu = _gpu_request(rng, vocab, "gpu", count)
        nic = Request("nic", vocab.nic_class, selectors=_some(rng, vocab.nic_selectors, 0.4))
        return ClaimSpec(((gpu,), (nic,)), aligned=True, shape=f"aligned gpus x{count} + nic")
    if shape == "all":
        if rng.random() < 0.5:
            request = Request(
                "nics", vocab.nic_class, all_devices=True, selectors=(vocab.nic_selectors[0],)
            )
            return ClaimSpec(((request,),), shape="All rdma nics")
        product = vocab.gpu_selectors[rng.choice((0, 1))]
        request = Request(
            "gpus",
            rng.choice((vocab.gpu_class, vocab.whole_class)),
            all_devices=True,
            selectors=(product,),
            tolerates=rng.random() < 0.5,
        )
        return ClaimSpec(((request,),), shape=f"All {product.label} gpus")
    if shape == "first":
        if rng.random() < 0.5:
            alternatives = tuple(
                _gpu_request(rng, vocab, f"x{count}", count, selectors=0.0) for count in (8, 4, 2)
            )
            return ClaimSpec((alternatives,), shape="firstAvailable 8/4/2 gpus")
        a100 = Request("a100", vocab.gpu_class, count=2, selectors=(vocab.gpu_selectors[1],))
        h100 = Request("h100", vocab.whole_class, count=1, selectors=(vocab.gpu_selectors[3],))
        return ClaimSpec(((a100, h100),), shape="firstAvailable 2 A100 / 1 H100")
    # "nic": NICs alone, some All-or-nothing by selector.
    count = rng.choice((1, 2, 4))
    nic = Request(
        "nic", vocab.nic_class, count=count, selectors=_some(rng, vocab.nic_selectors, 0.5)
    )
    return ClaimSpec(((nic,),), shape=f"nics x{count}")


def _probes(vocab: _Vocabulary) -> list[ClaimSpec]:
    """Claims that fit nowhere, or only on partitionable GPUs, whatever else is placed."""
    whole3 = Request("gpu", vocab.whole_class, count=3)
    nic = Request("nic", vocab.nic_class)
    rdma = Request("nic", vocab.nic_class, selectors=(vocab.nic_selectors[0],))
    a100 = Request("gpu", vocab.gpu_class, count=2, selectors=(vocab.gpu_selectors[1],))
    every_nic = Request("nics", vocab.nic_class, all_devices=True)
    # Nine 40Gi GPUs: only a partitionable node has them (four whole ones and eight halves,
    # where a whole GPU and its halves exclude each other).
    nine = Request("gpu", vocab.gpu_class, count=9, selectors=(vocab.gpu_selectors[2],))
    return [
        ClaimSpec(((whole3,), (nic,)), aligned=True, shape="probe: 3 whole gpus on one root"),
        ClaimSpec(((a100,), (rdma,)), aligned=True, shape="probe: A100s with an RDMA NIC"),
        ClaimSpec(((every_nic,), (nic,)), shape="probe: All nics and one more"),
        ClaimSpec(((nine,),), shape="probe: 9 gpus of 40Gi"),
        ClaimSpec(((whole3,), (nic,)), aligned=True, shape="probe: 3 whole gpus on one root"),
        ClaimSpec(((a100,), (rdma,)), aligned=True, shape="probe: A100s with an RDMA NIC"),
    ]


def _gpu_request(
    rng: random.Random, vocab: _Vocabulary, name: str, count: int, *, selectors: float = 0.5
) -> Request:
    return Request(
        name,
        rng.choice((vocab.gpu_class, vocab.gpu_class, vocab.whole_class)),
        count=count,
        selectors=_some(rng, vocab.gpu_selectors, selectors),
        tolerates=rng.random() < 0.3,
    )


def _some(rng: random.Random, selectors: Sequence[Selector], chance: float) -> tuple[Selector, ...]:
    return (rng.choice(selectors),) if rng.random() < chance else ()


def _node_devices(
    rng: random.Random, vocab: _Vocabulary, node: str, kind: str
) -> tuple[list[Device], list[JSON], dict[str, int]]:
    product, memory, gpus, nics, bandwidth, rdma = (
        ("A100", 40 * GI, 4, 2, 200 * 10**9, False)
        if kind == "a100"
        else ("H100", 80 * GI, 8, 4, 400 * 10**9, True)
    )
    version = rng.choice(DRIVER_VERSIONS)
    gpu_devices: list[Device] = []
    counter_sets: dict[str, int] = {}
    for i in range(gpus):
        root = f"pci-{i // 2}"
        attributes: dict[str, bool | int | str] = {
            "productName": product,
            "index": i,
            "driverVersion": version,
            "partition": False,
            PCIE_ROOT: root,
        }
        tainted = kind == "tainted" and i >= 6
        if kind == "part" and i < 4:
            counter_set = f"gpu-{i}"
            counter_sets[counter_set] = memory
            gpu_devices.append(
                Device(
                    vocab.gpu_driver,
                    node,
                    f"gpu-{i}",
                    attributes,
                    {"memory": memory},
                    consumes={counter_set: memory},
                )
            )
            for half in range(2):
                gpu_devices.append(
                    Device(
                        vocab.gpu_driver,
                        node,
                        f"gpu-{i}-p{half}",
                        {**attributes, "partition": True},
                        {"memory": memory // 2},
                        consumes={counter_set: memory // 2},
                    )
                )
        else:
            gpu_devices.append(
                Device(vocab.gpu_driver, node, f"gpu-{i}", attributes, {"memory": memory}, tainted)
            )
    nic_devices = [
        Device(
            vocab.nic_driver,
            node,
            f"nic-{j}",
            {"rdma": rdma, PCIE_ROOT: f"pci-{j}"},
            {"bandwidth": bandwidth},
        )
        for j in range(nics)
    ]
    slices = [
        _slice(f"{node}-gpu", node, vocab.gpu_driver, gpu_devices, 2 if counter_sets else 1),
        _slice(f"{node}-nic", node, vocab.nic_driver, nic_devices, 1),
    ]
    if counter_sets:
        # A slice holds devices or shared counters, never both: the pool has two slices.
        slices.append(
            {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceSlice",
                "metadata": {"name": f"{node}-gpu-counters"},
                "spec": {
                    "driver": vocab.gpu_driver,
                    "pool": {"name": node, "generation": 1, "resourceSliceCount": 2},
                    "nodeName": node,
                    "sharedCounters": [
                        {"name": name, "counters": {"memory": {"value": str(value)}}}
                        for name, value in counter_sets.items()
                    ],
                },
            }
        )
    return gpu_devices + nic_devices, slices, counter_sets


def _slice(name: str, node: str, driver: str, devices: Sequence[Device], count: int) -> JSON:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceSlice",
        "metadata": {"name": name},
        "spec": {
            "driver": driver,
            "pool": {"name": node, "generation": 1, "resourceSliceCount": count},
            "nodeName": node,
            "devices": [_device(d) for d in devices],
        },
    }


def _device(device: Device) -> JSON:
    attributes: JSON = {}
    for key, value in device.attributes.items():
        if isinstance(value, bool):
            attributes[key] = {"bool": value}
        elif isinstance(value, int):
            attributes[key] = {"int": value}
        elif key == "driverVersion":
            attributes[key] = {"version": value}
        else:
            attributes[key] = {"string": value}
    body: JSON = {
        "name": device.name,
        "attributes": attributes,
        "capacity": {k: {"value": str(v)} for k, v in device.capacity.items()},
    }
    if device.tainted:
        body["taints"] = [{"key": TAINT_KEY, "value": "ecc", "effect": "NoSchedule"}]
    if device.consumes:
        body["consumesCounters"] = [
            {"counterSet": name, "counters": {"memory": {"value": str(value)}}}
            for name, value in device.consumes.items()
        ]
    return body


def _device_class(name: str, selectors: Sequence[Selector]) -> JSON:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "DeviceClass",
        "metadata": {"name": name},
        "spec": {"selectors": [{"cel": {"expression": s.cel}} for s in selectors]},
    }


def collection(obj: Mapping[str, Any]) -> str:
    """The path to POST ``obj`` (a DRA object) to."""
    kind = obj["kind"]
    if kind == "DeviceClass":
        return f"{RESOURCE_API}/deviceclasses"
    if kind == "ResourceSlice":
        return f"{RESOURCE_API}/resourceslices"
    plural = "resourceclaims" if kind == "ResourceClaim" else "resourceclaimtemplates"
    return f"{RESOURCE_API}/namespaces/{obj['metadata']['namespace']}/{plural}"
