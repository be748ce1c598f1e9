//! All-or-nothing placement of a gang (the pending members of one PodGroup), with its rack
//! constraint.
//!
//! Every candidate node set is tried as a trial placement on the snapshot's nodes: members are
//! placed one by one (each sees the previous ones), and the trial is undone whole as soon as a
//! member fits nowhere. Nothing is held for a gang that does not fit, so two gangs that each
//! need more than half the cluster cannot deadlock: the one decided first takes its nodes, the
//! other waits with nothing reserved.
//!
//! Candidate node sets: the whole cluster (no rack policy); each rack (`required`); each rack,
//! then the whole cluster (`preferred`). A group whose members already run in a rack keeps to
//! that rack. Among the racks that fit, the one holding fewest pods of the group's job (groups
//! sharing `podium.dev/job`) wins, then the best summed score, then the rack name.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use crate::cycle::{Cluster, Decision, Options, assume_claims, schedule_pod};
use crate::framework::code::Code;
use crate::framework::extension::Extension;
use crate::intern::{Sym, resolve};
use crate::runtime::profile::Profile;
use crate::state::dra::Dra;
use crate::state::namespaces::Namespaces;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::pod_group::{PodGroupRecord, TopologyMode};
use crate::state::snapshot::{Snapshot, SnapshotData};
use crate::state::volume_binder::ClaimBinding;
use crate::state::volumes::Volumes;

/// The gang to place and what it must respect.
pub struct Gang<'a> {
    pub group: &'a PodGroupRecord,
    /// Names of the groups (in the group's namespace) of the same job, the group included.
    pub job_groups: &'a [Sym],
    /// Outside plugins judging the nodes the core keeps for each member.
    pub extension: Option<&'a dyn Extension>,
}

/// Whether a gang must, may or need not share one domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RackPolicy {
    None,
    Preferred,
    Required,
}

/// The node label naming the gang's domains, and its policy.
fn rack_label(profile: &Profile, group: &PodGroupRecord) -> (Sym, RackPolicy) {
    match group.topology {
        None => (profile.levels.rack_label(), RackPolicy::None),
        Some(t) => (
            profile.levels.key(t.level),
            match t.mode {
                TopologyMode::Required => RackPolicy::Required,
                TopologyMode::Preferred => RackPolicy::Preferred,
            },
        ),
    }
}

/// A node set to try: a rack, or the whole cluster (`rack: None`).
struct Candidate {
    rack: Option<Sym>,
    nodes: Vec<usize>,
}

/// A trial that placed every member the group needs: each member's decision, in order (those
/// left behind, beyond minMember, with their own failure).
struct Placed {
    placements: Vec<(usize, Decision)>,
    placed: usize,
    score: i64,
    volumes: Volumes,
    dra: Dra,
    namespaces: Namespaces,
    nodes: Vec<(usize, Arc<NodeInfo>)>,
}

/// A trial that failed: how far it got and the decision of the member that fit nowhere.
struct Stuck {
    placed: usize,
    failed: Box<Decision>,
}

/// How racks that fit are ranked (lowest first): pods of the job already there, then members
/// placed and the summed score (highest first), then the rack name.
type RackRank = (
    usize,
    std::cmp::Reverse<usize>,
    std::cmp::Reverse<i64>,
    &'static str,
);

/// What every trial of one gang shares.
struct Search<'a> {
    profile: &'a Profile,
    data: &'a SnapshotData,
    nodes: &'a [Arc<NodeInfo>],
    members: &'a [Arc<PodRecord>],
    excluded: &'a HashSet<usize>,
    gang: &'a Gang<'a>,
    /// Members that must be placed: minMember less the members already placed.
    need: usize,
}

