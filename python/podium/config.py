"""Loading and validating a ``KubeSchedulerConfiguration`` (``kubescheduler.config.k8s.io/v1``).

Users already know kube-scheduler's file format, so podium reads the same one. Parsing happens in
two steps: pydantic models mirror the file (``extra="forbid"`` so a typo is an error, never a
silently ignored setting), then the plugin sets are resolved into immutable ``Profile`` objects the
way kube-scheduler merges ``multiPoint`` with the per-extension-point sets. Every problem found is
reported at once, in one ``ConfigError``, each line naming the field path.

podium's own settings live in a ``pluginConfig`` entry named ``Podium`` (see ``PodiumArgs``).
Process-wide ones (bind concurrency, health address, ...) are read from the first profile.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import orjson
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

from podium.plugins import EnabledPlugin, Point, available_plugins

if TYPE_CHECKING:
    from podium._core import NumaSpec, ProfileSpec

__all__ = [
    "API_VERSION",
    "DEFAULT_FILTERS",
    "DEFAULT_SCHEDULER_NAME",
    "DEFAULT_SCORES",
    "IMPLEMENTED",
    "KIND",
    "ConfigError",
    "FitStrategy",
    "LeaderElection",
    "PodiumArgs",
    "Profile",
    "SchedulerConfig",
    "default_config",
    "load_config",
    "parse_config",
    "parse_duration",
]

API_VERSION = "kubescheduler.config.k8s.io/v1"
KIND = "KubeSchedulerConfiguration"
DEFAULT_SCHEDULER_NAME = "podium"
PODIUM_ARGS_NAME = "Podium"

# Filter plugins in kube-scheduler's default order (cheap, node-local checks first).
DEFAULT_FILTERS: tuple[str, ...] = (
    "NodeUnschedulable",
    "NodeName",
    "TaintToleration",
    "NodeAffinity",
    "NodePorts",
    "NodeResourcesFit",
    "VolumeBinding",
    "PodTopologySpread",
    "InterPodAffinity",
    # Devices through ResourceClaims (resource.k8s.io/v1), after InterPodAffinity as in kube.
    "DynamicResources",
    # podium's NUMA placement, under the scheduler-plugins name of the equivalent plugin.
    "NodeResourceTopologyMatch",
    # ElasticQuota admission (scheduler-plugins' name); nothing to do where no quota exists.
    "CapacityScheduling",
)
# Score plugins with kube-scheduler's default weights.
DEFAULT_SCORES: dict[str, int] = {
    "TaintToleration": 3,
    "NodeAffinity": 2,
    "PodTopologySpread": 2,
    "InterPodAffinity": 2,
    "NodeResourcesFit": 1,
    "NodeResourcesBalancedAllocation": 1,
    "ImageLocality": 1,
    # kube's default weight; podium's score packs devices (whole PCIe roots stay free).
    "DynamicResources": 2,
    # Outweighs NodeResourcesFit's spreading for GPU pods, so whole nodes stay free.
    "NUMAPacking": 5,
}
# The filter/score plugins the Rust core implements today. Defaults are limited to these so the
# core never sees a name it would reject; grow this set as plugins land in rust/src/{filter,score}.
IMPLEMENTED: frozenset[str] = frozenset(
    {
        "NodeUnschedulable",
        "NodeName",
        "TaintToleration",
        "NodeAffinity",
        "NodePorts",
        "NodeResourcesFit",
        "NodeResourcesBalancedAllocation",
        "VolumeBinding",
        "ImageLocality",
        "NodeResourceTopologyMatch",
        "NUMAPacking",
        "InterPodAffinity",
        "PodTopologySpread",
        "DynamicResources",
        "CapacityScheduling",
    }
)
# kube-scheduler plugins podium provides as built-in behaviour rather than as core plugins (queue
# sort, gates, preemption, binding). Naming them in a file is accepted and changes nothing.
BUILT_IN: frozenset[str] = frozenset(
    {"PrioritySort", "SchedulingGates", "DefaultPreemption", "DefaultBinder"}
)
# Other in-tree kube-scheduler plugins: known names, so the error can say "not implemented".
_OTHER_KUBE_PLUGINS: frozenset[str] = frozenset(
    {
        "VolumeRestrictions",
        "NodeVolumeLimits",
        "EBSLimits",
        "GCEPDLimits",
        "AzureDiskLimits",
        "VolumeZone",
    }
)
_FILTER_PLUGINS = frozenset(DEFAULT_FILTERS) | _OTHER_KUBE_PLUGINS
_SCORE_PLUGINS = frozenset(DEFAULT_SCORES)
KNOWN_PLUGINS: frozenset[str] = _FILTER_PLUGINS | _SCORE_PLUGINS | BUILT_IN

_MAX_WEIGHT = 2**31 - 1
_MAX_RESOURCE_WEIGHT = 100
_MAX_SHAPE_SCORE = 10


class ConfigError(ValueError):
    """The configuration is invalid. ``errors`` holds one ``"field.path: problem"`` per problem."""

    def __init__(self, errors: Sequence[str], source: str = "configuration") -> None:
        self.errors = list(errors)
        self.source = source
        lines = "\n".join(f"  {e}" for e in self.errors)
        super().__init__(f"invalid scheduler configuration ({source}):\n{lines}")


# ---------------------------------------------------------------------------------------------
# Durations in Go's format ("15s", "1m30s", "250ms"), as metav1.Duration serialises them.

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_duration(text: str) -> float:
    """Seconds in a Go duration string. Negative durations are refused (no setting wants one)."""
    if text == "0":
        return 0.0
    pos = 0
    total = 0.0
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if match is None:
            raise ValueError(f'must be a duration like "15s" or "1m30s" (got {text!r})')
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos == 0 or not math.isfinite(total):
        raise ValueError(f'must be a duration like "15s" or "1m30s" (got {text!r})')
    return total


def _duration(value: object) -> object:
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError(f'must be a duration string like "15s" (got {value!r})')


Duration = Annotated[float, BeforeValidator(_duration)]


# ---------------------------------------------------------------------------------------------
# The file, as written.


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class _PluginRef(_Model):
    name: str = Field(min_length=1)
    weight: int | None = Field(default=None, ge=1, le=_MAX_WEIGHT)


class _PluginSet(_Model):
    enabled: list[_PluginRef] = []
    disabled: list[_PluginRef] = []


class _Plugins(_Model):
    pre_enqueue: _PluginSet = _PluginSet()
    queue_sort: _PluginSet = _PluginSet()
    pre_filter: _PluginSet = _PluginSet()
    filter: _PluginSet = _PluginSet()
    post_filter: _PluginSet = _PluginSet()
    pre_score: _PluginSet = _PluginSet()
    score: _PluginSet = _PluginSet()
    reserve: _PluginSet = _PluginSet()
    permit: _PluginSet = _PluginSet()
    pre_bind: _PluginSet = _PluginSet()
    bind: _PluginSet = _PluginSet()
    post_bind: _PluginSet = _PluginSet()
    multi_point: _PluginSet = _PluginSet()


class _PluginConfig(_Model):
    name: str = Field(min_length=1)
    args: dict[str, Any] = {}


class _RawProfile(_Model):
    scheduler_name: str = Field(
        default=DEFAULT_SCHEDULER_NAME, min_length=1, max_length=253, pattern=r"^[^\s]+$"
    )
    percentage_of_nodes_to_score: int | None = Field(default=None, ge=0, le=100)
    plugins: _Plugins = _Plugins()
    plugin_config: list[_PluginConfig] = []


class _ClientConnection(_Model):
    kubeconfig: str = ""
    accept_content_types: str = ""
    content_type: str = ""
    qps: float = Field(default=50.0, ge=0.0)
    burst: int = Field(default=100, ge=0)


class LeaderElection(_Model):
    """Lease-based leader election, with kube-scheduler's timings (15 s / 10 s / 2 s)."""

    leader_elect: bool = True
    lease_duration: Duration = Field(default=15.0, gt=0)
    renew_deadline: Duration = Field(default=10.0, gt=0)
    retry_period: Duration = Field(default=2.0, gt=0)
    resource_lock: Literal["leases"] = "leases"
    resource_name: str = Field(default="podium", min_length=1)
    resource_namespace: str = Field(default="kube-system", min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> LeaderElection:
        # The leader must give up (renewDeadline) before others may take over (leaseDuration),
        # and must get a few retries in before giving up. Same rule as client-go's.
        if self.lease_duration <= self.renew_deadline:
            raise ValueError("leaseDuration must be greater than renewDeadline")
        if self.renew_deadline <= self.retry_period * 1.2:
            raise ValueError("renewDeadline must be greater than retryPeriod*1.2")
        return self


class _RawConfig(_Model):
    api_version: Literal["kubescheduler.config.k8s.io/v1"]
    kind: Literal["KubeSchedulerConfiguration"]
    parallelism: int = Field(default=16, ge=1, le=1024)
    percentage_of_nodes_to_score: int = Field(default=0, ge=0, le=100)
    pod_initial_backoff_seconds: int = Field(default=1, ge=1)
    pod_max_backoff_seconds: int = Field(default=10, ge=1)
    client_connection: _ClientConnection = _ClientConnection()
    leader_election: LeaderElection = LeaderElection()
    # kube-scheduler debugging/caching switches: accepted so existing files load; podium's
    # profiling is off and its followers always keep warm caches.
    enable_profiling: bool = False
    enable_contention_profiling: bool = False
    delay_cache_until_active: bool = False
    profiles: list[_RawProfile] = Field(default_factory=lambda: [_RawProfile()], min_length=1)


# ---------------------------------------------------------------------------------------------
# pluginConfig args.


class _ArgsModel(_Model):
    # kube-scheduler lets each args block carry its own apiVersion/kind.
    api_version: Literal["kubescheduler.config.k8s.io/v1"] | None = None
    kind: str | None = None


class _ResourceWeight(_Model):
    name: str = Field(min_length=1)
    weight: int = Field(default=1, ge=1, le=_MAX_RESOURCE_WEIGHT)


class _ShapePoint(_Model):
    utilization: int = Field(ge=0, le=100)
    score: int = Field(ge=0, le=_MAX_SHAPE_SCORE)


class _RequestedToCapacityRatio(_Model):
    shape: list[_ShapePoint] = Field(min_length=1)

    @model_validator(mode="after")
    def _increasing(self) -> _RequestedToCapacityRatio:
        points = [p.utilization for p in self.shape]
        if any(b <= a for a, b in itertools.pairwise(points)):
            raise ValueError("shape utilization values must be strictly increasing")
        return self


_DEFAULT_RESOURCES = (_ResourceWeight(name="cpu"), _ResourceWeight(name="memory"))


class _ScoringStrategy(_Model):
    type: Literal["LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"] = "LeastAllocated"
    resources: list[_ResourceWeight] = Field(
        default_factory=lambda: list(_DEFAULT_RESOURCES), min_length=1
    )
    requested_to_capacity_ratio: _RequestedToCapacityRatio | None = None

    @model_validator(mode="after")
    def _shape_iff_ratio(self) -> _ScoringStrategy:
        if self.type == "RequestedToCapacityRatio" and self.requested_to_capacity_ratio is None:
            raise ValueError(
                "requestedToCapacityRatio is required for type RequestedToCapacityRatio"
            )
        if self.type != "RequestedToCapacityRatio" and self.requested_to_capacity_ratio is not None:
            raise ValueError("requestedToCapacityRatio is only allowed with that type")
        return self


class _NodeResourcesFitArgs(_ArgsModel):
    scoring_strategy: _ScoringStrategy = _ScoringStrategy()


class _BalancedAllocationArgs(_ArgsModel):
    resources: list[_ResourceWeight] = Field(
        default_factory=lambda: list(_DEFAULT_RESOURCES), min_length=1
    )


class _PackingWeights(_Model):
    """NUMAPacking's term weights (see ``rust/src/topology/packing.rs``)."""

    node_fit: float = Field(default=4.0, ge=0)
    zone_fit: float = Field(default=2.0, ge=0)
    whole_node: float = Field(default=3.0, ge=0)
    whole_zone: float = Field(default=1.0, ge=0)
    stranding: float = Field(default=3.0, ge=0)
    nic_affinity: float = Field(default=1.0, ge=0)
    alignment: float = Field(default=2.0, ge=0)
    gpu_node_avoidance: float = Field(default=1.0, ge=0)

    @model_validator(mode="after")
    def _not_all_zero(self) -> _PackingWeights:
        if not any(self.model_dump().values()):
            raise ValueError("at least one weight must be positive")
        return self


class _TopologyMatchArgs(_ArgsModel):
    """``pluginConfig`` args of NodeResourceTopologyMatch: which resources are NUMA-placed."""

    gpu_resources: list[str] = Field(default_factory=lambda: ["nvidia.com/gpu"])
    nic_resources: list[str] = Field(default_factory=lambda: ["rdma/hca", "nvidia.com/hostdev"])


class _InterPodAffinityArgs(_ArgsModel):
    """``pluginConfig`` args of InterPodAffinity (kube's defaults)."""

    hard_pod_affinity_weight: int = Field(default=1, ge=0, le=100)
    ignore_preferred_terms_of_existing_pods: bool = False


class _PodTopologySpreadArgs(_ArgsModel):
    """``pluginConfig`` args of PodTopologySpread. Each constraint is validated by the core.

    ``System`` defaulting applies no constraints in podium: kube derives their selectors from
    the Services and workload controllers selecting the pod, which podium does not watch.
    ``List`` constraints select the pods sharing the pod's labels (see ``state/spread.rs``)."""

    default_constraints: list[dict[str, Any]] = Field(default_factory=list)
    defaulting_type: Literal["System", "List"] = "System"


class _VolumeBindingArgs(_ArgsModel):
    """``pluginConfig`` args of VolumeBinding: how long PreBind waits for the PV controller to
    bind a pod's claims (kube's default; 0 gives up at once unless they are bound already)."""

    bind_timeout_seconds: int = Field(default=600, ge=0, le=86_400)


class _NumaPackingArgs(_ArgsModel):
    """``pluginConfig`` args of NUMAPacking."""

    weights: _PackingWeights = _PackingWeights()
    # GPU counts of the jobs to keep room for: free GPUs no such job could use are "stranded".
    waiting_sizes: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: [1, 2, 4, 8], min_length=1
    )


