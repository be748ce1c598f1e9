//! Trial placements of a gang in one domain: members placed one by one on the domain's nodes
//! (each sees the earlier ones), slice by slice when the gang asks for slices, and undone whole
//! as soon as the gang cannot be completed. Nothing is held for a gang that does not fit, so two
//! gangs that each need more than half the cluster cannot deadlock.
//!
//! A member costs one scheduling cycle over the domain's nodes, sampled as a pod's cycle is over
//! the cluster; members of one kind (see `FilterMemo`) share their filter verdicts, so each node
//! is filtered once per kind and again only after a member lands on it. Members of one shape
//! (`state::pod_shape`) share more, as a batch's pods do (`runtime::reuse`): the first leaves its
//! ranking (feasible nodes, each score plugin's raw score), the next are decided from it with
//! only the nodes placed on since judged again: a gang of 64 identical members scores its
//! domain's sample about once, not 64 times.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;

use crate::cycle::{
    Cluster, Decision, FilterMemo, Options, assume_claims, schedule_pod, schedule_pod_reusing,
};
use crate::framework::batch_state::BatchState;
use crate::framework::code::Code;
use crate::framework::extension::Extension;
use crate::framework::index_view::{IndexView, NO_NODE};
use crate::intern::{Sym, resolve};
use crate::runtime::profile::Profile;
use crate::runtime::reuse::Reuse;
use crate::state::dra::Dra;
use crate::state::namespaces::Namespaces;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::pod_group::PodGroupRecord;
use crate::state::pod_index::PodIndex;
use crate::state::snapshot::SnapshotData;
use crate::state::volume_binder::ClaimBinding;
use crate::state::volumes::Volumes;

use super::domains::{Capacity, Domain, Need, within};

/// The gang to place and what it must respect.
pub struct Gang<'a> {
    pub group: &'a PodGroupRecord,
    /// Names of the groups (in the group's namespace) of the same job, the group included.
    pub job_groups: &'a [Sym],
    /// Outside plugins judging the nodes the core keeps for each member.
    pub extension: Option<&'a dyn Extension>,
}

/// A gang's slices: `size` members each inside one domain of level `key`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Slices {
    pub size: usize,
    pub key: Sym,
}

/// What one gang asks of a cycle: its pending members, how many of them must be placed and
/// what they need together, where they may not go, and its slices.
pub(super) struct Request<'a> {
    pub gang: &'a Gang<'a>,
    pub members: &'a [Arc<PodRecord>],
    /// Members that must be placed: minMember less the members already placed.
    pub need: usize,
    /// The gang's needs, for the slice domains' room.
    pub needs: &'a Need,
    /// Nodes already holding a member, when members need distinct hosts.
    pub excluded: &'a HashSet<usize>,
    pub slices: Option<Slices>,
    /// The nodes with the nominees held against the members (see `held_against`), and those
    /// nominees by node, when some node is held.
    pub held: Option<Held<'a>>,
}

/// The nodes with the nominees held on them, those nominees with their node indices, and the
/// namespaces with them counted in their quotas (when some has one).
pub(super) type Held<'a> = (
    &'a [Arc<NodeInfo>],
    &'a [(usize, Arc<PodRecord>)],
    Option<&'a Namespaces>,
);

/// What every trial of one gang shares.
pub(super) struct Search<'a> {
    pub profile: &'a Profile,
    pub data: &'a SnapshotData,
    pub nodes: &'a [Arc<NodeInfo>],
    /// Each node's slot in the snapshot, and each slot's position in `nodes`: the pod index
    /// files pods by slot.
    slots: &'a [usize],
    positions: Vec<u32>,
    pub members: &'a [Arc<PodRecord>],
    /// Nodes already holding a member, when members need distinct hosts.
    pub excluded: &'a HashSet<usize>,
    pub gang: &'a Gang<'a>,
    /// Members that must be placed: minMember less the members already placed.
    pub need: usize,
    /// The gang's needs, for the slice domains' room.
    pub needs: &'a Need,
    pub slices: Option<Slices>,
    /// The nodes as members see them, when some are held for nominated pods: trials place on
    /// these (domains are pruned and ranked on `nodes`, counting held room as free: a domain
    /// short only because of a hold is tried, and its trial tells the member so).
    held: Option<Held<'a>>,
    /// Where each domain's node list starts (the profile's rotating start, once per gang).
    pub start: usize,
    /// Per member, its kind (an index into `memos`), or None when it is decided alone.
    kinds: Vec<Option<usize>>,
    memos: Vec<FilterMemo>,
    /// Nodes examined over every member's cycle (to advance the profile's start).
    pub examined: usize,
}

