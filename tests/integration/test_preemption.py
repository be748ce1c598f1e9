"""Preemption on the real apiserver: podium evicts the fewest, lowest-priority pods, respects
PodDisruptionBudgets when it has a choice, never leaves half a gang running (unless its Workload
API PodGroup's disruptionMode is Single, as kube-scheduler takes it), and places a
high-priority gang by evicting whole lower-priority gangs.

Victims are bound with ``spec.nodeName`` (no scheduler involved); a ``Terminator`` finishes
their graceful deletion as their kubelet would. podium starts only once every
pod exists, so the pods that must preempt are decided in one cycle (a gang's pods as one set).
Priorities come from PriorityClasses through the apiserver's Priority admission.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

import orjson
import pytest
import pytest_asyncio
from kubernetes_asyncio.client import ApiClient

from podium.config import Profile, SchedulerConfig
from podium.preemption import DISRUPTION_TARGET, PREEMPTION_REASON
from podium.rawapi import ApiStatusError, request_bytes
from podium.runner import Podium
from podium.testing.nodes import create_nodes, make_node
from podium.testing.podgroups import (
    create_pod_group,
    create_workload_pod_group,
    make_pod_group,
    make_workload_pod_group,
)
from podium.testing.pods import make_pod, make_priority_class
from podium.testing.terminator import Terminator
from podium.testing.waiting import until

pytestmark = pytest.mark.timeout(120)

GANG_LABEL = "scheduling.x-k8s.io/pod-group"
# Keeps a victim visible after its deletion, so its DisruptionTarget condition can be read.
HOLD = "podium.dev/test-hold"
LOW, MID, HIGH = 10, 20, 1000


@pytest_asyncio.fixture
async def classes(api: ApiClient) -> AsyncIterator[dict[int, str]]:
    """PriorityClasses for LOW, MID and HIGH, unique to the test: value -> name."""
    suffix = uuid.uuid4().hex[:8]
    names = {value: f"preempt-{value}-{suffix}" for value in (LOW, MID, HIGH)}
    for value, name in names.items():
        await request_bytes(
            api,
            "POST",
            "/apis/scheduling.k8s.io/v1/priorityclasses",
            body=make_priority_class(name, value),
        )
    yield names
    for name in names.values():
        await request_bytes(api, "DELETE", f"/apis/scheduling.k8s.io/v1/priorityclasses/{name}")


class Setup:
    """One test's nodes and pods, and a podium started on demand."""

    def __init__(
        self, api: ApiClient, namespace: str, labels: dict[str, str], classes: dict[int, str]
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.labels = labels
        self.classes = classes
        self.scheduler_name = f"podium-{uuid.uuid4().hex[:8]}"
        self.prefix = f"pre-{uuid.uuid4().hex[:6]}"

    def node(self, index: int) -> str:
        return f"{self.prefix}-{index}"

    async def nodes(self, count: int) -> list[str]:
        return await create_nodes(
            self.api,
            [
                make_node(self.node(i), cpu="4", memory="8Gi", labels=self.labels)
                for i in range(count)
            ],
        )

    async def pod(
        self,
        name: str,
        priority: int,
        *,
        cpu: str = "4",
        node: int | None = None,
        labels: Mapping[str, str] | None = None,
        hold: bool = False,
        pod_group: str | None = None,
    ) -> None:
        body = make_pod(
            name,
            self.namespace,
            scheduler_name=self.scheduler_name,
            requests={"cpu": cpu, "memory": "1Gi"},
            node_name=None if node is None else self.node(node),
            node_selector=self.labels,
            priority_class_name=self.classes[priority],
            labels=labels,
            pod_group=pod_group,
        )
        if hold:
            body["metadata"]["finalizers"] = [HOLD]
        await request_bytes(
            self.api, "POST", f"/api/v1/namespaces/{self.namespace}/pods", body=body
        )

    async def get(self, name: str) -> dict[str, Any] | None:
        try:
            raw = await request_bytes(
                self.api, "GET", f"/api/v1/namespaces/{self.namespace}/pods/{name}"
            )
        except ApiStatusError as e:
            if e.status == 404:
                return None
            raise
        pod: dict[str, Any] = orjson.loads(raw)
        return pod

    async def names(self) -> set[str]:
        raw = await request_bytes(self.api, "GET", f"/api/v1/namespaces/{self.namespace}/pods")
        return {p["metadata"]["name"] for p in orjson.loads(raw)["items"]}

    async def node_of(self, name: str) -> str | None:
        pod = await self.get(name)
        return None if pod is None else pod["spec"].get("nodeName")

    async def release(self, name: str) -> None:
        """Drops the test finalizer so the deleted pod goes."""
        await request_bytes(
            self.api,
            "PATCH",
            f"/api/v1/namespaces/{self.namespace}/pods/{name}",
            body={"metadata": {"finalizers": None}},
            content_type="application/merge-patch+json",
        )

    async def events(self, reason: str) -> list[dict[str, Any]]:
        raw = await request_bytes(
            self.api, "GET", f"/apis/events.k8s.io/v1/namespaces/{self.namespace}/events"
        )
        return [e for e in orjson.loads(raw)["items"] if e.get("reason") == reason]


async def eventually(check: Callable[[], Awaitable[bool]], what: str, limit: float = 30.0) -> None:
    await until(check, what, limit, every=0.1)


@pytest_asyncio.fixture
async def setup(
    api: ApiClient, namespace: str, node_labels: dict[str, str], classes: dict[int, str]
) -> Setup:
    return Setup(api, namespace, node_labels, classes)


@pytest_asyncio.fixture
async def start(api: ApiClient, setup: Setup) -> AsyncIterator[Callable[[], Awaitable[Podium]]]:
    """Starts podium for the test's schedulerName (after the test created its pods), with a
    stand-in for the kubelets that would finish the victims' graceful deletion."""
    started: list[Podium] = []

    async def go() -> Podium:
        config = SchedulerConfig(profiles=(Profile(scheduler_name=setup.scheduler_name),))
        podium = Podium(config, api)
        started.append(podium)
        await podium.start_scheduling()
        return podium

    async with Terminator(api, setup.namespace):
        yield go
        for podium in started:
            await podium.preemptor.drain()
            await podium.close()


async def bound(setup: Setup, names: Sequence[str]) -> dict[str, str | None]:
    return {name: await setup.node_of(name) for name in names}


async def test_fewest_lowest_priority_victims_condition_nomination_and_event(
    setup: Setup, start: Callable[[], Awaitable[Podium]]
) -> None:
    await setup.nodes(3)
    # Node 0: two low pods (sum of priorities 20); node 1: one low pod (10); node 2: one mid.
    await setup.pod("a1", LOW, cpu="2", node=0)
    await setup.pod("a2", LOW, cpu="2", node=0)
    await setup.pod("b", LOW, node=1, hold=True)
    await setup.pod("c", MID, node=2)
    await setup.pod("high", HIGH)
    try:
        await start()

        async def victim_marked() -> bool:
            pod = await setup.get("b")
            return pod is not None and "deletionTimestamp" in pod["metadata"]

        await eventually(victim_marked, "b deleted")
        victim = await setup.get("b")
        assert victim is not None
        conditions = [
            c for c in victim["status"].get("conditions", []) if c["type"] == DISRUPTION_TARGET
        ]
        assert len(conditions) == 1
        assert (conditions[0]["status"], conditions[0]["reason"]) == ("True", PREEMPTION_REASON)
        assert setup.scheduler_name in conditions[0]["message"]

        async def nominated() -> bool:
            pod = await setup.get("high")
            return pod is not None and pod["status"].get("nominatedNodeName") == setup.node(1)

        await eventually(nominated, "nominatedNodeName set on the preemptor")
        assert await setup.node_of("high") is None, "waits for its victim to terminate"
        assert {"a1", "a2", "c"} <= await setup.names(), "nobody else was touched"
        await asyncio.sleep(1.0)
        assert await setup.node_of("high") is None, "no second preemption while b terminates"
        assert {"a1", "a2", "c"} <= await setup.names()
    finally:
        await setup.release("b")

    async def placed() -> bool:
        return await setup.node_of("high") == setup.node(1)

    await eventually(placed, "the preemptor bound to the nominated node")
    await eventually(
        lambda: _has_event(setup, "Preempted", "b", f"on node {setup.node(1)}"), "Preempted event"
    )


async def test_a_pod_larger_than_every_node_evicts_nobody_and_says_why_as_kube_does(
    setup: Setup, start: Callable[[], Awaitable[Podium]]
) -> None:
    await setup.nodes(2)
    await setup.pod("low", LOW, node=0)
    # 5 CPUs on nodes of 4: no eviction can help (kube 1.37's UnschedulableAndUnresolvable).
    await setup.pod("huge", HIGH, cpu="5")
    await start()
    wording = (
        "0/2 nodes are available: 2 Insufficient cpu. "
        "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
    )
    await eventually(
        lambda: _has_event(setup, "FailedScheduling", "huge", wording), "FailedScheduling"
    )
    low = await setup.get("low")
    assert low is not None and "deletionTimestamp" not in low["metadata"]


async def _has_event(setup: Setup, reason: str, pod: str, text: str) -> bool:
    return any(
        e["regarding"]["name"] == pod and text in e.get("note", "")
        for e in await setup.events(reason)
    )


async def test_budgets_are_respected_when_another_choice_exists(
    setup: Setup, start: Callable[[], Awaitable[Podium]]
) -> None:
    await setup.nodes(2)
    # The guarded pod has the lower priority, so without its budget it would be the victim.
    await setup.pod("guarded", LOW, node=0, labels={"app": "db"})
    await setup.pod("other", MID, node=1)
    budget = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "db", "namespace": setup.namespace},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "db"}}},
    }
    await request_bytes(
        setup.api,
        "POST",
        f"/apis/policy/v1/namespaces/{setup.namespace}/poddisruptionbudgets",
        body=budget,
    )
    await setup.pod("high", HIGH)
    await start()

    async def placed() -> bool:
        return await setup.node_of("high") is not None

    await eventually(placed, "the preemptor bound")
    assert await setup.node_of("high") == setup.node(1)
    assert await setup.names() == {"guarded", "high"}