@dataclass(frozen=True, slots=True)
class NumaSettings:
    """The NUMA plugins' args, as the core reads them (``podium.numa`` in the spec)."""

    gpu_resources: tuple[str, ...] = ("nvidia.com/gpu",)
    nic_resources: tuple[str, ...] = ("rdma/hca", "nvidia.com/hostdev")
    weights: tuple[tuple[str, float], ...] = tuple(_PackingWeights().model_dump().items())
    waiting_sizes: tuple[int, ...] = (1, 2, 4, 8)

    def spec(self) -> NumaSpec:
        return {
            "gpuResources": list(self.gpu_resources),
            "nicResources": list(self.nic_resources),
            "weights": {to_camel(k): v for k, v in self.weights},
            "waitingSizes": list(self.waiting_sizes),
        }


class _ReservationArgs(_Model):
    """Whole-node reservations (``rust/src/reservation.rs``): a pod that fits nowhere and asks
    for at least ``min_share`` of a node's allocatable amount of one of ``resources`` gets the
    node nearest to free held for it (``status.nominatedNodeName``) while that node's pods
    finish; at most ``max_node_share`` of the nodes are held at once (0: off). A quarter by
    default: on the GPU packing benchmark's overloaded stream, a twentieth held too few nodes
    to place more whole-node jobs than best-fit packing alone, a quarter placed more of them
    and as many small jobs (``bench/README.md``)."""

    resources: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=lambda: ["nvidia.com/gpu"]
    )
    min_share: float = Field(default=1.0, gt=0.0, le=1.0)
    max_node_share: float = Field(default=0.25, ge=0.0, le=1.0)


