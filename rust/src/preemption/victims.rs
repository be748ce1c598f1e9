//! Victim selection on one node (kube's `SelectVictimsOnNode`), gang-aware.
//!
//! Every pod of lower priority than the preemptor is a potential victim (with ElasticQuotas:
//! see `may_evict`, reclaim); one in a gang brings
//! the whole gang (all its placed members, on any node), and a gang with any member of equal
//! or higher priority is off limits. If the preemptor fits once they are all gone, the units
//! are reprieved one by one, most important first, those whose eviction would violate a
//! PodDisruptionBudget before the others: a unit is put back whenever the preemptor still
//! fits. What could not be put back are the victims.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::cycle::{FilterPrep, run_filters};
use crate::framework::code::Code;
use crate::framework::plugin::PodContext;
use crate::preemption::gangs::Gangs;
use crate::runtime::profile::Profile;
use crate::state::disruption::Budgets;
use crate::state::dra::Dra;
use crate::state::namespaces::Namespaces;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::priority::PriorityClasses;
use crate::state::volumes::Volumes;

/// A pod to evict, with the node it is on (index in the cycle's node list).
#[derive(Debug, Clone)]
pub struct Victim {
    pub node: usize,
    pub priority: i32,
    pub pod: Arc<PodRecord>,
}

/// A node where preemption works, and what it costs.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub node: usize,
    pub victims: Vec<Victim>,
    /// Victims whose eviction exceeds a PodDisruptionBudget.
    pub pdb_violations: usize,
    pub highest_priority: i32,
    /// Offset by 2^31 per victim, as kube does, so that more victims never sum lower.
    pub priority_sum: i64,
    /// The earliest start among the victims of the highest priority.
    pub earliest_start_of_highest: f64,
}

impl Candidate {
    pub fn new(node: usize, victims: Vec<Victim>, pdb_violations: usize) -> Self {
        let highest_priority = victims.iter().map(|v| v.priority).max().unwrap_or(i32::MIN);
        let priority_sum = victims
            .iter()
            .map(|v| i64::from(v.priority) + (1i64 << 31))
            .sum();
        let earliest_start_of_highest = victims
            .iter()
            .filter(|v| v.priority == highest_priority)
            .map(|v| v.pod.started)
            .fold(f64::INFINITY, f64::min);
        Self {
            node,
            victims,
            pdb_violations,
            highest_priority,
            priority_sum,
            earliest_start_of_highest,
        }
    }
}

/// What one node says about preempting for the pod.
#[derive(Debug)]
pub enum Verdict {
    Candidate(Candidate),
    /// The pod cannot fit there whatever is removed (kube: "Preemption is not helpful").
    NotHelpful,
    /// Removing every lower-priority pod would not be enough.
    NoVictims,
}

/// Everything victim selection reads, shared by the per-node calls.
pub struct Search<'a> {
    pub profile: &'a Profile,
    pub states: &'a FilterPrep,
    pub pod: &'a PodRecord,
    pub priority: i32,
    pub nodes: &'a [Arc<NodeInfo>],
    pub gangs: &'a Gangs,
    /// Pods already chosen as victims for earlier pods of the same preemption.
    pub removed: &'a HashSet<Arc<str>>,
    pub priorities: &'a PriorityClasses,
    pub budgets: &'a Budgets,
    pub namespaces: &'a Namespaces,
    pub volumes: &'a Volumes,
}

/// Pods that are evicted together: one pod, or a whole gang.
struct Unit {
    members: Vec<Victim>,
    priority: i32,
    started: f64,
}

impl Unit {
    fn new(members: Vec<Victim>) -> Self {
        let priority = members.iter().map(|m| m.priority).max().unwrap_or(i32::MIN);
        let started = members
            .iter()
            .map(|m| m.pod.started)
            .fold(f64::INFINITY, f64::min);
        Self {
            members,
            priority,
            started,
        }
    }

    fn on(&self, node: usize) -> impl Iterator<Item = &Victim> + '_ {
        self.members.iter().filter(move |m| m.node == node)
    }
}