async def test_a_victim_in_a_gang_takes_its_whole_gang(
    setup: Setup, start: Callable[[], Awaitable[Podium]]
) -> None:
    await setup.nodes(3)
    gang = {GANG_LABEL: "train"}
    await setup.pod("train-0", LOW, node=0, labels=gang)
    await setup.pod("train-1", LOW, node=1, labels=gang)
    # Fewer victims here, but a higher priority: the gang (lowest priority) is the choice.
    await setup.pod("single", MID, node=2)
    await setup.pod("high", HIGH)
    await start()

    async def placed() -> bool:
        return await setup.node_of("high") is not None

    await eventually(placed, "the preemptor bound")
    assert await setup.node_of("high") in (setup.node(0), setup.node(1))
    assert await setup.names() == {"single", "high"}, "the whole gang went, nothing else"


@pytest.mark.parametrize(("mode", "evicted"), [(None, 1), ("Single", 1), ("All", 2)])
async def test_a_workload_gang_victim_goes_alone_or_with_its_gang_by_its_disruption_mode(
    setup: Setup, start: Callable[[], Awaitable[Podium]], mode: str | None, evicted: int
) -> None:
    """kube-scheduler 1.37's preemption units: a pod of a PodGroup with ``disruptionMode: All``
    takes every member with it; ``Single`` (the default) lets it go alone."""
    await setup.nodes(3)
    await create_workload_pod_group(
        setup.api,
        make_workload_pod_group("train", setup.namespace, min_count=2, disruption_mode=mode),
    )
    await setup.pod("train-0", LOW, node=0, pod_group="train")
    await setup.pod("train-1", LOW, node=1, pod_group="train")
    await setup.pod("single", MID, node=2)
    await setup.pod("high", HIGH)
    await start()

    async def placed() -> bool:
        return await setup.node_of("high") is not None

    await eventually(placed, "the preemptor bound")
    left = await setup.names()
    assert {"single", "high"} <= left
    assert len({"train-0", "train-1"} - left) == evicted, sorted(left)