# A label key as Kubernetes accepts it (an optional DNS-subdomain prefix and "/", then a name
# of at most 63 characters); the core checks the same when a profile is built.
_LABEL_KEY = re.compile(
    r"^(?:[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)*/)?"
    r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
LabelKey = Annotated[str, Field(pattern=_LABEL_KEY.pattern, max_length=253 + 1 + 63)]


class PodiumArgs(_ArgsModel):
    """podium's own settings: ``pluginConfig: [{name: Podium, args: {...}}]``."""

    batch_size: int = Field(default=256, ge=1, le=100_000)
    # How long a cycle waits for more pods once the first is ready, to fill a batch.
    batch_wait: Duration = Field(default=0.002, ge=0)
    bind_concurrency: int = Field(default=64, ge=1, le=10_000)
    bind_retries: int = Field(default=5, ge=0, le=100)
    bind_timeout: Duration = Field(default=10.0, gt=0)
    # Unschedulable pods are retried at the latest after this long, even without cluster events.
    unschedulable_timeout: Duration = Field(default=300.0, gt=0)
    numa_default_policy: Literal["single", "prefer", "none"] = "prefer"
    rack_label: LabelKey = "topology.kubernetes.io/rack"
    # Gangs' topology levels, widest first (node labels); unset: block, the rack label, host.
    topology_levels: list[LabelKey] | None = Field(default=None, min_length=1)
    health_bind_address: str = Field(default="0.0.0.0:10351", pattern=r"^.*:\d{1,5}$")
    # Unset: OTEL_TRACES_SAMPLER/OTEL_TRACES_SAMPLER_ARG decide, else every cycle is traced.
    trace_sample_ratio: float | None = Field(default=None, ge=0.0, le=1.0)
    # OTLP/HTTP traces URL (…/v1/traces). Unset: OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, else off.
    otlp_endpoint: str | None = None
    reservation: _ReservationArgs = _ReservationArgs()

    @model_validator(mode="after")
    def _levels_once(self) -> PodiumArgs:
        levels = self.topology_levels or []
        for i, key in enumerate(levels):
            if key in levels[:i]:
                raise ValueError(
                    f"topologyLevels[{i}]: {key!r} is already level {levels.index(key)}"
                )
        return self


_M = TypeVar("_M", bound=BaseModel)


# ---------------------------------------------------------------------------------------------
# The resolved configuration.


FitStrategyName = Literal["LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"]


@dataclass(frozen=True, slots=True)
class FitStrategy:
    """NodeResourcesFit's scoring strategy."""

    strategy: FitStrategyName = "LeastAllocated"
    resources: tuple[tuple[str, int], ...] = (("cpu", 1), ("memory", 1))
    # (utilization 0..100, score 0..10) points, for RequestedToCapacityRatio only.
    shape: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Profile:
    """One scheduling profile with its plugin sets resolved."""

    scheduler_name: str = DEFAULT_SCHEDULER_NAME
    filters: tuple[str, ...] = tuple(p for p in DEFAULT_FILTERS if p in IMPLEMENTED)
    scores: dict[str, int] = field(
        default_factory=lambda: {p: w for p, w in DEFAULT_SCORES.items() if p in IMPLEMENTED}
    )
    fit: FitStrategy = FitStrategy()
    balanced_resources: tuple[tuple[str, int], ...] = (("cpu", 1), ("memory", 1))
    percentage_of_nodes_to_score: int = 0
    parallelism: int = 16
    podium: PodiumArgs = field(default_factory=PodiumArgs)
    numa: NumaSettings = NumaSettings()
    # Args the core's plugins read themselves, by plugin name (kube's field names).
    plugin_args: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Python plugins (``podium.plugins``) enabled in this profile, with their args.
    python_plugins: tuple[EnabledPlugin, ...] = ()
    # DefaultPreemption (postFilter) enabled: pods that fit nowhere evict lower-priority ones.
    preemption: bool = True
    # VolumeBinding's bindTimeoutSeconds: PreBind's wait for the PV controller.
    volume_bind_timeout: float = 600.0

    def core_spec(self) -> ProfileSpec:
        """The spec ``podium._core.Profile`` is built from (``ProfileSpec`` in ``_core.pyi``)."""
        return {
            "schedulerName": self.scheduler_name,
            "filters": list(self.filters),
            "scores": self.scores,
            "fit": {
                "strategy": self.fit.strategy,
                "resources": [{"name": n, "weight": w} for n, w in self.fit.resources],
                "shape": [{"utilization": u, "score": s} for u, s in self.fit.shape],
            },
            "balancedResources": [{"name": n, "weight": w} for n, w in self.balanced_resources],
            "percentageOfNodesToScore": self.percentage_of_nodes_to_score,
            "parallelism": self.parallelism,
            "pluginArgs": self.plugin_args,
            "podium": {
                "numaDefaultPolicy": self.podium.numa_default_policy,
                "rackLabel": self.podium.rack_label,
                **(
                    {"topologyLevels": list(self.podium.topology_levels)}
                    if self.podium.topology_levels is not None
                    else {}
                ),
                "numa": self.numa.spec(),
                "reservation": {
                    "resources": self.podium.reservation.resources,
                    "minShare": self.podium.reservation.min_share,
                    "maxNodeShare": self.podium.reservation.max_node_share,
                },
            },
        }


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    """A validated configuration."""

    profiles: tuple[Profile, ...] = (Profile(),)
    parallelism: int = 16
    percentage_of_nodes_to_score: int = 0
    pod_initial_backoff_seconds: float = 1.0
    pod_max_backoff_seconds: float = 10.0
    qps: float = 50.0
    burst: int = 100
    kubeconfig: str = ""
    leader_election: LeaderElection = field(default_factory=LeaderElection)

    @property
    def podium(self) -> PodiumArgs:
        """Process-wide podium settings: those of the first profile."""
        return self.profiles[0].podium

    @property
    def scheduler_names(self) -> list[str]:
        return [p.scheduler_name for p in self.profiles]

    def profile(self, scheduler_name: str) -> Profile | None:
        for p in self.profiles:
            if p.scheduler_name == scheduler_name:
                return p
        return None


def default_config() -> SchedulerConfig:
    """The configuration used when no file is given."""
    return SchedulerConfig()


def load_config(path: str | Path | None) -> SchedulerConfig:
    """Read and validate a YAML or JSON file; ``None`` gives the defaults."""
    if path is None:
        return default_config()
    source = str(path)
    try:
        text = Path(path).read_bytes()
    except OSError as e:
        raise ConfigError([f"cannot read file: {e.strerror}"], source) from e
    try:
        data: object = orjson.loads(text) if source.endswith(".json") else yaml.safe_load(text)
    except (orjson.JSONDecodeError, yaml.YAMLError) as e:
        raise ConfigError(
            [f"not valid {'JSON' if source.endswith('.json') else 'YAML'}: {e}"], source
        ) from e
    return parse_config(data, source)


def parse_config(data: object, source: str = "configuration") -> SchedulerConfig:
    """Validate already-decoded configuration data."""
    if not isinstance(data, dict):
        raise ConfigError(
            [
                f"top level must be a mapping with apiVersion: {API_VERSION} "
                f"(got {_type_name(data)})"
            ],
            source,
        )
    try:
        raw = _RawConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_describe(e, ()), source) from None
    errors: list[str] = []
    profiles = tuple(_resolve_profile(raw, i, p, errors) for i, p in enumerate(raw.profiles))
    seen: set[str] = set()
    for i, p in enumerate(raw.profiles):
        if p.scheduler_name in seen:
            errors.append(f"profiles[{i}].schedulerName: duplicate name {p.scheduler_name!r}")
        seen.add(p.scheduler_name)
    if raw.pod_max_backoff_seconds < raw.pod_initial_backoff_seconds:
        errors.append(
            "podMaxBackoffSeconds: must be >= podInitialBackoffSeconds "
            f"({raw.pod_initial_backoff_seconds})"
        )
    if errors:
        raise ConfigError(errors, source)
    return SchedulerConfig(
        profiles=profiles,
        parallelism=raw.parallelism,
        percentage_of_nodes_to_score=raw.percentage_of_nodes_to_score,
        pod_initial_backoff_seconds=float(raw.pod_initial_backoff_seconds),
        pod_max_backoff_seconds=float(raw.pod_max_backoff_seconds),
        qps=raw.client_connection.qps,
        burst=raw.client_connection.burst,
        kubeconfig=raw.client_connection.kubeconfig,
        leader_election=raw.leader_election,
    )


