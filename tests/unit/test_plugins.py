"""The Python plugin API: the example package found by entry points and enabled by the config,
plugins judging only the nodes the core kept, failures contained, Permit allow/deny/wait, and the
metrics source refreshed in the background."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio
import yaml
from aiohttp import web

from podium._core import ClusterState, Code, Kind, PendingPod, PluginNode, PluginPod, Profile
from podium.config import ConfigError, SchedulerConfig, parse_config
from podium.plugins import (
    EnabledPlugin,
    Fit,
    Permit,
    PermitGate,
    PluginError,
    PluginSet,
    available_plugins,
    load_plugins,
)
from podium.scheduler import Scheduler
from podium.supervisor import Supervisor


def node(name: str, cpu: str, used_cpu: str | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "uid": f"uid-{name}"},
        "status": {"allocatable": {"cpu": cpu, "memory": "64Gi", "pods": "110"}},
    }


def pending(uid: str, cpu: str = "1") -> dict[str, Any]:
    return {
        "metadata": {"name": uid, "namespace": "ns", "uid": uid, "labels": {"app": "x"}},
        "spec": {
            "schedulerName": "podium",
            "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}],
        },
    }


def cluster(*pods: dict[str, Any]) -> ClusterState:
    """small (4 cpus), large (32 cpus), tiny (1 cpu: the core rejects it for 2-cpu pods)."""
    state = ClusterState(["podium"])
    nodes = [node("small", "4"), node("large", "32"), node("tiny", "1")]
    state.apply_list(Kind.NODE, orjson.dumps({"items": nodes}))
    state.apply_list(Kind.POD, orjson.dumps({"items": list(pods)}))
    return state


def config(text: str) -> SchedulerConfig:
    return parse_config(yaml.safe_load(text))


MOST_ALLOCATED = """
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: podium
  plugins:
    score:
      enabled: [{name: MostAvailableCPU, weight: 5}]
  pluginConfig:
  - name: NodeResourcesFit
    args: {scoringStrategy: {type: MostAllocated}}
"""


def test_example_plugins_are_installed() -> None:
    assert {"MostAvailableCPU", "LowestGPUUtilisation"} <= available_plugins().keys()


def test_config_enables_a_python_score_plugin_with_its_weight() -> None:
    (profile,) = config(MOST_ALLOCATED).profiles
    assert profile.python_plugins == (EnabledPlugin("MostAvailableCPU", ("score",), 5, {}),)
    assert "MostAvailableCPU" not in profile.scores, "not handed to the core"


def decide(state: ClusterState, cfg: SchedulerConfig, plugins: PluginSet | None, uid: str) -> Any:
    profile = Profile(cfg.profiles[0].core_spec())
    judge = plugins.judge if plugins is not None else None
    (decision,) = state.snapshot().schedule([uid], profile, judge)
    return decision


def test_a_python_score_outweighs_the_core_preference() -> None:
    cfg = config(MOST_ALLOCATED)
    state = cluster(pending("p", "2"))
    alone = decide(state, cfg, None, "p")
    assert alone.node == "small", "MostAllocated alone packs"
    plugins = load_plugins("podium", cfg.profiles[0].python_plugins)
    with_plugin = decide(state, cfg, plugins, "p")
    assert with_plugin.node == "large", "MostAvailableCPU (weight 5) spreads"
    assert with_plugin.feasible_nodes == 2, "tiny was rejected by the core before Python saw it"


class Recording:
    """A filter and score plugin that records which nodes it saw."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def filter(self, pod: PluginPod, node: PluginNode) -> Fit:
        self.seen.append(node.name)
        return Fit.unschedulable("node(s) are small") if node.name == "small" else Fit.success()

    def score(self, pod: PluginPod, node: PluginNode) -> float:
        assert pod.requests["cpu"] == 2000 and pod.labels == {"app": "x"}
        return float(node.allocatable["cpu"])


class Cold:
    def filter(self, pod: PluginPod, node: PluginNode) -> Fit:
        return Fit.unschedulable("node(s) are cold")


def test_python_filters_see_only_the_kept_nodes_and_their_reasons_count() -> None:
    cfg = config(MOST_ALLOCATED)
    state = cluster(pending("p", "2"))
    plugin = Recording()
    plugins = PluginSet(filters=[("Recording", plugin)], scores=[("Recording", plugin, 1)])
    decision = decide(state, cfg, plugins, "p")
    assert sorted(plugin.seen) == ["large", "small"], "tiny was rejected by the core first"
    assert decision.node == "large"
    refused = decide(state, cfg, PluginSet(filters=[("Cold", Cold())]), "p")
    assert refused.code == Code.UNSCHEDULABLE
    assert refused.message == "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) are cold."


class Broken:
    def score(self, pod: PluginPod, node: PluginNode) -> float:
        raise ZeroDivisionError("oops")


