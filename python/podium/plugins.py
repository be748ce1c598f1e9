"""The Python plugin API: Filter, Score and Permit plugins written in Python, in their own
packages, next to the Rust core's plugins.

A package registers a factory under the ``podium.plugins`` entry point group, named after the
plugin::

    [project.entry-points."podium.plugins"]
    MostAvailableCPU = "my_plugins.cpu:MostAvailableCPU"

and the KubeSchedulerConfiguration enables it like any plugin, at the points it implements,
with a weight for scores and args in ``pluginConfig``::

    plugins:
      score: {enabled: [{name: MostAvailableCPU, weight: 2}]}
    pluginConfig:
    - {name: MostAvailableCPU, args: {...}}

The factory is called once per profile as ``factory(args, context)`` and returns an object with
``filter`` and/or ``score`` and/or ``permit`` (``FilterPlugin``, ``ScorePlugin``,
``PermitPlugin``), optionally a ``run`` coroutine (``Background``) for background work such as
refreshing metrics: podium runs it, supervised, until the replica stops (on followers too, so a
new leader starts with warm values); the scheduling path never awaits anything.

When they run: after the core's filters and scores, on the nodes the core kept (with
``percentageOfNodesToScore`` applied), on a core thread while it waits. Filters first:
``Fit.unschedulable(reason)`` rejects the node, ``Fit.success()`` keeps it. Then each score
plugin's raw scores (higher is better, negative counts as 0) are scaled to 0..100 by the best
node's (kube's default normalization), multiplied by the weight and added to the core's weighted
total. Permit plugins run once a node is chosen, before the bind: allow, deny, or wait (the
plugin, or anything holding ``context.waiting``, later allows or rejects the pod; the timeout
rejects it).

A plugin that raises fails that pod's attempt (an ERROR decision naming the plugin; the pod is
retried with backoff), never the scheduler.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Literal, Protocol, runtime_checkable

from podium._core import Code, PendingPod, PluginNode, PluginPod
from podium.supervisor import Supervisor

__all__ = [
    "ENTRY_POINT_GROUP",
    "Background",
    "Fit",
    "PendingPod",
    "Permit",
    "PermitGate",
    "PermitPlugin",
    "PluginContext",
    "PluginError",
    "PluginNode",
    "PluginPod",
    "PluginSet",
    "ScorePlugin",
    "WaitingPods",
    "available_plugins",
    "load_plugins",
]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "podium.plugins"
Point = Literal["filter", "score", "permit"]
MAX_SCORE = 100


class PluginError(Exception):
    """A plugin cannot be loaded or configured; the message names it."""


@dataclass(frozen=True, slots=True)
class Fit:
    """A Filter plugin's verdict on one node: ``Fit.success()`` or
    ``Fit.unschedulable(reason)``; ``code`` is kube's framework Code (Success, Unschedulable),
    ``reason`` kube-style ("node(s) didn't ..."), counted in the pod's failure message."""

    code: Code
    reason: str = ""

    @classmethod
    def success(cls) -> Fit:
        return _FITS

    @classmethod
    def unschedulable(cls, reason: str) -> Fit:
        return cls(Code.UNSCHEDULABLE, reason)

    @property
    def fits(self) -> bool:
        return self.code is Code.SUCCESS


_FITS = Fit(Code.SUCCESS)


@runtime_checkable
class FilterPlugin(Protocol):
    def filter(self, pod: PluginPod, node: PluginNode) -> Fit:
        """Whether the pod may go on ``node`` (``Fit.success()``), or why not."""
        ...


@runtime_checkable
class ScorePlugin(Protocol):
    def score(self, pod: PluginPod, node: PluginNode) -> float:
        """A raw score, higher is better; scaled to 0..100 over the nodes being ranked."""
        ...


@dataclass(frozen=True, slots=True)
class Permit:
    """A Permit plugin's verdict: ``Permit.allow()``, ``Permit.deny(reason)`` or
    ``Permit.wait(seconds)``; ``code`` is kube's framework Code (Success, Unschedulable, Wait)."""

    code: Code
    reason: str = ""
    timeout: float = 0.0

    @classmethod
    def allow(cls) -> Permit:
        return cls(Code.SUCCESS)

    @classmethod
    def deny(cls, reason: str) -> Permit:
        return cls(Code.UNSCHEDULABLE, reason=reason)

    @classmethod
    def wait(cls, timeout: float) -> Permit:
        return cls(Code.WAIT, timeout=timeout)


