//! The subset of the Kubernetes JSON the core reads, borrowed from the input bytes.
//!
//! Only the fields the scheduler needs are declared; serde skips the rest without building
//! them. Every collection is optional because the apiserver may send `null` or omit it.

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

pub use crate::state::wire_base::{RequirementWire, Str, StrMap};

#[derive(Deserialize)]
pub struct ListWire<'a> {
    #[serde(borrow)]
    pub metadata: Option<ListMetaWire<'a>>,
    #[serde(borrow)]
    pub items: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListMetaWire<'a> {
    #[serde(borrow)]
    pub resource_version: Option<Str<'a>>,
    #[serde(borrow, rename = "continue")]
    pub continue_token: Option<Str<'a>>,
}

#[derive(Deserialize)]
pub struct EventWire<'a> {
    #[serde(borrow, rename = "type")]
    pub event_type: Str<'a>,
    #[serde(borrow)]
    pub object: &'a RawValue,
}

/// The `Status` object of an ERROR watch event.
#[derive(Deserialize)]
pub struct StatusWire<'a> {
    pub code: Option<i64>,
    #[serde(borrow)]
    pub message: Option<Str<'a>>,
    #[serde(borrow)]
    pub reason: Option<Str<'a>>,
}

/// Only `metadata.resourceVersion` of a BOOKMARK.
#[derive(Deserialize)]
pub struct BookmarkWire<'a> {
    #[serde(borrow)]
    pub metadata: Option<ObjectMetaWire<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMetaWire<'a> {
    #[serde(borrow)]
    pub name: Option<Str<'a>>,
    #[serde(borrow)]
    pub namespace: Option<Str<'a>>,
    #[serde(borrow)]
    pub uid: Option<Str<'a>>,
    #[serde(borrow)]
    pub resource_version: Option<Str<'a>>,
    #[serde(borrow)]
    pub creation_timestamp: Option<Str<'a>>,
    pub deletion_timestamp: Option<IgnoredAny>,
    pub generation: Option<i64>,
    #[serde(borrow)]
    pub labels: Option<StrMap<'a>>,
    #[serde(borrow)]
    pub annotations: Option<StrMap<'a>>,
    #[serde(borrow)]
    pub owner_references: Option<Vec<OwnerReferenceWire<'a>>>,
}

#[derive(Deserialize)]
pub struct OwnerReferenceWire<'a> {
    #[serde(borrow)]
    pub name: Option<Str<'a>>,
    pub controller: Option<bool>,
}

// ---------------------------------------------------------------------------------------------
// Node

#[derive(Deserialize)]
pub struct NodeWire<'a> {
    #[serde(borrow, default)]
    pub metadata: ObjectMetaWire<'a>,
    #[serde(borrow)]
    pub spec: Option<NodeSpecWire<'a>>,
    #[serde(borrow)]
    pub status: Option<NodeStatusWire<'a>>,
}

#[derive(Deserialize)]
pub struct NodeSpecWire<'a> {
    pub unschedulable: Option<bool>,
    #[serde(borrow)]
    pub taints: Option<Vec<TaintWire<'a>>>,
}

#[derive(Deserialize)]
pub struct TaintWire<'a> {
    #[serde(borrow)]
    pub key: Option<Str<'a>>,
    #[serde(borrow)]
    pub value: Option<Str<'a>>,
    #[serde(borrow)]
    pub effect: Option<Str<'a>>,
}

#[derive(Deserialize)]
pub struct NodeStatusWire<'a> {
    #[serde(borrow)]
    pub allocatable: Option<StrMap<'a>>,
    #[serde(borrow)]
    pub images: Option<Vec<ContainerImageWire<'a>>>,
}

/// `status.images[]`: the names an image is known by on the node, and its size.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerImageWire<'a> {
    #[serde(borrow)]
    pub names: Option<Vec<Str<'a>>>,
    pub size_bytes: Option<i64>,
}

// ---------------------------------------------------------------------------------------------
// Pod

#[derive(Deserialize)]
pub struct PodWire<'a> {
    #[serde(borrow, default)]
    pub metadata: ObjectMetaWire<'a>,
    #[serde(borrow)]
    pub spec: Option<PodSpecWire<'a>>,
    #[serde(borrow)]
    pub status: Option<PodStatusWire<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpecWire<'a> {
    #[serde(borrow)]
    pub scheduler_name: Option<Str<'a>>,
    #[serde(borrow)]
    pub node_name: Option<Str<'a>>,
    pub priority: Option<i32>,
    #[serde(borrow)]
    pub priority_class_name: Option<Str<'a>>,
    #[serde(borrow)]
    pub preemption_policy: Option<Str<'a>>,
    pub scheduling_gates: Option<Vec<IgnoredAny>>,
    #[serde(borrow)]
    pub node_selector: Option<StrMap<'a>>,
    #[serde(borrow)]
    pub affinity: Option<AffinityWire<'a>>,
    #[serde(borrow)]
    pub tolerations: Option<Vec<TolerationWire<'a>>>,
    #[serde(borrow)]
    pub topology_spread_constraints:
        Option<Vec<crate::state::affinity_wire::TopologySpreadConstraintWire<'a>>>,
    #[serde(borrow)]
    pub containers: Option<Vec<ContainerWire<'a>>>,
    #[serde(borrow)]
    pub init_containers: Option<Vec<ContainerWire<'a>>>,
    #[serde(borrow)]
    pub overhead: Option<StrMap<'a>>,
    #[serde(borrow)]
    pub volumes: Option<Vec<PodVolumeWire<'a>>>,
    #[serde(borrow)]
    pub resources: Option<RequirementsWire<'a>>,
    #[serde(borrow)]
    pub resource_claims: Option<Vec<PodResourceClaimWire<'a>>>,
    #[serde(borrow)]
    pub scheduling_group: Option<SchedulingGroupWire<'a>>,
}