impl Search<'_> {
    pub fn select(&self, node: usize) -> Verdict {
        let info = &self.nodes[node];
        if info.node.is_none() {
            return Verdict::NotHelpful;
        }
        match run_filters(self.profile, self.states, self.pod, info) {
            None => return Verdict::Candidate(Candidate::new(node, Vec::new(), 0)),
            Some(status) if status.code == Code::UnschedulableAndUnresolvable => {
                return Verdict::NotHelpful;
            }
            Some(_) => {}
        }
        let units = self.potential_units(node, info);
        if units.is_empty() {
            return Verdict::NoVictims;
        }
        let mut trial = (**info).clone();
        // The pods taken off the node, as PreFilter states see them (kube's RemovePod).
        let mut gone = NodeInfo {
            node: info.node.clone(),
            ..NodeInfo::default()
        };
        for unit in &units {
            for victim in unit.on(node) {
                trial.evict(&victim.pod.uid);
                gone.add_pod(victim.pod.clone());
            }
        }
        if !self.fits(&trial, &gone) {
            return Verdict::NoVictims;
        }
        let violating = self.budget_violations(&units);
        let mut victims = Vec::new();
        let mut pdb_violations = 0;
        // Reprieve the violating units first: keeping them costs no budget.
        for first_pass in [true, false] {
            for (unit, &violations) in units.iter().zip(&violating) {
                if (violations > 0) != first_pass {
                    continue;
                }
                for victim in unit.on(node) {
                    trial.readmit(victim.pod.clone());
                    gone.remove_pod(&victim.pod.uid);
                }
                if self.fits(&trial, &gone) {
                    continue;
                }
                for victim in unit.on(node) {
                    trial.evict(&victim.pod.uid);
                    gone.add_pod(victim.pod.clone());
                }
                pdb_violations += violations;
                victims.extend(unit.members.iter().cloned());
            }
        }
        Verdict::Candidate(Candidate::new(node, victims, pdb_violations))
    }

    /// Does the pod pass every filter on `info`, with the PreFilter states of the plugins
    /// that count other pods taken as if the pods on `gone` were not there?
    fn fits(&self, info: &NodeInfo, gone: &NodeInfo) -> bool {
        if gone.pods.is_empty() {
            return run_filters(self.profile, self.states, self.pod, info).is_none();
        }
        if info.node.as_ref().is_some_and(|n| n.error.is_some()) {
            return false;
        }
        let ctx = PodContext {
            pod: self.pod,
            nodes: self.nodes,
            namespaces: self.namespaces,
            volumes: self.volumes,
            // DynamicResources reads the victims' claims from its own PreFilter state.
            dra: Dra::none(),
            index: None,
        };
        self.profile
            .filters
            .iter()
            .zip(self.states)
            .all(|(plugin, state)| {
                let Some(state) = state else {
                    return true;
                };
                let adjusted = state
                    .as_ref()
                    .and_then(|s| plugin.remove_pods(s, &ctx, gone));
                let state = adjusted.as_ref().or(state.as_ref());
                plugin.filter(state, self.pod, info).is_success()
            })
    }

    /// kube's rule (lower priority only), with quotas (CapacityScheduling's reclaim, through the
    /// quotas' tree): pods within their quota's guarantee are never evicted for another quota;
    /// pods borrowed beyond it are evicted for a preemptor of lower priority, or whatever their
    /// priority for a preemptor within its own quota's guarantee (`Quotas::reclaimable`: below
    /// the two quotas' common ancestor, so teams of one department reclaim from each other, and
    /// from another department only what that department borrowed).
    fn may_evict(&self, victim: &PodRecord, priority: i32) -> bool {
        let quotas = &self.namespaces.quotas;
        let lower = priority < self.priority;
        if quotas.is_empty() || victim.namespace == self.pod.namespace {
            return lower;
        }
        if quotas.of(victim.namespace).is_none() {
            return lower;
        }
        let (pod, ns) = (&self.pod.requests, self.pod.namespace);
        let reclaim = |needs_guarantee| {
            quotas.reclaimable(ns, pod, victim.namespace, &victim.requests, needs_guarantee)
        };
        if lower { reclaim(false) } else { reclaim(true) }
    }

    /// The units with a pod on `node` that the preemptor may evict, most important first
    /// (higher priority, then started earlier).
    fn potential_units(&self, node: usize, info: &NodeInfo) -> Vec<Unit> {
        let mut units = Vec::new();
        let mut gangs_seen = HashSet::new();
        for pod in &info.pods {
            if self.removed.contains(&pod.uid) {
                continue;
            }
            let priority = self.priorities.of(pod);
            if !self.may_evict(pod, priority) {
                continue;
            }
            let Some(members) = self.gangs.of_pod(pod) else {
                units.push(Unit::new(vec![Victim {
                    node,
                    priority,
                    pod: pod.clone(),
                }]));
                continue;
            };
            if !gangs_seen.insert((pod.namespace, pod.pod_group)) {
                continue;
            }
            let members: Vec<Victim> = members
                .iter()
                .filter(|m| !self.removed.contains(&m.pod.uid))
                .map(|m| Victim {
                    node: m.node,
                    priority: self.priorities.of(&m.pod),
                    pod: m.pod.clone(),
                })
                .collect();
            // A gang goes whole or not at all: one member the preemptor may not evict
            // protects them all.
            if members.iter().all(|m| self.may_evict(&m.pod, m.priority)) {
                units.push(Unit::new(members));
            }
        }
        units.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then(a.started.total_cmp(&b.started))
        });
        units
    }

    /// Per unit, in order: how many of its pods would exceed a PodDisruptionBudget if every
    /// unit before it were evicted too (kube's `filterPodsWithPDBViolation`).
    fn budget_violations(&self, units: &[Unit]) -> Vec<usize> {
        if self.budgets.is_empty() {
            return vec![0; units.len()];
        }
        let mut left: HashMap<usize, i32> = HashMap::new();
        units
            .iter()
            .map(|unit| {
                let mut violations = 0;
                for member in &unit.members {
                    let mut violates = false;
                    for budget in self.budgets.iter().filter(|b| b.covers(&member.pod)) {
                        let allowed = left
                            .entry(Arc::as_ptr(budget) as usize)
                            .or_insert(budget.allowed);
                        *allowed -= 1;
                        violates |= *allowed < 0;
                    }
                    violations += usize::from(violates);
                }
                violations
            })
            .collect()
    }
}
