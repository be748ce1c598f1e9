//! Which nodes a pod is refused by for reasons no placement changes (cordon, nodeName, taints,
//! node affinity, an extended resource the node has none of), computed once per batch per kind
//! of pod. Most nodes a pod cannot go on are such nodes (GPU taints, node selectors, CPU nodes
//! for GPU pods): they then cost a table lookup instead of a walk through their data. A
//! diagnosis still runs the filters on them, so it names the same first failing filter.

use std::fmt::Write as _;
use std::sync::Arc;

use rayon::prelude::*;

use crate::framework::cycle_state::PluginState;
use crate::runtime::profile::Profile;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;

/// Nodes per parallel task.
const MIN_NODES_PER_TASK: usize = 256;

pub use crate::runtime::kept_statics::{StaticFilters, Verdicts};

/// How many of the profile's filters, from the first, are static: a node the verdicts let
/// through passes them, so they need not run again.
pub fn static_prefix(profile: &Profile) -> usize {
    profile
        .filters
        .iter()
        .take_while(|f| f.node_static())
        .count()
}

/// The pod fields the verdicts depend on.
fn pod_key(pod: &PodRecord) -> String {
    let mut key = format!(
        "{:?}|{:?}|{:?}|{:?}",
        pod.tolerations, pod.node_selector, pod.required_affinity, pod.node_name
    );
    for (name, amount) in &pod.requests.scalar {
        if *amount > 0 {
            let _ = write!(key, "|{name:?}");
        }
    }
    key
}

fn refused(
    profile: &Profile,
    states: &[Option<Option<PluginState>>],
    pod: &PodRecord,
    node: &NodeInfo,
) -> bool {
    if node.node.as_ref().is_some_and(|n| n.error.is_some()) {
        return true;
    }
    profile.filters.iter().zip(states).any(|(plugin, state)| {
        let Some(state) = state else {
            return false;
        };
        if plugin.node_static() {
            !plugin.filter(state.as_ref(), pod, node).is_success()
        } else {
            plugin.refuses_statically(state.as_ref(), pod, node)
        }
    })
}

/// The verdicts for `pod` on every node, computed once per batch per kind of pod.
pub fn verdicts(
    cache: &StaticFilters,
    profile: &Profile,
    states: &[Option<Option<PluginState>>],
    pod: &PodRecord,
    nodes: &[Arc<NodeInfo>],
) -> Verdicts {
    cache.get_or(pod_key(pod), || {
        nodes
            .par_iter()
            .with_min_len(MIN_NODES_PER_TASK)
            .map(|node| refused(profile, states, pod, node))
            .collect()
    })
}