/// A trial that placed every member the gang needs: each member's decision, in order (those
/// left behind, beyond minMember, with their own failure), and the state with them placed.
pub(super) struct Placed {
    pub placements: Vec<(usize, Decision)>,
    pub work: Work,
}

/// A trial that failed: how far it got, where, and the decision of the member that fit nowhere.
#[derive(Debug)]
pub(super) struct Stuck {
    pub placed: usize,
    pub failed: Box<Decision>,
    /// `(level, value)` of the domain tried; None for the whole cluster.
    pub domain: Option<(Sym, Sym)>,
    /// What went wrong beyond the member's own failure (a slice that fit no domain).
    pub note: Option<String>,
}

/// The snapshot's state as a trial changes it. Copy-on-write: only the nodes a member lands on
/// are copied; the log keeps what each placement replaced, to undo a slice.
pub(super) struct Work {
    /// The nodes members are decided on: with the holds for nominated pods, if any.
    pub nodes: Vec<Arc<NodeInfo>>,
    /// The same nodes without the holds, when some are held (what is written back, and what
    /// a member refused only because of a hold is told by). A node without a hold shares its
    /// `nodes` copy.
    pub unheld: Option<Vec<Arc<NodeInfo>>>,
    pub volumes: Volumes,
    pub dra: Dra,
    /// Members count against their quota as they are placed: a gang is admitted whole. The
    /// nominees held count in theirs (see `Held`).
    pub namespaces: Namespaces,
    /// The placed pods by label, members included as they are placed and the nominees held as
    /// they are on `nodes` (what plugins look up instead of walking every node).
    pub index: PodIndex,
    /// What plugins keep across the trial's members, kept in step with its placements.
    batch: BatchState,
    /// Each placement, in order, with what it replaced.
    log: Vec<Logged>,
    /// Nodes holding a member placed in this trial.
    used: Vec<bool>,
    /// Every node placed on or restored by an undo, in order: what a kept ranking judges again.
    changed: Vec<usize>,
    /// Rankings of the members decided on the current node list (`place`'s `open`), by shape.
    reuse: Reuse,
}

/// `(node, before, before without holds, member)`: one placement and what undoes it.
type Logged = (usize, Arc<NodeInfo>, Option<Arc<NodeInfo>>, usize);