def test_a_raising_plugin_fails_the_pod_not_the_scheduler() -> None:
    cfg = config(MOST_ALLOCATED)
    state = cluster(pending("p", "2"))
    decision = decide(state, cfg, PluginSet(scores=[("Broken", Broken(), 1)]), "p")
    assert decision.code == Code.ERROR
    assert "plugin Broken: score: ZeroDivisionError('oops')" in decision.message
    assert decide(state, cfg, None, "p").code == Code.SUCCESS, "the state is untouched"


class Stringly:
    def filter(self, pod: PluginPod, node: PluginNode) -> Fit:
        return "node(s) are cold"  # type: ignore[return-value]  # the old contract


def test_a_filter_answers_with_a_fit_not_a_string() -> None:
    cfg = config(MOST_ALLOCATED)
    state = cluster(pending("p", "2"))
    decision = decide(state, cfg, PluginSet(filters=[("Stringly", Stringly())]), "p")
    assert decision.code == Code.ERROR
    assert "plugin Stringly: filter: returned 'node(s) are cold', not a Fit" in decision.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "score: {enabled: [{name: NoSuchPlugin}]}",
            "profiles[0].plugins.score.enabled[0].name: unknown plugin 'NoSuchPlugin'",
        ),
        (
            "filter: {enabled: [{name: MostAvailableCPU, weight: 2}]}",
            "profiles[0].plugins.filter.enabled[0].weight: only score plugins have a weight",
        ),
        (
            "multiPoint: {enabled: [{name: MostAvailableCPU}]}",
            "Python plugin 'MostAvailableCPU' is enabled at filter, score or permit",
        ),
    ],
)
def test_config_errors_name_the_field(text: str, expected: str) -> None:
    doc = (
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
        f"profiles:\n- schedulerName: podium\n  plugins: {{{text.split(':', 1)[0]}: "
        f"{text.split(':', 1)[1].strip()}}}\n"
    )
    with pytest.raises(ConfigError) as info:
        parse_config(yaml.safe_load(doc))
    assert expected in str(info.value)


def test_load_errors_name_the_plugin() -> None:
    with pytest.raises(PluginError, match="plugin 'MostAvailableCPU': args: takes no args"):
        load_plugins("podium", [EnabledPlugin("MostAvailableCPU", ("score",), 1, {"x": 1})])
    with pytest.raises(PluginError, match="enabled at filter but has no filter"):
        load_plugins("podium", [EnabledPlugin("MostAvailableCPU", ("filter",))])
    with pytest.raises(PluginError, match="give exactly one source"):
        load_plugins("podium", [EnabledPlugin("LowestGPUUtilisation", ("score",))])
    with pytest.raises(PluginError, match=r"no podium\.plugins entry point"):
        load_plugins("podium", [EnabledPlugin("Nope", ("score",))])


# ---------------------------------------------------------------------------------------------
# Permit


class Gatekeeper:
    def __init__(self, verdict: Permit) -> None:
        self.verdict = verdict

    def permit(self, pod: PendingPod, node: str) -> Permit:
        return self.verdict


def pod_ref() -> PendingPod:
    state = cluster(pending("p"))
    (pod,) = state.pending()
    return pod


async def test_permit_allow_deny_and_timeout() -> None:
    pod = pod_ref()
    allow = PermitGate(PluginSet(permits=[("Gate", Gatekeeper(Permit.allow()))]))
    assert await allow.admit(pod, "large") is None
    deny = PermitGate(PluginSet(permits=[("Gate", Gatekeeper(Permit.deny("quota")))]))
    assert await deny.admit(pod, "large") == "Gate: quota"
    slow = PermitGate(PluginSet(permits=[("Gate", Gatekeeper(Permit.wait(0.05)))]))
    assert await slow.admit(pod, "large") == "Gate: permit timed out after 0.05s"


async def test_permit_wait_released_by_allow() -> None:
    pod = pod_ref()
    plugins = PluginSet(permits=[("Gate", Gatekeeper(Permit.wait(30)))])
    admitted = asyncio.create_task(PermitGate(plugins).admit(pod, "large"))
    await until(lambda: pod.uid in plugins.waiting.waiting())
    assert plugins.waiting.allow(pod.uid)
    assert await admitted is None
    assert not plugins.waiting.allow(pod.uid), "no longer waiting"


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not met in time")


class FakeQueue:
    def __init__(self) -> None:
        self.requeued: list[tuple[str, bool]] = []

    async def pop_batch(self, max_pods: int, wait: float) -> list[PendingPod]:
        return []

    def requeue(
        self, pod: PendingPod, unschedulable: bool, *, gang_incomplete: bool = False
    ) -> None:
        self.requeued.append((pod.uid, unschedulable))

    def in_flight(self, uid: str) -> bool:
        return True

    def pending_counts(self) -> dict[str, int]:
        return {}


class FakeBinder:
    def __init__(self) -> None:
        self.submitted: list[tuple[str, str | None]] = []

    def submit(self, decision: Any, pod: PendingPod) -> bool:
        self.submitted.append((decision.uid, decision.node))
        return True


class FakeFailures:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def unschedulable(self, pod: PendingPod, message: str) -> None:
        self.messages.append(message)