@runtime_checkable
class PermitPlugin(Protocol):
    def permit(self, pod: PendingPod, node: str) -> Permit:
        """Called once the pod's node is chosen (and counted there), before the bind."""
        ...


@runtime_checkable
class Background(Protocol):
    async def run(self) -> None:
        """Work until cancelled (say, refresh a metrics source). A failure is logged and ends
        only this plugin's background work."""
        ...


class WaitingPods:
    """Pods held by a Permit ``wait``: whoever decides lets them go (``allow``) or not."""

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Future[str | None]] = {}

    def allow(self, uid: str) -> bool:
        """Release a waiting pod to be bound; False if it is not waiting."""
        return self._settle(uid, None)

    def reject(self, uid: str, reason: str) -> bool:
        return self._settle(uid, reason)

    def waiting(self) -> list[str]:
        return list(self._waiting)

    def _settle(self, uid: str, outcome: str | None) -> bool:
        future = self._waiting.get(uid)
        if future is None or future.done():
            return False
        future.set_result(outcome)
        return True

    async def hold(self, uid: str, seconds: float, plugin: str) -> str | None:
        """Wait for a verdict on ``uid``; None: allowed, else the rejection reason."""
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._waiting[uid] = future
        try:
            async with asyncio.timeout(seconds):
                return await future
        except TimeoutError:
            return f"{plugin}: permit timed out after {seconds:g}s"
        finally:
            del self._waiting[uid]


@dataclass(frozen=True, slots=True)
class PluginContext:
    """What a factory gets besides its args."""

    profile: str
    waiting: WaitingPods


Factory = Callable[[Mapping[str, Any], PluginContext], object]


@dataclass(frozen=True, slots=True)
class EnabledPlugin:
    """A Python plugin as a profile enables it (``podium.config.Profile.python_plugins``)."""

    name: str
    points: tuple[Point, ...]
    weight: int = 1
    args: Mapping[str, Any] = field(default_factory=dict)


def available_plugins() -> dict[str, str]:
    """Installed plugins: name -> ``module:attr`` (nothing is imported)."""
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _factory(name: str) -> Factory:
    matches = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not matches:
        raise PluginError(f"plugin {name!r}: no {ENTRY_POINT_GROUP} entry point installed")
    try:
        loaded = matches[0].load()
    except Exception as err:
        raise PluginError(f"plugin {name!r}: cannot import {matches[0].value}: {err!r}") from err
    if not callable(loaded):
        raise PluginError(f"plugin {name!r}: {matches[0].value} is not callable")
    factory: Factory = loaded
    return factory


class PluginFailure(Exception):
    """A plugin raised while judging a pod; the core turns it into an ERROR decision."""


@dataclass(slots=True)
class _Scored:
    name: str
    plugin: ScorePlugin
    weight: int