/// `spec.schedulingGroup` (the Workload API's link from a pod to its PodGroup).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchedulingGroupWire<'a> {
    #[serde(borrow)]
    pub pod_group_name: Option<Str<'a>>,
}

/// `spec.resourceClaims[]` (Dynamic Resource Allocation).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodResourceClaimWire<'a> {
    #[serde(borrow)]
    pub name: Str<'a>,
    #[serde(borrow)]
    pub resource_claim_name: Option<Str<'a>>,
    #[serde(borrow)]
    pub resource_claim_template_name: Option<Str<'a>>,
}

/// `status.resourceClaimStatuses[]`: the claims generated from templates.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodResourceClaimStatusWire<'a> {
    #[serde(borrow)]
    pub name: Str<'a>,
    #[serde(borrow)]
    pub resource_claim_name: Option<Str<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerWire<'a> {
    #[serde(borrow)]
    pub name: Option<Str<'a>>,
    #[serde(borrow)]
    pub image: Option<Str<'a>>,
    #[serde(borrow)]
    pub resources: Option<RequirementsWire<'a>>,
    #[serde(borrow)]
    pub ports: Option<Vec<PortWire<'a>>>,
    #[serde(borrow)]
    pub restart_policy: Option<Str<'a>>,
}

/// Requests only: the apiserver defaults missing requests from limits.
#[derive(Deserialize)]
pub struct RequirementsWire<'a> {
    #[serde(borrow)]
    pub requests: Option<StrMap<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortWire<'a> {
    pub host_port: Option<i32>,
    #[serde(borrow, rename = "hostIP")]
    pub host_ip: Option<Str<'a>>,
    #[serde(borrow)]
    pub protocol: Option<Str<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TolerationWire<'a> {
    #[serde(borrow)]
    pub key: Option<Str<'a>>,
    #[serde(borrow)]
    pub operator: Option<Str<'a>>,
    #[serde(borrow)]
    pub value: Option<Str<'a>>,
    #[serde(borrow)]
    pub effect: Option<Str<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AffinityWire<'a> {
    #[serde(borrow)]
    pub node_affinity: Option<NodeAffinityWire<'a>>,
    #[serde(borrow)]
    pub pod_affinity: Option<crate::state::affinity_wire::PodAffinityWire<'a>>,
    #[serde(borrow)]
    pub pod_anti_affinity: Option<crate::state::affinity_wire::PodAffinityWire<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeAffinityWire<'a> {
    #[serde(borrow)]
    pub required_during_scheduling_ignored_during_execution: Option<NodeSelectorWire<'a>>,
    #[serde(borrow)]
    pub preferred_during_scheduling_ignored_during_execution: Option<Vec<PreferredTermWire<'a>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSelectorWire<'a> {
    #[serde(borrow)]
    pub node_selector_terms: Option<Vec<TermWire<'a>>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TermWire<'a> {
    #[serde(borrow)]
    pub match_expressions: Option<Vec<RequirementWire<'a>>>,
    #[serde(borrow)]
    pub match_fields: Option<Vec<RequirementWire<'a>>>,
}

#[derive(Deserialize)]
pub struct PreferredTermWire<'a> {
    pub weight: i32,
    #[serde(borrow, default)]
    pub preference: TermWire<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatusWire<'a> {
    #[serde(borrow)]
    pub phase: Option<Str<'a>>,
    #[serde(borrow)]
    pub start_time: Option<Str<'a>>,
    #[serde(borrow)]
    pub nominated_node_name: Option<Str<'a>>,
    #[serde(borrow)]
    pub resource_claim_statuses: Option<Vec<PodResourceClaimStatusWire<'a>>>,
}

/// A pod volume: only whether (and which) PersistentVolumeClaim it uses.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodVolumeWire<'a> {
    #[serde(borrow)]
    pub name: Option<Str<'a>>,
    #[serde(borrow)]
    pub persistent_volume_claim: Option<ClaimSourceWire<'a>>,
    pub ephemeral: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimSourceWire<'a> {
    #[serde(borrow)]
    pub claim_name: Option<Str<'a>>,
}