@pytest.mark.parametrize("verdict", [Permit.allow(), Permit.deny("not today")])
async def test_scheduler_binds_only_what_permit_allows(verdict: Permit) -> None:
    cfg = config(MOST_ALLOCATED)
    state = cluster(pending("p", "2"))
    queue, binder, failures = FakeQueue(), FakeBinder(), FakeFailures()
    async with Supervisor("permit test") as term:
        scheduler = Scheduler(
            state=state,
            queue=queue,
            binder=binder,
            failures=failures,
            profiles={"podium": Profile(cfg.profiles[0].core_spec())},
            plugins={"podium": PluginSet(permits=[("Gate", Gatekeeper(verdict))])},
            supervisor=term,
        )
        (pod,) = state.pending()
        result = await scheduler.schedule_batch([pod])
        assert result.scheduled == 1
        assert state.is_assumed("p"), "counted on its node while permit decides"
        await until(lambda: bool(binder.submitted or queue.requeued))
    if verdict.code is Code.SUCCESS:
        assert binder.submitted == [("p", "small")]
    else:
        assert binder.submitted == []
        assert queue.requeued == [("p", True)]
        assert not state.is_assumed("p")
        assert failures.messages == ["permit denied on node small: Gate: not today"]


# ---------------------------------------------------------------------------------------------
# The metrics-driven example


def gpu_plugin(**args: Any) -> Any:
    (plugins,) = [
        load_plugins("podium", [EnabledPlugin("LowestGPUUtilisation", ("score",), 1, args)])
    ]
    (scored,) = plugins.scores
    return plugins, scored.plugin


async def test_gpu_utilisation_from_a_file_refreshed_in_the_background(tmp_path: Path) -> None:
    metrics = tmp_path / "gpu.json"
    metrics.write_bytes(orjson.dumps({"small": 5, "large": 90}))
    plugins, plugin = gpu_plugin(file=str(metrics), refreshSeconds=0.05)
    cfg = config(MOST_ALLOCATED.replace("MostAvailableCPU, weight: 5", "LowestGPUUtilisation"))
    await plugins.start()
    try:
        await asyncio.wait_for(plugin.refreshed.wait(), 5)
        state = cluster(pending("p", "2"), pending("q", "2"))
        assert decide(state, cfg, plugins, "p").node == "small"
        plugin.refreshed.clear()
        metrics.write_bytes(orjson.dumps({"small": 99, "large": 0}))
        await until(lambda: plugin.utilisation.get("small") == 99)
        assert decide(state, cfg, plugins, "q").node == "large"
        metrics.write_bytes(b"not json")
        await asyncio.sleep(0.2)
        assert plugin.utilisation == {"small": 99, "large": 0}, "a bad read keeps the last values"
    finally:
        await plugins.stop()


@pytest_asyncio.fixture
async def prometheus() -> AsyncIterator[str]:
    async def query(request: web.Request) -> web.Response:
        assert request.query["query"] == "gpu_util"
        body = {
            "status": "success",
            "data": {
                "resultType": "vector",
                "result": [
                    {"metric": {"Hostname": "small"}, "value": [0, "75.5"]},
                    {"metric": {"Hostname": "large"}, "value": [0, "10"]},
                ],
            },
        }
        return web.json_response(body)

    app = web.Application()
    app.router.add_get("/api/v1/query", query)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def test_gpu_utilisation_from_prometheus(prometheus: str) -> None:
    _, plugin = gpu_plugin(prometheusURL=prometheus, query="gpu_util", nodeLabel="Hostname")
    await plugin.refresh()
    assert plugin.utilisation == {"small": 75.5, "large": 10.0}


def test_explain_and_the_extender_apply_the_python_plugins() -> None:
    from podium.explain import PodFacts, Target, explain_in
    from podium.extender import Extender, ExtenderArgs

    cfg = config(MOST_ALLOCATED)
    pod = pending("p", "2")
    state = cluster(pod)
    plugins = PluginSet(filters=[("Cold", ColdSmall())], scores=[("Recording", Recording(), 1)])
    result = explain_in(
        state,
        Target("ns", "p"),
        PodFacts.of(Target("ns", "p"), pod),
        cfg,
        plugins={"podium": plugins},
    )
    assert result.rejections("small") == ["PythonPlugins: node(s) are cold"]
    assert [b.node for b in result.best] == ["large"]
    assert result.best[0].plugins[-1] == ("PythonPlugins", 100, 1)

    extender = Extender(state, Profile(cfg.profiles[0].core_spec()), None, plugins)
    args = ExtenderArgs.parse(orjson.dumps({"Pod": pod, "NodeNames": ["small", "large"]}))
    answer = asyncio.run(extender.filter(args))
    assert answer["NodeNames"] == ["large"]
    assert answer["FailedNodes"] == {"small": "node(s) are cold"}


class ColdSmall:
    def filter(self, pod: PluginPod, node: PluginNode) -> Fit:
        return Fit.unschedulable("node(s) are cold") if node.name == "small" else Fit.success()