impl Work {
    /// The nodes placed on, each once.
    pub fn touched(&self) -> Vec<usize> {
        let mut out: Vec<usize> = self.log.iter().map(|&(i, ..)| i).collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// A point a slice's placements can be undone to.
struct Mark {
    log: usize,
    volumes: Volumes,
    dra: Dra,
    namespaces: Namespaces,
    index: PodIndex,
}

impl<'a> Search<'a> {
    /// `request` on `nodes` (the snapshot's real nodes, with each one's slot in it).
    pub fn new(
        profile: &'a Profile,
        data: &'a SnapshotData,
        (nodes, slots): (&'a [Arc<NodeInfo>], &'a [usize]),
        request: Request<'a>,
    ) -> Self {
        let Request {
            gang,
            members,
            need,
            needs,
            excluded,
            slices,
            held,
        } = request;
        let mut classes: HashMap<String, usize> = HashMap::new();
        // A pod's labels reach a filter only through other pods' affinity terms (a held
        // nominee's too): without any, members differing in their labels alone (a completion
        // index) are of one kind.
        let labels_matter = data.index.any_affinity_terms()
            || held.is_some_and(|(_, pods, _)| pods.iter().any(|(_, p)| p.pod_affinity.is_some()));
        let kinds: Vec<Option<usize>> = members
            .iter()
            .map(|m| {
                let key = kind_key(m, labels_matter)?;
                let next = classes.len();
                Some(*classes.entry(key).or_insert(next))
            })
            .collect();
        let memos = (0..classes.len())
            .map(|_| FilterMemo::new(nodes.len()))
            .collect();
        let mut positions = vec![NO_NODE; data.nodes.len()];
        for (position, &slot) in slots.iter().enumerate() {
            if let Some(p) = positions.get_mut(slot) {
                *p = u32::try_from(position).unwrap_or(NO_NODE);
            }
        }
        Self {
            profile,
            data,
            nodes,
            slots,
            positions,
            members,
            excluded,
            gang,
            need,
            needs,
            slices,
            held,
            start: 0,
            kinds,
            memos,
            examined: 0,
        }
    }

    /// Places the members in `domain` (slice by slice when the gang has slices); on failure
    /// the snapshot's view is as before and the memos forget what the trial changed.
    pub fn trial(&mut self, domain: &Domain, level: Option<Sym>) -> Result<Placed, Stuck> {
        let mut index = self.data.index.clone();
        // The held nominees count in the index as on the nodes (a batch's held nodes do too).
        for (i, pod) in self.held.map_or(&[][..], |(_, pods, _)| pods) {
            index.add(self.slots[*i], pod);
        }
        let mut work = Work {
            nodes: self.held.map_or(self.nodes, |(view, ..)| view).to_vec(),
            unheld: self.held.map(|_| self.nodes.to_vec()),
            volumes: self.data.volumes.clone(),
            dra: self.data.dra.clone(),
            namespaces: self
                .held
                .and_then(|(.., quotas)| quotas)
                .unwrap_or(&self.data.namespaces)
                .clone(),
            index,
            batch: BatchState::default(),
            log: Vec::new(),
            used: vec![false; self.nodes.len()],
            changed: Vec::new(),
            reuse: Reuse::default(),
        };
        let order = rotated(&domain.nodes, self.start);
        let outcome = match self.slices {
            None => self.place_all(&mut work, &order),
            Some(slices) => self.place_slices(&mut work, &order, slices),
        };
        match outcome {
            Ok(placements) => Ok(Placed { placements, work }),
            Err(stuck) => {
                let (placed, failed, note) = *stuck;
                for &(i, ..) in &work.log {
                    self.forget(i);
                }
                Err(Stuck {
                    placed,
                    failed: Box::new(failed),
                    domain: level.zip(domain.value),
                    note,
                })
            }
        }
    }

    /// Every member on `order`'s nodes; members beyond what the gang needs may stay behind.
    fn place_all(&mut self, work: &mut Work, order: &[usize]) -> Outcome {
        let mut open: Vec<usize> = order
            .iter()
            .copied()
            .filter(|i| !self.excluded.contains(i))
            .collect();
        let mut placements = Vec::with_capacity(self.members.len());
        let mut skipped = 0usize;
        for m in 0..self.members.len() {
            match self.place(work, m, &open) {
                Ok((decision, i)) => {
                    if self.gang.group.distinct_hosts {
                        open.retain(|&j| j != i);
                    }
                    placements.push((m, decision));
                }
                Err(decision) => {
                    skipped += 1;
                    if self.members.len() - skipped < self.need {
                        return Err(Box::new((m + 1 - skipped, *decision, None)));
                    }
                    placements.push((m, *decision));
                }
            }
        }
        Ok(placements)
    }

    /// The members in slices of `slices.size`, each slice inside one domain of the slice level
    /// among `order`'s nodes: the fullest that has room for it (best fit), then the next.
    fn place_slices(&mut self, work: &mut Work, order: &[usize], slices: Slices) -> Outcome {
        let mut subs = within(&work.nodes, order, slices.key, self.needs);
        let members: Vec<usize> = (0..self.members.len()).collect();
        let mut placements: Vec<(usize, Decision)> = Vec::with_capacity(self.members.len());
        let mut placed = 0usize;
        for (k, chunk) in members.chunks(slices.size.max(1)).enumerate() {
            let mut ranked: Vec<usize> = (0..subs.len())
                .filter(|&s| subs[s].capacity.room >= chunk.len())
                .collect();
            ranked.sort_by_key(|&s| (subs[s].capacity.room, subs[s].name()));
            let mut last: Option<(Decision, usize)> = None;
            let mut landed = false;
            for s in ranked {
                // Rankings are of one node list: this sub-domain's.
                work.reuse.clear();
                let mark = self.mark(work);
                let distinct = self.gang.group.distinct_hosts;
                let mut open: Vec<usize> = subs[s]
                    .nodes
                    .iter()
                    .copied()
                    .filter(|&i| !(self.excluded.contains(&i) || distinct && work.used[i]))
                    .collect();
                let mut here = Vec::with_capacity(chunk.len());
                let mut failed = None;
                for &m in chunk {
                    match self.place(work, m, &open) {
                        Ok((decision, i)) => {
                            if self.gang.group.distinct_hosts {
                                open.retain(|&j| j != i);
                            }
                            here.push((m, decision));
                        }
                        Err(decision) => {
                            failed = Some((*decision, here.len()));
                            break;
                        }
                    }
                }
                match failed {
                    None => {
                        let mut capacity = Capacity::new(self.needs);
                        for &i in &subs[s].nodes {
                            let _ = capacity.add(self.needs, &work.nodes[i]);
                        }
                        subs[s].capacity = capacity;
                        placed += here.len();
                        placements.extend(here);
                        landed = true;
                        break;
                    }
                    Some(fail) => {
                        self.undo(work, mark);
                        if last.as_ref().is_none_or(|(_, got)| fail.1 > *got) {
                            last = Some(fail);
                        }
                    }
                }
            }
            if landed {
                continue;
            }
            let note = slice_note(k, chunk.len(), slices.key, subs.len());
            let left = self.members.len() - chunk[0];
            if placed >= self.need {
                // The rest stay behind: the gang has what it needs.
                let decision = last.map_or_else(|| self.no_room(chunk[0], &note), |(d, _)| d);
                for &m in &members[chunk[0]..] {
                    let mut d = Decision::for_pod(&self.members[m]);
                    d.code = decision.code;
                    d.message.clone_from(&decision.message);
                    d.reasons.clone_from(&decision.reasons);
                    placements.push((m, d));
                }
                debug_assert_eq!(placements.len(), chunk[0] + left);
                return Ok(placements);
            }
            let (decision, got) = last.unwrap_or_else(|| (self.no_room(chunk[0], &note), 0));
            return Err(Box::new((placed + got, decision, Some(note))));
        }
        Ok(placements)
    }

    /// A decision for member `m` when no slice domain had room to try.
    fn no_room(&self, m: usize, note: &str) -> Decision {
        let mut d = Decision::for_pod(&self.members[m]);
        d.code = Code::Unschedulable;
        d.message = note.to_owned();
        d
    }

    /// Decides member `m` among the nodes `open` and places it where it fits.
    fn place(
        &mut self,
        work: &mut Work,
        m: usize,
        open: &[usize],
    ) -> Result<(Decision, usize), Box<Decision>> {
        let pod = &self.members[m];
        let memo = self.kinds[m].map(|k| &self.memos[k]);
        let cluster = Cluster {
            nodes: &work.nodes,
            namespaces: &work.namespaces,
            volumes: &work.volumes,
            dra: &work.dra,
        };
        let index = IndexView {
            pods: &work.index,
            positions: &self.positions,
            nodes: self.nodes.len(),
            batch: &work.batch,
        };
        let options = Options {
            extension: self.gang.extension,
            only: Some(open),
            memo,
            index: Some(&index),
            unheld: work.unheld.as_deref(),
            ..Options::default()
        };
        // Members on distinct hosts change the node list with each placement: no ranking of the
        // previous list serves them.
        let (decision, chosen) = if self.gang.group.distinct_hosts {
            schedule_pod(self.profile, cluster, pod, options)
        } else {
            let kept = (&mut work.reuse, work.changed.as_slice());
            schedule_pod_reusing(self.profile, cluster, pod, options, kept)
        };
        self.examined += decision.evaluated_nodes;
        let Some(i) = chosen else {
            return Err(Box::new(decision));
        };
        if let Err(e) = assume_claims(&mut work.dra, pod, &decision.claims) {
            // A bug (the devices were free in this view): the member is not placed.
            let mut failed = decision;
            failed.code = Code::Error;
            failed.message = format!("running Reserve plugin \"DynamicResources\": {e}");
            failed.node = None;
            return Err(Box::new(failed));
        }
        let before = work.nodes[i].clone();
        let before_unheld = work.unheld.as_ref().map(|u| u[i].clone());
        work.log.push((i, before, before_unheld, m));
        work.changed.push(i);
        work.used[i] = true;
        work.index.add(self.slots[i], pod);
        if let Some(record) = &work.nodes[i].node {
            work.batch.add_pod(pod, &work.namespaces, i, &record.labels);
        }
        work.volumes
            .reserve(&pod.uid, &ClaimBinding::taken(&decision.volumes));
        if !work.namespaces.quotas.is_empty() {
            work.namespaces.quotas.add(pod.namespace, &pod.requests);
        }
        let allocation = decision.allocation.as_deref();
        Arc::make_mut(&mut work.nodes[i]).place(pod.clone(), allocation);
        if let Some(unheld) = &mut work.unheld {
            match work.log.last() {
                // Not held: one copy for both.
                Some((_, before, ..)) if Arc::ptr_eq(before, &unheld[i]) => {
                    unheld[i] = work.nodes[i].clone();
                }
                _ => Arc::make_mut(&mut unheld[i]).place(pod.clone(), allocation),
            }
        }
        self.forget(i);
        Ok((decision, i))
    }

    fn mark(&self, work: &Work) -> Mark {
        Mark {
            log: work.log.len(),
            volumes: work.volumes.clone(),
            dra: work.dra.clone(),
            namespaces: work.namespaces.clone(),
            index: work.index.clone(),
        }
    }

    /// Undoes the placements after `mark`.
    fn undo(&mut self, work: &mut Work, mark: Mark) {
        while work.log.len() > mark.log {
            let Some((i, before, before_unheld, m)) = work.log.pop() else {
                break;
            };
            if let Some(record) = &before.node {
                work.batch
                    .remove_pod(&self.members[m], &work.namespaces, i, &record.labels);
            }
            work.nodes[i] = before;
            if let (Some(unheld), Some(before)) = (&mut work.unheld, before_unheld) {
                unheld[i] = before;
            }
            work.changed.push(i);
            work.used[i] = work.log.iter().any(|&(j, ..)| j == i);
            self.forget(i);
        }
        work.volumes = mark.volumes;
        work.dra = mark.dra;
        work.namespaces = mark.namespaces;
        work.index = mark.index;
    }

    /// Node `i` changed: every kind filters it again.
    fn forget(&mut self, i: usize) {
        for memo in &mut self.memos {
            memo.forget(i);
        }
    }
}

/// Each member's decision in order; Err: members placed, the decision of the one that could not
/// be, and a note on the slice that failed.
type Outcome = Result<Vec<(usize, Decision)>, Box<(usize, Decision, Option<String>)>>;

fn slice_note(k: usize, size: usize, key: Sym, domains: usize) -> String {
    let mut note = format!(
        "slice {} ({size} pod(s)) fits in no {} domain",
        k + 1,
        resolve(key)
    );
    if domains == 0 {
        let _ = write!(note, ": no node has the label");
    } else {
        let _ = write!(note, " (of {domains})");
    }
    note
}

/// `nodes` starting at `start` (modulo their number), wrapping around.
fn rotated(nodes: &[usize], start: usize) -> Vec<usize> {
    if nodes.is_empty() {
        return Vec::new();
    }
    let at = start % nodes.len();
    nodes[at..].iter().chain(&nodes[..at]).copied().collect()
}

/// A member's kind for sharing filter verdicts, or None when a verdict on one node may change
/// with a placement on another (its own affinity terms, spread constraints, volume claims that
/// reserve PVs, device claims), or when the pod is malformed. `labels`: whether its labels
/// count (some placed pod has affinity terms that could select it).
fn kind_key(pod: &PodRecord, labels: bool) -> Option<String> {
    if pod.error.is_some()
        || pod.pod_affinity.is_some()
        || !pod.spread.is_empty()
        || !pod.claims.is_empty()
        || !pod.resource_claims.is_empty()
    {
        return None;
    }
    Some(format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{}",
        pod.requests,
        pod.host_ports,
        pod.node_selector,
        pod.required_affinity,
        pod.tolerations,
        pod.node_name,
        labels.then_some(&pod.labels),
        pod.namespace,
        pod.numa_policy,
        pod.priority,
        pod.scheduler_name,
        pod.gated,
    ))
}

#[cfg(test)]
impl Search<'_> {
    /// How many kinds of member share verdicts.
    pub fn kinds(&self) -> usize {
        self.memos.len()
    }
}
