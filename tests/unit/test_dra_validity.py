"""The DRA validity checker (tests/integration/conformance/dra_validity.py) refuses what it
must: it is what stands behind "podium's own placements are valid"."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from tests.integration.conformance import dra_validity
from tests.integration.conformance.dra_generator import (
    ClaimSpec,
    DraOptions,
    DraScenario,
    Request,
    generate,
)

JSON = dict[str, Any]
GPU, WHOLE, NIC = "gpu-t", "gpu-whole-t", "nic-t"


def _scenario(specs: dict[str, ClaimSpec], pods: dict[str, list[str]]) -> DraScenario:
    # Nodes n-0..4 are h100, n-5..6 a100, n-7..8 partitioned, n-9..10 tainted.
    base = generate(1, DraOptions("ns", "s", "n", {}, tag="t", nodes=11, pods=10))
    return dataclasses.replace(
        base,
        claim_specs=specs,
        pod_claims={p: [(c, c, None) for c in claims] for p, claims in pods.items()},
    )


def _pod(name: str, node: str | None) -> JSON:
    return {"metadata": {"name": name, "uid": f"uid-{name}"}, "spec": {"nodeName": node}}


def _claim(name: str, node: str, devices: list[tuple[str, str]], reserved: list[str]) -> JSON:
    driver = {"g": "gpu.t.example.com", "n": "nic.t.example.com"}
    return {
        "metadata": {"name": name},
        "status": {
            "allocation": {
                "devices": {
                    "results": [
                        {"request": r, "driver": driver[d[0]], "pool": node, "device": d}
                        for r, d in devices
                    ]
                },
                "nodeSelector": {
                    "nodeSelectorTerms": [
                        {
                            "matchFields": [
                                {"key": "metadata.name", "operator": "In", "values": [node]}
                            ]
                        }
                    ]
                },
            },
            "reservedFor": [{"resource": "pods", "name": p, "uid": f"uid-{p}"} for p in reserved],
        },
    }


ALIGNED = ClaimSpec(((Request("gpu", GPU, count=2),), (Request("nic", NIC),)), aligned=True)
ONE = ClaimSpec(((Request("gpu", GPU),),))


def test_a_valid_allocation_passes() -> None:
    scenario = _scenario({"c0": ALIGNED}, {"p0": ["c0"]})
    claim = _claim("c0", "n-0", [("r0", "gpu-0"), ("r0", "gpu-1"), ("r1", "nic-0")], ["p0"])
    assert dra_validity.problems(scenario, [_pod("p0", "n-0")], [claim]) == []


@pytest.mark.parametrize(
    ("devices", "expected"),
    [
        ([("r0", "gpu-0"), ("r0", "gpu-2"), ("r1", "nic-0")], "PCIe roots"),
        ([("r0", "gpu-0"), ("r1", "nic-0")], "1 devices for count 2"),
        ([("r0", "gpu-0"), ("r0", "gpu-1"), ("r0", "nic-0")], "not admitted"),
    ],
)
def test_a_broken_claim_is_refused(devices: list[tuple[str, str]], expected: str) -> None:
    scenario = _scenario({"c0": ALIGNED}, {"p0": ["c0"]})
    found = dra_validity.problems(
        scenario, [_pod("p0", "n-0")], [_claim("c0", "n-0", devices, ["p0"])]
    )
    assert any(expected in p for p in found), found


def test_a_device_in_two_claims_is_refused() -> None:
    scenario = _scenario({"c0": ONE, "c1": ONE}, {"p0": ["c0"], "p1": ["c1"]})
    claims = [
        _claim("c0", "n-0", [("r0", "gpu-3")], ["p0"]),
        _claim("c1", "n-0", [("r0", "gpu-3")], ["p1"]),
    ]
    found = dra_validity.problems(scenario, [_pod("p0", "n-0"), _pod("p1", "n-0")], claims)
    assert any("in claims c0 and c1" in p for p in found), found


def test_bound_without_reservation_or_elsewhere_is_refused() -> None:
    scenario = _scenario({"c0": ONE}, {"p0": ["c0"]})
    unreserved = dra_validity.problems(
        scenario, [_pod("p0", "n-0")], [_claim("c0", "n-0", [("r0", "gpu-0")], [])]
    )
    assert any("not reserved for it" in p for p in unreserved), unreserved
    elsewhere = dra_validity.problems(
        scenario, [_pod("p0", "n-1")], [_claim("c0", "n-0", [("r0", "gpu-0")], ["p0"])]
    )
    assert any("node selector excludes it" in p for p in elsewhere), elsewhere


def test_untolerated_taint_and_overdrawn_counters_are_refused() -> None:
    tolerating = ClaimSpec(((Request("gpu", GPU, tolerates=True),),))
    scenario = _scenario(
        {"c0": ONE, "c1": tolerating, "c2": ONE, "c3": ONE},
        {"p0": ["c0"], "p1": ["c1"], "p2": ["c2"], "p3": ["c3"]},
    )
    pods = [_pod("p0", "n-9"), _pod("p1", "n-9"), _pod("p2", "n-7"), _pod("p3", "n-7")]
    claims = [
        _claim("c0", "n-9", [("r0", "gpu-6")], ["p0"]),
        _claim("c1", "n-9", [("r0", "gpu-7")], ["p1"]),
        # A whole partitionable GPU and one of its halves: 120Gi of an 80Gi counter set.
        _claim("c2", "n-7", [("r0", "gpu-0")], ["p2"]),
        _claim("c3", "n-7", [("r0", "gpu-0-p1")], ["p3"]),
    ]
    found = dra_validity.problems(scenario, pods, claims)
    assert any("claim c0" in p and "gpu-6 not admitted" in p for p in found), found
    assert not any("claim c1" in p for p in found), found
    assert any("counter set n-7/gpu-0" in p for p in found), found


def test_all_must_take_every_admitted_device() -> None:
    every_nic = ClaimSpec(((Request("nics", NIC, all_devices=True),),))
    scenario = _scenario({"c0": every_nic}, {"p0": ["c0"]})
    some = [("r0", "nic-0"), ("r0", "nic-1")]
    found = dra_validity.problems(
        scenario, [_pod("p0", "n-0")], [_claim("c0", "n-0", some, ["p0"])]
    )
    assert any("(All)" in p for p in found), found
    every = [("r0", f"nic-{j}") for j in range(4)]
    assert (
        dra_validity.problems(scenario, [_pod("p0", "n-0")], [_claim("c0", "n-0", every, ["p0"])])
        == []
    )


def test_first_available_uses_one_alternative() -> None:
    first = ClaimSpec(((Request("x2", WHOLE, count=2), Request("x1", WHOLE)),))
    scenario = _scenario({"c0": first}, {"p0": ["c0"]})
    mixed = [("r0/x2", "gpu-0"), ("r0/x1", "gpu-1")]
    found = dra_validity.problems(
        scenario, [_pod("p0", "n-0")], [_claim("c0", "n-0", mixed, ["p0"])]
    )
    assert any("2 firstAvailable alternatives" in p for p in found), found


def test_admin_access_shares_the_device() -> None:
    monitor = ClaimSpec(((Request("gpu", GPU, admin=True),),))
    scenario = _scenario({"c0": ONE, "c1": monitor}, {"p0": ["c0"], "p1": ["c1"]})
    monitored = _claim("c1", "n-0", [("r0", "gpu-3")], ["p1"])
    monitored["status"]["allocation"]["devices"]["results"][0]["adminAccess"] = True
    claims = [_claim("c0", "n-0", [("r0", "gpu-3")], ["p0"]), monitored]
    pods = [_pod("p0", "n-0"), _pod("p1", "n-0")]
    assert dra_validity.problems(scenario, pods, claims) == []


def test_a_pod_asking_an_extended_resource_needs_its_claim_allocated_as_it_asks() -> None:
    scenario = dataclasses.replace(
        _scenario({}, {}),
        extended={"p0": 2},
        extended_resource="t.example.com/gpu",
        extended_class="gpu-extended-t",
    )
    request = "container-0-request-0"
    pod = _pod("p0", "n-0")
    unrecorded = dra_validity.problems(scenario, [pod], [])
    assert any("claim (extended resources) (None) not found" in p for p in unrecorded), unrecorded
    pod["status"] = {
        "extendedResourceClaimStatus": {
            "resourceClaimName": "p0-extended-resources-x",
            "requestMappings": [
                {"containerName": "c", "resourceName": "t.example.com/gpu", "requestName": request}
            ],
        }
    }
    good = _claim(
        "p0-extended-resources-x", "n-0", [(request, "gpu-0"), (request, "gpu-1")], ["p0"]
    )
    assert dra_validity.problems(scenario, [pod], [good]) == []
    short = _claim("p0-extended-resources-x", "n-0", [(request, "gpu-0")], ["p0"])
    found = dra_validity.problems(scenario, [pod], [short])
    assert any("1 devices for count 2" in p for p in found), found
    nic = _claim("p0-extended-resources-x", "n-0", [(request, "gpu-0"), (request, "nic-0")], ["p0"])
    found = dra_validity.problems(scenario, [pod], [nic])
    assert any("not admitted" in p for p in found), found