async def test_a_workload_gang_member_has_its_groups_priority(
    setup: Setup, start: Callable[[], Awaitable[Podium]]
) -> None:
    """kube-scheduler 1.37's GetPodPriority: a pod of a PodGroup with a priority (the Priority
    admission sets it from the group's priorityClassName) is preempted at the group's priority,
    not its own: the MID preemptor may not evict the low pod of the HIGH group, and evicts two
    low pods elsewhere instead of that one."""
    await setup.nodes(2)
    await create_workload_pod_group(
        setup.api,
        make_workload_pod_group(
            "train",
            setup.namespace,
            min_count=1,
            priority_class_name=setup.classes[HIGH],
            disruption_mode="Single",
        ),
    )
    await setup.pod("train-0", LOW, node=0, pod_group="train")
    await setup.pod("low-0", LOW, cpu="2", node=1)
    await setup.pod("low-1", LOW, cpu="2", node=1)
    await setup.pod("mid", MID)
    await start()

    async def placed() -> bool:
        return await setup.node_of("mid") is not None

    await eventually(placed, "the preemptor bound")
    assert await setup.node_of("mid") == setup.node(1)
    assert await setup.names() == {"train-0", "mid"}


async def test_a_high_priority_gang_preempts_whole_lower_gangs(
    setup: Setup, start: Callable[[], Awaitable[Podium]], crds: list[str]
) -> None:
    await setup.nodes(4)
    # The preempting gang is a PodGroup (all-or-nothing placement); the victims' gangs are
    # known by their pods' label alone.
    await create_pod_group(setup.api, make_pod_group("h", setup.namespace, min_member=2))
    for group, nodes in (("a", (0, 1)), ("b", (2, 3))):
        for i, node in enumerate(nodes):
            await setup.pod(f"{group}-{i}", LOW, node=node, labels={GANG_LABEL: group})
    for i in range(2):
        await setup.pod(f"h-{i}", HIGH, labels={GANG_LABEL: "h"})
    await start()

    async def placed() -> bool:
        return None not in (await bound(setup, ["h-0", "h-1"])).values()

    await eventually(placed, "both pods of the high-priority gang bound")
    left = await setup.names()
    survivors = {g for g in ("a", "b") if {f"{g}-0", f"{g}-1"} <= left}
    gone = {g for g in ("a", "b") if not {f"{g}-0", f"{g}-1"} & left}
    assert len(survivors) == 1 and len(gone) == 1, f"whole gangs only: {sorted(left)}"
    (evicted,) = gone
    freed = {setup.node(0), setup.node(1)} if evicted == "a" else {setup.node(2), setup.node(3)}
    assert set((await bound(setup, ["h-0", "h-1"])).values()) == freed
