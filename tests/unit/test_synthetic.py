"""The benchmark's cluster generators: deterministic per seed, well-formed, paginated correctly."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from podium.benchmarks import synthetic as syn
from podium.benchmarks.pagefile import read_pages, write_pages

SHAPE = syn.ClusterShape(nodes=90, pods_per_node=12, seed=7)
_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def _quantity(value: str, cpu: bool = False) -> int:
    """Canonical units (millicores for cpu, bytes or counts otherwise) for the forms generated."""
    match = re.fullmatch(r"(\d+)(m|Ki|Mi|Gi|Ti)?", value)
    assert match, value
    number, suffix = int(match[1]), match[2]
    if suffix == "m":
        return number
    scaled = number * _UNITS.get(suffix or "", 1)
    return scaled * 1000 if cpu else scaled


def _items(pages: list[bytes]) -> list[dict[str, Any]]:
    return [item for page in pages for item in orjson.loads(page)["items"]]


@pytest.fixture(scope="module")
def cluster() -> syn.Cluster:
    return syn.plan_cluster(SHAPE)


@pytest.fixture(scope="module")
def nodes(cluster: syn.Cluster) -> list[dict[str, Any]]:
    return _items(list(syn.list_pages("Node", syn.node_objects(cluster))))


@pytest.fixture(scope="module")
def pods(cluster: syn.Cluster) -> list[dict[str, Any]]:
    return _items(list(syn.list_pages("Pod", syn.bound_pods(cluster))))


def _pending(cluster: syn.Cluster, workload: str, count: int = 40) -> list[dict[str, Any]]:
    records = syn.pending_records(cluster, workload, count)
    return [syn.pending_object(r, 1000 + i) for i, r in enumerate(records)]


def test_same_seed_same_bytes() -> None:
    def render(seed: int) -> list[bytes]:
        c = syn.plan_cluster(syn.ClusterShape(nodes=20, pods_per_node=5, seed=seed))
        out = list(syn.list_pages("Node", syn.node_objects(c), page_size=7))
        out += syn.list_pages("Pod", syn.bound_pods(c), page_size=30)
        for workload in syn.WORKLOADS:
            records = syn.pending_records(c, workload, 10)
            out += syn.watch_lines("Pod", (syn.pending_object(r, i) for i, r in enumerate(records)))
        return out

    assert render(3) == render(3)
    assert render(3) != render(4)


def test_streams_are_independent() -> None:
    # More bound pods per node must not change the nodes nor the pending pods.
    a = syn.plan_cluster(syn.ClusterShape(nodes=10, pods_per_node=5, seed=1))
    b = syn.plan_cluster(syn.ClusterShape(nodes=10, pods_per_node=9, seed=1))
    assert list(syn.node_objects(a)) == list(syn.node_objects(b))
    assert syn.pending_records(a, "spread", 20) == syn.pending_records(b, "spread", 20)


def test_nodes_carry_what_the_core_reads(cluster: syn.Cluster, nodes: list[dict[str, Any]]) -> None:
    assert len(nodes) == SHAPE.nodes
    assert len({n["metadata"]["uid"] for n in nodes}) == SHAPE.nodes
    zones: Counter[str] = Counter()
    for node, info in zip(nodes, cluster.nodes, strict=True):
        meta, status = node["metadata"], node["status"]
        labels = meta["labels"]
        assert meta["name"] == info.name == labels[syn.HOSTNAME_LABEL]
        assert labels[syn.ZONE_LABEL] == info.zone
        assert labels[syn.RACK_LABEL] == info.rack
        assert labels["node.kubernetes.io/instance-type"] == info.itype.name
        allocatable = status["allocatable"]
        assert _quantity(allocatable["cpu"], cpu=True) == info.itype.cpu_millis
        assert _quantity(allocatable["memory"]) == info.itype.memory_bytes
        assert _quantity(allocatable["pods"]) == info.itype.pods
        assert _quantity(allocatable["ephemeral-storage"]) == info.itype.ephemeral_bytes
        taints = {t["key"] for t in node["spec"].get("taints", [])}
        if info.gpu:
            assert allocatable[syn.GPU] == "8"
            assert int(allocatable[syn.RDMA]) > 0
            assert syn.GPU_TAINT_KEY in taints
        else:
            assert syn.GPU not in allocatable
        assert node["spec"].get("unschedulable", False) == info.unschedulable
        zones[info.zone] += 1
    assert set(zones) == set(cluster.zones)
    assert any(n.gpu for n in cluster.nodes) and any(n.general for n in cluster.nodes)


def test_bound_pods_fit_their_nodes(cluster: syn.Cluster, pods: list[dict[str, Any]]) -> None:
    assert len(pods) == cluster.pod_count
    assert len({p["metadata"]["uid"] for p in pods}) == len(pods)
    infos = {n.name: n for n in cluster.nodes}
    used: dict[str, Counter[str]] = defaultdict(Counter)
    for pod in pods:
        spec = pod["spec"]
        node = infos[spec["nodeName"]]
        assert pod["metadata"]["labels"]["app"]
        if pod["status"]["phase"] == "Succeeded":
            continue
        for container in spec["containers"]:
            for name, value in container["resources"]["requests"].items():
                used[node.name][name] += _quantity(value, cpu=name == "cpu")
        used[node.name]["pods"] += 1
        if node.taints and node.gpu:
            assert any(
                t.get("key") == syn.GPU_TAINT_KEY or t == {"operator": "Exists"}
                for t in spec["tolerations"]
            )
    for name, counts in used.items():
        allocatable = infos[name].itype.allocatable()
        for resource, amount in counts.items():
            assert amount <= allocatable[resource], (name, resource)


def test_zone_apps_live_in_their_zone(cluster: syn.Cluster, pods: list[dict[str, Any]]) -> None:
    infos = {n.name: n for n in cluster.nodes}
    zone_of = {(a.namespace, a.app): a.zone for a in cluster.zone_apps}
    seen = 0
    for pod in pods:
        key = (pod["metadata"]["namespace"], pod["metadata"]["labels"]["app"])
        if key in zone_of:
            seen += 1
            assert infos[pod["spec"]["nodeName"]].zone == zone_of[key]
    assert seen


@pytest.mark.parametrize("workload", syn.WORKLOADS)
def test_pending_pods_are_podiums(cluster: syn.Cluster, workload: str) -> None:
    pods = _pending(cluster, workload)
    assert len({p["metadata"]["uid"] for p in pods}) == len(pods)
    for pod in pods:
        assert pod["spec"]["schedulerName"] == syn.SCHEDULER_NAME
        assert "nodeName" not in pod["spec"]
        assert pod["status"]["phase"] == "Pending"
        requests = pod["spec"]["containers"][0]["resources"]["requests"]
        assert _quantity(requests["cpu"], cpu=True) > 0 and _quantity(requests["memory"]) > 0


def test_gpu_pods(cluster: syn.Cluster) -> None:
    sizes: Counter[int] = Counter()
    for pod in _pending(cluster, "gpu", 200):
        requests = pod["spec"]["containers"][0]["resources"]["requests"]
        sizes[int(requests[syn.GPU])] += 1
        assert {"key": syn.GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"} in pod[
            "spec"
        ]["tolerations"]
    assert set(sizes) == {1, 2, 4, 8}


def test_anti_affinity_pods(cluster: syn.Cluster) -> None:
    pods = _pending(cluster, "anti_affinity", 100)
    apps = Counter(p["metadata"]["labels"]["app"] for p in pods)
    assert len(apps) >= 20 and max(apps.values()) <= 4  # many small apps
    for pod in pods:
        (term,) = pod["spec"]["affinity"]["podAntiAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"
        ]
        assert term["topologyKey"] == syn.HOSTNAME_LABEL
        assert term["labelSelector"]["matchLabels"] == {"app": pod["metadata"]["labels"]["app"]}


def test_spread_pods(cluster: syn.Cluster) -> None:
    for pod in _pending(cluster, "spread"):
        (constraint,) = pod["spec"]["topologySpreadConstraints"]
        assert constraint["maxSkew"] == 1
        assert constraint["topologyKey"] == syn.ZONE_LABEL
        assert constraint["whenUnsatisfiable"] == "DoNotSchedule"
        assert constraint["labelSelector"]["matchLabels"] == {
            "app": pod["metadata"]["labels"]["app"]
        }


def test_preferred_affinity_targets_exist(cluster: syn.Cluster) -> None:
    records = syn.pending_records(cluster, "preferred_affinity", 40)
    zone_apps = {(a.namespace, a.app): a.zone for a in cluster.zone_apps}
    for record, i in zip(records, range(len(records)), strict=True):
        assert zone_apps[(record.namespace, record.target_app)] == record.target_zone
        pod = syn.pending_object(record, i)
        (term,) = pod["spec"]["affinity"]["podAffinity"][
            "preferredDuringSchedulingIgnoredDuringExecution"
        ]
        assert term["weight"] == 100
        assert term["podAffinityTerm"]["topologyKey"] == syn.ZONE_LABEL
        assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == {"app": record.target_app}


@pytest.mark.parametrize(
    ("count", "sizes"), [(1234, [500, 500, 234]), (1000, [500, 500]), (0, [0])]
)
def test_pages_split_like_the_apiserver(count: int, sizes: list[int]) -> None:
    items = [{"metadata": {"name": f"n{i}", "uid": str(i)}} for i in range(count)]
    pages = [orjson.loads(p) for p in syn.list_pages("Node", items, resource_version="42")]
    assert [len(p["items"]) for p in pages] == sizes
    for i, page in enumerate(pages):
        assert page["kind"] == "NodeList" and page["apiVersion"] == "v1"
        assert page["metadata"]["resourceVersion"] == "42"
        assert ("continue" in page["metadata"]) == (i < len(pages) - 1)
    assert [item for p in pages for item in p["items"]] == items


def test_watch_lines_carry_kind() -> None:
    (line,) = syn.watch_lines("Pod", [{"metadata": {"name": "a"}}])
    assert orjson.loads(line) == {
        "type": "ADDED",
        "object": {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "a"}},
    }


def test_page_file_round_trip(tmp_path: Path) -> None:
    pages = [b"{}", b"", b'{"items":[1,2,3]}' * 100]
    info = write_pages(tmp_path / "p", pages)
    assert (info.pages, info.size) == (3, sum(map(len, pages)))
    assert list(read_pages(tmp_path / "p")) == pages
