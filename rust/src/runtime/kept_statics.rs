//! The static filters' verdicts a profile keeps from one batch to the next (see
//! `static_filters`): below the profile, which holds them, and apart from the code that
//! computes them, which reads the profile.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::framework::batch_cache::BatchCache;
use crate::state::node::NodeRecord;
use crate::state::node_info::NodeInfo;

/// Per node position: is the node refused whatever is placed on it?
pub type Verdicts = Arc<Vec<bool>>;

pub type StaticFilters = BatchCache<Vec<bool>>;

/// Kinds of pod whose verdicts are kept from one batch to the next, at most.
const MAX_KEPT: usize = 64;

/// The static verdicts a profile keeps from one batch to the next. They hold as long as the
/// batch's nodes are the very same records in the same order and the DeviceClasses are the
/// same (`Dra::class_epoch`): what the static filters read (labels, taints, unschedulable,
/// allocatable; which extended resources DRA serves) changes only with a new record or class,
/// placements never change it. So pods of one kind pay for a pass over every node once, not
/// once per batch.
#[derive(Debug, Default)]
pub struct KeptStatics(Mutex<Option<Kept>>);

#[derive(Debug)]
struct Kept {
    /// The records the verdicts were computed on, by node position, and the classes' epoch.
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
