"""VolumeBinding and the volume kinds across the Python boundary: PV/PVC/StorageClass pages
feed the ClusterState, a batch does not hand one free local PV to two pods, explain names the
volume reasons. The logic is unit-tested in Rust (``filter/volume_binding.rs``)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from podium._core import ClaimBinding, ClusterState, Code, CoreError, Kind, Profile

PROFILE = Profile(
    {
        "schedulerName": "podium",
        "filters": ["NodeUnschedulable", "NodeResourcesFit", "VolumeBinding"],
        "scores": {"NodeResourcesFit": 1, "ImageLocality": 1},
        "parallelism": 2,
    }
)


def node(name: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "uid": f"uid-{name}",
            "labels": {"kubernetes.io/hostname": name},
        },
        "status": {"allocatable": {"cpu": "8", "memory": "16Gi", "pods": "110"}},
    }


def local_pv(name: str, node_name: str) -> dict[str, Any]:
    term = {"key": "kubernetes.io/hostname", "operator": "In", "values": [node_name]}
    return {
        "metadata": {"name": name},
        "spec": {
            "capacity": {"storage": "10Gi"},
            "storageClassName": "local",
            "accessModes": ["ReadWriteOnce"],
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [term]}]}},
        },
        "status": {"phase": "Available"},
    }


def claim(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {
            "storageClassName": "local",
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "5Gi"}},
        },
    }


def pod(uid: str, claim_name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": uid, "namespace": "ns", "uid": uid},
        "spec": {
            "schedulerName": "podium",
            "containers": [{"name": "c", "image": "app:v1"}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim_name}}],
        },
        "status": {"phase": "Pending"},
    }


def page(*items: dict[str, Any]) -> bytes:
    return orjson.dumps({"metadata": {"resourceVersion": "1"}, "items": list(items)})


def state() -> ClusterState:
    s = ClusterState(["podium"])
    s.apply_list(Kind.NODE, page(node("n1"), node("n2")))
    s.apply_list(Kind.PERSISTENT_VOLUME, page(local_pv("pv1", "n1")))
    s.apply_list(Kind.PERSISTENT_VOLUME_CLAIM, page(claim("a"), claim("b")))
    storage_class = {
        "metadata": {"name": "local"},
        "provisioner": "kubernetes.io/no-provisioner",
        "volumeBindingMode": "WaitForFirstConsumer",
    }
    s.apply_list(Kind.STORAGE_CLASS, page(storage_class))
    s.apply_list(Kind.POD, page(pod("p1", "a"), pod("p2", "b"), pod("p3", "missing")))
    return s


def test_one_free_pv_goes_to_one_pod_of_a_batch() -> None:
    snap = state().snapshot()
    assert snap.explain("p1", PROFILE) == {
        "n1": [],
        "n2": ["node(s) didn't find available persistent volumes to bind"],
    }
    first, second = snap.schedule(["p1", "p2"], PROFILE)
    assert (first.code, first.node) == (Code.SUCCESS, "n1")
    assert second.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert second.reasons == {"node(s) didn't find available persistent volumes to bind": 2}


def test_assumed_pods_keep_their_pv_across_snapshots() -> None:
    s = state()
    s.assume("p1", "n1", None)
    assert s.snapshot().explain("p2", PROFILE)["n1"] == [
        "node(s) didn't find available persistent volumes to bind"
    ]
    s.forget("p1")
    assert s.snapshot().explain("p2", PROFILE)["n1"] == []


def test_missing_claim_and_change_reports() -> None:
    s = state()
    [decision] = s.snapshot().schedule(["p3"], PROFILE)
    assert decision.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert 'persistentvolumeclaim "missing" not found' in decision.message
    line = orjson.dumps({"type": "ADDED", "object": claim("missing")})
    change = s.apply_event(Kind.PERSISTENT_VOLUME_CLAIM, line)
    assert (change.namespace, change.name, change.error) == ("ns", "missing", None)
    bad = claim("bad")
    bad["spec"]["resources"]["requests"]["storage"] = "5Qi"
    change = s.apply_event(
        Kind.PERSISTENT_VOLUME_CLAIM, orjson.dumps({"type": "ADDED", "object": bad})
    )
    assert change.error is not None
    assert "PersistentVolumeClaim ns/bad" in change.error
    assert "spec.resources.requests.storage" in change.error


def test_the_decision_names_the_pv_each_claim_takes_and_assume_reserves_it() -> None:
    s = state()
    first, second = s.snapshot().schedule(["p1", "p2"], PROFILE)
    assert [(b.claim, b.volume) for b in first.volumes] == [("a", "pv1")]
    assert second.volumes == []
    s.assume(first.uid, "n1", None, first.volumes)
    assert s.snapshot().explain("p2", PROFILE)["n1"] == [
        "node(s) didn't find available persistent volumes to bind"
    ]
    # A decision whose PV another pod holds meanwhile is refused at assume.
    with pytest.raises(CoreError, match='PersistentVolume "pv1" is no longer free for claim ns/b'):
        s.assume("p2", "n1", None, [ClaimBinding("b", "pv1")])
    assert not s.is_assumed("p2")
    s.forget("p1")
    s.assume("p2", "n1", None, [ClaimBinding("b", "pv1")])
    assert s.is_assumed("p2")


def test_a_claim_to_provision_has_no_pv() -> None:
    s = state()
    provisioning = {
        "metadata": {"name": "local"},
        "provisioner": "csi.example.com",
        "volumeBindingMode": "WaitForFirstConsumer",
    }
    s.apply_list(Kind.STORAGE_CLASS, page(provisioning))
    first, second = s.snapshot().schedule(["p1", "p2"], PROFILE)
    # Claim a may take pv1 on n1 or be provisioned on n2: both nodes score alike, and the tie
    # is broken by a hash, so either is right; the PV goes with n1 only.
    expected = {"n1": [("a", "pv1")], "n2": [("a", None)]}
    assert [(b.claim, b.volume) for b in first.volumes] == expected[first.node or ""]
    assert second.code == Code.SUCCESS
    if first.node == "n1":
        assert [(b.claim, b.volume) for b in second.volumes] == [("b", None)]


def test_the_cache_shows_claims_and_pvs_as_prebind_checks_them() -> None:
    s = state()
    bound = claim("a")
    bound["metadata"].update(
        uid="claim-a",
        resourceVersion="42",
        annotations={
            "pv.kubernetes.io/bind-completed": "yes",
            "volume.kubernetes.io/selected-node": "n1",
        },
    )
    bound["spec"]["volumeName"] = "pv1"
    s.apply_event(Kind.PERSISTENT_VOLUME_CLAIM, orjson.dumps({"type": "MODIFIED", "object": bound}))
    info = s.claim("ns", "a")
    assert info is not None
    assert (info.uid, info.resource_version, info.volume_name, info.selected_node) == (
        "claim-a",
        42,
        "pv1",
        "n1",
    )
    assert info.fully_bound
    b = s.claim("ns", "b")
    assert b is not None and not b.fully_bound and b.volume_name is None
    assert s.claim("ns", "nope") is None
    pv = local_pv("pv1", "n1")
    pv["metadata"]["resourceVersion"] = "43"
    pv["spec"]["claimRef"] = {"namespace": "ns", "name": "a", "uid": "claim-a"}
    s.apply_event(Kind.PERSISTENT_VOLUME, orjson.dumps({"type": "MODIFIED", "object": pv}))
    volume = s.volume("pv1")
    assert volume is not None
    assert (volume.resource_version, volume.claim) == (43, ("ns", "a", "claim-a"))
    assert (s.volume_fits_node("pv1", "n1"), s.volume_fits_node("pv1", "n2")) == (True, False)
    assert s.volume_fits_node("pv1", "nope") is None