/// Places `uids` (the gang's pending members) all together or not at all: together, at least
/// `minMember` less the members already placed (members beyond that may stay behind, with their
/// own decision). On success the placements are in the snapshot; otherwise every member gets the
/// same unschedulable decision explaining the gang's failure, and the snapshot is as before.
/// Uids the snapshot does not hold pending make the whole gang an error.
pub fn schedule_gang(
    snapshot: &Snapshot,
    uids: &[String],
    profile: &Profile,
    gang: &Gang<'_>,
) -> Vec<Decision> {
    let mut guard = snapshot.lock();
    let data = &mut *guard;
    let mut members: Vec<Arc<PodRecord>> = Vec::with_capacity(uids.len());
    for uid in uids {
        match data.pending.get(uid.as_str()) {
            Some(pod) => members.push(pod.clone()),
            None => return all_errors(uids, data, uid),
        }
    }
    let (slots, nodes): (Vec<usize>, Vec<Arc<NodeInfo>>) = data.real_nodes().into_iter().unzip();
    let group = gang.group;
    let (label, policy) = rack_label(profile, group);
    let placed_members = nodes_with_members(&nodes, group);
    let already: usize = placed_members
        .iter()
        .map(|&i| nodes[i].pods.iter().filter(|p| is_member(p, group)).count())
        .sum();
    let need = usize::try_from(group.min_member)
        .unwrap_or(usize::MAX)
        .saturating_sub(already)
        .min(members.len());
    let candidates = candidates(&nodes, label, policy, &placed_members);
    let excluded: HashSet<usize> = if group.distinct_hosts {
        placed_members.iter().copied().collect()
    } else {
        HashSet::new()
    };
    let search = Search {
        profile,
        data,
        nodes: &nodes,
        members: &members,
        excluded: &excluded,
        gang,
        need,
    };
    let outcome = profile
        .pool
        .install(|| search.choose(&candidates, label, policy).map_err(Box::new));
    match outcome {
        Ok(placed) => {
            for (i, node) in placed.nodes {
                data.nodes.set(slots[i], Some(node));
            }
            data.volumes = placed.volumes;
            data.dra = placed.dra;
            data.namespaces = placed.namespaces;
            for (m, decision) in &placed.placements {
                if decision.node.is_some() {
                    data.pending.remove(&members[*m].uid);
                }
            }
            placed.placements.into_iter().map(|(_, d)| d).collect()
        }
        Err(failure) => {
            let message = failure.message();
            members
                .iter()
                .map(|m| unschedulable(m, &failure, &message))
                .collect()
        }
    }
}