def _resolve_profile(raw: _RawConfig, index: int, p: _RawProfile, errors: list[str]) -> Profile:
    where = f"profiles[{index}]"
    core_plugins, python = _split_python_plugins(p.plugins, f"{where}.plugins", errors)
    filters, scores = _resolve_plugins(core_plugins, f"{where}.plugins", errors)
    python_args: dict[str, dict[str, Any]] = {}
    fit_args = _NodeResourcesFitArgs()
    balanced = _BalancedAllocationArgs()
    podium = PodiumArgs()
    topology_match = _TopologyMatchArgs()
    packing = _NumaPackingArgs()
    volume_binding = _VolumeBindingArgs()
    plugin_args: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for j, pc in enumerate(p.plugin_config):
        at = f"{where}.pluginConfig[{j}]"
        if pc.name in seen:
            errors.append(f"{at}.name: duplicate pluginConfig for {pc.name!r}")
            continue
        seen.add(pc.name)
        if pc.name == "NodeResourcesFit":
            fit_args = _validate_args(
                _NodeResourcesFitArgs, pc.args, f"{at}.args", errors, fit_args
            )
        elif pc.name == "NodeResourcesBalancedAllocation":
            balanced = _validate_args(
                _BalancedAllocationArgs, pc.args, f"{at}.args", errors, balanced
            )
        elif pc.name == "NodeResourceTopologyMatch":
            topology_match = _validate_args(
                _TopologyMatchArgs, pc.args, f"{at}.args", errors, topology_match
            )
        elif pc.name == "NUMAPacking":
            packing = _validate_args(_NumaPackingArgs, pc.args, f"{at}.args", errors, packing)
        elif pc.name == "VolumeBinding":
            volume_binding = _validate_args(
                _VolumeBindingArgs, pc.args, f"{at}.args", errors, volume_binding
            )
        elif pc.name in _PASSED_ARGS:
            model = _PASSED_ARGS[pc.name]
            checked = _validate_args(model, pc.args, f"{at}.args", errors, model())
            plugin_args[pc.name] = checked.model_dump(
                by_alias=True, exclude={"api_version", "kind"}
            )
        elif pc.name == PODIUM_ARGS_NAME:
            podium = _validate_args(PodiumArgs, pc.args, f"{at}.args", errors, podium)
        elif pc.name in _installed_python_plugins() and pc.name not in KNOWN_PLUGINS:
            # Checked by the plugin's factory when the scheduler builds it.
            python_args[pc.name] = pc.args
        elif pc.name in KNOWN_PLUGINS:
            errors.append(f"{at}.name: podium does not support args for plugin {pc.name!r}")
        else:
            errors.append(f"{at}.name: unknown plugin {pc.name!r}")
    strategy = fit_args.scoring_strategy
    ratio = strategy.requested_to_capacity_ratio
    return Profile(
        scheduler_name=p.scheduler_name,
        filters=filters,
        scores=scores,
        fit=FitStrategy(
            strategy=strategy.type,
            resources=tuple((r.name, r.weight) for r in strategy.resources),
            shape=tuple((s.utilization, s.score) for s in ratio.shape) if ratio else (),
        ),
        balanced_resources=tuple((r.name, r.weight) for r in balanced.resources),
        percentage_of_nodes_to_score=(
            p.percentage_of_nodes_to_score
            if p.percentage_of_nodes_to_score is not None
            else raw.percentage_of_nodes_to_score
        ),
        parallelism=raw.parallelism,
        podium=podium,
        plugin_args=plugin_args,
        python_plugins=tuple(
            EnabledPlugin(name, tuple(points), weight, python_args.get(name, {}))
            for name, (points, weight) in python.items()
        ),
        preemption=_preemption_enabled(p.plugins),
        volume_bind_timeout=float(volume_binding.bind_timeout_seconds),
        numa=NumaSettings(
            gpu_resources=tuple(topology_match.gpu_resources),
            nic_resources=tuple(topology_match.nic_resources),
            weights=tuple(packing.weights.model_dump().items()),
            waiting_sizes=tuple(packing.waiting_sizes),
        ),
    )


