"""Typed surface of podium's Rust core (``rust/src/py/``, registered by ``rust/src/lib.rs``).

The contract between the Python control plane and the Rust hot path. Python hands the core raw
JSON bytes straight from the apiserver (list pages and watch lines); the core parses each object
once into compact records. Nothing here returns a Python object per cached pod.
"""

from collections.abc import Callable, Sequence
from enum import Enum, IntEnum
from typing import Any, Final, Literal, NotRequired, TypedDict, final, type_check_only

# What the module registers (pyo3 keeps `__all__` as classes are added; stubtest compares).
__all__ = [
    "Change",
    "ClaimBinding",
    "ClaimInfo",
    "ClusterState",
    "Code",
    "CoreError",
    "Decision",
    "Evaluation",
    "EventType",
    "FairShare",
    "GroupMember",
    "Kind",
    "ListPage",
    "NodeScore",
    "PendingPod",
    "PluginNode",
    "PluginPod",
    "PodGroup",
    "Preemption",
    "Profile",
    "QuotaUsage",
    "ResourceClaimReservation",
    "Snapshot",
    "Victim",
    "VolumeInfo",
    "__version__",
]

__version__: Final[str]

class CoreError(ValueError):
    """Malformed input. The message names the object (``kind namespace/name``) and the field path,
    e.g. ``Pod default/web-1: spec.containers[0].resources.requests.cpu: invalid quantity "1x"``."""

class Code(IntEnum):
    """Result of one pod's scheduling attempt, as kube-scheduler's framework.Code."""

    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    WAIT = 4
    SKIP = 5

class Kind(IntEnum):
    """Object kinds the cache holds."""

    NODE = 0
    POD = 1
    NODE_RESOURCE_TOPOLOGY = 2
    PERSISTENT_VOLUME = 3
    PERSISTENT_VOLUME_CLAIM = 4
    STORAGE_CLASS = 5
    NAMESPACE = 6
    POD_GROUP = 7
    PRIORITY_CLASS = 8
    POD_DISRUPTION_BUDGET = 9
    DEVICE_CLASS = 10
    RESOURCE_SLICE = 11
    RESOURCE_CLAIM = 12
    ELASTIC_QUOTA = 13
    WORKLOAD_POD_GROUP = 14

class EventType(Enum):
    """A watch event's type, as the apiserver's watch.EventType."""

    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"
    BOOKMARK = "BOOKMARK"
    ERROR = "ERROR"

@final
class ListPage:
    """What one page of a paginated list said."""

    resource_version: str
    continue_token: str | None
    items: int
    # One message per object that could not be parsed (object and field named); those objects
    # are kept as invalid records (a node is infeasible, a pending pod fails with this message).
    errors: list[str]
    # (namespace, name, uid, message) of the pods among ``errors`` that are on a node: they still
    # count there (e.g. by their requests when their podium.dev/allocation is wrong).
    bound_pod_errors: list[tuple[str, str, str, str]]

@final
class Change:
    """What one watch line did to the cache.

    For ``EventType.ERROR``, ``status_code`` holds the apiserver's code (410 means the
    resourceVersion is gone: relist)."""

    event: EventType
    kind: Kind
    resource_version: str
    status_code: int | None
    namespace: str
    name: str
    uid: str
    # Pods only; empty/None/0 otherwise.
    scheduler_name: str
    node_name: str | None
    priority: int
    created: float  # seconds since the epoch (metadata.creationTimestamp)
    terminal: bool  # status.phase Succeeded or Failed: uses no resources
    gated: bool  # has spec.schedulingGates
    pod_group: str | None  # label scheduling.x-k8s.io/pod-group
    error: str | None  # set when the object was malformed (kept as an invalid record)
    # False for a node update that changes nothing scheduling reads (a status heartbeat), or a
    # pod update that changes nothing the cache keeps (a condition written): it must not wake
    # the parked pods. True for every other change.
    relevant: bool