impl Search<'_> {
    /// Tries every candidate and keeps the best full placement, or explains why there is none.
    fn choose(
        &self,
        candidates: &[Candidate],
        label: Sym,
        policy: RackPolicy,
    ) -> Result<Placed, GangFailure> {
        let gang = self.gang;
        let mut best: Option<(RackRank, Placed)> = None;
        let mut closest: Option<(Option<Sym>, Stuck)> = None;
        let mut fallback: Option<&Candidate> = None;
        for candidate in candidates {
            if candidate.rack.is_none() && policy == RackPolicy::Preferred {
                // Only when no rack can take the gang whole.
                fallback = Some(candidate);
                continue;
            }
            match self.trial(&candidate.nodes) {
                Ok(placed) => {
                    let job_pods = candidate
                        .rack
                        .map_or(0, |_| job_pods_on(self.nodes, &candidate.nodes, gang));
                    let name = candidate.rack.map_or("", resolve);
                    let rank = (
                        job_pods,
                        std::cmp::Reverse(placed.placed),
                        std::cmp::Reverse(placed.score),
                        name,
                    );
                    if best.as_ref().is_none_or(|(r, _)| rank < *r) {
                        best = Some((rank, placed));
                    }
                }
                Err(stuck) => {
                    if closest
                        .as_ref()
                        .is_none_or(|(_, c)| stuck.placed > c.placed)
                    {
                        closest = Some((candidate.rack, stuck));
                    }
                }
            }
        }
        if let Some((_, placed)) = best {
            return Ok(placed);
        }
        if let Some(candidate) = fallback {
            match self.trial(&candidate.nodes) {
                Ok(placed) => return Ok(placed),
                Err(stuck) => {
                    if closest
                        .as_ref()
                        .is_none_or(|(_, c)| stuck.placed >= c.placed)
                    {
                        closest = Some((None, stuck));
                    }
                }
            }
        }
        Err(GangFailure {
            group: gang.group.object().to_string(),
            members: self.members.len(),
            policy,
            label,
            racks: candidates.iter().filter(|c| c.rack.is_some()).count(),
            closest,
        })
    }

    /// Places the members one by one on `candidate` nodes; undone whole if one fits nowhere.
    fn trial(&self, candidate: &[usize]) -> Result<Placed, Stuck> {
        // Copy-on-write: only the nodes a member lands on are copied.
        let mut working: Vec<Arc<NodeInfo>> = self.nodes.to_vec();
        let mut volumes = self.data.volumes.clone();
        let mut dra = self.data.dra.clone();
        // Members count against their quota as they are placed: a gang is admitted whole.
        let mut namespaces = self.data.namespaces.clone();
        let mut open: Vec<usize> = candidate
            .iter()
            .copied()
            .filter(|i| !self.excluded.contains(i))
            .collect();
        let mut placements = Vec::with_capacity(self.members.len());
        let mut touched: Vec<usize> = Vec::new();
        let mut score = 0i64;
        let mut skipped = 0usize;
        for (m, pod) in self.members.iter().enumerate() {
            let cluster = Cluster {
                nodes: &working,
                namespaces: &namespaces,
                volumes: &volumes,
                dra: &dra,
            };
            let options = Options {
                extension: self.gang.extension,
                only: Some(&open),
                ..Options::default()
            };
            let (decision, chosen) = schedule_pod(self.profile, cluster, pod, options);
            let Some(i) = chosen else {
                // Members beyond what the group still needs may stay behind; the rest may not.
                skipped += 1;
                if self.members.len() - skipped < self.need {
                    return Err(Stuck {
                        placed: m + 1 - skipped,
                        failed: Box::new(decision),
                    });
                }
                placements.push((m, decision));
                continue;
            };
            if let Err(e) = assume_claims(&mut dra, pod, &decision.claims) {
                // A bug (the devices were free in this view): the gang is not placed.
                let mut failed = decision;
                failed.code = crate::framework::code::Code::Error;
                failed.message = format!("running Reserve plugin \"DynamicResources\": {e}");
                failed.node = None;
                return Err(Stuck {
                    placed: m,
                    failed: Box::new(failed),
                });
            }
            let node = Arc::make_mut(&mut working[i]);
            volumes.reserve(&pod.uid, &ClaimBinding::taken(&decision.volumes));
            if !namespaces.quotas.is_empty() {
                namespaces.quotas.add(pod.namespace, &pod.requests);
            }
            node.place(pod.clone(), decision.allocation.as_deref());
            if self.gang.group.distinct_hosts {
                open.retain(|&j| j != i);
            }
            score = score.saturating_add(decision.score);
            touched.push(i);
            placements.push((m, decision));
        }
        let placed = touched.len();
        touched.sort_unstable();
        touched.dedup();
        Ok(Placed {
            placements,
            placed,
            score,
            volumes,
            dra,
            namespaces,
            nodes: touched
                .into_iter()
                .map(|i| (i, working[i].clone()))
                .collect(),
        })
    }
}

/// Where a gang may go, for a caller that places its members itself (preemption): the node
/// sets to try (the whole cluster, or each rack), the set tried only when none of those works
/// (the whole cluster for `preferred`), and the nodes it may not use.
pub struct Scope {
    pub sets: Vec<Vec<usize>>,
    pub fallback: Option<Vec<usize>>,
    /// Nodes already holding a member, when members need distinct hosts.
    pub excluded: HashSet<usize>,
    pub distinct_hosts: bool,
}

/// The gang's scope over `nodes` (the snapshot's real nodes, in order), as `schedule_gang`
/// sees it.
pub fn scope(nodes: &[Arc<NodeInfo>], profile: &Profile, group: &PodGroupRecord) -> Scope {
    let placed_members = nodes_with_members(nodes, group);
    let mut sets = Vec::new();
    let mut fallback = None;
    let (label, policy) = rack_label(profile, group);
    for candidate in candidates(nodes, label, policy, &placed_members) {
        if candidate.rack.is_none() && policy == RackPolicy::Preferred {
            fallback = Some(candidate.nodes);
        } else {
            sets.push(candidate.nodes);
        }
    }
    let excluded = if group.distinct_hosts {
        placed_members.into_iter().collect()
    } else {
        HashSet::new()
    };
    Scope {
        sets,
        fallback,
        excluded,
        distinct_hosts: group.distinct_hosts,
    }
}

/// Indices of the nodes that already hold a (bound or assumed) member of the group.
fn nodes_with_members(nodes: &[Arc<NodeInfo>], group: &PodGroupRecord) -> Vec<usize> {
    nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.pods.iter().any(|p| is_member(p, group)))
        .map(|(i, _)| i)
        .collect()
}

