//! Which nodes a pod is refused by for reasons no placement changes (cordon, nodeName, taints,
//! node affinity, an extended resource the node has none of), computed once per batch per kind
//! of pod. Most nodes a pod cannot go on are such nodes (GPU taints, node selectors, CPU nodes
//! for GPU pods): they then cost a table lookup instead of a walk through their data. A
//! diagnosis still runs the filters on them, so it names the same first failing filter.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use rayon::prelude::*;

use crate::framework::batch_cache::BatchCache;
use crate::framework::cycle_state::PluginState;
use crate::runtime::profile::Profile;
use crate::state::node::NodeRecord;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;

/// Nodes per parallel task.
const MIN_NODES_PER_TASK: usize = 256;

/// Per node position: is the node refused whatever is placed on it?
pub type Verdicts = Arc<Vec<bool>>;

pub type StaticFilters = BatchCache<Vec<bool>>;

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

/// Kinds of pod whose verdicts are kept from one batch to the next, at most.
const MAX_KEPT: usize = 64;

/// The static verdicts a profile keeps from one batch to the next. They hold as long as the
/// batch's nodes are the very same records in the same order and the DeviceClasses are the
/// same (`Dra::epoch`): what the static filters read (labels, taints, unschedulable,
/// allocatable; which extended resources DRA serves) changes only with a new record or class,
/// placements never change it. So pods of one kind pay for a pass over every node once, not
/// once per batch.
#[derive(Debug, Default)]
pub struct KeptStatics(Mutex<Option<Kept>>);

#[derive(Debug)]
struct Kept {
    /// The records the verdicts were computed on, by node position, and the DRA epoch.
    records: Vec<Option<Arc<NodeRecord>>>,
    epoch: u64,
    verdicts: HashMap<String, Verdicts>,
}

impl KeptStatics {
    /// A batch's cache over `nodes` (with DRA at `epoch`): the verdicts kept, if computed on
    /// the same records and classes; and whether they were.
    pub fn take(&self, nodes: &[Arc<NodeInfo>], epoch: u64) -> (StaticFilters, bool) {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match kept.as_mut() {
            Some(k) if k.epoch == epoch && same_records(&k.records, nodes) => {
                (StaticFilters::with(std::mem::take(&mut k.verdicts)), true)
            }
            _ => (StaticFilters::default(), false),
        }
    }

    /// Keeps what a batch over `nodes` computed (`same`: as `take` said) for the next batch.
    pub fn keep(
        &self,
        (nodes, epoch): (&[Arc<NodeInfo>], u64),
        statics: StaticFilters,
        same: bool,
    ) {
        let verdicts = statics.into_values();
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if verdicts.len() > MAX_KEPT {
            *kept = None;
            return;
        }
        match kept.as_mut() {
            Some(k) if same => k.verdicts = verdicts,
            _ => {
                *kept = Some(Kept {
                    records: nodes.iter().map(|n| n.node.clone()).collect(),
                    epoch,
                    verdicts,
                });
            }
        }
    }
}

fn same_records(records: &[Option<Arc<NodeRecord>>], nodes: &[Arc<NodeInfo>]) -> bool {
    records.len() == nodes.len()
        && records.iter().zip(nodes).all(|(r, n)| match (r, &n.node) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        })
}
