"""The conformance test's message comparison: static reasons exactly, load reasons by spelling."""

from __future__ import annotations

from collections import Counter

from tests.integration.conformance.messages import differences, parse

KUBE = (
    "0/5 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node "
    "affinity/selector, 3 node(s) had untolerated taint(s). no new claims to deallocate, "
    "preemption: 0/5 nodes are available: 5 No preemption victims found for incoming pod."
)


def test_parse_counts_reasons_and_drops_the_preemption_part() -> None:
    parsed = parse(KUBE)
    assert parsed is not None
    assert parsed.nodes == 5
    assert parsed.reasons == Counter(
        {
            "Insufficient cpu": 1,
            "node(s) didn't match Pod's node affinity/selector": 1,
            "node(s) had untolerated taint(s)": 3,
        }
    )
    prefilter = parse("0/4 nodes are available: pod affinity terms conflict.")
    assert prefilter is not None and prefilter.reasons == {"pod affinity terms conflict": 4}
    assert parse("no nodes available to schedule pods") is None
    gpus = parse("0/2 nodes are available: 2 Insufficient nvidia.com/gpu. preemption: x.")
    assert gpus is not None and gpus.reasons == {"Insufficient nvidia.com/gpu": 2}


def test_load_reasons_may_differ_static_ones_may_not() -> None:
    same_statics = (
        "0/5 nodes are available: 1 Too many pods, 1 node(s) didn't match Pod's node "
        "affinity/selector, 3 node(s) had untolerated taint(s)."
    )
    assert differences(KUBE, same_statics) == []
    drifted = (
        "0/5 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node "
        "affinity/selector, 3 node(s) had untolerated taint {dedicated: infra}."
    )
    assert differences(KUBE, drifted) == [
        "'node(s) had untolerated taint {dedicated: infra}': kube 0 node(s), podium 3",
        "'node(s) had untolerated taint(s)': kube 3 node(s), podium 0",
    ]
    # A load reason spelled otherwise is no load reason: it must then match exactly.
    misspelled = same_statics.replace("Too many pods", "Too many Pods")
    assert differences(KUBE, misspelled) == ["'Too many Pods': kube 0 node(s), podium 1"]
    assert differences(KUBE, same_statics.replace("0/5", "0/6")) == [
        "node totals differ: kube 0/5, podium 0/6"
    ]
    assert differences(KUBE, "oops") == ["not kube's message form: 'oops'"]


def test_late_static_reasons_may_only_be_fewer_on_podiums_side() -> None:
    kube = (
        "0/4 nodes are available: 2 Insufficient cpu, "
        "2 node(s) didn't match PersistentVolume's node affinity."
    )
    fuller = kube.replace("2 Insufficient", "3 Insufficient").replace("2 node(s)", "1 node(s)")
    assert differences(kube, fuller) == []
    more = kube.replace("2 Insufficient", "1 Insufficient").replace("2 node(s)", "3 node(s)")
    assert differences(kube, more) == [
        "\"node(s) didn't match PersistentVolume's node affinity\": kube 2 node(s), podium 3"
    ]
