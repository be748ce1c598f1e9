"""The scheduling profile each workload is measured with, and whether the core supports it.

The benchmark measures what production would run: kube-scheduler's default plugin set (the
default profile of ``podium.config``, extended with every default plugin the core accepts), or
the first profile of a KubeSchedulerConfiguration file. A workload whose constraints need a
plugin the profile lacks is *unsupported*: a profile without InterPodAffinity is not a
measurement of anti-affinity, however fast it is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from podium import config
from podium._core import CoreError, Profile
from podium.benchmarks.dra_workloads import DRA_WORKLOADS, EXT_WORKLOADS
from podium.plugins import EnabledPlugin

if TYPE_CHECKING:
    from podium._core import ProfileSpec

# The plugins that give each workload's constraints their meaning.
REQUIRED_FILTERS: Mapping[str, tuple[str, ...]] = {
    "plain": ("NodeResourcesFit",),
    "plain_quota": ("NodeResourcesFit", "CapacityScheduling"),
    "gpu": ("NodeResourcesFit", "TaintToleration"),
    "anti_affinity": ("InterPodAffinity",),
    "spread": ("PodTopologySpread",),
    "preferred_affinity": (),
    **{w: ("DynamicResources", "TaintToleration") for w in DRA_WORKLOADS},
    **{w: ("NodeResourcesFit", "TaintToleration") for w in EXT_WORKLOADS},
}
REQUIRED_SCORES: Mapping[str, tuple[str, ...]] = {
    "plain": (),
    "plain_quota": (),
    "gpu": (),
    "anti_affinity": (),
    "spread": (),
    "preferred_affinity": ("InterPodAffinity",),
    **{w: () for w in (*DRA_WORKLOADS, *EXT_WORKLOADS)},
}


@dataclass(frozen=True, slots=True)
class ResolvedProfile:
    spec: ProfileSpec  # what ``podium._core.Profile`` is built from
    filters: tuple[str, ...]
    scores: dict[str, int]
    # Default plugins the core rejected ("filter X" / "score X") with its message: why some
    # workloads are unsupported, and what the measured profile lacks.
    rejected: dict[str, str]
    # Python plugins the profile enables: measured with the core (their cost is in the score
    # time and the decisions/s).
    python_plugins: tuple[EnabledPlugin, ...] = ()


def _accepts(base: config.Profile, filters: tuple[str, ...], scores: dict[str, int]) -> str | None:
    """``None`` if the core builds this profile, else its error message."""
    try:
        Profile(dataclasses.replace(base, filters=filters, scores=scores).core_spec())
    except CoreError as err:
        return str(err)
    return None


def default_profile() -> ResolvedProfile:
    """kube-scheduler's default plugins, minus those the core rejects (each probed alone, as a
    filter and as a score: a plugin may exist at one extension point before the other)."""
    base = config.Profile()
    filters = config.DEFAULT_FILTERS
    scores = dict(config.DEFAULT_SCORES)
    rejected: dict[str, str] = {}
    if _accepts(base, filters, scores) is not None:
        for name in filters:
            error = _accepts(base, (name,), {})
            if error is not None:
                rejected[f"filter {name}"] = error
        for name, weight in scores.items():
            error = _accepts(base, (), {name: weight})
            if error is not None:
                rejected[f"score {name}"] = error
        filters = tuple(f for f in filters if f"filter {f}" not in rejected)
        scores = {s: w for s, w in scores.items() if f"score {s}" not in rejected}
    chosen = dataclasses.replace(base, filters=filters, scores=scores)
    return ResolvedProfile(chosen.core_spec(), filters, scores, rejected)


def file_profile(cfg: config.SchedulerConfig) -> ResolvedProfile:
    """The first profile of a loaded configuration, as it is (CoreError if the core rejects it)."""
    # The generated pending pods name podium's default schedulerName: keep that one.
    profile = dataclasses.replace(cfg.profiles[0], scheduler_name=config.DEFAULT_SCHEDULER_NAME)
    spec = profile.core_spec()
    Profile(spec)
    return ResolvedProfile(
        spec, tuple(profile.filters), dict(profile.scores), {}, profile.python_plugins
    )


def missing_plugins(profile: ResolvedProfile, workload: str) -> list[str]:
    """The plugins ``workload`` needs that ``profile`` lacks, as "Filter X" / "Score X"."""
    missing = [f"filter {p}" for p in REQUIRED_FILTERS[workload] if p not in profile.filters]
    missing += [f"score {p}" for p in REQUIRED_SCORES[workload] if p not in profile.scores]
    return missing