class PluginSet:
    """A profile's Python plugins, built once; ``judge`` is what ``Snapshot.schedule`` calls."""

    def __init__(
        self,
        filters: Sequence[tuple[str, FilterPlugin]] = (),
        scores: Sequence[tuple[str, ScorePlugin, int]] = (),
        permits: Sequence[tuple[str, PermitPlugin]] = (),
        backgrounds: Sequence[tuple[str, Background]] = (),
        waiting: WaitingPods | None = None,
    ) -> None:
        self.filters = list(filters)
        self.scores = [_Scored(n, p, w) for n, p, w in scores]
        self.permits = list(permits)
        self.backgrounds = list(backgrounds)
        self.waiting = waiting or WaitingPods()
        self._supervisor = Supervisor("plugins")

    @property
    def judges(self) -> bool:
        """Whether ``judge`` has anything to do (else the core runs alone)."""
        return bool(self.filters or self.scores)

    async def run(self) -> None:
        """The plugins' background work, until cancelled (a replica's supervisor runs this)."""
        async with asyncio.TaskGroup() as group:
            for name, plugin in self.backgrounds:
                group.create_task(_background(name, plugin), name=f"plugin {name}")

    async def start(self) -> None:
        """``run`` under a supervisor of its own, for use outside a replica (benchmarks)."""
        await self._supervisor.start()
        self._supervisor.spawn(self.run(), name="plugins")

    async def stop(self) -> None:
        await self._supervisor.stop()

    def judge(self, pod: PluginPod, nodes: list[PluginNode]) -> list[int | str]:
        """One verdict per node: a reason string (rejected) or points to add to its score."""
        verdicts: list[int | str] = [0] * len(nodes)
        kept: list[int] = []
        for i, node in enumerate(nodes):
            reason = self._filter(pod, node)
            if reason is None:
                kept.append(i)
            else:
                verdicts[i] = reason
        for scored in self.scores:
            raw = [self._score(scored, pod, nodes[i]) for i in kept]
            best = max(raw, default=0.0)
            if best <= 0:
                continue
            for i, value in zip(kept, raw, strict=True):
                points = round(MAX_SCORE * max(value, 0.0) / best) * scored.weight
                verdicts[i] = int(verdicts[i]) + points
        return verdicts

    def _filter(self, pod: PluginPod, node: PluginNode) -> str | None:
        """The first rejecting filter's reason; None when every filter lets the pod on."""
        for name, plugin in self.filters:
            try:
                fit = plugin.filter(pod, node)
            except Exception as err:
                raise PluginFailure(f"plugin {name}: filter: {err!r}") from err
            if not isinstance(fit, Fit):  # third-party code: its contract, checked
                raise PluginFailure(f"plugin {name}: filter: returned {fit!r}, not a Fit")
            if not fit.fits:
                return fit.reason
        return None

    @staticmethod
    def _score(scored: _Scored, pod: PluginPod, node: PluginNode) -> float:
        try:
            value = float(scored.plugin.score(pod, node))
        except Exception as err:
            raise PluginFailure(f"plugin {scored.name}: score: {err!r}") from err
        if math.isnan(value):  # a plugin bug, not a preference
            raise PluginFailure(f"plugin {scored.name}: score: NaN for node {node.name}")
        return value


async def _background(name: str, plugin: Background) -> None:
    try:
        await plugin.run()
    except Exception:
        # Third-party code: its failure stops its own refreshing (the scores it feeds keep
        # their last values), not the scheduler.
        log.exception("plugin %s: background work failed; it is not restarted", name)


class PermitGate:
    """Runs a profile's Permit plugins for a chosen node: None when every one allows."""

    def __init__(self, plugins: PluginSet) -> None:
        self._plugins = plugins

    @property
    def active(self) -> bool:
        return bool(self._plugins.permits)

    async def admit(self, pod: PendingPod, node: str) -> str | None:
        for name, plugin in self._plugins.permits:
            try:
                verdict = plugin.permit(pod, node)
            except Exception as err:
                log.exception(
                    "plugin %s: permit raised; %s/%s denied", name, pod.namespace, pod.name
                )
                return f"plugin {name}: permit: {err!r}"
            if verdict.code is Code.SUCCESS:
                continue
            if verdict.code is not Code.WAIT:
                # As kube's framework: any code but Success or Wait rejects the pod.
                return f"{name}: {verdict.reason}" if verdict.reason else f"{name}: denied"
            outcome = await self._plugins.waiting.hold(pod.uid, verdict.timeout, name)
            if outcome is not None:
                return outcome
        return None


def load_plugins(profile: str, enabled: Sequence[EnabledPlugin]) -> PluginSet:
    """Build a profile's plugins; PluginError names a missing or unfit one."""
    waiting = WaitingPods()
    context = PluginContext(profile=profile, waiting=waiting)
    filters: list[tuple[str, FilterPlugin]] = []
    scores: list[tuple[str, ScorePlugin, int]] = []
    permits: list[tuple[str, PermitPlugin]] = []
    backgrounds: list[tuple[str, Background]] = []
    for spec in enabled:
        factory = _factory(spec.name)
        try:
            plugin = factory(spec.args, context)
        except Exception as err:
            raise PluginError(f"plugin {spec.name!r}: args: {err}") from err
        for point in spec.points:
            if not hasattr(plugin, point):
                raise PluginError(
                    f"plugin {spec.name!r}: enabled at {point} but has no {point}() method"
                )
        if "filter" in spec.points and isinstance(plugin, FilterPlugin):
            filters.append((spec.name, plugin))
        if "score" in spec.points and isinstance(plugin, ScorePlugin):
            scores.append((spec.name, plugin, spec.weight))
        if "permit" in spec.points and isinstance(plugin, PermitPlugin):
            permits.append((spec.name, plugin))
        if isinstance(plugin, Background):
            backgrounds.append((spec.name, plugin))
    return PluginSet(filters, scores, permits, backgrounds, waiting)
