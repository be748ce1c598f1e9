//! All-or-nothing placement of a gang (the pending members of one PodGroup) with its topology
//! request: a level (a node label whose values name domains: a block, a rack, an NVLink clique,
//! a host), `required` or `preferred`, and optional slices (every N members inside one domain of
//! a lower level).
//!
//! The levels to try: the whole cluster (no request); the requested level (`required`); the
//! requested level, then each level above it in the profile's list, then the whole cluster
//! (`preferred`). At each level:
//!
//! 1. the domains are the nodes sharing one value of the label (`domains`), with their free
//!    capacity totals; members already placed keep the gang to the domain most of them are in;
//! 2. a domain whose totals cannot hold the gang (a resource's free sum below the gang's sum,
//!    fewer hosts than distinct-host members, room on its nodes for fewer members, or too few
//!    slice domains with room for a slice) is pruned: no trial placement there;
//! 3. the others are ranked: fewest pods of the gang's job first (groups sharing
//!    `podium.dev/job` are balanced over domains), then best fit (the least left free of the
//!    resource the gang needs the largest share of: the fullest domain that still takes it
//!    whole), then the name;
//! 4. trials (`trial`) run in that order; the first that places the gang wins.
//!
//! A gang that fits nowhere gets one message for all its members: the level, the domains that
//! lack what (`failure`), and the trial that came closest.
//!
//! Inside the folder, each file uses only those below it: `domains` (leaf), `trial`,
//! `failure`, then this module.

mod domains;
mod failure;
mod trial;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use crate::cycle::Decision;
use crate::error::{CoreError, CoreResult};
use crate::framework::code::Code;
use crate::framework::nominator::Nominees;
use crate::intern::{Sym, resolve};
use crate::runtime::profile::Profile;
use crate::state::namespaces::Namespaces;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::pod_group::{PodGroupRecord, TopologyMode};
use crate::state::snapshot::{Snapshot, SnapshotData};

use domains::{Domain, Lack, Need, domains_of, everywhere, slices_fit, within};
use failure::{GangFailure, LevelReport};
pub use trial::Gang;
use trial::{Placed, Request, Search, Slices, Stuck};

/// The levels a gang is tried at, in order (None: the whole cluster), and its slices.
struct Plan {
    levels: Vec<Option<Sym>>,
    mode: Option<TopologyMode>,
    slices: Option<Slices>,
}

