//! Whole-node reservations: a pod that fits nowhere and needs (nearly) a whole node's worth of
//! a scarce resource (an 8-GPU job on 8-GPU nodes) gets a node held for it while that node's
//! pods finish. Without this, small jobs refill every GPU freed on a partly used node and no
//! node ever drains: whole-node jobs wait for luck.
//!
//! The hold is kube's nomination (`status.nominatedNodeName`, `framework::nominator`): pods
//! of lower or equal priority are filtered as if the reserved pod already stood on its node, so
//! they cannot take what it waits for; higher-priority pods still can. The node chosen is the
//! one nearest to free: the fewest of the resource in use, then the fewest pods, among nodes
//! that would take the pod once emptied. At most a share of the nodes is held at once, so small
//! jobs always keep most of the cluster. A standing reservation is kept while its node would
//! still take the pod: moving it would restart the wait.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::cycle::{FilterPrep, pre_filter, run_filters};
use crate::framework::plugin::PodContext;
use crate::framework::spec::ReservationArgs;
use crate::intern::{Sym, resolve, sym};
use crate::runtime::profile::Profile;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::snapshot::Snapshot;

/// For each of `uids` (in priority order): the node held for it, or None (no reservation: it
/// asks for no whole node, no node would take it even empty, or the cap is reached). A pod's
/// standing reservation comes back unchanged while its node still qualifies.
pub fn reserve(snapshot: &Snapshot, uids: &[String], profile: &Profile) -> Vec<Option<String>> {
    let Some(args) = &profile.reservation else {
        return vec![None; uids.len()];
    };
    let resources: Vec<Sym> = args.resources.iter().map(|r| sym(r)).collect();
    let data = snapshot.lock();
    let nodes: Vec<Arc<NodeInfo>> = data.real_nodes().into_iter().map(|(_, n)| n).collect();
    let cap = cap(args.max_node_share, nodes.len());
    let mut held: HashSet<Sym> = data
        .nominated
        .values()
        .filter_map(|p| p.nominated_node)
        .collect();
    let position: HashMap<Sym, usize> = nodes
        .iter()
        .enumerate()
        .filter_map(|(i, n)| Some((n.node.as_ref()?.name, i)))
        .collect();
    // The most any node has of each resource: a pod asking for less than `min_share` of that
    // needs no whole node anywhere, and costs no more than this check.
    let most: Vec<i64> = resources
        .iter()
        .map(|&r| {
            nodes
                .iter()
                .filter_map(|n| Some(n.node.as_ref()?.allocatable.scalar(r)))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let search = Search {
        profile,
        args,
        resources: &resources,
        nodes: &nodes,
    };
    uids.iter()
        .map(|uid| {
            let pod = data.pending.get(uid.as_str())?;
            let wants_whole_node = resources.iter().zip(&most).any(|(&r, &most)| {
                let asked = pod.requests.scalar(r);
                #[allow(clippy::cast_precision_loss)]
                let enough = asked as f64 >= args.min_share * most as f64;
                asked > 0 && enough
            });
            if !wants_whole_node {
                return None;
            }
            let ctx = PodContext {
                pod,
                nodes: &nodes,
                namespaces: &data.namespaces,
                volumes: &data.volumes,
                dra: &data.dra,
                index: None,
            };
            let states = pre_filter(profile, &ctx).ok()?;
            if let Some(standing) = pod.nominated_node
                && let Some(&i) = position.get(&standing)
                && search.takes(&states, pod, i)
            {
                return Some(resolve(standing).to_owned());
            }
            if held.len() >= cap {
                return None;
            }
            let i = search.nearest_free(&states, pod, &held)?;
            let name = search.nodes[i].node.as_ref()?.name;
            held.insert(name);
            Some(resolve(name).to_owned())
        })
        .collect()
}

/// How many nodes may be held at once: at least one when reservations are on.
fn cap(share: f64, nodes: usize) -> usize {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let n = (share.clamp(0.0, 1.0) * nodes as f64).floor() as usize;
    n.max(1)
}

struct Search<'a> {
    profile: &'a Profile,
    args: &'a ReservationArgs,
    resources: &'a [Sym],
    nodes: &'a [Arc<NodeInfo>],
}

impl Search<'_> {
    /// The scarce resource `pod` needs a whole `node`'s worth of, if any.
    fn whole_node_resource(&self, pod: &PodRecord, node: &NodeInfo) -> Option<Sym> {
        let record = node.node.as_ref()?;
        self.resources.iter().copied().find(|&r| {
            let asked = pod.requests.scalar(r);
            let has = record.allocatable.scalar(r);
            #[allow(clippy::cast_precision_loss)]
            let enough = asked as f64 >= self.args.min_share * has as f64;
            asked > 0 && has > 0 && enough
        })
    }

    /// Would node `i` take `pod` once every pod on it is gone?
    fn takes(&self, states: &FilterPrep, pod: &PodRecord, i: usize) -> bool {
        let node = &self.nodes[i];
        if node.node.is_none() || self.whole_node_resource(pod, node).is_none() {
            return false;
        }
        // Emptied with its NUMA zones: a node whose zones can never hold the pod (8 GPUs in
        // two zones of 4 for a single-NUMA pod) must not be held for it.
        run_filters(self.profile, states, pod, &node.emptied()).is_none()
    }

    /// The node nearest to free among those not held that would take the pod once emptied.
    fn nearest_free(
        &self,
        states: &FilterPrep,
        pod: &PodRecord,
        held: &HashSet<Sym>,
    ) -> Option<usize> {
        let mut order: Vec<(i64, usize, usize)> = self
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, node)| {
                let record = node.node.as_ref()?;
                if held.contains(&record.name) {
                    return None;
                }
                let resource = self.whole_node_resource(pod, node)?;
                Some((node.requested.scalar(resource), node.pods.len(), i))
            })
            .collect();
        order.sort_unstable();
        // Filters run only until one node passes: most nodes are never looked at twice.
        order
            .into_iter()
            .map(|(_, _, i)| i)
            .find(|&i| self.takes(states, pod, i))
    }
}

#[cfg(test)]
#[path = "reservation_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "reservation_numa_tests.rs"]
mod numa_tests;
