"""The GPU packing benchmark's replay and kubelet model, on a cluster small enough for a test
(its figures are the benchmark's business, not checked here)."""

from __future__ import annotations

import dataclasses

import orjson

from podium.benchmarks.gpu_packing import (
    SCENARIOS,
    Job,
    ZoneModel,
    plain_profile,
    profiles,
    run_scenario,
)


def test_every_scenario_replays_the_same_stream_for_every_strategy() -> None:
    for name, options in SCENARIOS.items():
        report = run_scenario(
            dataclasses.replace(options, nodes=12, steps=24, mean_duration=6.0, batch_size=16),
            progress=lambda _: None,
        )
        results = report["results"]
        assert set(results) == {"podium", "LeastAllocated", "MostAllocated"}, name
        assert len({r["jobs"] for r in results.values()}) == 1, "one stream for all"
        podium = results["podium"]
        assert podium["numa_aligned_single"] in (0.0, 1.0)
        assert podium["split_single"] == 0
        assert podium["admission_failures"] == 0
        assert podium["zone_overfills"] == 0
        assert report["plain"]["decisions"] == podium["decisions"]
        assert "NodeResourceTopologyMatch" in report["plain"]["what"]


def test_plain_is_the_default_profile_without_the_numa_plugins() -> None:
    podium, plain = profiles()["podium"], plain_profile()
    assert set(podium.filters) - set(plain.filters) == {"NodeResourceTopologyMatch"}
    assert set(podium.scores) - set(plain.scores) == {"NUMAPacking"}
    assert plain.fit == podium.fit
    # kube-scheduler has no whole-node reservations: neither do the reference and baselines.
    assert podium.podium.reservation.max_node_share > 0
    assert plain.podium.reservation.max_node_share == 0
    assert all(
        p.podium.reservation.max_node_share == 0 for n, p in profiles().items() if n != "podium"
    )


def test_kubelet_restricted_admission_rejects_split_single_zone_jobs() -> None:
    model = ZoneModel(1)
    model.used["gpu-0000"] = [2, 2]
    small = Job(0, "a", 3, 0, 1)
    assert not model.admits(small, "gpu-0000", None), "3 GPUs only fit as 2+1"
    assert model.admits(Job(1, "b", 2, 0, 1), "gpu-0000", None)
    whole = Job(2, "c", 8, 0, 1)
    assert model.admits(whole, "gpu-0000", None), "larger than a zone: may span"
    split = orjson.dumps({"zones": [{"zone": "node-0"}, {"zone": "node-1"}]}).decode()
    assert not model.admits(small, "gpu-0000", split)