@final
class PendingPod:
    """A pod podium should schedule, as the queue needs it."""

    uid: str
    namespace: str
    name: str
    scheduler_name: str  # which profile schedules it
    priority: int
    created: float
    pod_group: str | None
    # A claim of it comes from a template not made into a claim yet, or a claim it names has
    # not reached the cache yet: it waits for its own update or the claim, without backoff
    # (kube's DynamicResources PreEnqueue).
    claims_pending: bool

@final
class PodGroup:
    """A PodGroup as cached: scheduler-plugins' (``scheduling.x-k8s.io/v1alpha1``) with podium's
    annotations read (the topology request: ``podium.dev/topology-level``,
    ``podium.dev/topology-mode``, ``podium.dev/slice-size``, ``podium.dev/slice-level``, or
    ``podium.dev/rack``; ``podium.dev/distinct-hosts`` as ``distinct_hosts``,
    ``podium.dev/job`` as ``job``), or the Workload API's (``scheduling.k8s.io/v1beta1``:
    ``min_member`` is ``schedulingPolicy.gang.minCount``, 1 for ``basic``;
    ``schedulingConstraints.topology[0].key`` is a ``required`` ``topology_level``; the
    Workload-only properties are None/0/False for the other)."""

    @property
    def namespace(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def uid(self) -> str: ...
    @property
    def min_member(self) -> int: ...
    @property
    def min_resources(self) -> dict[str, int]:
        """``spec.minResources``: cpu in millicores, memory/storage in bytes, others in units."""

    @property
    def schedule_timeout_seconds(self) -> int | None: ...
    @property
    def topology_level(self) -> str | None:
        """The label whose domains the gang shares; None without a request, or when it is
        ``podium.dev/rack``'s (``rack``: the profile's ``podium.rackLabel``)."""

    @property
    def topology_mode(self) -> str | None:
        """``required`` or ``preferred``; None without a topology request."""

    @property
    def rack(self) -> bool:
        """The request is ``podium.dev/rack``'s (its level: the profile's rack label)."""

    @property
    def slice_size(self) -> int | None: ...
    @property
    def slice_level(self) -> str | None: ...
    @property
    def distinct_hosts(self) -> bool: ...
    @property
    def job(self) -> str | None: ...
    @property
    def created(self) -> float: ...
    @property
    def error(self) -> str | None:
        """Set when the object is malformed (names the object and the field); its members are
        not scheduled while it is."""

    @property
    def api_version(self) -> str:
        """``scheduling.x-k8s.io/v1alpha1`` or ``scheduling.k8s.io/v1beta1``."""

    @property
    def gang(self) -> bool:
        """All or nothing (always, for scheduler-plugins'; False for ``basic``)."""

    @property
    def priority(self) -> int | None: ...
    @property
    def priority_class_name(self) -> str | None: ...
    @property
    def preemption_policy(self) -> str | None:
        """``PreemptLowerPriority`` or ``Never`` (None for scheduler-plugins')."""

    @property
    def disruption_mode(self) -> str | None:
        """``Single`` or ``All`` (None for scheduler-plugins')."""

    @property
    def parent_composite_pod_group(self) -> str | None: ...
    @property
    def generation(self) -> int:
        """``metadata.generation`` (0 for scheduler-plugins')."""

    @property
    def initially_scheduled(self) -> bool:
        """``status.conditions`` holds ``PodGroupInitiallyScheduled=True``."""

@final
class GroupMember:
    """A pod labelled ``scheduling.x-k8s.io/pod-group`` with a group's name."""

    uid: str
    name: str
    node: str | None  # where it counts (bound or assumed); None while pending or finished
    assumed: bool
    running: bool
    terminal: bool
    owner: str | None  # name of its controller (ownerReference with controller: true)

@final
class Decision:
    """The core's answer for one pod of a batch."""

    uid: str
    namespace: str
    name: str
    code: Code
    node: str | None  # set when code == SUCCESS
    score: int
    # kube-scheduler's message form:
    # "0/100 nodes are available: 40 node(s) had untolerated taint(s),
    #  60 Insufficient nvidia.com/gpu." (reasons sorted as strings, as kube does)
    message: str
    # reason -> number of nodes that failed with it
    reasons: dict[str, int]
    evaluated_nodes: int
    feasible_nodes: int
    # JSON for the pod annotation podium.dev/allocation, when the NUMA placement chose zones.
    allocation: str | None
    # What placing the pod on ``node`` does with each of its unbound WaitForFirstConsumer
    # claims (VolumeBinding's PreBind carries it out); empty when none needs binding.
    volumes: list[ClaimBinding]
    # The pod's ResourceClaims not yet reserved for it, with the allocation podium chose on
    # ``node`` where it allocated one (DynamicResources' PreBind writes them); empty when none.
    claims: list[ResourceClaimReservation]
    # When the core started deciding this pod (ns since the Unix epoch; 0 if it never did), and
    # how long each phase took; the phases follow back to back: filter, score, placement
    # (choosing the node and its NUMA allocation).
    started_ns: int
    # Decided from what an earlier pod of the same shape left in the batch (kube's
    # opportunistic batching), not by examining the nodes again.
    reused: bool
    filter_seconds: float
    score_seconds: float
    placement_seconds: float

@final
class QuotaUsage:
    """One ElasticQuota and what its subtree's pods use (its namespace's and its descendants',
    bound and assumed). Amounts by resource name in the resource's base unit (cpu in
    millicores, memory in bytes); ``used`` lists every resource ``min`` or ``max`` names."""

    namespace: str
    name: str
    min: dict[str, int]
    max: dict[str, int]
    used: dict[str, int]
    # The namespace of its parent's ElasticQuota (``podium.dev/parent``) as used: None for a
    # root, and for a quota whose parent is bad (see ``error``).
    parent: str | None
    weight: float  # ``podium.dev/weight``, 1 by default
    # Its weighted dominant share beyond its guarantee: the fair-share order's key at its level.
    share: float
    error: str | None  # a bad parent, or children promised more than its min

@final
class FairShare:
    """The fair-share order's view of the quotas' ledger (DRF through the quotas' tree over
    cpu, memory and the nodes' extended resources), charged with the pods handed out since it
    was taken."""

    def key(self, pod: PendingPod) -> list[float]:
        """Per quota from the root down to the pod's namespace's, its dominant share beyond its
        guarantee divided by its weight, with ``pod`` counted as placed (a whole pod centres its
        team on its share instead of taking it up to a pod beyond); lower is served first;
        empty without a quota."""

    def charge(self, pod: PendingPod) -> None:
        """``pod`` was handed out: its quota (and its ancestors) count it from now on."""

@final
class ResourceClaimReservation:
    """A ResourceClaim of a placed pod (in the pod's namespace) not yet reserved for it:
    PreBind adds the pod to ``status.reservedFor``, after writing ``status.allocation`` when
    ``allocation`` is set."""

    @property
    def name(self) -> str: ...
    @property
    def uid(self) -> str: ...
    @property
    def allocation(self) -> bytes | None:
        """``status.allocation`` as JSON (without ``devices.config``), or None when the claim
        is allocated already."""
    @property
    def extended(self) -> bytes | None:
        """For the claim of the pod's extended resources served by DRA, which PreBind creates
        (``name`` and ``uid`` are placeholders until then): ``{"spec": ..., "requestMappings":
        [...]}`` as JSON; None for a claim that exists."""
    @property
    def node(self) -> str | None:
        """The node the allocation is bound to."""
    @property
    def devices(self) -> list[str]:
        """The allocated devices as ``driver/pool/device``."""

@final
class ClaimBinding:
    """One unbound claim of a placed pod (in the pod's namespace): ``volume`` is the
    PersistentVolume it is to be bound to, or None to provision one on the pod's node
    (``volume.kubernetes.io/selected-node``)."""

    claim: str
    volume: str | None
    def __new__(cls, claim: str, volume: str | None) -> ClaimBinding: ...

@final
class ClaimInfo:
    """A PersistentVolumeClaim as the cache has it."""

    namespace: str
    name: str
    uid: str
    resource_version: int  # 0 when absent
    volume_name: str | None  # spec.volumeName
    selected_node: str | None  # annotation volume.kubernetes.io/selected-node
    # spec.volumeName set and annotation pv.kubernetes.io/bind-completed present (kube's
    # isPVCFullyBound): the PV controller is done with it.
    fully_bound: bool

@final
class VolumeInfo:
    """A PersistentVolume as the cache has it."""

    name: str
    resource_version: int  # 0 when absent
    # spec.claimRef as (namespace, name, uid); uid is "" when unset.
    claim: tuple[str, str, str] | None

@final
class NodeScore:
    """One feasible node's scores in an ``Evaluation``."""

    node: str
    # The weighted sum a scheduling cycle ranks nodes by.
    total: int
    # (plugin, normalized score 0..100, weight), in the profile's order.
    plugins: list[tuple[str, int, int]]

@final
class Evaluation:
    """``Snapshot.evaluate``'s answer: per-node reasons and the feasible nodes' scores."""

    # Every examined node -> its reasons (empty: feasible). A node name the caller gave that the
    # snapshot lacks has the single reason "node(s) not in podium's cache".
    reasons: dict[str, list[str]]
    # The filter that gave each reason (same lists' order): a plugin name, "Node" for a malformed
    # or unknown node, "Pod" for a malformed pod.
    filters: dict[str, list[str]]
    # The feasible nodes, best first (ties by name).
    scores: list[NodeScore]
    # A score plugin's PreScore failed (plugin named); ``scores`` is empty then.
    score_error: str | None

@final
class PluginPod:
    """What Python plugins see of the pod being scheduled."""

    uid: str
    namespace: str
    name: str
    priority: int
    labels: dict[str, str]
    # Effective requests (cpu in millicores, memory/storage in bytes, extended resources in
    # units); zero entries left out.
    requests: dict[str, int]

@final
class PluginNode:
    """What Python plugins see of one node the core's filters kept."""

    name: str
    labels: dict[str, str]
    # As requests; ``pods`` is status.allocatable.pods.
    allocatable: dict[str, int]
    # Totals of the pods counted on the node (this batch's placements included).
    requested: dict[str, int]
    pods: int
    # The core's weighted score for the node.
    score: int

@final
class Victim:
    """A pod a preemption evicts (with its whole gang, when it is in one)."""

    uid: str
    namespace: str
    name: str
    node: str
    priority: int
    pod_group: str | None  # label scheduling.x-k8s.io/pod-group

@final
class Preemption:
    """What ``Snapshot.preempt`` decided for a set of pods."""

    # (pod uid, node) for every pod of the set, in the order given; empty when it failed.
    nominations: list[tuple[str, str]]
    victims: list[Victim]
    # False when the pods may not preempt now (preemptionPolicy Never, or the victims of their
    # last preemption are still terminating): a nomination they hold must be kept.
    eligible: bool
    # Empty on success; otherwise why, in kube's words (no pod named, so messages group):
    # "preemption: 0/5 nodes are available: 2 No preemption victims found for incoming pod,
    # 3 Preemption is not helpful for scheduling."
    message: str

# The profile's spec: what ``podium.config.Profile.core_spec()`` writes and ``Profile`` is built
# from. Typing only (``from podium._core import ProfileSpec`` under ``TYPE_CHECKING``): at run
# time a spec is a plain dict, checked once by ``Profile``.
@type_check_only
class ResourceWeight(TypedDict):
    name: str
    weight: int

@type_check_only
class ShapePoint(TypedDict):
    utilization: int  # 0..100
    score: int  # 0..10

@type_check_only
class FitSpec(TypedDict, total=False):
    """NodeResourcesFit's scoring strategy."""

    strategy: Literal["LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"]
    resources: list[ResourceWeight]
    shape: list[ShapePoint]  # RequestedToCapacityRatio's

@type_check_only
class NumaSpec(TypedDict, total=False):
    """NodeResourceTopologyMatch's and NUMAPacking's args."""

    gpuResources: list[str]  # ["nvidia.com/gpu"]
    nicResources: list[str]  # ["rdma/hca", "nvidia.com/hostdev"]
    weights: dict[str, float]  # {"nodeFit": 4.0, ...}: topology::PackingWeights
    waitingSizes: list[int]  # [1, 2, 4, 8]

@type_check_only
class ReservationSpec(TypedDict):
    """Whole-node reservations: pods asking for at least ``minShare`` of a node's allocatable
    amount of one of ``resources``; at most ``maxNodeShare`` of the nodes held (0: off)."""

    resources: list[str]
    minShare: float  # (0, 1]
    maxNodeShare: float  # [0, 1]

@type_check_only
class PodiumSpec(TypedDict, total=False):
    """podium's own arguments."""

    numaDefaultPolicy: Literal["single", "prefer", "none"]
    rackLabel: str
    topologyLevels: list[str]  # gangs' topology levels (node labels), widest first
    numa: NumaSpec
    reservation: ReservationSpec

@type_check_only
class ProfileSpec(TypedDict):
    schedulerName: str
    filters: NotRequired[list[str]]  # enabled filter plugins, in order
    scores: NotRequired[dict[str, int]]  # enabled score plugins -> weight
    fit: NotRequired[FitSpec]
    balancedResources: NotRequired[list[ResourceWeight]]  # BalancedAllocation's args
    percentageOfNodesToScore: NotRequired[int]  # 0..100; 0: kube's adaptive rule
    parallelism: NotRequired[int]
    # pluginConfig args read by core plugins, kube's field names:
    # {"InterPodAffinity": {"hardPodAffinityWeight": 1, ...},
    #  "PodTopologySpread": {"defaultingType": "List", "defaultConstraints": [...]}}
    pluginArgs: NotRequired[dict[str, dict[str, Any]]]
    podium: NotRequired[PodiumSpec]

@final
class Profile:
    """One scheduling profile, built from a validated KubeSchedulerConfiguration profile's
    ``ProfileSpec``. The spec is checked here, once: an unknown plugin or field, or a bad value,
    raises CoreError naming its path (``Profile: podium.reservation.minShare: ...``)."""

    def __new__(cls, spec: ProfileSpec) -> Profile: ...
    @property
    def scheduler_name(self) -> str: ...

@final
class Snapshot:
    """An immutable view of the cluster for one scheduling cycle (O(changed) to take)."""

    @property
    def generation(self) -> int: ...
    @property
    def node_count(self) -> int: ...
    def schedule(
        self,
        uids: list[str],
        profile: Profile,
        plugins: Callable[[PluginPod, list[PluginNode]], Sequence[int | str]] | None = None,
    ) -> list[Decision]:
        """Decide a batch with the GIL released. Decisions inside the batch see each other (a
        pod placed earlier in the batch counts on its node for the later ones). Pods the
        snapshot does not know get code ERROR. Does not touch the ClusterState: the caller
        assumes the successes there.

        ``plugins``: called (with the GIL, on a core thread) once per pod that has feasible nodes,
        with those nodes; returns one verdict per node in order: an int is added to the node's
        core score, a str rejects the node with that reason. If it raises, the pod's decision is
        ERROR with the exception in its message. It must not call back into this snapshot."""

    def evaluate(
        self,
        pod: str | bytes,
        profile: Profile,
        nodes: list[str] | None = None,
        *,
        bound: bool = False,
        plugins: Callable[[PluginPod, list[PluginNode]], Sequence[int | str]] | None = None,
    ) -> Evaluation:
        """Judge one pod on ``nodes`` (names; None: every node) without placing it, GIL
        released: every filter's reasons per node (as ``explain``) and the feasible nodes'
        per-plugin scores. ``pod``: the uid of a pending pod (``bound=True``: of a pod counted on
        a node, evaluated as ``explain_bound`` does), or a Pod object as JSON bytes from outside
        the snapshot (its nodeName ignored). Cluster-wide plugins still count every node.
        ``plugins``: as in ``schedule``, after the core: its rejections are reasons (filter
        "PythonPlugins") and its points one more score entry (weight 1); if it raises,
        ``score_error`` says so.

        CoreError: the uid is not pending (bound) here, or the object is malformed (field
        named)."""

    def schedule_gang(
        self,
        uids: list[str],
        profile: Profile,
        group: PodGroup,
        job_groups: list[str],
        plugins: Callable[[PluginPod, list[PluginNode]], Sequence[int | str]] | None = None,
    ) -> list[Decision]:
        """Place the pending members ``uids`` of ``group`` all together or not at all, with the
        GIL released. Success: every decision succeeds and the placements count in the
        snapshot. Otherwise every member gets the same UNSCHEDULABLE decision saying why the gang
        does not fit (and how close it came), and the snapshot is unchanged; nothing is held.
        ``group``'s topology request: ``required`` places the gang inside one domain of its level
        (the nodes sharing one value of the level's label; ``podium.dev/rack``'s level is the
        profile's ``podium.rackLabel``), ``preferred`` tries its level, then each level above it
        in the profile's ``podium.topologyLevels``, then every node; slices put every
        ``slice_size`` members inside one domain of ``slice_level``. Domains whose free
        capacity totals cannot hold the gang are skipped; of the rest the fullest that takes
        the gang wins (best fit). Members already placed keep the gang to their domain.
        ``group.distinct_hosts``: one member per node.
        ``job_groups``: names of the groups of the same job (in the group's namespace): domains
        holding fewer of their pods are preferred. ``plugins``: as for ``schedule``, per member.
        A uid not pending here makes every decision ERROR."""

    def schedule_gangs(
        self,
        gangs: list[tuple[list[str], PodGroup, list[str]]],
        profile: Profile,
        plugins: Callable[[PluginPod, list[PluginNode]], Sequence[int | str]] | None = None,
    ) -> list[list[Decision]]:
        """``schedule_gang`` for each ``(uids, group, job_groups)`` in order, in one call with
        the GIL released: each gang sees the placements of those before it. One list of
        decisions per gang."""

    def preempt(
        self,
        uids: list[str],
        profile: Profile,
        group: PodGroup | None = None,
        *,
        unresolvable: bool = False,
    ) -> Preemption:
        """kube's DefaultPreemption for the pending pods ``uids``, planned as one set (a gang:
        all of them get room, or none does), with the GIL released, in parallel over nodes.

        For each pod in turn: on every node where removing pods could help, evict every pod of
        lower priority, then reprieve them from the most important down (those covered by an
        exhausted PodDisruptionBudget first) while the pod still fits; a victim in a gang
        (label scheduling.x-k8s.io/pod-group) takes every placed member of its gang with it, and
        a gang with a member the pod may not evict is kept whole. The node is chosen by fewest
        budget violations, lowest highest-victim priority, smallest priority sum, fewest
        victims, latest-started victims. Priority is ``spec.priority``, else the cached
        PriorityClasses'. Pods with preemptionPolicy Never, or whose nominated node still has
        terminating lower-priority pods, do not preempt.

        ``group``: the PodGroup of a gang's members. The plan keeps to its topology level (each
        domain is planned and the cheapest plan wins; ``preferred`` falls back to the levels
        above, then to every node; slices are not planned)
        and gives each member a host of its own when it asks for distinct hosts. A plan that
        evicts nobody is refused: the pods failed for want of something eviction cannot give.

        ``unresolvable``: the one pod's scheduling found every node UnschedulableAndUnresolvable
        (its decision's code); after the eligibility checks, every node is "not helpful" without
        a search, as kube's ``nodesWherePreemptionMightHelp`` finds no node. Ignored for a gang.

        The snapshot records the plan (victims removed, the pods counted on their nodes), so
        later ``schedule``/``preempt`` calls on it see it. The ClusterState is untouched."""

    def reserve(self, uids: list[str], profile: Profile) -> list[str | None]:
        """Whole-node reservations (the profile's ``podium.reservation``) for the pending pods
        ``uids`` that fit nowhere, in priority order: per pod, the node to hold for it
        (``ClusterState.nominate``) or None. A pod is reserved for when it asks for at least
        ``minShare`` of a node's allocatable amount of one of ``resources``; it gets the node
        that would take it once emptied with the fewest of that resource in use (then the
        fewest pods), among nodes nobody holds; at most ``maxNodeShare`` of the nodes are held
        at once. A pod's standing nomination comes back unchanged while its node would still
        take it. All None when the profile reserves nothing."""

    def explain(self, uid: str, profile: Profile) -> dict[str, list[str]]:
        """Why the pending pod ``uid`` fits or not, node by node, with the GIL released.

        Returns node name -> reasons; an empty list means the node is feasible, exactly as a
        scheduling cycle would find it. Unlike ``schedule``, every node is examined (no
        ``percentageOfNodesToScore`` sampling) and every enabled filter runs on each node (not
        just up to the first that fails), so a node lists all that is wrong with it, in the
        profile's filter order. A PreFilter rejection appears on every node. A malformed node
        lists only its own parse error; a malformed pod gets its parse error on every node.
        Nothing is placed: the snapshot is unchanged, and placements made by earlier
        ``schedule`` calls on it count.

        CoreError if ``uid`` is not pending in this snapshot (bound, assumed, gated, finished,
        another scheduler's, already placed by ``schedule``, or unknown)."""

    def explain_bound(self, uid: str, profile: Profile) -> dict[str, list[str]]:
        """``explain`` for a pod that counts on a node of this snapshot: bound by any scheduler
        (whatever its schedulerName), assumed by podium, or placed by ``schedule``.

        The pod is evaluated as if it were still pending: it is taken off its node first (its
        requests, host ports and labels no longer count there) and its ``spec.nodeName`` is
        ignored, so the NodeName filter does not pin it. Every other pod stays where it is. The
        snapshot itself is unchanged. Useful to ask whether another scheduler's choice is one
        podium finds feasible.

        CoreError if ``uid`` is not counted on a node the snapshot has (pending, finished,
        bound to a node the cache does not know, or unknown)."""

@final
class ClusterState:
    """The cache: nodes, all pods (bound ones count on their nodes), topology, volumes."""

    def __new__(cls, scheduler_names: list[str]) -> ClusterState:
        """``scheduler_names``: the profiles' schedulerNames; pending pods with one of them are
        podium's to schedule."""

    def apply_list(self, kind: Kind, body: bytes) -> ListPage:
        """Apply one page of a list response
        (``{"kind": "...List", "metadata": {...}, "items": [...]}``)."""

    def begin_relist(self, kind: Kind) -> None:
        """Start a full relist of ``kind``: objects not seen again before ``end_relist`` are
        removed."""

    def end_relist(self, kind: Kind) -> list[str]:
        """Finish a relist; returns the uids of pending pods that disappeared."""

    def apply_event(self, kind: Kind, line: bytes) -> Change:
        """Apply one watch line (``{"type": "...", "object": {...}}``)."""

    def pending(self) -> list[PendingPod]:
        """Podium's pods that are neither bound, assumed, gated nor terminal."""

    def pending_pod(self, uid: str) -> PendingPod | None: ...
    def pending_naming_claim(self, namespace: str, name: str) -> list[str]:
        """The uids of the pending pods that name the claim (directly, or as made from their
        template)."""
    def assume(
        self,
        uid: str,
        node: str,
        allocation: str | None,
        volumes: Sequence[ClaimBinding] | None = None,
        claims: Sequence[ResourceClaimReservation] | None = None,
    ) -> None:
        """Count ``uid`` on ``node`` now, before the bind lands. CoreError if unknown pod or
        node. ``allocation`` (the decision's) is counted against the node's NUMA zones until
        its NodeResourceTopology object shows it. ``volumes`` (the decision's): the PVs the pod
        takes, reserved for it until their claimRef shows; CoreError if one is no longer free
        for its claim. None: the PVs are found again as VolumeBinding's filter would."""

    def claim(self, namespace: str, name: str) -> ClaimInfo | None: ...
    def volume(self, name: str) -> VolumeInfo | None: ...
    def volume_fits_node(self, volume: str, node: str) -> bool | None:
        """Whether the PV's nodeAffinity admits the node; None when either is not cached."""

    def forget(self, uid: str) -> None:
        """Undo ``assume`` (bind failed). No-op if the pod is not assumed."""

    def claim_written(self, uid: str, claim_uid: str) -> None:
        """DynamicResources' PreBind wrote one of the pod's claims: its allocation stands
        (devices taken) until the informer shows it, even if the pod is forgotten."""
    def extended_claim_created(self, uid: str, assumed_uid: str, name: str, claim_uid: str) -> None:
        """DynamicResources' PreBind created the claim for the pod's extended resources, which
        ``assume`` took under the placeholder uid ``assumed_uid``: from now on it is the claim
        ``name`` (``claim_uid``)."""
    def extended_claim_of(self, uid: str) -> tuple[str, str] | None:
        """The claim (name, uid) DynamicResources' PreBind made for the pod's extended resources
        in an earlier attempt, while the informer shows it: its devices stay taken, so the
        PostFilter deletes it when the pod fits nowhere, and PreBind before the Binding."""

    def is_assumed(self, uid: str) -> bool: ...
    @property
    def assumed_count(self) -> int:
        """Pods assumed and neither confirmed by the watch nor forgotten (binds in flight); zero
        once scheduling is idle, or a reservation leaked."""
    def pod_group(self, namespace: str, name: str) -> PodGroup | None: ...
    def quotas(self) -> list[QuotaUsage]:
        """Every ElasticQuota with its subtree's use, sorted by namespace and name."""
    def fair_share(self) -> FairShare | None:
        """The fair-share order's view of the quotas' ledger; None without ElasticQuotas."""
    def pod_groups(self) -> list[PodGroup]: ...
    def group_members(self, namespace: str, name: str) -> list[GroupMember]:
        """The pods labelled with the group, sorted by name (the group need not exist)."""

    def nominate(self, uid: str, node: str | None) -> None:
        """Hold ``node`` for the pending pod ``uid`` after a preemption made room there (None
        releases it): pods of lower or equal priority are filtered as if it stood there.
        CoreError if the pod is unknown."""

    def nominated_node(self, uid: str) -> str | None:
        """The node held for ``uid``: podium's nomination, else ``status.nominatedNodeName``."""

    def nominated_to(self, node: str) -> list[str]:
        """The uids of the pending pods that hold ``node`` (O(nominated pods))."""

    def snapshot(self) -> Snapshot: ...
    @property
    def node_count(self) -> int: ...
    @property
    def pod_count(self) -> int: ...
    @property
    def generation(self) -> int: ...
    def has_node(self, node: str) -> bool:
        """True while the Node object exists. A deleted node's pods may still count on it, and the
        apiserver accepts a binding to a node that no longer exists: the binder asks this first."""

    def node_usage(self, node: str) -> dict[str, int]:
        """Requested totals on ``node`` (cpu in millicores, memory/storage in bytes, pods,
        extended resources in units), assumed pods included. For tests and ``explain``."""

    def capacity_totals(self) -> dict[str, tuple[int, int]]:
        """Per resource, (requested, allocatable) summed over the nodes that exist (assumed
        pods included; ``pods`` counts pods against ``status.allocatable.pods``). Units as
        ``node_usage``."""
