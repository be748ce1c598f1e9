"""Fair share in simulation, in the core without an apiserver: four teams of weights 1 to 4
under one parent quota keep submitting GPU jobs (mostly one GPU, some four) that run a while and
finish. The scheduling queue serves them in its fair-share order (from ``podium._core``'s quota
ledger) and the core places them; over time each team's share of the GPUs converges to its
weighted fair share: its min, plus what the mins leave idle split by weight. In kube's order
(priority, then age) the same workload shares the GPUs about evenly, which this test shows too,
so that it can tell the two apart."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import orjson
import pytest

from podium._core import ClusterState, Kind, PendingPod, Profile
from podium.queue import SchedulingQueue

NODES, GPUS_PER_NODE = 16, 8
CAPACITY = NODES * GPUS_PER_NODE
WEIGHTS = {"team-1": 1, "team-2": 2, "team-3": 3, "team-4": 4}
TEAM_MIN = 4
BACKLOG = 24  # pending jobs each team keeps: demand is never met
TICKS, WARMUP = 400, 100


def fair_share(team: str) -> float:
    """Its min, and the GPUs no min guarantees split by weight."""
    idle = CAPACITY - TEAM_MIN * len(WEIGHTS)
    return TEAM_MIN + idle * WEIGHTS[team] / sum(WEIGHTS.values())


def _event(kind: str, obj: dict[str, object]) -> bytes:
    return orjson.dumps({"type": kind, "object": obj})


def _quota(namespace: str, min_gpus: int, annotations: dict[str, str]) -> dict[str, object]:
    return {
        "metadata": {"name": "gpus", "namespace": namespace, "annotations": annotations},
        "spec": {"min": {"nvidia.com/gpu": min_gpus}, "max": {"nvidia.com/gpu": CAPACITY}},
    }


def _pod(uid: str, team: str, gpus: int, created: float, node: str | None) -> dict[str, object]:
    spec: dict[str, object] = {
        "schedulerName": "podium",
        "containers": [
            {
                "name": "c",
                "resources": {
                    "requests": {"nvidia.com/gpu": str(gpus), "cpu": "1"},
                    "limits": {"nvidia.com/gpu": str(gpus)},
                },
            }
        ],
    }
    if node is not None:
        spec["nodeName"] = node
    return {
        "metadata": {
            "name": uid,
            "namespace": team,
            "uid": uid,
            "resourceVersion": "1",
            "creationTimestamp": None,
        },
        "spec": spec,
        "status": {"phase": "Running" if node else "Pending"},
        "podium_created": created,
    }


@dataclass
class Simulation:
    fair: bool
    seed: int = 7
    # Every this many jobs, one asks four GPUs (0: all ask one).
    multi_every: int = 6
    now: float = 0.0
    state: ClusterState = field(default_factory=lambda: ClusterState(["podium"]))
    running: dict[str, tuple[str, int, float]] = field(default_factory=dict)  # uid: team, gpus, end
    pending: dict[str, int] = field(default_factory=lambda: dict.fromkeys(WEIGHTS, 0))
    jobs: int = 0
    gpus_of: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.queue: SchedulingQueue[PendingPod] = SchedulingQueue(
            initial_backoff=0.001,
            max_backoff=0.001,
            clock=lambda: self.now,
            fair_share=self.state.fair_share if self.fair else None,
        )
        self.profile = Profile(
            {
                "schedulerName": "podium",
                "filters": ["NodeResourcesFit", "CapacityScheduling"],
                "scores": {"NodeResourcesFit": 1},
            }
        )
        for i in range(NODES):
            node = {
                "metadata": {"name": f"n{i}", "uid": f"n{i}", "resourceVersion": "1"},
                "status": {
                    "allocatable": {
                        "cpu": "64",
                        "memory": "512Gi",
                        "pods": "110",
                        "nvidia.com/gpu": str(GPUS_PER_NODE),
                    }
                },
            }
            self.state.apply_event(Kind.NODE, _event("ADDED", node))
        # One parent guarantees the whole cluster: what the teams' mins leave is lent by weight.
        quotas = [_quota("org", CAPACITY, {})] + [
            _quota(team, TEAM_MIN, {"podium.dev/parent": "org", "podium.dev/weight": str(w)})
            for team, w in WEIGHTS.items()
        ]
        for quota in quotas:
            change = self.state.apply_event(Kind.ELASTIC_QUOTA, _event("ADDED", quota))
            assert change.error is None, change.error

    def submit(self) -> None:
        for team in WEIGHTS:
            while self.pending[team] < BACKLOG:
                self.jobs += 1
                uid = f"{team}-{self.jobs}"
                gpus = 4 if self.multi_every and self.jobs % self.multi_every == 0 else 1
                self.gpus_of[uid] = gpus
                body = _pod(uid, team, gpus, self.now, None)
                self.state.apply_event(Kind.POD, _event("ADDED", body))
                pod = self.state.pending_pod(uid)
                assert pod is not None
                self.queue.add(pod)
                self.pending[team] += 1

    def finish(self) -> None:
        for uid, (team, gpus, end) in list(self.running.items()):
            if end <= self.now:
                del self.running[uid]
                body = _pod(uid, team, gpus, 0.0, "gone")
                self.state.apply_event(Kind.POD, _event("DELETED", body))
        self.queue.move_all_to_active_or_backoff("AssignedPodDelete")

    async def schedule(self) -> None:
        self.queue.flush()
        # pop_batch waits for an active pod: pop only while there is one.
        while self.queue.pending_counts()["active"]:
            batch = await self.queue.pop_batch(16)
            decisions = self.state.snapshot().schedule([p.uid for p in batch], self.profile)
            for pod, decision in zip(batch, decisions, strict=True):
                if decision.node is None:
                    self.queue.requeue(pod, unschedulable=True)
                    continue
                self.state.assume(pod.uid, decision.node, None)
                self.queue.done(pod.uid)
                end = self.now + self.rng.randint(4, 16)
                self.running[pod.uid] = (pod.namespace, self.gpus_of.pop(pod.uid), end)
                self.pending[pod.namespace] -= 1

    def gpus_used(self) -> dict[str, int]:
        used = dict.fromkeys(WEIGHTS, 0)
        for team, gpus, _ in self.running.values():
            used[team] += gpus
        return used

    async def run(self) -> dict[str, float]:
        """Each team's mean GPUs after the warm-up."""
        totals = dict.fromkeys(WEIGHTS, 0.0)
        for tick in range(TICKS):
            self.now = float(tick)
            self.finish()
            self.submit()
            await self.schedule()
            if tick >= WARMUP:
                for team, used in self.gpus_used().items():
                    totals[team] += used
        return {team: total / (TICKS - WARMUP) for team, total in totals.items()}


def _off_by(means: dict[str, float]) -> dict[str, float]:
    """Each team's distance from its fair share, relative to it."""
    return {team: abs(mean - fair_share(team)) / fair_share(team) for team, mean in means.items()}


@pytest.mark.parametrize("seed", [7, 11])
async def test_each_teams_share_converges_to_its_weighted_fair_share(seed: int) -> None:
    sim = Simulation(fair=True, seed=seed)
    means = await sim.run()
    off = _off_by(means)
    assert max(off.values()) <= 0.05, {t: (round(means[t], 2), fair_share(t)) for t in means}
    # Every GPU busy: the order shares the cluster, it does not leave it idle.
    assert sum(means.values()) >= 0.95 * CAPACITY


async def test_kubes_order_misses_the_weighted_shares() -> None:
    """The same workload in kube's order: the simulation above could fail."""
    means = await Simulation(fair=False).run()
    assert max(_off_by(means).values()) > 0.3, means
