"""The DRA workloads of ``podium bench core`` (issue 17): GPU jobs with ResourceClaims next to
the same jobs asking extended resources, on a GPU-only cluster whose drivers publish slices."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.benchmarks import synthetic as syn
from podium.benchmarks.case import CaseResult, CaseSpec, run_case, verify_claims
from podium.benchmarks.core import _generate, gpu_cluster_shape
from podium.benchmarks.dra_workloads import (
    DRA_WORKLOADS,
    EXT_WORKLOADS,
    PCIE_ROOT,
    claim_object,
    claim_requests,
    node_slices,
    republished_slices,
)
from podium.benchmarks.profiles import default_profile


@pytest.mark.parametrize("gpus", [1, 2, 4, 8])
def test_each_gpu_pair_comes_with_its_nic_on_one_root(gpus: int) -> None:
    requests, constraints = claim_requests(gpus)
    counts = {r["name"]: r["exactly"].get("count", 1) for r in requests}
    assert sum(c for n, c in counts.items() if n.startswith("gpu")) == gpus
    assert sum(c for n, c in counts.items() if n.startswith("nic")) == max(1, gpus // 2)
    for c in constraints:
        assert c["matchAttribute"] == PCIE_ROOT
        assert {n[:3] for n in c["requests"]} == {"gpu", "nic"}
    # Every request is under a constraint: no GPU or NIC is left unaligned.
    assert {n for c in constraints for n in c["requests"]} == set(counts)


def test_dra_pods_ask_through_claims_and_their_twins_through_extended_resources() -> None:
    cluster = syn.plan_cluster(gpu_cluster_shape(20, seed=3))
    assert all(n.gpu for n in cluster.nodes)
    for dra, ext in zip(DRA_WORKLOADS, EXT_WORKLOADS, strict=True):
        (d,) = syn.pending_records(cluster, dra, 1)
        (e,) = syn.pending_records(cluster, ext, 1)
        pod = syn.pending_object(d, 1)
        requests = pod["spec"]["containers"][0]["resources"]["requests"]
        assert syn.GPU not in requests and syn.RDMA not in requests
        (ref,) = pod["spec"]["resourceClaims"]
        claim = claim_object(d.namespace, d.name, d.uid, d.gpus, 1)
        assert ref["resourceClaimName"] == claim["metadata"]["name"]
        twin = syn.pending_object(e, 1)["spec"]["containers"][0]["resources"]["requests"]
        assert int(twin[syn.GPU]) == d.gpus == e.gpus
        assert int(twin[syn.RDMA]) == max(1, d.gpus // 2)


def test_slices_put_two_gpus_and_a_nic_behind_each_root() -> None:
    gpu, nic = list(node_slices(["n0"]))
    roots = [d["attributes"][PCIE_ROOT]["string"] for d in gpu["spec"]["devices"]]
    assert len(roots) == 8 and all(roots.count(r) == 2 for r in roots)
    assert sorted(d["attributes"][PCIE_ROOT]["string"] for d in nic["spec"]["devices"]) == sorted(
        set(roots)
    )


@pytest.mark.parametrize("workload", ["dra_2gpu", "ext_2gpu", "dra_8gpu"])
def test_a_small_case_places_pods_with_their_devices(tmp_path: Path, workload: str) -> None:
    shape = gpu_cluster_shape(12, seed=1)
    generated = _generate(shape, tmp_path, 50, dra=True)
    spec = CaseSpec(
        shape=shape,
        workload=workload,
        pods=16,
        batch_size=8,
        profile_spec=default_profile().spec,
        node_pages=generated.node_pages.path,
        pod_pages=generated.pod_pages.path,
        schedule_budget=60.0,
        dra_pages=tuple(p.path for p in generated.dra_pages) if workload[:3] == "dra" else (),
    )
    result = run_case(spec)
    assert result.status == "ok", (result.note, result.violations)
    assert result.violations == {}
    # 12 nodes, one of them possibly cordoned: 2-GPU jobs all fit, 8-GPU jobs one a node.
    assert result.placed >= (16 if workload.endswith("2gpu") else 10)
    # CPU time: the first batch (8 pods) apart from the other 8 decisions.
    assert result.first_batch_pods == 8
    assert result.cycle_cpu_seconds >= result.first_batch_cpu_seconds > 0
    assert result.cpu_us_per_decision > 0


class _Reservation:
    def __init__(self, node: str, devices: list[str]) -> None:
        self.node = node
        self.devices = devices
        self.allocation = b"{}"


def test_the_checker_sees_a_device_in_two_claims() -> None:
    cluster = syn.plan_cluster(gpu_cluster_shape(4, seed=1))
    records = syn.pending_records(cluster, "dra_1gpu", 2)
    node = cluster.nodes[0].name
    devices = [f"gpu.nvidia.com/{node}/gpu-0", f"rdma.mellanox.com/{node}/nic-0"]
    placements = {r.uid: node for r in records}
    claims = {r.uid: [_Reservation(node, devices)] for r in records}
    bad = verify_claims(records, placements, claims)  # type: ignore[arg-type]
    assert bad == {"device allocated to two claims": 2}


@pytest.mark.parametrize("workload", ["dra_8gpu", "ext_8gpu"])
def test_pods_left_without_a_node_are_counted_by_reason(tmp_path: Path, workload: str) -> None:
    # 6 nodes, 10 whole-node jobs: 4 or more are left, every one because the GPUs are taken.
    shape = gpu_cluster_shape(6, seed=1)
    generated = _generate(shape, tmp_path, 50, dra=True)
    spec = CaseSpec(
        shape=shape,
        workload=workload,
        pods=10,
        batch_size=4,
        profile_spec=default_profile().spec,
        node_pages=generated.node_pages.path,
        pod_pages=generated.pod_pages.path,
        schedule_budget=60.0,
        dra_pages=tuple(p.path for p in generated.dra_pages) if workload[:3] == "dra" else (),
    )
    result = run_case(spec)
    assert result.status == "ok", (result.note, result.violations)
    left = result.decided - result.placed
    assert left >= 4
    assert sum(result.unplaced_by_reasons.values()) == left
    taken = "cannot allocate all claims" if workload[:3] == "dra" else "Insufficient nvidia.com/gpu"
    assert all(taken in why for why in result.unplaced_by_reasons), result.unplaced_by_reasons
    assert result.last_unplaced_message.startswith("0/6 nodes are available")


def test_slices_are_published_on_an_idle_gpu_only_cluster_only(tmp_path: Path) -> None:
    # On a mixed, busy cluster the slices would offer DRA pods GPUs the twins see taken.
    busy = syn.ClusterShape(nodes=4, pods_per_node=30, seed=1)
    with pytest.raises(ValueError, match="idle GPU-only"):
        _generate(busy, tmp_path, 50, dra=True)


def test_republished_slices_decide_as_before_and_their_apply_is_counted(tmp_path: Path) -> None:
    # Drivers publishing the same devices again between batches change no decision; the CPU
    # of applying them, and of applying the cluster's slices, is recorded apart.
    shape = gpu_cluster_shape(12, seed=1)
    generated = _generate(shape, tmp_path, 50, dra=True)

    def run(churn: int) -> CaseResult:
        return run_case(
            CaseSpec(
                shape=shape,
                workload="dra_2gpu",
                pods=24,
                batch_size=8,
                profile_spec=default_profile().spec,
                node_pages=generated.node_pages.path,
                pod_pages=generated.pod_pages.path,
                schedule_budget=60.0,
                dra_pages=tuple(p.path for p in generated.dra_pages),
                slice_churn=churn,
            )
        )

    still, churned = run(0), run(3)
    assert still.status == churned.status == "ok", (churned.note, churned.violations)
    assert still.dra_load_cpu_seconds > 0 and still.churn_slices == 0
    # Two batches after the first, three nodes' two slices each.
    assert churned.churn_slices == 2 * 3 * 2
    assert churned.churn_apply_cpu_seconds > 0
    assert len(still.decisions_sha256) == 64
    assert churned.decisions_sha256 == still.decisions_sha256


def test_republished_slices_are_the_same_devices_under_a_newer_generation() -> None:
    first = list(node_slices(["n0"]))
    again = republished_slices("n0", 7)
    assert [s["spec"]["pool"]["generation"] for s in again] == [7, 7]
    for a, b in zip(first, again, strict=True):
        assert a["spec"]["devices"] == b["spec"]["devices"]
        assert a["metadata"]["name"] == b["metadata"]["name"]
