//! The plugin interfaces, one small trait per extension point as kube's framework has them: a
//! Filter decides whether a pod may go on a node, a Score ranks the nodes that passed. Both may
//! compute per-pod state once before looking at nodes (PreFilter / PreScore), which the
//! scheduler keeps for that pod's cycle and hands back to every per-node call: that is where
//! cluster-wide plugins (inter-pod affinity, topology spread) put their counts. Reserve says
//! what the pod takes on the node chosen.

use std::sync::Arc;

use crate::framework::cycle_state::{FilterStates, PluginState};
use crate::framework::index_view::IndexView;
use crate::framework::status::Status;
use crate::intern::Sym;
use crate::state::dra::Dra;
use crate::state::dra::claim::ClaimReservation;
use crate::state::namespaces::Namespaces;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::volume_binder::ClaimBinding;
use crate::state::volumes::Volumes;

/// Node names a PreFilter narrows a pod's nodes to.
pub type NodeNames = ahash::AHashSet<Sym>;

/// What a PreFilter or PreScore step says.
pub enum Prepared {
    /// Run the per-node step, with this state.
    Run(Option<PluginState>),
    /// The plugin has nothing to say about this pod: skip its per-node step.
    Skip,
    /// No node can pass (PreFilter only): the pod fails with this status.
    Reject(Status),
}

/// What a plugin sees of the pod's cycle.
pub struct PodContext<'a> {
    pub pod: &'a PodRecord,
    /// Every node of the snapshot, with the placements made so far in this batch.
    pub nodes: &'a [Arc<NodeInfo>],
    /// Namespace labels, for pod affinity terms' namespaceSelector.
    pub namespaces: &'a Namespaces,
    /// PersistentVolumes, claims and classes, with this batch's reservations (VolumeBinding).
    pub volumes: &'a Volumes,
    /// DeviceClasses, ResourceSlices, ResourceClaims and assumed allocations (DynamicResources).
    pub dra: &'a Dra,
    /// The placed pods by label, in step with `nodes`; None when `nodes` holds pods the index
    /// does not (a preemption's trial removals, nominated pods): plugins then walk `nodes`.
    pub index: Option<&'a IndexView<'a>>,
}

/// What every plugin is: a kube-scheduler plugin name. A plugin implements the extension points
/// it takes part in (`PreFilter`, `Filter`, `Reserve`, `PreScore`, `Score`), each a small trait;
/// the registry says which points it is run at (`runtime::registry`).
pub trait Plugin: Send + Sync {
    /// The kube-scheduler plugin name.
    fn name(&self) -> &'static str;
}

/// kube's PreFilter: per-pod work done once before the per-node calls, kept as the pod's state.
pub trait PreFilter: Plugin {
    /// `Prepared::Skip`: the plugin has nothing to check for this pod (its Filter is not run).
    fn pre_filter(&self, ctx: &PodContext<'_>) -> Prepared;

    /// kube's `PreFilterResult`: the names of the only nodes the pod may go on, as this
    /// plugin's PreFilter `state` has them; None: any node. The other nodes are refused before
    /// any filter runs (see `runtime::pre_filter_result`).
    fn node_names<'s>(&self, _state: Option<&'s PluginState>) -> Option<&'s NodeNames> {
        None
    }

    /// kube's `PreFilterExtensions`, for a plugin whose state counts other pods.
    fn extensions(&self) -> Option<&dyn PreFilterExtensions> {
        None
    }
}

/// kube's `PreFilterExtensions`: a PreFilter state kept true to a changed set of pods.
pub trait PreFilterExtensions {
    /// The PreFilter `state` as it would be once the pods on `removed` (a node holding only
    /// them) are gone, as kube's `RemovePod` leaves it; None when `state` is not this plugin's.
    /// A preemption judges its victims with it.
    fn remove_pods(
        &self,
        state: &PluginState,
        ctx: &PodContext<'_>,
        removed: &NodeInfo,
    ) -> Option<PluginState>;
}

/// kube's Filter: may the pod go on this node? Called for many nodes in parallel.
pub trait Filter: Plugin {
    fn filter(&self, state: Option<&PluginState>, pod: &PodRecord, node: &NodeInfo) -> Status;

    /// Does the verdict depend only on the node object (labels, taints, cordon, name) and on
    /// the pod's tolerations, node selector, required node affinity and nodeName? Such a
    /// verdict holds for a whole batch (see `static_filters`).
    fn node_static(&self) -> bool {
        false
    }

    /// Does the verdict on a node read only the pod, that node and cluster objects a batch of
    /// placements leaves as they were (node objects, namespaces)? Then placing a pod on another
    /// node leaves it unchanged, and a batch may reuse it for the next pod of the same shape
    /// (kube's opportunistic batching, see `runtime::ranking`). A placed pod carrying
    /// inter-pod terms makes the batch drop what it reuses, so a plugin reading only those
    /// terms of other pods may say yes.
    fn node_local(&self, _pod: &PodRecord) -> bool {
        false
    }