fn is_member(pod: &PodRecord, group: &PodGroupRecord) -> bool {
    pod.namespace == group.namespace && pod.pod_group == Some(group.name) && !pod.terminal
}

fn candidates(
    nodes: &[Arc<NodeInfo>],
    label: Sym,
    policy: RackPolicy,
    placed_members: &[usize],
) -> Vec<Candidate> {
    let everywhere = || Candidate {
        rack: None,
        nodes: (0..nodes.len()).collect(),
    };
    if policy == RackPolicy::None {
        return vec![everywhere()];
    }
    let rack_of = |i: usize| nodes[i].node.as_ref().and_then(|n| n.labels.get(label));
    let mut racks: BTreeMap<&'static str, Candidate> = BTreeMap::new();
    for i in 0..nodes.len() {
        if let Some(rack) = rack_of(i) {
            racks
                .entry(resolve(rack))
                .or_insert_with(|| Candidate {
                    rack: Some(rack),
                    nodes: Vec::new(),
                })
                .nodes
                .push(i);
        }
    }
    // Members already placed pin the gang to their rack (the one most of them are in).
    let mut pinned: BTreeMap<Sym, usize> = BTreeMap::new();
    for &i in placed_members {
        if let Some(rack) = rack_of(i) {
            *pinned.entry(rack).or_default() += 1;
        }
    }
    let pin = pinned.into_iter().max_by_key(|&(_, n)| n).map(|(r, _)| r);
    let mut out: Vec<Candidate> = racks
        .into_values()
        .filter(|c| pin.is_none_or(|p| c.rack == Some(p)))
        .collect();
    if policy == RackPolicy::Preferred {
        out.push(everywhere());
    }
    out
}

/// Pods of the gang's job (its group and its sibling groups) on these nodes.
fn job_pods_on(nodes: &[Arc<NodeInfo>], rack: &[usize], gang: &Gang<'_>) -> usize {
    let namespace = gang.group.namespace;
    rack.iter()
        .flat_map(|&i| nodes[i].pods.iter())
        .filter(|p| {
            p.namespace == namespace
                && !p.terminal
                && p.pod_group.is_some_and(|g| gang.job_groups.contains(&g))
        })
        .count()
}

/// Why a gang could not be placed, in one message for all its members.
struct GangFailure {
    group: String,
    members: usize,
    policy: RackPolicy,
    label: Sym,
    racks: usize,
    closest: Option<(Option<Sym>, Stuck)>,
}

impl GangFailure {
    fn message(&self) -> String {
        let n = self.members;
        let head = match self.policy {
            RackPolicy::Required if self.racks == 0 => {
                return format!(
                    "{}: {n} pod(s) must share a rack, and no node has the rack label {}",
                    self.group,
                    resolve(self.label)
                );
            }
            RackPolicy::Required => format!(
                "{}: no rack (of {}) has room for all {n} pod(s) together",
                self.group, self.racks
            ),
            _ => format!("{}: the {n} pod(s) do not all fit at once", self.group),
        };
        match &self.closest {
            Some((rack, stuck)) => {
                let place = rack.map_or(String::new(), |r| format!(" in rack {}", resolve(r)));
                format!(
                    "{head}; closest: {}/{n}{place}, then pod {}: {}",
                    stuck.placed, stuck.failed.name, stuck.failed.message
                )
            }
            None => head,
        }
    }
}

fn unschedulable(pod: &PodRecord, failure: &GangFailure, message: &str) -> Decision {
    let mut d = Decision::for_pod(pod);
    d.code = Code::Unschedulable;
    d.message = message.to_owned();
    if let Some((_, stuck)) = &failure.closest {
        d.reasons = stuck.failed.reasons.clone();
        d.evaluated_nodes = stuck.failed.evaluated_nodes;
    }
    d
}

fn all_errors(uids: &[String], data: &SnapshotData, missing: &str) -> Vec<Decision> {
    uids.iter()
        .map(|uid| {
            let mut d = match data.pending.get(uid.as_str()) {
                Some(pod) => Decision::for_pod(pod),
                None => Decision::unknown(uid),
            };
            d.code = Code::Error;
            d.message = format!("gang member {missing:?} is not pending in this snapshot");
            d
        })
        .collect()
}

#[cfg(test)]
#[path = "gang_tests.rs"]
mod tests;
