"""An independent check of DRA placements, from the objects as the apiserver lists them.

It knows the devices and what each claim asks from the generator (``dra_generator``), selectors
included as Python predicates, and reads nothing of podium's: so it judges podium's placements
and kube-scheduler's alike (the test runs it on both; kube-scheduler's passing is what keeps this
reading of kube's semantics honest).

What must hold:

- every bound pod's claims are allocated on its node and reserved for it, the claim made for
  its extended resources (named in ``status.extendedResourceClaimStatus``) included;
- every claim reserved for a pod is reserved only for pods bound to the claim's node;
- per request: ExactCount gives ``count`` devices, All every device of the node that the class,
  the selectors and the tolerations admit; ``firstAvailable`` uses exactly one alternative; each
  device is of the request's class and satisfies every selector; a tainted device only for a
  request tolerating the taint;
- ``matchAttribute`` on the PCIe root: one root for all of the claim's devices;
- no device is in two claims, and no counter set is drawn beyond what it holds (a device
  allocated with adminAccess is monitored, not taken: it counts for neither).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from podium.testing.dra import PCIE_ROOT

from .dra_generator import ClaimSpec, Device, DraScenario, Request

JSON = dict[str, Any]


def claim_of(pod: JSON, pod_claim: str, claim: str | None) -> str | None:
    """The ResourceClaim name behind a pod's claim: named, or generated from its template (as
    ``status.resourceClaimStatuses`` says; None until the controller made it)."""
    if claim is not None:
        return claim
    for status in pod.get("status", {}).get("resourceClaimStatuses", []):
        if status.get("name") == pod_claim:
            name = status.get("resourceClaimName")
            return str(name) if name else None
    return None


def extended_claim_of(pod: JSON) -> str | None:
    """The claim a scheduler made for the pod's extended resources, as its
    ``status.extendedResourceClaimStatus`` names it (None: none recorded)."""
    status = pod.get("status", {}).get("extendedResourceClaimStatus") or {}
    name = status.get("resourceClaimName")
    return str(name) if name else None


def _extended_claims(scenario: DraScenario, pod: JSON) -> list[tuple[str, str | None, str | None]]:
    """(pod claim, claim, template) entries for the claim of a pod's extended resources."""
    if pod["metadata"]["name"] not in scenario.extended:
        return []
    return [("(extended resources)", extended_claim_of(pod) or "(none recorded)", None)]


def reservation_problems(
    scenario: DraScenario, pods: Iterable[JSON], claims: Iterable[JSON]
) -> list[str]:
    """Bound pods whose claims are not allocated on their node and reserved for them. Run on a
    pod listing taken *before* the claim listing, it proves the reservation came before the
    Binding: a reservation written later would be missing for a pod seen bound earlier."""
    by_name = {c["metadata"]["name"]: c for c in claims}
    problems: list[str] = []
    for pod in pods:
        node = pod["spec"].get("nodeName")
        if not node:
            continue
        name, uid = pod["metadata"]["name"], pod["metadata"]["uid"]
        entries = [*scenario.pod_claims.get(name, []), *_extended_claims(scenario, pod)]
        for pod_claim, claim_name, template in entries:
            actual = claim_of(pod, pod_claim, claim_name)
            claim = by_name.get(actual) if actual else None
            if claim is None:
                problems.append(f"pod {name} on {node}: claim {pod_claim} ({template}) not found")
                continue
            status = claim.get("status", {})
            allocation = status.get("allocation")
            if not allocation:
                problems.append(f"pod {name} on {node}: claim {actual} not allocated")
                continue
            pools = {r["pool"] for r in allocation["devices"]["results"]}
            if pools - {node}:
                problems.append(f"pod {name} on {node}: claim {actual} has devices of {pools}")
            if not _selects(allocation.get("nodeSelector"), node):
                problems.append(f"pod {name} on {node}: claim {actual}'s node selector excludes it")
            if uid not in {r.get("uid") for r in status.get("reservedFor", [])}:
                problems.append(f"pod {name} on {node}: claim {actual} not reserved for it")
    return problems


