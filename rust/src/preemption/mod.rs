//! Preemption (kube-scheduler's DefaultPreemption PostFilter), gang-aware.
//!
//! When pods fit nowhere, find for each the node where evicting lower-priority pods makes room
//! at the least cost (`victims`, `pick`), and return the victims and the nominated nodes; the
//! Python side (`podium.preemption`) evicts them. A set of pods (a gang) is planned as a
//! whole: each member's victims are taken out before the next member is placed, and if one
//! member finds no room the whole set gets nothing. Victims in a gang take their gang along
//! (`gangs`). Runs with the GIL released, in parallel over nodes.

pub mod gangs;
pub mod pick;
pub mod victims;

use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use rayon::prelude::*;

use crate::cycle::pre_filter;
use crate::framework::nominator::Nominees;
use crate::framework::plugin::PodContext;
use crate::gang::{self, Scope};
use crate::intern::resolve;
use crate::preemption::gangs::Gangs;
use crate::preemption::victims::{Candidate, Search, Verdict, Victim};
use crate::runtime::profile::Profile;
use crate::state::namespaces::Namespaces;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::pod_group::PodGroupRecord;
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
    /// Empty on success; otherwise kube's words, with no pod named in them, so the messages of
    /// many pods group: `preemption: 0/5 nodes are available: 2 No preemption victims found for
    /// incoming pod, 3 Preemption is not helpful for scheduling.`
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

