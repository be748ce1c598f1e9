//! The Pod JSON for inter-pod affinity and topology spread, borrowed from the input bytes
//! (the rest of the pod's wire shape is in `wire`).

use serde::Deserialize;

use crate::state::wire_base::{RequirementWire, Str, StrMap};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelectorWire<'a> {
    #[serde(borrow)]
    pub match_labels: Option<StrMap<'a>>,
    #[serde(borrow)]
    // A label selector's requirement has the node selector requirement's shape.
    pub match_expressions: Option<Vec<RequirementWire<'a>>>,
}

/// `spec.affinity.podAffinity` and `spec.affinity.podAntiAffinity` share this shape.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodAffinityWire<'a> {
    #[serde(borrow)]
    pub required_during_scheduling_ignored_during_execution: Option<Vec<PodAffinityTermWire<'a>>>,
    #[serde(borrow)]
    pub preferred_during_scheduling_ignored_during_execution:
        Option<Vec<WeightedPodAffinityTermWire<'a>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodAffinityTermWire<'a> {
    #[serde(borrow)]
    pub label_selector: Option<LabelSelectorWire<'a>>,
    #[serde(borrow)]
    pub namespaces: Option<Vec<Str<'a>>>,
    #[serde(borrow)]
    pub namespace_selector: Option<LabelSelectorWire<'a>>,
    #[serde(borrow, default)]
    pub topology_key: Str<'a>,
    #[serde(borrow)]
    pub match_label_keys: Option<Vec<Str<'a>>>,
    #[serde(borrow)]
    pub mismatch_label_keys: Option<Vec<Str<'a>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WeightedPodAffinityTermWire<'a> {
    pub weight: i32,
    #[serde(borrow)]
    pub pod_affinity_term: PodAffinityTermWire<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopologySpreadConstraintWire<'a> {
    pub max_skew: i32,
    #[serde(borrow, default)]
    pub topology_key: Str<'a>,
    #[serde(borrow, default)]
    pub when_unsatisfiable: Str<'a>,
    #[serde(borrow)]
    pub label_selector: Option<LabelSelectorWire<'a>>,
    pub min_domains: Option<i32>,
    #[serde(borrow)]
    pub node_affinity_policy: Option<Str<'a>>,
    #[serde(borrow)]
    pub node_taints_policy: Option<Str<'a>>,
    #[serde(borrow)]
    pub match_label_keys: Option<Vec<Str<'a>>>,
}