# Plugins whose args are checked here and handed to the core as they are.
_PASSED_ARGS: dict[str, type[_ArgsModel]] = {
    "InterPodAffinity": _InterPodAffinityArgs,
    "PodTopologySpread": _PodTopologySpreadArgs,
}


def _installed_python_plugins() -> frozenset[str]:
    return frozenset(available_plugins())


_PYTHON_POINTS: tuple[Point, ...] = ("filter", "score", "permit")


def _split_python_plugins(
    plugins: _Plugins, where: str, errors: list[str]
) -> tuple[_Plugins, dict[str, tuple[list[Point], int]]]:
    """Take the Python plugins (installed ``podium.plugins`` entry points that are not core
    plugin names) out of the filter, score and permit sets: name -> (points, score weight)."""
    installed = _installed_python_plugins() - KNOWN_PLUGINS
    if not installed:
        return plugins, {}
    found: dict[str, tuple[list[Point], int]] = {}
    updates: dict[str, _PluginSet] = {}
    for point in _PYTHON_POINTS:
        plugin_set: _PluginSet = getattr(plugins, point)
        keep: list[_PluginRef] = []
        for k, ref in enumerate(plugin_set.enabled):
            if ref.name not in installed:
                keep.append(ref)
                continue
            points, weight = found.get(ref.name, ([], 1))
            points.append(point)
            if ref.weight is not None:
                if point == "score":
                    weight = ref.weight
                else:
                    errors.append(
                        f"{where}.{point}.enabled[{k}].weight: only score plugins have a weight"
                    )
            found[ref.name] = (points, weight)
        updates[point] = plugin_set.model_copy(update={"enabled": keep})
    for k, ref in enumerate(plugins.multi_point.enabled):
        if ref.name in installed:
            errors.append(
                f"{where}.multiPoint.enabled[{k}].name: Python plugin {ref.name!r} is enabled "
                "at filter, score or permit, not multiPoint"
            )
    return plugins.model_copy(update=updates), found


