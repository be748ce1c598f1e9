//! kube's `RequiredNodeAffinity` (component-helpers): a pod's `nodeSelector` and required node
//! affinity terms against a node. NodeAffinity filters with it; PodTopologySpread's
//! `nodeAffinityPolicy: Honor` counts only the nodes it matches.

use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;

/// `RequiredNodeAffinity.Match`.
pub fn required_matches(pod: &PodRecord, node: &NodeInfo) -> bool {
    let Some(n) = &node.node else {
        return false;
    };
    if !pod.node_selector.is_subset_of(&n.labels) {
        return false;
    }
    pod.required_affinity
        .as_ref()
        .is_none_or(|sel| sel.matches(n.name, &n.labels))
}
