//! The verdicts of the filters that read nothing a placement changes (node labels, taints,
//! cordon, name) against the pod fields they read, computed once per batch per kind of pod.
//! Most nodes a pod is refused by are refused for such a reason (GPU taints, node selectors):
//! those nodes then cost a table lookup instead of a walk through their data.
//!
//! Only the leading run of such filters in the profile is cached, so the first failing filter,
//! the one the diagnosis names, is the same as when every filter runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::framework::plugin::PluginState;
use crate::framework::profile::Profile;
use crate::framework::status::Status;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;

/// Per node position: the static filters' failure, or None when the node passes them.
pub type Verdicts = Arc<Vec<Option<Status>>>;

#[derive(Debug, Default)]
pub struct StaticFilters(Mutex<HashMap<String, Verdicts>>);

/// How many of the profile's filters, from the first, are static.
pub fn static_prefix(profile: &Profile) -> usize {
    profile
        .filters
        .iter()
        .take_while(|f| f.node_static())
        .count()
}

/// The pod fields static filters read.
fn pod_key(pod: &PodRecord) -> String {
    format!(
        "{:?}|{:?}|{:?}|{:?}",
        pod.tolerations, pod.node_selector, pod.required_affinity, pod.node_name
    )
}

impl StaticFilters {
    /// The verdicts of the first `prefix` filters for `pod` on every node.
    pub fn verdicts(
        &self,
        profile: &Profile,
        prefix: usize,
        states: &[Option<Option<PluginState>>],
        pod: &PodRecord,
        nodes: &[Arc<NodeInfo>],
    ) -> Verdicts {
        let key = pod_key(pod);
        let mut cache = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .entry(key)
            .or_insert_with(|| {
                Arc::new(
                    nodes
                        .iter()
                        .map(|node| {
                            crate::cycle::run_filter_range(profile, states, pod, node, 0..prefix)
                        })
                        .collect(),
                )
            })
            .clone()
    }
}