def _validate_args(
    model: type[_M], args: dict[str, Any], where: str, errors: list[str], fallback: _M
) -> _M:
    try:
        return model.model_validate(args)
    except ValidationError as e:
        errors.extend(_describe(e, (where,)))
        return fallback


def _resolve_plugins(
    plugins: _Plugins, where: str, errors: list[str]
) -> tuple[tuple[str, ...], dict[str, int]]:
    """Merge multiPoint with the filter and score sets, kube-scheduler's way.

    multiPoint starts from the defaults ("*" in disabled drops them all), then a plugin enabled in
    multiPoint joins every point it implements. A specific point's set then applies on top: its
    disabled entries remove plugins there, and its enabled entries run first, in their order."""
    for point in _Plugins.model_fields:
        if point in ("filter", "score", "multi_point"):
            continue
        plugin_set: _PluginSet = getattr(plugins, point)
        alias = to_camel(point)
        for kind in ("enabled", "disabled"):
            for k, ref in enumerate(getattr(plugin_set, kind)):
                if ref.name != "*" and ref.name not in KNOWN_PLUGINS:
                    errors.append(f"{where}.{alias}.{kind}[{k}].name: unknown plugin {ref.name!r}")

    multi = plugins.multi_point
    _check_names(multi, f"{where}.multiPoint", KNOWN_PLUGINS, errors)
    multi_disabled = {r.name for r in multi.disabled}
    base_filters = [
        p for p in DEFAULT_FILTERS if p in IMPLEMENTED and not _drops(multi_disabled, p)
    ]
    base_scores = {
        p: w
        for p, w in DEFAULT_SCORES.items()
        if p in IMPLEMENTED and not _drops(multi_disabled, p)
    }
    for ref in multi.enabled:
        if ref.name in _FILTER_PLUGINS and ref.name not in base_filters:
            base_filters.append(ref.name)
        if ref.name in _SCORE_PLUGINS:
            base_scores[ref.name] = (
                ref.weight or base_scores.get(ref.name) or DEFAULT_SCORES[ref.name]
            )

    flt = plugins.filter
    _check_names(flt, f"{where}.filter", _FILTER_PLUGINS, errors)
    flt_disabled = {r.name for r in flt.disabled}
    for k, ref in enumerate(flt.enabled):
        if ref.weight is not None:
            errors.append(f"{where}.filter.enabled[{k}].weight: only score plugins have a weight")
    explicit = [r.name for r in flt.enabled]
    filters = explicit + [
        p for p in base_filters if p not in explicit and not _drops(flt_disabled, p)
    ]

    sc = plugins.score
    _check_names(sc, f"{where}.score", _SCORE_PLUGINS, errors)
    sc_disabled = {r.name for r in sc.disabled}
    scores = {
        r.name: r.weight or base_scores.get(r.name) or DEFAULT_SCORES.get(r.name, 1)
        for r in sc.enabled
    }
    for p, w in base_scores.items():
        if p not in scores and not _drops(sc_disabled, p):
            scores[p] = w
    return tuple(dict.fromkeys(filters)), scores