/// Plans preemption for the pending pods `uids` as one set (all of them, or none); `group`:
/// the PodGroup when they are a gang's members, whose rack and distinct hosts the plan keeps
/// to. The snapshot's copy records the plan (victims gone, the pods on their nominated nodes
/// and counted in their quotas, as placed: no longer pending nor held where an earlier
/// nomination had them) so later calls on it see it; the `ClusterState` is untouched.
pub fn preempt(
    snapshot: &Snapshot,
    uids: &[String],
    profile: &Profile,
    group: Option<&PodGroupRecord>,
) -> Outcome {
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
    // The Workload API's PodGroup may forbid its gang to preempt, as a pod's own policy does.
    if group
        .and_then(|g| g.workload.as_ref())
        .is_some_and(|w| w.never_preempts)
    {
        return Outcome::ineligible(
            "preemption: not eligible due to the PodGroup's preemptionPolicy=Never.".into(),
        );
    }
    let (slots, nodes): (Vec<usize>, Vec<Arc<NodeInfo>>) = data.real_nodes().into_iter().unzip();
    for pod in &pods {
        if let Some(why) = ineligible(data, &nodes, pod) {
            return Outcome::ineligible(format!("preemption: {why}"));
        }
    }
    let plan = match profile
        .pool
        .install(|| plan(profile, data, nodes, &pods, group))
    {
        Ok(plan) => plan,
        Err(Unhelpful(message)) => return Outcome::failed(message),
    };
    for &i in &plan.touched {
        data.nodes.set(slots[i], Some(plan.nodes[i].clone()));
    }
    for pod in &pods {
        data.pending.remove(&*pod.uid);
        data.nominated.remove(&*pod.uid);
        if !data.namespaces.quotas.is_empty() {
            // CapacityScheduling counts a nominated pod in its quota: once, here.
            data.namespaces.quotas.add(pod.namespace, &pod.requests);
        }
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

/// kube's DefaultPreemption for a pod whose scheduling found every node
/// UnschedulableAndUnresolvable (kube's `nodesWherePreemptionMightHelp` is then empty): the
/// eligibility checks, then "not helpful" on every node, without trying victims anywhere (a
/// pod larger than any node would otherwise cost a trial on each of 20,000 nodes).
pub fn preempt_unresolvable(snapshot: &Snapshot, uid: &str) -> Outcome {
    let guard = snapshot.lock();
    let data = &*guard;
    let Some(pod) = data.pending.get(uid) else {
        return Outcome::failed(format!(
            "preemption: pod {uid:?} is not pending in this snapshot"
        ));
    };
    let nodes: Vec<Arc<NodeInfo>> = data.real_nodes().into_iter().map(|(_, n)| n).collect();
    if let Some(why) = ineligible(data, &nodes, pod) {
        return Outcome::ineligible(format!("preemption: {why}"));
    }
    let all = nodes.len();
    Outcome::failed(format!("preemption: {}", failure_message(all, all, 0)))
}

/// kube's `PodEligibleToPreemptOthers`: why `pod` may not preempt now, if so.
fn ineligible(data: &SnapshotData, nodes: &[Arc<NodeInfo>], pod: &PodRecord) -> Option<String> {
    if pod.never_preempts {
        return Some("not eligible due to preemptionPolicy=Never.".into());
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
        .then(|| "not eligible due to a terminating pod on the nominated node.".to_string())
}

struct Plan {
    nodes: Vec<Arc<NodeInfo>>,
    touched: BTreeSet<usize>,
    nominations: Vec<(Arc<PodRecord>, usize)>,
    victims: Vec<Victim>,
    /// What the plan costs, compared as kube compares nodes (`pick`).
    pdb_violations: usize,
}

impl Plan {
    /// Lower is better: PodDisruptionBudget violations, the highest victim priority, the sum
    /// of victim priorities (offset per victim, as kube does), the number of victims.
    fn cost(&self) -> (usize, i32, i64, usize) {
        let highest = self.victims.iter().map(|v| v.priority).max();
        let sum = self
            .victims
            .iter()
            .map(|v| i64::from(v.priority) + (1i64 << 31))
            .sum();
        (
            self.pdb_violations,
            highest.unwrap_or(i32::MIN),
            sum,
            self.victims.len(),
        )
    }
}

/// Where the set may go: every node for pods outside a gang; a gang's domains at its level (and,
/// when the level is only preferred, at each level above it, then the whole cluster, each tier
/// tried only when none before it works), with a host per member when it asks for distinct
/// hosts.
fn scope(profile: &Profile, nodes: &[Arc<NodeInfo>], group: Option<&PodGroupRecord>) -> Scope {
    match group {
        Some(group) => gang::scope(nodes, profile, group),
        None => Scope {
            tiers: vec![vec![(0..nodes.len()).collect()]],
            excluded: HashSet::new(),
            distinct_hosts: false,
        },
    }
}

/// Why preemption cannot help the pods, in kube's words (see `Outcome::message`): an outcome
/// of planning, not an error.
struct Unhelpful(String);

/// The cheapest plan over the scope's node sets (a tier only when none before it works), or
/// the failure of the set that got furthest.
fn plan(
    profile: &Profile,
    data: &SnapshotData,
    nodes: Vec<Arc<NodeInfo>>,
    pods: &[Arc<PodRecord>],
    group: Option<&PodGroupRecord>,
) -> Result<Plan, Unhelpful> {
    let scope = scope(profile, &nodes, group);
    let gangs = Gangs::of(&nodes, &data.disrupted_singly);
    let nominees = Nominees::of(&data.nominated, &nodes, &data.priorities);
    let context = Context {
        profile,
        data,
        nodes: &nodes,
        pods,
        gangs: &gangs,
        nominees: &nominees,
        scope: &scope,
    };
    let mut best: Option<Plan> = None;
    let mut furthest: Option<(usize, Unhelpful)> = None;
    for sets in &scope.tiers {
        for set in sets {
            match context.plan_in(set) {
                Ok(plan) => {
                    if best.as_ref().is_none_or(|b| plan.cost() < b.cost()) {
                        best = Some(plan);
                    }
                }
                Err((planned, why)) => {
                    if furthest.as_ref().is_none_or(|(p, _)| planned > *p) {
                        furthest = Some((planned, why));
                    }
                }
            }
        }
        if best.is_some() {
            break;
        }
    }
    match best {
        // The pods fit without evicting anyone: they failed for want of something victims
        // cannot give (a gang's rack or hosts of its own). A nomination would only hold nodes
        // and send the pods round again.
        Some(plan) if plan.victims.is_empty() => Err(Unhelpful(format!(
            "preemption: {NO_VICTIMS}.{}",
            set_note(pods.len())
        ))),
        Some(plan) => Ok(plan),
        None => Err(furthest.map_or_else(
            || {
                Unhelpful(format!(
                    "preemption: no node to try.{}",
                    set_note(pods.len())
                ))
            },
            |(_, why)| why,
        )),
    }
}

/// Said after kube's wording (never inside it, so messages still group and match kube's) when
/// a gang's pods were planned as one set: one pod's failure is the whole set's.
fn set_note(pods: usize) -> String {
    if pods > 1 {
        format!(" The {pods} pods of the gang were planned together.")
    } else {
        String::new()
    }
}

/// What planning in each of the scope's node sets shares.
struct Context<'a> {
    profile: &'a Profile,
    data: &'a SnapshotData,
    nodes: &'a [Arc<NodeInfo>],
    pods: &'a [Arc<PodRecord>],
    gangs: &'a Gangs,
    nominees: &'a Nominees,
    scope: &'a Scope,
}

impl<'a> Context<'a> {
    /// The quotas as `pod` must see them: the nominated pods of at least its priority (itself
    /// excluded) count as placed, as CapacityScheduling counts them, so the room preemption
    /// already made for a quota's pods is not claimed for it twice (a quota whose pods wait on
    /// their nominated nodes is not below its `min` for the next, nor below its `max`).
    fn quotas_held_for(&self, pod: &PodRecord) -> Cow<'a, Namespaces> {
        let data = self.data;
        self.nominees
            .quotas_for(pod, &data.namespaces, &data.pending, &data.priorities)
    }

    /// Each pod in turn takes the best node of `set`, its victims taken out before the next
    /// pod is planned. Fails with how many pods were planned and why the next could not be.
    fn plan_in(&self, set: &[usize]) -> Result<Plan, (usize, Unhelpful)> {
        let (profile, data) = (self.profile, self.data);
        let mut plan = Plan {
            nodes: self.nodes.to_vec(),
            touched: BTreeSet::new(),
            nominations: Vec::with_capacity(self.pods.len()),
            victims: Vec::new(),
            pdb_violations: 0,
        };
        let mut open: Vec<usize> = set
            .iter()
            .copied()
            .filter(|i| !self.scope.excluded.contains(i))
            .collect();
        let mut removed: HashSet<Arc<str>> = HashSet::new();
        for (planned, pod) in self.pods.iter().enumerate() {
            let view = self
                .nominees
                .held_for(pod, &plan.nodes, &data.pending, &data.priorities);
            let namespaces = self.quotas_held_for(pod);
            let ctx = PodContext {
                pod,
                nodes: &view,
                namespaces: &namespaces,
                volumes: &data.volumes,
                dra: &data.dra,
                index: None,
            };
            let states = pre_filter(profile, &ctx).map_err(|status| {
                let why = status.reasons.join(", ");
                (
                    planned,
                    Unhelpful(format!("preemption: {why}.{}", set_note(self.pods.len()))),
                )
            })?;
            let search = Search {
                profile,
                states: &states,
                pod,
                priority: data.priorities.of(pod),
                nodes: &view,
                gangs: self.gangs,
                removed: &removed,
                priorities: &data.priorities,
                budgets: &data.budgets,
                namespaces: &namespaces,
                volumes: &data.volumes,
            };
            let verdicts: Vec<Verdict> = open
                .par_iter()
                .with_min_len(MIN_NODES_PER_TASK)
                .map(|&i| search.select(i))
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
                return Err((
                    planned,
                    Unhelpful(format!(
                        "preemption: {}{}",
                        failure_message(open.len(), not_helpful, no_victims),
                        set_note(self.pods.len())
                    )),
                ));
            };
            let chosen = candidates.swap_remove(best);
            drop(view);
            plan.pdb_violations += chosen.pdb_violations;
            for victim in chosen.victims {
                if removed.insert(victim.pod.uid.clone()) {
                    Arc::make_mut(&mut plan.nodes[victim.node]).evict(&victim.pod.uid);
                    plan.touched.insert(victim.node);
                    plan.victims.push(victim);
                }
            }
            Arc::make_mut(&mut plan.nodes[chosen.node]).add_pod(pod.clone());
            plan.touched.insert(chosen.node);
            plan.nominations.push((pod.clone(), chosen.node));
            if self.scope.distinct_hosts {
                open.retain(|&i| i != chosen.node);
            }
        }
        Ok(plan)
    }
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
    if parts.is_empty() {
        // Every node of the set was taken by an earlier pod that needs a host of its own.
        return "no node left to try.".into();
    }
    format!("0/{nodes} nodes are available: {}.", parts.join(", "))
}

#[cfg(test)]
mod tests;
