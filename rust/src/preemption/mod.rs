//! Preemption (kube-scheduler's DefaultPreemption PostFilter), gang-aware.
//!
//! When pods fit nowhere, find for each the node where evicting lower-priority pods makes room
//! at the least cost (`victims`, `pick`), and return the victims and the nominated nodes; the
//! Python side (`podium.preemption`) evicts them. A set of pods (a gang) is planned as a
//! whole: each member's victims are taken out before the next member is placed, and if one
//! member finds no room the whole set gets nothing. Victims in a gang take their gang along
//! (`gangs`). Runs with the GIL released, in parallel over nodes.

pub mod gangs;
pub mod nominated;
pub mod pick;
pub mod victims;

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use rayon::prelude::*;

use crate::cycle::pre_filter;
use crate::framework::plugin::PodContext;
use crate::framework::profile::Profile;
use crate::intern::resolve;
use crate::preemption::gangs::Gangs;
use crate::preemption::nominated::Nominees;
use crate::preemption::victims::{Candidate, Search, Verdict, Victim};
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::snapshot::{Snapshot, SnapshotData};

/// Below this many nodes per task, splitting the work costs more than it saves.
const MIN_NODES_PER_TASK: usize = 32;

/// kube-scheduler's reasons, counted per node in the failure message.
pub const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";

/// A pod to evict, as the API side needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvictedPod {
    pub uid: String,
    pub namespace: String,
    pub name: String,
    pub node: String,
    pub priority: i32,
    pub pod_group: Option<String>,
}

/// What a preemption decided: every pod of the set nominated to a node and the pods to evict,
/// or (no nominations) why it could not.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// (pod uid, node name), one per pod of the set, in the order given.
    pub nominations: Vec<(String, String)>,
    pub victims: Vec<EvictedPod>,
    /// False when the pods may not preempt now (policy Never, or the victims of their last
    /// preemption are still terminating): a nomination they hold must stay.
    pub eligible: bool,
    /// Empty on success; otherwise kube's form:
    /// `preemption: 0/5 nodes are available: 2 No preemption victims found for incoming pod, ...`
    pub message: String,
}

impl Outcome {
    fn failed(message: String) -> Self {
        Self {
            eligible: true,
            message,
            ..Self::default()
        }
    }

    fn ineligible(message: String) -> Self {
        Self {
            eligible: false,
            message,
            ..Self::default()
        }
    }
}

/// Plans preemption for the pending pods `uids` as one set (all of them, or none). The
/// snapshot's copy records the plan (victims gone, the pods on their nominated nodes) so
/// later calls on it see it; the `ClusterState` is untouched.
pub fn preempt(snapshot: &Snapshot, uids: &[String], profile: &Profile) -> Outcome {
    let mut guard = snapshot.lock();
    let data = &mut *guard;
    let mut pods = Vec::with_capacity(uids.len());
    for uid in uids {
        let Some(pod) = data.pending.get(uid.as_str()) else {
            return Outcome::failed(format!(
                "preemption: pod {uid:?} is not pending in this snapshot"
            ));
        };
        pods.push(pod.clone());
    }
    if pods.is_empty() {
        return Outcome::failed("preemption: no pods given".into());
    }
    let (slots, nodes): (Vec<usize>, Vec<Arc<NodeInfo>>) = data.real_nodes().into_iter().unzip();
    for pod in &pods {
        if let Some(why) = ineligible(data, &nodes, pod) {
            return Outcome::ineligible(format!("preemption: {}: {why}", pod.object()));
        }
    }
    let plan = match profile.pool.install(|| plan(profile, data, nodes, &pods)) {
        Ok(plan) => plan,
        Err(message) => return Outcome::failed(message),
    };
    for &i in &plan.touched {
        data.nodes.set(slots[i], Some(plan.nodes[i].clone()));
    }
    for pod in &pods {
        data.pending.remove(&*pod.uid);
    }
    let node_name = |i: usize| {
        plan.nodes[i]
            .node
            .as_ref()
            .map_or(String::new(), |n| n.name().to_owned())
    };
    Outcome {
        nominations: plan
            .nominations
            .iter()
            .map(|(pod, node)| (pod.uid.to_string(), node_name(*node)))
            .collect(),
        victims: plan
            .victims
            .iter()
            .map(|v| EvictedPod {
                uid: v.pod.uid.to_string(),
                namespace: v.pod.namespace().to_owned(),
                name: v.pod.name.to_string(),
                node: node_name(v.node),
                priority: v.priority,
                pod_group: v.pod.pod_group.map(|g| resolve(g).to_owned()),
            })
            .collect(),
        eligible: true,
        message: String::new(),
    }
}