impl Plan {
    /// The group's request against the profile's levels; Err (`Invalid`): why the request
    /// cannot be met as written (a slice level not below the gang's), the group not named.
    fn of(profile: &Profile, group: &PodGroupRecord) -> CoreResult<Self> {
        let Some(request) = group.topology else {
            return Ok(Self {
                levels: vec![None],
                mode: None,
                slices: None,
            });
        };
        let levels = &profile.levels;
        let key = levels.key(request.level);
        let slices = match request.slice {
            None => None,
            Some(slice) => {
                let slice_key = levels.key(slice.level);
                let below = match (levels.position(key), levels.position(slice_key)) {
                    _ if slice_key == key => false,
                    (Some(gang), Some(slice)) => slice > gang,
                    _ => true,
                };
                if !below {
                    return Err(CoreError::Invalid(format!(
                        "the slice level {} is not below the gang's level {} in the profile's topology levels ({})",
                        resolve(slice_key),
                        resolve(key),
                        levels
                            .keys()
                            .iter()
                            .map(|&k| resolve(k))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
                Some(Slices {
                    size: usize::try_from(slice.size).unwrap_or(usize::MAX),
                    key: slice_key,
                })
            }
        };
        let levels = match request.mode {
            TopologyMode::Required => vec![Some(key)],
            TopologyMode::Preferred => levels
                .widening(key)
                .into_iter()
                .map(Some)
                .chain([None])
                .collect(),
        };
        Ok(Self {
            levels,
            mode: Some(request.mode),
            slices,
        })
    }
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
    let group = gang.group;
    let plan = match Plan::of(profile, group) {
        Ok(plan) => plan,
        Err(problem) => return unmet(&members, group, &problem),
    };
    let (slots, nodes): (Vec<usize>, Vec<Arc<NodeInfo>>) = data.real_nodes().into_iter().unzip();
    let placed_members = nodes_with_members(&nodes, group);
    let already: usize = placed_members
        .iter()
        .map(|&i| nodes[i].pods.iter().filter(|p| is_member(p, group)).count())
        .sum();
    let need = usize::try_from(group.min_member)
        .unwrap_or(usize::MAX)
        .saturating_sub(already)
        .min(members.len());
    let excluded: HashSet<usize> = if group.distinct_hosts {
        placed_members.iter().copied().collect()
    } else {
        HashSet::new()
    };
    let fit = profile
        .filter_names
        .contains(&crate::plugins::node_resources_fit::filter::NAME);
    let needs = Need::of(&members, (need, group.distinct_hosts), fit, &data.dra);
    let held = held_against(data, &nodes, &members);
    let held_pods: &[(usize, Arc<PodRecord>)] = held.as_ref().map_or(&[], |h| &h.pods);
    let outcome = {
        let request = Request {
            gang,
            members: &members,
            need,
            needs: &needs,
            excluded: &excluded,
            slices: plan.slices,
            held: held
                .as_ref()
                .map(|h| (h.view.as_slice(), h.pods.as_slice(), h.quotas.as_ref())),
        };
        let mut search = Search::new(profile, data, (&nodes, &slots), request);
        search.start = profile.start.get(nodes.len());
        let outcome = profile
            .pool
            .install(|| choose(&mut search, &plan, &placed_members));
        profile
            .start
            .advance(search.start, search.examined, nodes.len());
        outcome
    };
    match outcome {
        Ok(placed) => commit(data, &slots, &members, placed, held_pods),
        Err(failure) => {
            let message = failure.message();
            members
                .iter()
                .map(|m| failure.decision(m, &message))
                .collect()
        }
    }
}

/// The nodes as a gang's members see them, and the nominees held there with their node
/// indices (the pod index must describe them too).
struct Holds {
    view: Vec<Arc<NodeInfo>>,
    pods: Vec<(usize, Arc<PodRecord>)>,
    /// The namespaces with the held nominees counted in their quotas, when some has one
    /// (CapacityScheduling counts nominated pods at PreFilter).
    quotas: Option<Namespaces>,
}

/// `nodes` as the gang's members must see them, when a node is held against them: kube filters
/// each member with the nominated pods of at least its priority on their nodes
/// (`RunFilterPluginsWithNominatedPods`), as the batch does a lone pod (`Nominees`). The gang's
/// own nominees are placed with it, not held against it. Members of one group share a priority
/// as a rule; when they differ the lowest decides, so a hold is never given away (a higher
/// member may wait where kube would place it).
fn held_against(
    data: &SnapshotData,
    nodes: &[Arc<NodeInfo>],
    members: &[Arc<PodRecord>],
) -> Option<Holds> {
    if data.nominated.is_empty() {
        return None;
    }
    let nominees = Nominees::of(&data.nominated, nodes, &data.priorities);
    let priority = members
        .iter()
        .map(|m| data.priorities.of(m))
        .min()
        .unwrap_or(i32::MAX);
    let own: HashSet<&str> = members.iter().map(|m| &*m.uid).collect();
    let theirs = |p: &PodRecord| own.contains(&*p.uid);
    let pods: Vec<(usize, Arc<PodRecord>)> = nominees
        .held_pods(priority, &theirs, &data.pending, &data.priorities)
        .map(|(i, p)| (i, p.clone()))
        .collect();
    let quotas = match nominees.quotas_against(
        (priority, &theirs),
        &data.namespaces,
        &data.pending,
        &data.priorities,
    ) {
        std::borrow::Cow::Owned(namespaces) => Some(namespaces),
        std::borrow::Cow::Borrowed(_) => None,
    };
    match nominees.held_against(priority, theirs, (nodes, &data.pending), &data.priorities) {
        std::borrow::Cow::Owned(view) => Some(Holds { view, pods, quotas }),
        std::borrow::Cow::Borrowed(_) => None,
    }
}

/// The placement found becomes the snapshot's (nodes placed on, volumes, devices, quotas, the
/// pod index); the members placed leave the pending pods and drop their nominations (kube drops
/// a nomination once its pod is assumed). Each member's decision, in order. `held`: the
/// nominees the trial held (in its index too), still pending.
fn commit(
    data: &mut SnapshotData,
    slots: &[usize],
    members: &[Arc<PodRecord>],
    Placed { placements, work }: Placed,
    held: &[(usize, Arc<PodRecord>)],
) -> Vec<Decision> {
    // Without the nominees held there: they are pending, not placed.
    let written = work.unheld.as_ref().unwrap_or(&work.nodes);
    for i in work.touched() {
        data.nodes.set(slots[i], Some(written[i].clone()));
    }
    data.volumes = work.volumes;
    data.dra = work.dra;
    // The trial's quotas hold the nominees too: the placed members are counted in afresh.
    if !data.namespaces.quotas.is_empty() {
        for (m, decision) in &placements {
            if decision.node.is_some() {
                let pod = &members[*m];
                data.namespaces.quotas.add(pod.namespace, &pod.requests);
            }
        }
    }
    // Later pods decided on this snapshot look placed members up in the index.
    data.index = work.index;
    for (_, pod) in held {
        data.index.remove(pod);
    }
    for (m, decision) in &placements {
        if decision.node.is_some() {
            data.pending.remove(&members[*m].uid);
            data.nominated.remove(&members[*m].uid);
        }
    }
    placements.into_iter().map(|(_, d)| d).collect()
}

/// Tries the plan's levels in order and returns the first placement, or why there is none.
fn choose(
    search: &mut Search<'_>,
    plan: &Plan,
    placed_members: &[usize],
) -> Result<Placed, Box<GangFailure>> {
    let (nodes, needs) = (search.nodes, search.needs);
    let mut reports = Vec::with_capacity(plan.levels.len());
    let mut closest: Option<Stuck> = None;
    for &level in &plan.levels {
        let mut domains = match level {
            None => vec![everywhere(nodes, needs)],
            Some(key) => domains_of(nodes, key, needs, plan.slices.map(|s| s.key)),
        };
        let mut report = LevelReport::new(level, domains.len());
        if let Some(key) = level
            && let Some(pin) = pinned(nodes, key, placed_members)
        {
            domains.retain(|d| d.value == Some(pin));
            report.pinned = Some(pin);
        }
        let mut fitting: Vec<Domain> = Vec::with_capacity(domains.len());
        for domain in domains {
            match prune(nodes, &domain, needs, plan.slices) {
                Some(lack) => report.lacks.push(lack),
                None => fitting.push(domain),
            }
        }
        rank(&mut fitting, needs, search, nodes);
        for domain in &fitting {
            report.tried += 1;
            match search.trial(domain, level) {
                Ok(placed) => return Ok(placed),
                Err(stuck) => {
                    if closest.as_ref().is_none_or(|c| stuck.placed > c.placed) {
                        closest = Some(stuck);
                    }
                }
            }
        }
        reports.push(report);
    }
    Err(Box::new(GangFailure {
        group: search.gang.group.object().to_string(),
        members: search.members.len(),
        needed: search.need,
        mode: plan.mode,
        slices: plan.slices,
        reports,
        closest,
    }))
}

/// Why `domain` cannot hold the gang by its totals alone; None: it may.
fn prune(
    nodes: &[Arc<NodeInfo>],
    domain: &Domain,
    needs: &Need,
    slices: Option<Slices>,
) -> Option<Lack> {
    if let Some(lack) = domain.capacity.lack(needs) {
        return Some(lack);
    }
    let slices = slices?;
    let rooms: Vec<usize> = if domain.value.is_some() {
        domain.slice_rooms.clone()
    } else {
        // The whole cluster (a preferred gang's last resort): counted now.
        within(nodes, &domain.nodes, slices.key, needs)
            .iter()
            .map(|d| d.capacity.room)
            .collect()
    };
    slices_fit(&rooms, slices.size, needs.count).err()
}

/// Best first: fewest pods of the gang's job, then the least left free of the gang's scarcest
/// resource (best fit), then the name.
fn rank(domains: &mut [Domain], needs: &Need, search: &Search<'_>, nodes: &[Arc<NodeInfo>]) {
    if domains.len() < 2 {
        return;
    }
    let scarcest = needs.scarcest(domains);
    let gang = search.gang;
    let balanced = gang.group.job.is_some() && gang.job_groups.len() > 1;
    let mut keyed: Vec<(usize, i64, &'static str, usize)> = domains
        .iter()
        .enumerate()
        .map(|(k, d)| {
            let job = if balanced {
                job_pods_on(nodes, &d.nodes, gang)
            } else {
                0
            };
            let left = scarcest.map_or(0, |r| needs.leftover(&d.capacity, r));
            (job, left, d.name(), k)
        })
        .collect();
    keyed.sort_unstable();
    let order: Vec<usize> = keyed.into_iter().map(|(.., k)| k).collect();
    let sorted: Vec<Domain> = order.iter().map(|&k| domains[k].clone()).collect();
    domains.clone_from_slice(&sorted);
}

/// The domain of level `key` holding most of the members already placed (ties: the first by
/// name).
fn pinned(nodes: &[Arc<NodeInfo>], key: Sym, placed_members: &[usize]) -> Option<Sym> {
    let mut counts: BTreeMap<&'static str, (usize, Sym)> = BTreeMap::new();
    for &i in placed_members {
        if let Some(value) = nodes[i].node.as_ref().and_then(|n| n.labels.get(key)) {
            counts.entry(resolve(value)).or_insert((0, value)).0 += 1;
        }
    }
    counts
        .into_values()
        .rev()
        .max_by_key(|&(n, _)| n)
        .map(|(_, v)| v)
}

/// Where a gang may go, for a caller that places its members itself (preemption): node sets
/// by level, in the order a gang tries them (each level's domains; the first level where some
/// set works wins), and the nodes it may not use. Slices are not planned here: the level is.
pub struct Scope {
    pub tiers: Vec<Vec<Vec<usize>>>,
    /// Nodes already holding a member, when members need distinct hosts.
    pub excluded: HashSet<usize>,
    pub distinct_hosts: bool,
}

/// The gang's scope over `nodes` (the snapshot's real nodes, in order), as `schedule_gang`
/// sees it: the same levels, domains and pinning (no capacity pruning: eviction frees room).
pub fn scope(nodes: &[Arc<NodeInfo>], profile: &Profile, group: &PodGroupRecord) -> Scope {
    let placed_members = nodes_with_members(nodes, group);
    let levels = Plan::of(profile, group).map_or_else(|_| Vec::new(), |plan| plan.levels);
    let none = Need::none();
    let tiers = levels
        .into_iter()
        .map(|level| match level {
            None => vec![(0..nodes.len()).collect()],
            Some(key) => {
                let pin = pinned(nodes, key, &placed_members);
                domains_of(nodes, key, &none, None)
                    .into_iter()
                    .filter(|d| pin.is_none_or(|p| d.value == Some(p)))
                    .map(|d| d.nodes)
                    .collect()
            }
        })
        .collect();
    let excluded = if group.distinct_hosts {
        placed_members.into_iter().collect()
    } else {
        HashSet::new()
    };
    Scope {
        tiers,
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

/// Pods of the gang's job (its group and its sibling groups) on these nodes.
fn job_pods_on(nodes: &[Arc<NodeInfo>], domain: &[usize], gang: &Gang<'_>) -> usize {
    let namespace = gang.group.namespace;
    domain
        .iter()
        .flat_map(|&i| nodes[i].pods.iter())
        .filter(|p| {
            p.namespace == namespace
                && !p.terminal
                && p.pod_group.is_some_and(|g| gang.job_groups.contains(&g))
        })
        .count()
}

/// Every member unschedulable and unresolvable: the group's request cannot be met as written
/// (`problem`, from `Plan::of`), whatever the cluster holds.
fn unmet(members: &[Arc<PodRecord>], group: &PodGroupRecord, problem: &CoreError) -> Vec<Decision> {
    let message = format!("{}: {problem}", group.object());
    members
        .iter()
        .map(|m| {
            let mut d = Decision::for_pod(m);
            d.code = Code::UnschedulableAndUnresolvable;
            d.message.clone_from(&message);
            d
        })
        .collect()
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
mod tests;
