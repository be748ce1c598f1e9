"""The DRA GPU replay's own bookkeeping (``podium.benchmarks.gpu_replay_dra``): the seeded
stream, the PCIe roots a job takes, and what is counted as stranded or free per step."""

from __future__ import annotations

from collections import Counter

from podium.benchmarks.gpu_replay_dra import (
    ReplayJob,
    ReplayOptions,
    SchedulerReplay,
    _harvest,
    _measure,
    _Running,
    job_stream,
    roots_of,
    stranded_gpus,
)


def test_the_stream_is_seeded_and_offers_the_load_in_roots() -> None:
    options = ReplayOptions(nodes=48, steps=200, load=1.0, mean_duration=10.0)
    jobs = job_stream(options)
    assert jobs == job_stream(options)
    assert jobs != job_stream(ReplayOptions(nodes=48, steps=200, load=1.0, seed=2))
    sizes = Counter(j.gpus for j in jobs)
    assert set(sizes) == {1, 2, 4, 8}
    offered = sum(j.roots * j.duration for j in jobs) / options.steps
    # Roots held at steady state, against the cluster's 192: the offered load, within noise.
    assert 0.85 * 192 < offered < 1.15 * 192


def test_a_job_takes_a_root_per_gpu_pair_and_a_single_gpu_a_whole_root() -> None:
    assert [roots_of(g) for g in (1, 2, 4, 8)] == [1, 1, 2, 4]


def test_free_gpus_are_stranded_where_no_waiting_size_fits() -> None:
    # Free roots and GPUs of three nodes: one whole, one with a root, one with a lone GPU.
    roots, gpus = [4, 1, 0], [8, 2, 1]
    assert stranded_gpus(roots, gpus, waiting=[]) == 0
    assert stranded_gpus(roots, gpus, waiting=[8]) == 3
    assert stranded_gpus(roots, gpus, waiting=[8, 1]) == 1
    assert stranded_gpus(roots, gpus, waiting=[4]) == 3


def test_a_binding_counts_on_the_step_it_was_seen_and_the_nodes_are_measured() -> None:
    jobs = [ReplayJob(0, 8, 0, 5), ReplayJob(1, 1, 0, 5), ReplayJob(2, 8, 1, 5)]
    running = _Running({j.name: j for j in jobs}, created={j.name for j in jobs})
    running.bound = {jobs[0].name: ("bench-00000", 10.5), jobs[1].name: ("bench-00001", 14.5)}
    result = SchedulerReplay("podium")
    _harvest(running, start=10.0, step_seconds=4.0, result=result)
    assert running.placed_at == {jobs[0].name: 0, jobs[1].name: 1}
    assert result.on_arrival_by_size == {8: 1}
    _measure(running, nodes=3, result=result)
    assert result.whole_nodes_free == [1]
    assert result.waiting == [1]
    # An 8-GPU job waits: the 7 GPUs left on the 1-GPU job's node are stranded.
    assert result.stranded == [7]
    assert result.partial_free_while_8_waits == [7]