def problems(scenario: DraScenario, pods: Iterable[JSON], claims: Iterable[JSON]) -> list[str]:
    """Everything wrong with the final state (empty: valid)."""
    pods = list(pods)
    claims = list(claims)
    out = reservation_problems(scenario, pods, claims)
    nodes_by_uid = {p["metadata"]["uid"]: p["spec"].get("nodeName") for p in pods}
    spec_of = _claim_specs(scenario, pods)
    devices = {(d.pool, d.name): d for d in scenario.devices}
    by_node: dict[str, list[Device]] = defaultdict(list)
    for each in scenario.devices:
        by_node[each.pool].append(each)
    owner: dict[tuple[str, str], str] = {}
    drawn: dict[tuple[str, str], int] = defaultdict(int)
    for claim in claims:
        name = claim["metadata"]["name"]
        allocation = claim.get("status", {}).get("allocation")
        spec = spec_of.get(name)
        if not allocation or spec is None:
            continue
        results = allocation["devices"]["results"]
        nodes = {r["pool"] for r in results}
        if len(nodes) != 1:
            out.append(f"claim {name}: devices of several nodes {sorted(nodes)}")
            continue
        (node,) = nodes
        for reserved in claim["status"].get("reservedFor", []):
            if nodes_by_uid.get(reserved.get("uid")) != node:
                out.append(
                    f"claim {name} on {node}: reserved for {reserved.get('name')}, not bound there"
                )
        chosen: list[Device] = []
        for result in results:
            device = devices.get((result["pool"], result["device"]))
            if device is None or device.driver != result["driver"]:
                out.append(f"claim {name}: unknown device {result}")
                continue
            chosen.append(device)
            if result.get("adminAccess"):
                continue  # monitored, not taken: shares the device with its user
            key = (device.pool, device.name)
            if key in owner:
                out.append(f"device {key} in claims {owner[key]} and {name}")
            owner[key] = name
            for counter_set, amount in device.consumes.items():
                drawn[(device.pool, counter_set)] += amount
        out += [
            f"claim {name} on {node}: {p}"
            for p in _request_problems(scenario, spec, results, by_node[node], devices)
        ]
        if spec.aligned:
            roots = {d.attributes[PCIE_ROOT] for d in chosen}
            if len(roots) > 1:
                out.append(
                    f"claim {name} on {node}: devices on PCIe roots {sorted(map(str, roots))}"
                )
    for (pool, counter_set), amount in drawn.items():
        held = scenario.counters.get(pool, {}).get(counter_set, 0)
        if amount > held:
            out.append(f"counter set {pool}/{counter_set}: {amount} drawn of {held}")
    return out


def _claim_specs(scenario: DraScenario, pods: Iterable[JSON]) -> dict[str, ClaimSpec]:
    """Claim name -> what it asks, generated claims included (their template's spec)."""
    specs = {n: s for n, s in scenario.claim_specs.items() if not n.startswith("t")}
    for pod in pods:
        name = pod["metadata"]["name"]
        mappings = (pod.get("status", {}).get("extendedResourceClaimStatus") or {}).get(
            "requestMappings"
        ) or []
        if name in scenario.extended and (actual := extended_claim_of(pod)) and mappings:
            specs[actual] = scenario.extended_spec(name, str(mappings[0]["requestName"]))
        for pod_claim, claim, template in scenario.pod_claims.get(pod["metadata"]["name"], []):
            if template is not None:
                actual = claim_of(pod, pod_claim, claim)
                if actual is not None:
                    specs[actual] = scenario.claim_specs[template]
    return specs


def _request_problems(
    scenario: DraScenario,
    spec: ClaimSpec,
    results: list[JSON],
    node_devices: list[Device],
    devices: Mapping[tuple[str, str], Device],
) -> list[str]:
    out: list[str] = []
    seen = 0
    for index, alternatives in enumerate(spec.requests):
        name = spec.request_name(index)
        if len(alternatives) == 1:
            used: list[tuple[Request, list[JSON]]] = [
                (alternatives[0], [r for r in results if r["request"] == name])
            ]
        else:
            used = [
                (a, mine)
                for a in alternatives
                if (mine := [r for r in results if r["request"] == f"{name}/{a.name}"])
            ]
            if len(used) != 1:
                out.append(f"request {name}: {len(used)} firstAvailable alternatives used")
                continue
        ((request, mine),) = used
        seen += len(mine)
        chosen = [
            devices[(r["pool"], r["device"])] for r in mine if (r["pool"], r["device"]) in devices
        ]
        admitted = [d for d in node_devices if _admits(scenario, request, d)]
        if request.all_devices:
            if {d.name for d in chosen} != {d.name for d in admitted} or not admitted:
                out.append(
                    f"request {request.name} (All): got {sorted(d.name for d in chosen)}, "
                    f"admitted {sorted(d.name for d in admitted)}"
                )
        elif len(mine) != request.count:
            out.append(f"request {request.name}: {len(mine)} devices for count {request.count}")
        for device in chosen:
            if not _admits(scenario, request, device):
                out.append(f"request {request.name}: device {device.name} not admitted")
    if seen != len(results):
        out.append(f"{len(results) - seen} result(s) for no request of the claim")
    return out


def _admits(scenario: DraScenario, request: Request, device: Device) -> bool:
    selectors = (*scenario.class_selectors[request.device_class], *request.selectors)
    if not all(s.holds(device) for s in selectors):
        return False
    return request.tolerates or not device.tainted


def _selects(node_selector: JSON | None, node: str) -> bool:
    if not node_selector:
        return True
    for term in node_selector.get("nodeSelectorTerms", []):
        for field in term.get("matchFields", []):
            if field.get("key") == "metadata.name" and node in field.get("values", []):
                return True
    return False