_PREEMPTION = "DefaultPreemption"


def _preemption_enabled(plugins: _Plugins) -> bool:
    """DefaultPreemption is on by default; disabled in multiPoint or postFilter (by name or
    "*") it is off, unless enabled again at postFilter (or multiPoint, over its own "*")."""
    multi_on = not _drops({r.name for r in plugins.multi_point.disabled}, _PREEMPTION) or any(
        r.name == _PREEMPTION for r in plugins.multi_point.enabled
    )
    post = plugins.post_filter
    if any(r.name == _PREEMPTION for r in post.enabled):
        return True
    return multi_on and not _drops({r.name for r in post.disabled}, _PREEMPTION)


def _drops(disabled: set[str], plugin: str) -> bool:
    return "*" in disabled or plugin in disabled


def _check_names(
    plugin_set: _PluginSet, where: str, allowed: Iterable[str], errors: list[str]
) -> None:
    allowed_set = frozenset(allowed)
    for k, ref in enumerate(plugin_set.enabled):
        at = f"{where}.enabled[{k}].name"
        if ref.name not in KNOWN_PLUGINS:
            errors.append(f"{at}: unknown plugin {ref.name!r}")
        elif ref.name not in allowed_set:
            errors.append(f"{at}: plugin {ref.name!r} does not implement this extension point")
        elif ref.name not in IMPLEMENTED and ref.name not in BUILT_IN:
            errors.append(f"{at}: plugin {ref.name!r} is not implemented by podium yet")
    for k, ref in enumerate(plugin_set.disabled):
        if ref.name != "*" and ref.name not in KNOWN_PLUGINS:
            errors.append(f"{where}.disabled[{k}].name: unknown plugin {ref.name!r}")