/// kube's `PodEligibleToPreemptOthers`: why `pod` may not preempt now, if so.
fn ineligible(data: &SnapshotData, nodes: &[Arc<NodeInfo>], pod: &PodRecord) -> Option<String> {
    if pod.never_preempts {
        return Some("not eligible due to preemptionPolicy=Never".into());
    }
    if let Some(err) = &pod.error {
        return Some(err.to_string());
    }
    let nominated = pod.nominated_node?;
    let priority = data.priorities.of(pod);
    let info = nodes
        .iter()
        .find(|n| n.node.as_ref().is_some_and(|r| r.name == nominated))?;
    // The last preemption's victims are still going: wait for them rather than evict more.
    info.pods
        .iter()
        .any(|p| p.deleting && data.priorities.of(p) < priority)
        .then(|| {
            format!(
                "not eligible due to a terminating pod on the nominated node {}",
                resolve(nominated)
            )
        })
}

struct Plan {
    nodes: Vec<Arc<NodeInfo>>,
    touched: BTreeSet<usize>,
    nominations: Vec<(Arc<PodRecord>, usize)>,
    victims: Vec<Victim>,
}

fn plan(
    profile: &Profile,
    data: &SnapshotData,
    nodes: Vec<Arc<NodeInfo>>,
    pods: &[Arc<PodRecord>],
) -> Result<Plan, String> {
    let gangs = Gangs::of(&nodes);
    let nominees = Nominees::of(&data.nominated, &nodes, &data.priorities);
    let mut plan = Plan {
        nodes,
        touched: BTreeSet::new(),
        nominations: Vec::with_capacity(pods.len()),
        victims: Vec::new(),
    };
    let mut removed: HashSet<Arc<str>> = HashSet::new();
    for pod in pods {
        let view = nominees.held_for(pod, &plan.nodes, &data.pending, &data.priorities);
        let ctx = PodContext {
            pod,
            nodes: &view,
            namespaces: &data.namespaces,
            volumes: &data.volumes,
            index: None,
        };
        let states = pre_filter(profile, &ctx).map_err(|status| {
            format!(
                "preemption: {}: {}",
                pod.object(),
                status.reasons.join(", ")
            )
        })?;
        let search = Search {
            profile,
            states: &states,
            pod,
            priority: data.priorities.of(pod),
            nodes: &view,
            gangs: &gangs,
            removed: &removed,
            priorities: &data.priorities,
            budgets: &data.budgets,
        };
        let verdicts: Vec<Verdict> = (0..view.len())
            .into_par_iter()
            .with_min_len(MIN_NODES_PER_TASK)
            .map(|i| search.select(i))
            .collect();
        let (mut not_helpful, mut no_victims) = (0usize, 0usize);
        let mut candidates: Vec<Candidate> = Vec::new();
        for verdict in verdicts {
            match verdict {
                Verdict::Candidate(c) => candidates.push(c),
                Verdict::NotHelpful => not_helpful += 1,
                Verdict::NoVictims => no_victims += 1,
            }
        }
        let Some(best) = pick::best(&candidates) else {
            let set = if pods.len() > 1 {
                format!(" (one of a set of {} planned together)", pods.len())
            } else {
                String::new()
            };
            return Err(format!(
                "preemption: {}{set}: {}",
                pod.object(),
                failure_message(view.len(), not_helpful, no_victims)
            ));
        };
        let chosen = candidates.swap_remove(best);
        drop(view);
        for victim in chosen.victims {
            if removed.insert(victim.pod.uid.clone()) {
                Arc::make_mut(&mut plan.nodes[victim.node]).remove_pod(&victim.pod.uid);
                plan.touched.insert(victim.node);
                plan.victims.push(victim);
            }
        }
        Arc::make_mut(&mut plan.nodes[chosen.node]).add_pod(pod.clone());
        plan.touched.insert(chosen.node);
        plan.nominations.push((pod.clone(), chosen.node));
    }
    Ok(plan)
}

fn failure_message(nodes: usize, not_helpful: usize, no_victims: usize) -> String {
    let mut parts = Vec::new();
    if no_victims > 0 {
        parts.push(format!("{no_victims} {NO_VICTIMS}"));
    }
    if not_helpful > 0 {
        parts.push(format!("{not_helpful} {NOT_HELPFUL}"));
    }
    parts.sort_unstable();
    format!("0/{nodes} nodes are available: {}.", parts.join(", "))
}

#[cfg(test)]
mod tests;
