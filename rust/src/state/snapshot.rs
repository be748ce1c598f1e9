//! An immutable view of the cluster for scheduling cycles, O(1) to take.
//!
//! It shares structure with the `ClusterState` it came from. Placements made by `schedule` go
//! into the snapshot's own copy (copy-on-write per node), so later pods of a batch, and later
//! batches on the same snapshot, see them; the `ClusterState` is untouched.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::state::disruption::Budgets;
use crate::state::dra::Dra;
use crate::state::namespaces::Namespaces;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::pod_groups::GroupKey;
use crate::state::pod_index::PodIndex;
use crate::state::priority::PriorityClasses;
use crate::state::volumes::Volumes;

/// Node slots: `None` marks a free slot.
pub type NodeSlots = imbl::Vector<Option<Arc<NodeInfo>>>;
/// Podium's pods waiting for a node, by uid.
pub type PendingPods = imbl::HashMap<Arc<str>, Arc<PodRecord>>;

#[derive(Clone)]
pub struct SnapshotData {
    pub nodes: NodeSlots,
    pub pending: PendingPods,
    pub namespaces: Namespaces,
    pub volumes: Volumes,
    /// DeviceClasses, ResourceSlices, ResourceClaims and assumed claim allocations.
    pub dra: Dra,
    /// What preemption reads: priority classes and disruption budgets.
    pub priorities: PriorityClasses,
    pub budgets: Budgets,
    /// The pending pods with a nominated node: a subset of `pending`, a pod placed in the
    /// snapshot's copy leaving both (kube drops a nomination once its pod is assumed).
    pub nominated: PendingPods,
    /// The placed pods by label, in step with `nodes`.
    pub index: PodIndex,
    /// The groups whose members are disrupted one by one (the Workload API's
    /// `disruptionMode: Single`): preemption takes such a victim alone, not its whole gang.
    pub disrupted_singly: Arc<HashSet<GroupKey>>,
}

impl SnapshotData {
    /// The real nodes (not placeholders for pods whose node is unknown), with their slots.
    pub fn real_nodes(&self) -> Vec<(usize, Arc<NodeInfo>)> {
        self.nodes
            .iter()
            .enumerate()
            .filter_map(|(slot, info)| {
                info.as_ref()
                    .filter(|i| i.node.is_some())
                    .map(|i| (slot, i.clone()))
            })
            .collect()
    }
}

pub struct Snapshot {
    generation: u64,
    node_count: usize,
    data: Mutex<SnapshotData>,
}

impl Snapshot {
    pub fn new(generation: u64, node_count: usize, nodes: NodeSlots, pending: PendingPods) -> Self {
        Self {
            generation,
            node_count,
            data: Mutex::new(SnapshotData {
                nodes,
                pending,
                namespaces: Namespaces::default(),
                volumes: Volumes::default(),
                dra: Dra::default(),
                priorities: PriorityClasses::default(),
                budgets: Budgets::default(),
                nominated: PendingPods::new(),
                index: PodIndex::default(),
                disrupted_singly: Arc::default(),
            }),
        }
    }

    /// The groups whose members preemption takes one by one (none unless set).
    pub fn with_disrupted_singly(self, groups: Arc<HashSet<GroupKey>>) -> Self {
        let mut data = self
            .data
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        data.disrupted_singly = groups;
        Self {
            data: Mutex::new(data),
            ..self
        }
    }

    /// The volume state this snapshot sees (none unless set).
    pub fn with_volumes(self, volumes: Volumes) -> Self {
        let mut data = self
            .data
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        data.volumes = volumes;
        Self {
            data: Mutex::new(data),
            ..self
        }
    }

    /// The priority classes and disruption budgets this snapshot sees (none unless set) and,
    /// With them, the pending pods holding a nominated node.
    pub fn with_preemption_objects(
        self,
        priorities: PriorityClasses,
        budgets: Budgets,
        nominated: PendingPods,
    ) -> Self {
        let mut data = self
            .data
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        data.priorities = priorities;
        data.budgets = budgets;
        data.nominated = nominated;
        Self {
            data: Mutex::new(data),
            ..self
        }
    }

    /// The placed pods by label (empty unless set: plugins then find nothing by label, so a
    /// snapshot of pods on nodes must carry the index of those pods).
    pub fn with_index(self, index: PodIndex) -> Self {
        let mut data = self
            .data
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        data.index = index;
        Self {
            data: Mutex::new(data),
            ..self
        }
    }

    /// The DRA objects this snapshot sees (none unless set).
    pub fn with_dra(self, dra: Dra) -> Self {
        let mut data = self
            .data
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        data.dra = dra;
        Self {
            data: Mutex::new(data),
            ..self
        }
    }

    /// The namespace labels this snapshot sees (none unless set).
    pub fn with_namespaces(self, namespaces: Namespaces) -> Self {
        let mut data = self
            .data
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        data.namespaces = namespaces;
        Self {
            data: Mutex::new(data),
            ..self
        }
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn node_count(&self) -> usize {
        self.node_count
    }

    /// Exclusive access for one `schedule` call (calls on one snapshot run one at a time).
    pub fn lock(&self) -> MutexGuard<'_, SnapshotData> {
        // A panic inside a cycle is caught at the boundary; the data is still consistent
        // because placements are written back only after a pod's decision is complete.
        self.data.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    pub fn nodes_for_test(&self) -> Vec<Arc<NodeInfo>> {
        self.lock()
            .real_nodes()
            .into_iter()
            .map(|(_, n)| n)
            .collect()
    }
}