# ---------------------------------------------------------------------------------------------
# pydantic's errors, in the words of a Kubernetes config file.

_TYPE_WORDS = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "a string",
    "bool_type": "a boolean",
    "bool_parsing": "a boolean",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _describe(error: ValidationError, prefix: tuple[str, ...]) -> list[str]:
    out = []
    for e in error.errors(include_url=False):
        path = _format_path(prefix + tuple(e["loc"]))
        out.append(f"{path}: {_message(e['type'], e.get('ctx') or {}, e.get('input'), e['msg'])}")
    return out


def _format_path(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "(top level)"


def _message(kind: str, ctx: dict[str, Any], value: object, default: str) -> str:
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    if kind in _TYPE_WORDS:
        return f"must be {_TYPE_WORDS[kind]} (got {_type_name(value)} {value!r})"
    number = "an integer" if isinstance(value, int) else "a number"
    bounds = {
        "greater_than_equal": ">=",
        "greater_than": ">",
        "less_than_equal": "<=",
        "less_than": "<",
    }
    if kind in bounds:
        limit = next(iter(ctx.values()))
        return f"must be {number} {bounds[kind]} {limit} (got {value!r})"
    if kind == "literal_error":
        return f"must be {ctx.get('expected', '')} (got {value!r})"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} item(s)"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "string_pattern_mismatch":
        return f"invalid value {value!r}"
    if kind == "value_error":
        return str(ctx.get("error", default.removeprefix("Value error, ")))
    return default


def _type_name(value: object) -> str:
    return {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "list",
        dict: "mapping",
        type(None): "null",
    }.get(type(value), type(value).__name__)