    /// Does the verdict read the pod's labels, namespace or owner? When no plugin that runs
    /// for two pods does, they share a shape even with different names, teams and apps (the
    /// GPU jobs of a deep queue): see `state::pod_shape`.
    fn reads_identity(&self) -> bool {
        true
    }

    /// What the verdict reads beyond the pod record and the node, from the pod's PreFilter
    /// `state`, as a key: a batch reuses a node-local verdict for a pod of the same shape only
    /// when each filter running for both gives them one key (DynamicResources: the shapes of
    /// the claims to allocate, read from the claims, not the pod). None: the verdict is not to
    /// be reused for another pod. The default: the pod record says it all.
    fn shape_key(&self, _state: Option<&PluginState>) -> Option<u64> {
        Some(0)
    }

    /// Is `node` refused whatever is placed on it, judged from fields static filters read and
    /// the names of the extended resources the pod requests (e.g. a GPU pod on a node without
    /// GPUs)? Only says which nodes to skip: a diagnosis still runs `filter` for its reason.
    fn refuses_statically(
        &self,
        _state: Option<&PluginState>,
        _pod: &PodRecord,
        _node: &NodeInfo,
    ) -> bool {
        false
    }
}

/// What the plugins reserve for a pod on the node chosen for it, carried by its decision to the
/// binding cycle (the PreBind steps write it).
#[derive(Debug, Default)]
pub struct Reserved {
    /// The device placement to record on the pod (`podium.dev/allocation`) and count on the
    /// node until its topology object shows it. At most one plugin has one.
    pub allocation: Option<String>,
    /// What each unbound PersistentVolumeClaim does (VolumeBinding).
    pub volumes: Vec<ClaimBinding>,
    /// What is written to each ResourceClaim (DynamicResources).
    pub claims: Vec<ClaimReservation>,
}

/// kube's Reserve: what the plugin takes for the pod on the node chosen, from its PreFilter
/// `state`.
pub trait Reserve: Plugin {
    fn reserve(
        &self,
        state: Option<&PluginState>,
        pod: &PodRecord,
        node: &NodeInfo,
        reserved: &mut Reserved,
    );
}

/// kube's PreScore: per-pod work done once before scoring the nodes that passed the filters.
pub trait PreScore: Plugin {
    /// `feasible`: the nodes that passed every filter; `filters`: the filters' PreFilter
    /// states, so per-node work a filter already did is not redone.
    fn pre_score(
        &self,
        ctx: &PodContext<'_>,
        feasible: &[&NodeInfo],
        filters: FilterStates<'_>,
    ) -> Prepared;
}

/// kube's Score (with its ScoreExtensions' NormalizeScore).
pub trait Score: Plugin {
    /// A raw score; after `normalize` every score must be in `0..=MAX_NODE_SCORE`.
    fn score(&self, state: Option<&PluginState>, pod: &PodRecord, node: &NodeInfo) -> i64;

    fn normalize(&self, _state: Option<&PluginState>, _scores: &mut [i64]) {}

    /// Does `normalize` change scores (kube: the plugin has ScoreExtensions)? False only with
    /// the default `normalize`: a reused ranking then updates a node's total from that node's
    /// raw scores alone, without normalizing the plugin's column over every node again. A
    /// plugin that normalizes must do so from its scores alone (and its state's `shape_key`).
    fn normalizes(&self) -> bool {
        true
    }

    /// As `Filter::node_local`, for the raw score; its PreScore state must not depend on which
    /// nodes are feasible either (normalizing over them is redone on every reuse).
    fn node_local(&self, _pod: &PodRecord) -> bool {
        false
    }

    /// As `Filter::reads_identity`, for the score.
    fn reads_identity(&self) -> bool {
        true
    }

    /// As `Filter::shape_key`, from the pod's PreScore `state`.
    fn shape_key(&self, _state: Option<&PluginState>) -> Option<u64> {
        Some(0)
    }
}

pub const MAX_NODE_SCORE: i64 = 100;

/// `helper.DefaultNormalizeScore`: scale to `0..=MAX_NODE_SCORE` by the highest score,
/// optionally reversed (fewer is better).
pub fn default_normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0);
    if max == 0 {
        if reverse {
            scores.fill(MAX_NODE_SCORE);
        }
        return;
    }
    for s in scores.iter_mut() {
        let scaled = MAX_NODE_SCORE * *s / max;
        *s = if reverse {
            MAX_NODE_SCORE - scaled
        } else {
            scaled
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_scales_and_reverses() {
        let mut s = [0, 5, 10];
        default_normalize(&mut s, false);
        assert_eq!(s, [0, 50, 100]);
        let mut s = [0, 1, 4];
        default_normalize(&mut s, true);
        assert_eq!(s, [100, 75, 0]);
        let mut s = [0, 0];
        default_normalize(&mut s, true);
        assert_eq!(s, [100, 100]);
        let mut s = [0, 0];
        default_normalize(&mut s, false);
        assert_eq!(s, [0, 0]);
    }
}
