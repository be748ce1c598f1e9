//! One scheduling cycle per pod: PreFilter, Filter (parallel over nodes), PreScore, Score
//! (parallel), Normalize, weighted sum, then the best node, ties broken by a hash of the pod and
//! node (deterministic, but not always the first node, like kube's random pick among ties).

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rayon::prelude::*;

use crate::diagnosis::{self, Diagnosis};
use crate::framework::batch_state::BatchState;
use crate::framework::code::Code;
use crate::framework::cycle_state::PluginState;
use crate::framework::extension::{Extension, Verdict};
use crate::framework::index_view::{IndexView, NO_NODE};
use crate::framework::nominator::{HELD_FOR_NOMINATED_PODS, Nominees};
use crate::framework::plugin::{PodContext, Prepared, Reserved};
use crate::framework::sampling::feasible_nodes_to_find;
use crate::framework::status::Status;
use crate::framework::warm::warm;
use crate::runtime::pre_filter_result;
use crate::runtime::profile::Profile;
use crate::runtime::reuse::{Kept, Ranking, Refusal, Reuse, ShapeKeys};
use crate::runtime::scoring::{self, Totals};
use crate::runtime::static_filters::{self, StaticFilters, static_prefix};
use crate::state::dra::claim::ClaimReservation;
use crate::state::dra::{AssumeError, Dra};
use crate::state::namespaces::Namespaces;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::snapshot::{Snapshot, SnapshotData};
use crate::state::volume_binder::ClaimBinding;
use crate::state::volumes::Volumes;
use lasso::Key;

/// Below this many nodes per task, splitting the work costs more than it saves.
const MIN_NODES_PER_TASK: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub uid: String,
    pub namespace: String,
    pub name: String,
    pub code: Code,
    pub node: Option<String>,
    pub score: i64,
    pub message: String,
    pub reasons: HashMap<String, u32>,
    pub evaluated_nodes: usize,
    pub feasible_nodes: usize,
    pub allocation: Option<String>,
    /// What placing the pod on `node` does with its unbound claims (VolumeBinding's PreBind
    /// carries it out); empty when none needs binding.
    pub volumes: Vec<ClaimBinding>,
    /// What placing the pod on `node` writes to its ResourceClaims (DynamicResources' PreBind
    /// carries it out); empty when every claim is allocated and reserved for the pod.
    pub claims: Vec<ClaimReservation>,
    /// When deciding this pod started, in ns since the Unix epoch (0 if it never started). The
    /// phases follow back to back: filter, then score, then placement.
    pub started_ns: u64,
    /// Decided by what an earlier pod of the same shape left in the batch (see
    /// `runtime::reuse`) rather than by examining the nodes again.
    pub reused: bool,
    pub filter_seconds: f64,
    pub score_seconds: f64,
    pub placement_seconds: f64,
}

impl Decision {
    pub(crate) fn for_pod(pod: &PodRecord) -> Self {
        Self {
            uid: pod.uid.to_string(),
            namespace: pod.namespace().to_owned(),
            name: pod.name.to_string(),
            code: Code::Success,
            node: None,
            score: 0,
            message: String::new(),
            reasons: HashMap::new(),
            evaluated_nodes: 0,
            feasible_nodes: 0,
            allocation: None,
            volumes: Vec::new(),
            claims: Vec::new(),
            started_ns: 0,
            reused: false,
            filter_seconds: 0.0,
            score_seconds: 0.0,
            placement_seconds: 0.0,
        }
    }

    fn failed(mut self, d: Diagnosis) -> Self {
        self.fail(d);
        self
    }

    fn fail(&mut self, d: Diagnosis) {
        self.code = d.code;
        self.message = d.message;
        self.reasons = d.reasons;
    }

    pub(crate) fn unknown(uid: &str) -> Self {
        Self {
            uid: uid.to_owned(),
            namespace: String::new(),
            name: String::new(),
            code: Code::Error,
            node: None,
            score: 0,
            message: format!("pod {uid:?} is not pending in this snapshot"),
            reasons: HashMap::new(),
            evaluated_nodes: 0,
            feasible_nodes: 0,
            allocation: None,
            volumes: Vec::new(),
            claims: Vec::new(),
            started_ns: 0,
            reused: false,
            filter_seconds: 0.0,
            score_seconds: 0.0,
            placement_seconds: 0.0,
        }
    }
}

/// Decides `uids` in order; each success is placed in the snapshot's own copy, so later pods
/// (in this batch and in later batches on the same snapshot) see it. `extension`: outside
/// plugins judging the nodes the core keeps.
pub fn schedule_batch<S: AsRef<str> + Sync>(
    snapshot: &Snapshot,
    uids: &[S],
    profile: &Profile,
    extension: Option<&dyn Extension>,
) -> Vec<Decision> {
    let mut guard = snapshot.lock();
    let data = &mut *guard;
    let mut batch = Batch::new(data, profile);
    let decisions = profile.pool.install(|| {
        uids.iter()
            .map(|uid| batch.schedule(data, uid.as_ref(), profile, extension))
            .collect()
    });
    batch.finish(data, profile);
    decisions
}

/// A batch's nodes and what is kept in step with them as its pods are placed: the nodes as
/// most pods see them (the pods nominated to them held there), the placed pods by label
/// (`data.index`), what plugins keep across the batch (`BatchState`), the PVs reserved, the quotas used. `place` and
/// `lift` / `hold` are the only places that change them.
struct Batch {
    slots: Vec<usize>,
    nodes: Vec<Arc<NodeInfo>>,
    /// Nodes held for nominated pods (preemption, reservations), as most pods see them; None
    /// when nothing is nominated.
    held: Option<Vec<Arc<NodeInfo>>>,
    nominees: Nominees,
    /// Each slot's position in `nodes` (`NO_NODE` for placeholders).
    positions: Vec<u32>,
    /// Positions of the nodes placed on, written back to the snapshot at the end.
    touched: Vec<usize>,
    /// What plugins keep across the batch (kept in step through `add_pod` / `remove_pod`).
    state: BatchState,
    statics: StaticFilters,
    /// The static verdicts were kept from an earlier batch over these very nodes, and the DRA
    /// classes' epoch they hold for.
    statics_kept: bool,
    epoch: u64,
    /// What full cycles learned, for the next pods of the same shape.
    reuse: Reuse,
}

impl Batch {
    fn new(data: &mut SnapshotData, profile: &Profile) -> Self {
        let (slots, nodes): (Vec<usize>, Vec<Arc<NodeInfo>>) =
            data.real_nodes().into_iter().unzip();
        let nominees = Nominees::of(&data.nominated, &nodes, &data.priorities);
        let mut positions = vec![NO_NODE; data.nodes.len()];
        for (position, &slot) in slots.iter().enumerate() {
            positions[slot] = u32::try_from(position).unwrap_or(NO_NODE);
        }
        // Held nodes are built once and the nominees counted in the index for the batch.
        let held = (!nominees.is_empty()).then(|| nominees.held_all(&nodes));
        // The static filters read which extended resources DRA serves (the classes), never a
        // slice: a republished slice keeps them.
        let epoch = data.dra.class_epoch();
        let (statics, statics_kept) = profile.statics.take(&nodes, epoch);
        for (i, pod) in nominees.all() {
            data.index.add(slots[i], pod);
        }
        Self {
            slots,
            nodes,
            held,
            nominees,
            positions,
            touched: Vec::new(),
            state: BatchState::default(),
            statics,
            statics_kept,
            epoch,
            reuse: Reuse::default(),
        }
    }

    /// Decides one pending pod and places it when it fits.
    fn schedule(
        &mut self,
        data: &mut SnapshotData,
        uid: &str,
        profile: &Profile,
        extension: Option<&dyn Extension>,
    ) -> Decision {
        let Some(pod) = data.pending.get(uid).cloned() else {
            return Decision::unknown(uid);
        };
        // Reuse only where no node is held for a nominee (a hold lifted frees room, which reuse
        // never looks for) and no outside plugin judges.
        let reusable = self.held.is_none() && extension.is_none() && reusable_pod(&pod);
        if reusable && let Some(decision) = self.reused(data, &pod, profile) {
            return decision;
        }
        // A pod above some nominee's priority gets its own view, which the index (holding
        // every nominee) does not describe. A nominee sees the others held, not itself: taken
        // off its node while it is decided.
        let own = self.nominees.node_of(&pod.uid);
        let sees_all = self.held.is_some() && self.nominees.sees_all(&pod, &data.priorities);
        let lifted = match own {
            Some(j) if sees_all => {
                self.lift(data, &pod, j);
                Some(j)
            }
            _ => None,
        };
        let (mut decision, chosen, learned) =
            self.decide(data, &pod, profile, extension, sees_all, reusable);
        if let Some(learned) = learned {
            self.learn(&pod, learned);
        }
        if chosen.is_none()
            && let Some(j) = lifted
        {
            // Still waiting: held on its node again for the pods after it.
            self.hold(data, &pod, j);
        }
        let chosen = chosen.filter(|_| reserve_claims(&mut data.dra, &pod, &mut decision));
        if let Some(i) = chosen {
            self.place(data, pod, i, &decision, lifted.is_some());
        }
        decision
    }

    /// Decides `pod` on the batch's nodes as it must see them (see `schedule`).
    fn decide(
        &self,
        data: &SnapshotData,
        pod: &PodRecord,
        profile: &Profile,
        extension: Option<&dyn Extension>,
        sees_all: bool,
        learn: bool,
    ) -> (Decision, Option<usize>, Option<Learned>) {
        let (view, indexed) = match &self.held {
            None => (Cow::Borrowed(self.nodes.as_slice()), true),
            Some(all) if sees_all => (Cow::Borrowed(all.as_slice()), true),
            Some(_) => (
                self.nominees
                    .held_for(pod, &self.nodes, &data.pending, &data.priorities),
                false,
            ),
        };
        let index = indexed.then(|| IndexView {
            pods: &data.index,
            positions: &self.positions,
            nodes: self.nodes.len(),
            batch: &self.state,
        });
        let namespaces =
            self.nominees
                .quotas_for(pod, &data.namespaces, &data.pending, &data.priorities);
        let cluster = Cluster {
            nodes: &view,
            namespaces: &namespaces,
            volumes: &data.volumes,
            dra: &data.dra,
        };
        let options = Options {
            extension,
            only: None,
            memo: None,
            index: index.as_ref(),
            statics: Some(&self.statics),
            unheld: self.held.is_some().then_some(self.nodes.as_slice()),
        };
        cycle(profile, cluster, pod, options, learn)
    }

    /// Keeps what the full cycle of `pod` learned for the next pods of its shape.
    fn learn(&mut self, pod: &Arc<PodRecord>, learned: Learned) {
        learned.keep(pod, self.touched.len(), &mut self.reuse);
    }

    /// Decides `pod` by what an earlier pod of its shape left (see `runtime::reuse`), placing
    /// it when it fits; None when nothing kept serves it.
    fn reused(
        &mut self,
        data: &mut SnapshotData,
        pod: &Arc<PodRecord>,
        profile: &Profile,
    ) -> Option<Decision> {
        // Nothing kept for its shape: PreFilter is left to the full cycle.
        if !self.reuse.holds(pod) {
            return None;
        }
        let index = IndexView {
            pods: &data.index,
            positions: &self.positions,
            nodes: self.nodes.len(),
            batch: &self.state,
        };
        let namespaces =
            self.nominees
                .quotas_for(pod, &data.namespaces, &data.pending, &data.priorities);
        let ctx = PodContext {
            pod,
            nodes: &self.nodes,
            namespaces: &namespaces,
            volumes: &data.volumes,
            dra: &data.dra,
            index: Some(&index),
        };
        let pod_cycle = PodCycle::new(profile, ctx, Options::default(), self.nodes.len());
        // PreFilter first: what the filters read beyond the pod (its claims) picks among what
        // is kept for its shape. A PreFilter refusal is the full cycle's to report.
        let states = pre_filter(profile, &pod_cycle.ctx).ok()?;
        let (kept, exact) = self.reuse.take(pod, &filter_keys(profile, &states)?)?;
        let seen = match &kept {
            Kept::Refusal(r) => r.seen,
            Kept::Ranking(r) => r.seen,
        };
        let mut dirty: Vec<usize> = self.touched[seen..].to_vec();
        dirty.sort_unstable();
        dirty.dedup();
        let mut ranking = match kept {
            Kept::Ranking(ranking) => ranking,
            Kept::Refusal(mut refusal) => {
                return match pod_cycle.refuse_again(&mut refusal, &states, &dirty, exact) {
                    Ok(decision) => {
                        refusal.seen = self.touched.len();
                        self.reuse.refuse(refusal);
                        Some(decision)
                    }
                    Err(unused) => {
                        if unused == Unused::Keep {
                            self.reuse.refuse(refusal);
                        }
                        None
                    }
                };
            }
        };
        match pod_cycle.run_reusing(&mut ranking, &states, &dirty, exact) {
            Ok((mut decision, i)) => {
                ranking.seen = self.touched.len();
                ranking.uses += 1;
                self.reuse.keep(ranking);
                // Its devices taken for the pods after it, as after a full cycle.
                if reserve_claims(&mut data.dra, pod, &mut decision) {
                    self.place(data, pod.clone(), i, &decision, false);
                }
                Some(decision)
            }
            Err(unused) => {
                if unused == Unused::Keep {
                    self.reuse.keep(ranking);
                }
                None
            }
        }
    }

    /// Takes nominee `pod` off node `j`, where it is held, while it is decided.
    fn lift(&mut self, data: &mut SnapshotData, pod: &PodRecord, j: usize) {
        if let Some(all) = &mut self.held {
            Arc::make_mut(&mut all[j]).remove_pod(&pod.uid);
        }
        data.index.remove(pod);
        if let Some(record) = &self.nodes[j].node {
            self.state
                .remove_pod(pod, &data.namespaces, j, &record.labels);
        }
    }

    /// Holds nominee `pod` on node `j` again (it stays pending).
    fn hold(&mut self, data: &mut SnapshotData, pod: &Arc<PodRecord>, j: usize) {
        if let Some(all) = &mut self.held {
            Arc::make_mut(&mut all[j]).add_pod(pod.clone());
        }
        data.index.add(self.slots[j], pod);
        if let Some(record) = &self.nodes[j].node {
            self.state.add_pod(pod, &data.namespaces, j, &record.labels);
        }
    }

    /// `pod` placed on node `i`: counted there for the pods after it (the node, the held
    /// nodes, the index, what plugins keep across the batch), its PVs reserved, no longer pending; no longer held
    /// where it was nominated (kube drops a nomination once its pod is assumed). `lifted`: it
    /// was taken off its nominated node while decided (see `lift`).
    fn place(
        &mut self,
        data: &mut SnapshotData,
        pod: Arc<PodRecord>,
        i: usize,
        decision: &Decision,
        lifted: bool,
    ) {
        let allocation = decision.allocation.as_deref();
        if pod.pod_affinity.is_some() {
            // Its terms change how other nodes judge pods without terms (see `node_local`).
            self.reuse.clear();
        }
        if let Some(all) = &mut self.held {
            if let Some(j) = self.nominees.node_of(&pod.uid) {
                Arc::make_mut(&mut all[j]).remove_pod(&pod.uid);
                // Counted there unless it was lifted (taken out then).
                if !lifted && let Some(record) = &self.nodes[j].node {
                    self.state
                        .remove_pod(&pod, &data.namespaces, j, &record.labels);
                }
            }
            Arc::make_mut(&mut all[i]).place(pod.clone(), allocation);
        }
        // The free PVs this placement counts on are not free for the next pods.
        data.volumes
            .reserve(&pod.uid, &ClaimBinding::taken(&decision.volumes));
        if !data.namespaces.quotas.is_empty() {
            // Its quota is used for the pods decided after it.
            data.namespaces.quotas.add(pod.namespace, &pod.requests);
        }
        let node = Arc::make_mut(&mut self.nodes[i]);
        data.index.add(self.slots[i], &pod);
        if let Some(record) = &node.node {
            self.state
                .add_pod(&pod, &data.namespaces, i, &record.labels);
        }
        data.pending.remove(&*pod.uid);
        // Nor held by later batches or preemptions on this snapshot: it counts where placed.
        data.nominated.remove(&*pod.uid);
        node.place(pod, allocation);
        self.touched.push(i);
    }

    /// Writes the nodes placed on back to the snapshot. Nominees placed in the batch are in
    /// the index where they landed (same uid); the others were only held.
    fn finish(self, data: &mut SnapshotData, profile: &Profile) {
        // Kept for the next batch: placements did not change what they depend on.
        let nodes = (self.nodes.as_slice(), self.epoch);
        profile.statics.keep(nodes, self.statics, self.statics_kept);
        for i in self.touched {
            data.nodes.set(self.slots[i], Some(self.nodes[i].clone()));
        }
        for (_, pod) in self.nominees.all() {
            if data.pending.contains_key(&*pod.uid) {
                data.index.remove(pod);
            }
        }
    }
}

/// Reserve for DynamicResources (see `assume_claims`): false, with the decision an error, when
/// the claims cannot be assumed.
fn reserve_claims(dra: &mut Dra, pod: &PodRecord, decision: &mut Decision) -> bool {
    match assume_claims(dra, pod, &decision.claims) {
        Ok(()) => true,
        Err(e) => {
            decision.code = Code::Error;
            decision.message = format!("running Reserve plugin \"DynamicResources\": {e}");
            decision.node = None;
            false
        }
    }
}

/// Per filter plugin: its PreFilter state, or None when it skips the pod. Err: a PreFilter
/// rejected the pod for every node.
pub(crate) type FilterPrep = Vec<Option<Option<PluginState>>>;

pub(crate) fn pre_filter(profile: &Profile, ctx: &PodContext<'_>) -> Result<FilterPrep, Status> {
    let mut states: FilterPrep = Vec::with_capacity(profile.filters.len());
    for plugin in &profile.filters {
        match plugin.pre_filter(ctx) {
            Prepared::Run(state) => states.push(Some(state)),
            Prepared::Skip => states.push(None),
            Prepared::Reject(status) => return Err(status),
        }
    }
    Ok(states)
}

/// The first filter `pod` fails on `node`, or None when it passes them all.
pub(crate) fn run_filters(
    profile: &Profile,
    states: &[Option<Option<PluginState>>],
    pod: &PodRecord,
    node: &NodeInfo,
) -> Option<Status> {
    run_filter_range(profile, states, pod, node, 0..profile.filters.len())
}

/// As `run_filters`, with the profile's filters in `range` only (a node whose object is
/// malformed fails before the first filter).
pub(crate) fn run_filter_range(
    profile: &Profile,
    states: &[Option<Option<PluginState>>],
    pod: &PodRecord,
    node: &NodeInfo,
    range: std::ops::Range<usize>,
) -> Option<Status> {
    if range.start == 0 {
        if let Some(err) = node.node.as_ref().and_then(|n| n.error.as_deref()) {
            return Some(Status::unresolvable(err.to_owned()));
        }
        // Left out by a PreFilter's node names: refused before any filter runs. Such a node
        // fails one of the static filters too, so a range past them never needs the check.
        if let Some((_, status)) = pre_filter_result::outside(profile, states, node) {
            return Some(status);
        }
    }
    let plugins = profile.filters.get(range.clone()).unwrap_or_default();
    let states = states.get(range).unwrap_or_default();
    for (plugin, state) in plugins.iter().zip(states) {
        let Some(state) = state else {
            continue;
        };
        let status = plugin.filter(state.as_ref(), pod, node);
        if !status.is_success() {
            return Some(status);
        }
    }
    None
}

/// Nodes filtered per parallel round while looking for enough feasible ones.
const MIN_NODES_PER_ROUND: usize = 256;

struct Filtered {
    /// Indices into the node list, in the order they were examined.
    feasible: Vec<usize>,
    failures: Vec<Status>,
    /// The node index of each of `failures`.
    failed_at: Vec<usize>,
    /// Nodes the static verdicts refused: a diagnosis re-runs the filters on them for why.
    refused: Vec<usize>,
    processed: usize,
}

/// The static verdicts for a pod and how many leading filters they cover.
type Statics<'a> = Option<(&'a [bool], usize)>;

/// What one node's filtering found.
enum Found {
    Feasible,
    Refused,
    Failed(Status),
}

/// Filters nodes from the profile's rotating start until enough are feasible (kube's
/// `findNodesThatPassFilters`), in parallel rounds.
fn find_feasible(
    profile: &Profile,
    states: &[Option<Option<PluginState>>],
    pod: &PodRecord,
    nodes: &[Arc<NodeInfo>],
    (only, memo): (Option<&[usize]>, Option<&FilterMemo>),
    statics: Statics<'_>,
) -> Filtered {
    // A subset (a gang's candidate domain) is sampled as the whole list is, from its own first
    // node: the gang rotates its domains' lists itself, once per gang rather than per member.
    let n = only.map_or(nodes.len(), <[usize]>::len);
    let want = feasible_nodes_to_find(profile.percentage_of_nodes_to_score, n);
    let start = if only.is_some() {
        0
    } else {
        profile.start.get(n)
    };
    let mut out = Filtered {
        feasible: Vec::with_capacity(want.min(n)),
        failures: Vec::new(),
        failed_at: Vec::new(),
        refused: Vec::new(),
        processed: 0,
    };
    let at = |k: usize| match only {
        Some(subset) => subset[k],
        None => (start + k) % n,
    };
    let refused = |i: usize| statics.is_some_and(|(verdicts, _)| verdicts[i]);
    while out.processed < n && out.feasible.len() < want {
        let need = want - out.feasible.len();
        // Far enough to meet `need` nodes the static filters let through, so most pods take one
        // parallel round.
        let reach = if statics.is_some() {
            let mut passing = 0;
            (out.processed..n)
                .take_while(|&k| {
                    passing += usize::from(!refused(at(k)));
                    passing <= need
                })
                .count()
        } else {
            need
        };
        let round = reach.max(MIN_NODES_PER_ROUND).min(n - out.processed);
        let first = out.processed;
        let runs = filter_round(
            profile,
            states,
            pod,
            nodes,
            (first..first + round, &at),
            (statics, memo),
        );
        out.processed += round;
        for (i, found) in runs.into_iter().flatten() {
            match found {
                Found::Feasible => out.feasible.push(i),
                Found::Refused => out.refused.push(i),
                Found::Failed(s) => {
                    out.failures.push(s);
                    out.failed_at.push(i);
                }
            }
        }
    }
    out.feasible.truncate(want);
    if only.is_none() {
        profile.start.advance(start, out.processed, n);
    }
    out
}

/// One parallel round of `find_feasible`: the nodes at positions `ks` (`at` maps a position
/// to a node index), each task warming its run of nodes, then filtering them (see `warm`); a
/// node whose verdict the memo holds is not filtered again.
fn filter_round(
    profile: &Profile,
    states: &[Option<Option<PluginState>>],
    pod: &PodRecord,
    nodes: &[Arc<NodeInfo>],
    (ks, at): (std::ops::Range<usize>, &(dyn Fn(usize) -> usize + Sync)),
    (statics, memo): (Statics<'_>, Option<&FilterMemo>),
) -> Vec<Vec<(usize, Found)>> {
    let refused = |i: usize| statics.is_some_and(|(verdicts, _)| verdicts[i]);
    let range = statics.map_or(0, |(_, prefix)| prefix)..profile.filters.len();
    // The memo holds verdicts of every filter: not mixed with the static ones' shortcut.
    let memo = memo.filter(|_| statics.is_none());
    ks.clone()
        .step_by(MIN_NODES_PER_TASK)
        .collect::<Vec<usize>>()
        .into_par_iter()
        .map(|from| {
            let to = (from + MIN_NODES_PER_TASK).min(ks.end);
            warm(
                (from..to)
                    .map(at)
                    .filter(|&i| !refused(i) && memo.is_none_or(|m| !m.knows(i)))
                    .map(|i| &*nodes[i]),
            );
            (from..to)
                .map(|k| {
                    let i = at(k);
                    if refused(i) {
                        return (i, Found::Refused);
                    }
                    let run = || run_filter_range(profile, states, pod, &nodes[i], range.clone());
                    let verdict = match memo {
                        Some(memo) => memo.verdict(i, run),
                        None => run(),
                    };
                    match verdict {
                        None => (i, Found::Feasible),
                        Some(s) => (i, Found::Failed(s)),
                    }
                })
                .collect()
        })
        .collect()
}

/// A node that refused the pod only because of the pods nominated to it is reported as held
/// for them rather than by the filter they made it fail: `Insufficient nvidia.com/gpu` next to
/// free GPUs sends users looking for who took them. `nodes` are the pod's view and the same
/// nodes without the holds; only nodes whose two versions differ are judged again.
fn blame_holds(
    profile: &Profile,
    states: &[Option<Option<PluginState>>],
    pod: &PodRecord,
    (nodes, unheld): (&[Arc<NodeInfo>], &[Arc<NodeInfo>]),
    failed_at: &[usize],
    failures: &mut [Status],
) {
    let free: Vec<usize> = failed_at
        .par_iter()
        .enumerate()
        .filter(|&(_, &i)| !Arc::ptr_eq(&nodes[i], &unheld[i]))
        .filter(|&(_, &i)| run_filters(profile, states, pod, &unheld[i]).is_none())
        .map(|(k, _)| k)
        .collect();
    for k in free {
        failures[k] = Status::unschedulable(HELD_FOR_NOMINATED_PODS);
    }
}

static TIE_BREAK: LazyLock<ahash::RandomState> = LazyLock::new(|| {
    ahash::RandomState::with_seeds(0x706f_6469, 0x756d_2d74, 0x6965_2d62, 0x7265_616b)
});

/// What a pod is decided against: the nodes (with the placements made so far) and the cluster
/// objects plugins read.
#[derive(Clone, Copy)]
pub struct Cluster<'a> {
    pub nodes: &'a [Arc<NodeInfo>],
    /// Namespace labels (pod affinity's namespaceSelector).
    pub namespaces: &'a Namespaces,
    /// PVs, claims and classes (VolumeBinding).
    pub volumes: &'a Volumes,
    /// DeviceClasses, ResourceSlices, ResourceClaims (DynamicResources).
    pub dra: &'a Dra,
}

impl<'a> Cluster<'a> {
    /// What the plugins see of the cluster while deciding `pod`.
    fn context(&self, pod: &'a PodRecord, index: Option<&'a IndexView<'a>>) -> PodContext<'a> {
        PodContext {
            pod,
            nodes: self.nodes,
            namespaces: self.namespaces,
            volumes: self.volumes,
            dra: self.dra,
            index,
        }
    }

    /// `nodes` alone: no namespace labels, volumes or DRA objects.
    pub fn of(nodes: &'a [Arc<NodeInfo>]) -> Self {
        static NO_NAMESPACES: LazyLock<Namespaces> = LazyLock::new(Namespaces::default);
        static NO_VOLUMES: LazyLock<Volumes> = LazyLock::new(Volumes::default);
        Self {
            nodes,
            namespaces: &NO_NAMESPACES,
            volumes: &NO_VOLUMES,
            dra: Dra::none(),
        }
    }
}

/// Filter verdicts per node kept across the pods of one kind (a gang's identical members: same
/// requests, selectors, tolerations, ports and labels, no affinity terms, spread constraints,
/// volume or device claims), whose verdict on a node depends on that node alone. The caller
/// forgets a node's verdict when it places a pod there (or takes one off).
#[derive(Debug)]
pub struct FilterMemo(Vec<OnceLock<Option<Status>>>);

impl FilterMemo {
    /// An empty memo for a node list of `nodes`.
    pub fn new(nodes: usize) -> Self {
        Self((0..nodes).map(|_| OnceLock::new()).collect())
    }

    /// Whether node `i`'s verdict is kept.
    pub fn knows(&self, i: usize) -> bool {
        self.0.get(i).is_some_and(|v| v.get().is_some())
    }

    /// Node `i`'s verdict (None: it passes every filter), from `run` the first time.
    fn verdict(&self, i: usize, run: impl FnOnce() -> Option<Status>) -> Option<Status> {
        match self.0.get(i) {
            Some(cell) => cell.get_or_init(run).clone(),
            None => run(),
        }
    }

    /// Node `i` changed: its verdict is filtered again next time.
    pub fn forget(&mut self, i: usize) {
        if let Some(cell) = self.0.get_mut(i) {
            cell.take();
        }
    }
}

/// How a pod is decided beyond its cluster; the default decides it alone on every node.
#[derive(Clone, Copy, Default)]
pub struct Options<'a> {
    /// Outside plugins judging the nodes the core keeps.
    pub extension: Option<&'a dyn Extension>,
    /// Choose only among the nodes at these indices (a gang's candidate domain), sampled from
    /// the first as the whole list would be; the others still count for the plugins that look
    /// across nodes (spread, affinity). The diagnosis counts the candidates only.
    pub only: Option<&'a [usize]>,
    /// Verdicts of earlier pods of the same kind (see `FilterMemo`), used and filled.
    pub memo: Option<&'a FilterMemo>,
    /// The placed pods by label, when the caller keeps them in step with the nodes.
    pub index: Option<&'a IndexView<'a>>,
    /// The batch's cache of node-only filter verdicts.
    pub statics: Option<&'a StaticFilters>,
    /// The nodes without the pods nominated to them, when the nodes decided on hold some: a
    /// pod refused only because of a hold is told so.
    pub unheld: Option<&'a [Arc<NodeInfo>]>,
}

/// Schedules one pod: PreFilter, Filter, PreScore, Score, then Reserve on the node chosen.
/// Returns the decision and the index of the chosen node.
pub fn schedule_pod(
    profile: &Profile,
    cluster: Cluster<'_>,
    pod: &PodRecord,
    options: Options<'_>,
) -> (Decision, Option<usize>) {
    let (decision, chosen, _) = cycle(profile, cluster, pod, options, false);
    (decision, chosen)
}

/// `schedule_pod`, and with `learn` what the cycle leaves for the next pods of the pod's shape
/// (see `runtime::reuse`).
fn cycle(
    profile: &Profile,
    cluster: Cluster<'_>,
    pod: &PodRecord,
    options: Options<'_>,
    learn: bool,
) -> (Decision, Option<usize>, Option<Learned>) {
    let decision = Decision::for_pod(pod);
    if let Some(err) = &pod.error {
        return (decision.failed(diagnosis::invalid_pod(err)), None, None);
    }
    let candidates = options.only.map_or(cluster.nodes.len(), <[usize]>::len);
    if candidates == 0 {
        return (decision.failed(diagnosis::no_nodes()), None, None);
    }
    let ctx = cluster.context(pod, options.index);
    let mut pod_cycle = PodCycle::new(profile, ctx, options, candidates);
    pod_cycle.learn = learn;
    pod_cycle.run()
}

/// What a full cycle leaves for the next pods of its pod's shape (see `runtime::reuse`);
/// `loose`: no plugin that ran read the pod's identity.
enum Learned {
    /// The feasible nodes and the raw scores on them.
    Ranked {
        nodes: Vec<usize>,
        plugins: Vec<usize>,
        keys: ShapeKeys,
        score_keys: ShapeKeys,
        raw: Vec<i64>,
        evaluated: usize,
        loose: bool,
    },
    /// No node fits: each node's failure, by node.
    Refused {
        failures: Vec<Status>,
        keys: ShapeKeys,
        loose: bool,
    },
}

impl Learned {
    /// Kept in `reuse` for `pod`'s shape, having seen `seen` placements.
    fn keep(self, pod: &Arc<PodRecord>, seen: usize, reuse: &mut Reuse) {
        match self {
            Self::Refused {
                failures,
                keys,
                loose,
            } => reuse.refuse(Refusal {
                pod: pod.clone(),
                failures,
                keys,
                seen,
                loose,
            }),
            Self::Ranked {
                nodes,
                plugins,
                keys,
                score_keys,
                raw,
                evaluated,
                loose,
            } => reuse.keep(Ranking {
                pod: pod.clone(),
                nodes,
                plugins,
                keys,
                score_keys,
                raw,
                totals: None,
                evaluated,
                seen,
                uses: 0,
                loose,
            }),
        }
    }
}

/// `schedule_pod` for pods decided one after another on one node list and one `options.only`
/// (a gang's members in a trial), each seeing the earlier ones placed: a pod of the shape of an
/// earlier one is decided from the ranking that pod left in `reuse` (kube's opportunistic
/// batching, as a batch does), its filters and raw scores run again only on the nodes in
/// `changed` after the ranking (`changed`: every node placed on or restored since `reuse` was
/// empty, in order; the caller pushes the node it places the pod on).
pub fn schedule_pod_reusing(
    profile: &Profile,
    cluster: Cluster<'_>,
    pod: &Arc<PodRecord>,
    options: Options<'_>,
    (reuse, changed): (&mut Reuse, &[usize]),
) -> (Decision, Option<usize>) {
    // As a batch's `reusable_pod`, but a group's members are what this is for; no outside
    // plugin judges (their verdicts are not kept).
    let reusable = options.extension.is_none()
        && pod.error.is_none()
        && pod.nominated_node.is_none()
        && pod.claims.is_empty()
        && pod.resource_claims.is_empty();
    if !reusable {
        return schedule_pod(profile, cluster, pod, options);
    }
    if reuse.holds(pod)
        && let Some(decision) = decide_reusing(profile, cluster, pod, options, (reuse, changed))
    {
        return decision;
    }
    let (decision, chosen, learned) = cycle(profile, cluster, pod, options, true);
    if let Some(learned) = learned {
        learned.keep(pod, changed.len(), reuse);
    }
    (decision, chosen)
}

/// `schedule_pod_reusing`'s pod decided from what `reuse` keeps for its shape; None when nothing
/// kept serves it (the caller runs a full cycle).
fn decide_reusing(
    profile: &Profile,
    cluster: Cluster<'_>,
    pod: &Arc<PodRecord>,
    options: Options<'_>,
    (reuse, changed): (&mut Reuse, &[usize]),
) -> Option<(Decision, Option<usize>)> {
    let ctx = cluster.context(pod, options.index);
    let candidates = options.only.map_or(cluster.nodes.len(), <[usize]>::len);
    let pod_cycle = PodCycle::new(profile, ctx, options, candidates);
    // PreFilter first: what the filters read beyond the pod picks among what is kept.
    let states = pre_filter(profile, &pod_cycle.ctx).ok()?;
    let (kept, exact) = reuse.take(pod, &filter_keys(profile, &states)?)?;
    let mut ranking = match kept {
        Kept::Ranking(ranking) => ranking,
        Kept::Refusal(refusal) => {
            // Refusals are learned over whole node lists only: none is kept here.
            reuse.refuse(refusal);
            return None;
        }
    };
    let mut dirty: Vec<usize> = changed.get(ranking.seen..).unwrap_or_default().to_vec();
    dirty.sort_unstable();
    dirty.dedup();
    match pod_cycle.run_reusing(&mut ranking, &states, &dirty, exact) {
        Ok((decision, i)) => {
            ranking.seen = changed.len();
            ranking.uses += 1;
            reuse.keep(ranking);
            Some((decision, Some(i)))
        }
        Err(unused) => {
            if unused == Unused::Keep {
                reuse.keep(ranking);
            }
            None
        }
    }
}

/// Why a kept ranking or refusal did not serve a pod: `Keep` it for others (the pod only
/// differs in identity, which a plugin running for it reads, or a PreFilter refuses it), or
/// `Drop` it (it no longer holds).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unused {
    Keep,
    Drop,
}

/// May a batch decide `pod` by what an earlier pod of its shape left? Not when it needs more
/// than a node (volumes to bind, a gang) or is a nominee or invalid; the plugins that run for
/// it decide the rest (`node_local`, `shape_key`: DynamicResources for its ResourceClaims).
fn reusable_pod(pod: &PodRecord) -> bool {
    pod.error.is_none()
        && pod.nominated_node.is_none()
        && pod.pod_group.is_none()
        && pod.claims.is_empty()
}

/// Each filter's `shape_key` for the pod (None for a filter that skips it); None when a
/// filter running for it says its verdicts are not to be reused.
fn filter_keys(profile: &Profile, states: &FilterPrep) -> Option<ShapeKeys> {
    profile
        .filters
        .iter()
        .zip(states)
        .map(|(plugin, state)| match state {
            None => Some(None),
            Some(state) => plugin.shape_key(state.as_ref()).map(Some),
        })
        .collect()
}

/// As `filter_keys`, for the score plugins of `running`.
fn score_keys(profile: &Profile, running: &scoring::Running) -> Option<ShapeKeys> {
    running
        .iter()
        .map(|(k, state)| {
            profile.scores[*k]
                .plugin
                .shape_key(state.as_ref())
                .map(Some)
        })
        .collect()
}

/// Does every filter that runs for the pod (a PreFilter state) judge a node by that node
/// alone?
fn filters_node_local(profile: &Profile, states: &FilterPrep, pod: &PodRecord) -> bool {
    profile
        .filters
        .iter()
        .zip(states)
        .all(|(plugin, state)| state.is_none() || plugin.node_local(pod))
}

/// Does no filter that runs for the pod read its labels, namespace or owner?
fn filters_ignore_identity(profile: &Profile, states: &FilterPrep) -> bool {
    profile
        .filters
        .iter()
        .zip(states)
        .all(|(plugin, state)| state.is_none() || !plugin.reads_identity())
}

/// Does no score plugin of `running` read the pod's labels, namespace or owner?
fn scores_ignore_identity(profile: &Profile, running: &scoring::Running) -> bool {
    running
        .iter()
        .all(|(k, _)| !profile.scores[*k].plugin.reads_identity())
}

/// The best of `scored` (node index, total), ties broken by a hash of the pod and the node.
fn best(
    pod: &PodRecord,
    nodes: &[Arc<NodeInfo>],
    scored: impl Iterator<Item = (usize, i64)>,
) -> Option<(usize, i64)> {
    // Hashes the node's symbol, not its name: no string lookup per comparison. The pod's uid
    // is hashed once: the hash of `(uid, node)` goes on from that state.
    let mut uid = TIE_BREAK.build_hasher();
    (*pod.uid).hash(&mut uid);
    let tie = |i: usize| {
        let node = nodes[i].node.as_ref().map(|n| n.name.into_usize());
        let mut hasher = uid.clone();
        node.hash(&mut hasher);
        hasher.finish()
    };
    // `max_by` on (score, then the lower tie hash): a later node wins ties of both, and a
    // node's hash is computed only when its score ties the best.
    let mut best: Option<(usize, i64, Option<u64>)> = None;
    for (i, score) in scored {
        match &mut best {
            Some((b, top, hash)) if score <= *top => {
                if score == *top {
                    let theirs = *hash.get_or_insert_with(|| tie(*b));
                    let ours = tie(i);
                    if ours <= theirs {
                        best = Some((i, score, Some(ours)));
                    }
                }
            }
            _ => best = Some((i, score, None)),
        }
    }
    best.map(|(i, score, _)| (i, score))
}

/// What Filter left: the feasible nodes, the others' failures, and the nodes the static
/// verdicts refused (explained only when a diagnosis needs them).
struct Feasible {
    feasible: Vec<usize>,
    failures: Vec<Status>,
    refused: Vec<usize>,
}

/// One pod's scheduling cycle in progress.
struct PodCycle<'a> {
    profile: &'a Profile,
    ctx: PodContext<'a>,
    options: Options<'a>,
    /// How many nodes the pod may be placed on (`options.only`'s, else all).
    candidates: usize,
    decision: Decision,
    started: Instant,
    /// Keep what the next pods of this shape may reuse (see `runtime::reuse`).
    learn: bool,
    /// No filter that runs for the pod reads its identity (set by `run`).
    loose: bool,
    /// The filters' shape keys (set by `run`; None: nothing to learn).
    keys: Option<ShapeKeys>,
    learned: Option<Learned>,
}

impl<'a> PodCycle<'a> {
    fn new(
        profile: &'a Profile,
        ctx: PodContext<'a>,
        options: Options<'a>,
        candidates: usize,
    ) -> Self {
        let mut decision = Decision::for_pod(ctx.pod);
        decision.started_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
            });
        Self {
            profile,
            ctx,
            options,
            candidates,
            decision,
            started: Instant::now(),
            learn: false,
            loose: false,
            keys: None,
            learned: None,
        }
    }

    fn run(mut self) -> (Decision, Option<usize>, Option<Learned>) {
        let states = match pre_filter(self.profile, &self.ctx) {
            Ok(states) => states,
            Err(status) => {
                self.decision.filter_seconds = self.started.elapsed().as_secs_f64();
                let failed = diagnosis::pre_filter_error(self.candidates, &status);
                return (self.decision.failed(failed), None, None);
            }
        };
        self.learn = self.learn && filters_node_local(self.profile, &states, self.ctx.pod);
        if self.learn {
            self.keys = filter_keys(self.profile, &states);
            self.learn = self.keys.is_some();
        }
        self.loose = filters_ignore_identity(self.profile, &states);
        let Some(Feasible {
            feasible,
            failures,
            refused,
        }) = self.filter(&states)
        else {
            return (self.decision, None, self.learned);
        };
        let filtered_at = Instant::now();
        self.decision.filter_seconds = (filtered_at - self.started).as_secs_f64();
        let chosen = if feasible.len() == 1 && self.options.extension.is_none() {
            if let Some(keys) = self.keys.clone().filter(|_| self.learn) {
                self.learned = Some(Learned::Ranked {
                    nodes: feasible.clone(),
                    plugins: Vec::new(),
                    keys,
                    score_keys: Box::new([]),
                    raw: Vec::new(),
                    evaluated: self.decision.evaluated_nodes,
                    // No score ran: for a pod differing in identity one might.
                    loose: false,
                });
            }
            Some((feasible[0], 0))
        } else {
            self.score(&states, &feasible, (failures, &refused))
        };
        let scored_at = Instant::now();
        self.decision.score_seconds = (scored_at - filtered_at).as_secs_f64();
        let Some((index, score)) = chosen else {
            return (self.decision, None, None);
        };
        self.reserve(&states, index, score);
        self.decision.placement_seconds = scored_at.elapsed().as_secs_f64();
        (self.decision, Some(index), self.learned)
    }

    /// May a pod with PreFilter `states` be decided by what an earlier pod of its shape (and
    /// keys) left? Not when a filter running for it reads its identity (`!exact`: the pod
    /// differs in it) — the kept answer then serves others (`Keep`) — or is not node-local
    /// (`Drop`).
    fn reuse_check(&self, states: &FilterPrep, exact: bool) -> Result<(), Unused> {
        let (profile, pod) = (self.profile, self.ctx.pod);
        if !exact && !filters_ignore_identity(profile, states) {
            return Err(Unused::Keep);
        }
        if !filters_node_local(profile, states, pod) {
            return Err(Unused::Drop);
        }
        Ok(())
    }

    /// The pod fails as an earlier pod of its shape did (`refusal`): placements only take
    /// room, so only the nodes in `dirty` (placed on since) are judged again, for their
    /// reasons. None when that does not hold (a PreFilter refuses now, a node fits).
    /// `exact`: the pod is of the refusal's very shape; else it differs in identity, and no
    /// filter running for it may read that.
    fn refuse_again(
        mut self,
        refusal: &mut Refusal,
        states: &FilterPrep,
        dirty: &[usize],
        exact: bool,
    ) -> Result<Decision, Unused> {
        let (profile, pod, nodes) = (self.profile, self.ctx.pod, self.ctx.nodes);
        self.reuse_check(states, exact)?;
        for &i in dirty {
            refusal.failures[i] =
                run_filters(profile, states, pod, &nodes[i]).ok_or(Unused::Drop)?;
        }
        self.decision.evaluated_nodes = nodes.len();
        self.decision
            .fail(diagnosis::fit_error(self.candidates, &refusal.failures));
        self.decision.filter_seconds = self.started.elapsed().as_secs_f64();
        self.decision.reused = true;
        Ok(self.decision)
    }

    /// Decides the pod on `ranking` (left by an earlier pod of its shape): the nodes in
    /// `dirty` (placed on since) are filtered and scored again for this pod, the others keep
    /// their raw scores, and all are normalized again. None when the ranking cannot serve this
    /// pod (the caller then runs a full cycle and drops it): a PreFilter refuses, a plugin no
    /// longer node-local runs, or no node of it fits any more.
    /// `exact` as for `refuse_again`.
    fn run_reusing(
        mut self,
        ranking: &mut Ranking,
        states: &FilterPrep,
        dirty: &[usize],
        exact: bool,
    ) -> Result<(Decision, usize), Unused> {
        let (profile, pod, nodes) = (self.profile, self.ctx.pod, self.ctx.nodes);
        self.reuse_check(states, exact)?;
        let mut judged = Vec::with_capacity(dirty.len());
        for &i in dirty {
            let Some(k) = ranking.position(i) else {
                continue;
            };
            if run_filters(profile, states, pod, &nodes[i]).is_some() {
                ranking.remove(k);
            } else {
                judged.push(i);
            }
        }
        if ranking.nodes.is_empty() {
            return Err(Unused::Drop);
        }
        let filtered_at = Instant::now();
        self.decision.filter_seconds = (filtered_at - self.started).as_secs_f64();
        self.decision.evaluated_nodes = ranking.evaluated;
        self.decision.feasible_nodes = ranking.nodes.len();
        let (index, score) = if ranking.nodes.len() == 1 {
            // Its raw scores are not judged again: what was summed no longer holds.
            ranking.totals = None;
            (ranking.nodes[0], 0)
        } else {
            let feasible: Vec<&NodeInfo> = ranking.nodes.iter().map(|&i| &*nodes[i]).collect();
            let running = scoring::pre_score(profile, &self.ctx, states, &feasible)
                .map_err(|_| Unused::Drop)?;
            if !exact && !scores_ignore_identity(profile, &running) {
                return Err(Unused::Keep);
            }
            if score_keys(profile, &running).as_ref() != Some(&ranking.score_keys) {
                return Err(Unused::Keep);
            }
            let same = running
                .iter()
                .map(|(k, _)| *k)
                .eq(ranking.plugins.iter().copied());
            if !same
                || !running
                    .iter()
                    .all(|(k, _)| profile.scores[*k].plugin.node_local(pod))
            {
                return Err(Unused::Drop);
            }
            let mut changed = Vec::with_capacity(judged.len());
            for &i in &judged {
                let k = ranking.position(i).ok_or(Unused::Drop)?;
                let row = ranking.row_mut(k);
                changed.push((k, row.to_vec()));
                scoring::score_row(profile, &running, pod, &nodes[i], row);
            }
            // Only the rows judged again changed: their totals are summed again, not every
            // node's (a plugin whose column moved is normalized again over the list).
            match &mut ranking.totals {
                Some(totals) => totals.update(profile, &running, &ranking.raw, &changed),
                None => {
                    let nodes = ranking.nodes.len();
                    ranking.totals = Some(Totals::new(profile, &running, &ranking.raw, nodes));
                }
            }
            let totals = ranking.totals.as_ref().map_or(&[][..], Totals::totals);
            let scored = ranking.nodes.iter().copied().zip(totals.iter().copied());
            best(pod, nodes, scored).ok_or(Unused::Drop)?
        };
        // The node chosen is judged for this very pod unless it just was: its plugins' per-pod
        // work (NUMA fits) is then at hand for Reserve, and a stale ranking cannot place it.
        if !judged.contains(&index) && run_filters(profile, states, pod, &nodes[index]).is_some() {
            return Err(Unused::Drop);
        }
        let scored_at = Instant::now();
        self.decision.score_seconds = (scored_at - filtered_at).as_secs_f64();
        self.reserve(states, index, score);
        self.decision.placement_seconds = scored_at.elapsed().as_secs_f64();
        self.decision.reused = true;
        Ok((self.decision, index))
    }

    /// Filter: the feasible nodes, with the others' failures; None when the pod fails (the
    /// decision says why).
    fn filter(&mut self, states: &FilterPrep) -> Option<Feasible> {
        let (profile, pod, nodes) = (self.profile, self.ctx.pod, self.ctx.nodes);
        let verdicts = self
            .options
            .statics
            .map(|cache| static_filters::verdicts(cache, profile, states, pod, nodes));
        let prefix = static_prefix(profile);
        let statics = verdicts.as_deref().map(|v| (v.as_slice(), prefix));
        let subset = (self.options.only, self.options.memo);
        let found = find_feasible(profile, states, pod, nodes, subset, statics);
        let mut failures = found.failures;
        self.decision.filter_seconds = self.started.elapsed().as_secs_f64();
        self.decision.evaluated_nodes = found.processed;
        if let Some(err) = failures.iter().find(|s| s.code == Code::Error) {
            self.decision.code = Code::Error;
            self.decision.message = err.reasons.join(", ");
            return None;
        }
        self.decision.feasible_nodes = found.feasible.len();
        if !found.feasible.is_empty() {
            return Some(Feasible {
                feasible: found.feasible,
                failures,
                refused: found.refused,
            });
        }
        if let Some(unheld) = self.options.unheld {
            let held = (nodes, unheld);
            blame_holds(profile, states, pod, held, &found.failed_at, &mut failures);
        }
        let explained = explain_refused(profile, states, pod, nodes, &found.refused);
        let complete = explained.len() == found.refused.len();
        failures.extend(explained);
        self.decision
            .fail(diagnosis::fit_error(self.candidates, &failures));
        if self.learn && complete && self.options.only.is_none() {
            let mut by_node = vec![Status::success(); nodes.len()];
            let at = found.failed_at.iter().chain(&found.refused);
            for (&i, status) in at.zip(failures) {
                by_node[i] = status;
            }
            self.learned = Some(Learned::Refused {
                failures: by_node,
                keys: self.keys.clone().unwrap_or_default(),
                loose: self.loose,
            });
        }
        None
    }

    /// PreScore, Score, the outside plugins' verdicts, then the best node (ties broken by a
    /// hash of the pod and node); None when the pod fails (the decision says why).
    fn score(
        &mut self,
        states: &FilterPrep,
        feasible: &[usize],
        unfit: (Vec<Status>, &[usize]),
    ) -> Option<(usize, i64)> {
        let (profile, nodes, pod) = (self.profile, self.ctx.nodes, self.ctx.pod);
        let feasible_nodes: Vec<&NodeInfo> = feasible.iter().map(|&i| &*nodes[i]).collect();
        let running = match scoring::pre_score(profile, &self.ctx, states, &feasible_nodes) {
            Ok(running) => running,
            Err(message) => return self.error(message.to_string()),
        };
        let raw = scoring::raw_scores(profile, &running, pod, &feasible_nodes);
        let scored = scoring::normalized(profile, &running, &raw);
        let mut totals: Vec<Option<i64>> = scoring::totals(&scored, feasible.len())
            .into_iter()
            .map(Some)
            .collect();
        let keys = (self.learn
            && running
                .iter()
                .all(|(k, _)| profile.scores[*k].plugin.node_local(pod)))
        .then(|| self.keys.clone().zip(score_keys(profile, &running)))
        .flatten();
        if let Some((keys, score_keys)) = keys {
            self.learned = Some(Learned::Ranked {
                nodes: feasible.to_vec(),
                plugins: running.iter().map(|(k, _)| *k).collect(),
                keys,
                score_keys,
                raw,
                evaluated: self.decision.evaluated_nodes,
                loose: self.loose && scores_ignore_identity(profile, &running),
            });
        }
        if let Some(extension) = self.options.extension {
            self.judge(extension, (&feasible_nodes, &mut totals), states, unfit)?;
        }
        let scored = feasible
            .iter()
            .zip(&totals)
            .filter_map(|(&i, total)| total.map(|t| (i, t)));
        best(pod, nodes, scored)
    }

    /// The outside plugins' verdicts on the feasible nodes added to their `totals` (a rejected
    /// node's total is None); None when they fail or reject every node (the decision says why,
    /// with `unfit`: the other nodes' failures and the nodes the static verdicts refused).
    fn judge(
        &mut self,
        extension: &dyn Extension,
        (feasible, totals): (&[&NodeInfo], &mut [Option<i64>]),
        states: &FilterPrep,
        (mut failures, refused): (Vec<Status>, &[usize]),
    ) -> Option<()> {
        let core: Vec<i64> = totals.iter().map(|t| t.unwrap_or(0)).collect();
        let verdicts = match extension.judge(self.ctx.pod, feasible, &core) {
            Ok(v) if v.len() == feasible.len() => v,
            Ok(v) => {
                let message = format!(
                    "plugins judged {} nodes, {} were feasible",
                    v.len(),
                    feasible.len()
                );
                return self.error(message);
            }
            Err(message) => return self.error(message.to_string()),
        };
        let mut rejected = Vec::new();
        for (total, verdict) in totals.iter_mut().zip(verdicts) {
            match verdict {
                Verdict::Score(extra) => *total = total.map(|t| t.saturating_add(extra)),
                Verdict::Reject(reason) => {
                    *total = None;
                    rejected.push(Status::unschedulable(reason));
                }
            }
        }
        self.decision.feasible_nodes -= rejected.len();
        if self.decision.feasible_nodes > 0 {
            return Some(());
        }
        let (profile, pod, nodes) = (self.profile, self.ctx.pod, self.ctx.nodes);
        failures.extend(explain_refused(profile, states, pod, nodes, refused));
        let all = failures.iter().chain(&rejected);
        self.decision
            .fail(diagnosis::fit_error(self.candidates, all));
        None
    }

    /// Reserve: what the plugins take for the pod on node `index`, on its decision.
    fn reserve(&mut self, states: &FilterPrep, index: usize, score: i64) {
        let node = &self.ctx.nodes[index];
        self.decision.node = node.node.as_ref().map(|n| n.name().to_owned());
        self.decision.score = score;
        let mut reserved = Reserved::default();
        for (plugin, state) in self.profile.filters.iter().zip(states) {
            if let Some(state) = state {
                plugin.reserve(state.as_ref(), self.ctx.pod, node, &mut reserved);
            }
        }
        self.decision.allocation = reserved.allocation;
        self.decision.volumes = reserved.volumes;
        self.decision.claims = reserved.claims;
    }

    /// The pod's cycle is an error with `message`.
    fn error<T>(&mut self, message: String) -> Option<T> {
        self.decision.code = Code::Error;
        self.decision.message = message;
        None
    }
}

/// Why the nodes the static verdicts `refused` refuse the pod (the filters run again on them).
fn explain_refused(
    profile: &Profile,
    states: &FilterPrep,
    pod: &PodRecord,
    nodes: &[Arc<NodeInfo>],
    refused: &[usize],
) -> Vec<Status> {
    refused
        .par_iter()
        .with_min_len(MIN_NODES_PER_TASK)
        .filter_map(|&i| run_filters(profile, states, pod, &nodes[i]))
        .collect()
}

/// Reserve for DynamicResources: the claims `pod` allocates are shown allocated, their devices
/// taken, for the pods decided after it. The allocator chose devices free in this very view, so
/// a refusal is a bug; the pod is then not placed (all its claims' assumptions undone) rather
/// than bound with devices another pod may get.
pub(crate) fn assume_claims(
    dra: &mut Dra,
    pod: &PodRecord,
    claims: &[ClaimReservation],
) -> Result<(), AssumeError> {
    for (i, c) in claims.iter().enumerate() {
        if let Err(e) = dra.assume_reservation(pod.namespace, c) {
            for done in &claims[..i] {
                dra.forget(&done.uid);
            }
            return Err(e);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{CoreError, CoreResult};
    use crate::state::cluster::ClusterState;
    use crate::state::kind::Kind;
    use crate::state::taints::{Taint, TaintEffect};
    use crate::testutil::{node, pod, with_requests};

    fn profile(extra: &str) -> Profile {
        let spec = format!(
            r#"{{"schedulerName":"podium","parallelism":2,
                "filters":["NodeUnschedulable","NodeName","TaintToleration","NodeAffinity","NodePorts","NodeResourcesFit"],
                "scores":{{"NodeResourcesFit":1,"TaintToleration":3,"NodeAffinity":2,"NodeResourcesBalancedAllocation":1}}{extra}}}"#
        );
        Profile::from_json(spec.as_bytes()).expect("valid profile")
    }

    fn nodes(specs: &[(&str, i64)]) -> Vec<Arc<NodeInfo>> {
        specs
            .iter()
            .map(|&(n, cpu)| Arc::new(node(n, cpu, 1 << 34).build()))
            .collect()
    }

    #[test]
    fn least_allocated_picks_the_emptiest_node() {
        let mut ns = nodes(&[("a", 4000), ("b", 4000), ("c", 4000)]);
        Arc::make_mut(&mut ns[0]).add_pod(Arc::new(with_requests(pod("x"), 3000, 0)));
        Arc::make_mut(&mut ns[2]).add_pod(Arc::new(with_requests(pod("y"), 1000, 0)));
        let (d, i) = schedule_pod(
            &profile(""),
            Cluster::of(&ns),
            &with_requests(pod("p"), 1000, 1 << 20),
            Options::default(),
        );
        assert_eq!(
            (d.code, d.node.as_deref(), i),
            (Code::Success, Some("b"), Some(1))
        );
        assert_eq!((d.evaluated_nodes, d.feasible_nodes), (3, 3));
    }

    #[test]
    fn most_allocated_packs() {
        let mut ns = nodes(&[("a", 4000), ("b", 4000)]);
        Arc::make_mut(&mut ns[0]).add_pod(Arc::new(with_requests(pod("x"), 2000, 0)));
        // NodeResourcesFit alone: with BalancedAllocation beside it the two nodes score within a
        // point of each other, and the test would measure rounding, not packing.
        let prof = Profile::from_json(
            br#"{"schedulerName":"podium","parallelism":2,"filters":["NodeResourcesFit"],
                "scores":{"NodeResourcesFit":1},"fit":{"strategy":"MostAllocated"}}"#,
        )
        .expect("valid profile");
        let (d, _) = schedule_pod(
            &prof,
            Cluster::of(&ns),
            &with_requests(pod("p"), 1000, 0),
            Options::default(),
        );
        assert_eq!(d.node.as_deref(), Some("a"));
    }

    #[test]
    fn failure_explains_every_node() {
        let mut tainted = node("t", 8000, 1 << 34);
        tainted.record.taints = vec![Taint::new("key", "value", TaintEffect::NoSchedule)].into();
        let mut ns = nodes(&[("a", 1000), ("b", 1000)]);
        ns.push(Arc::new(tainted.build()));
        let (d, i) = schedule_pod(
            &profile(""),
            Cluster::of(&ns),
            &with_requests(pod("p"), 2000, 0),
            Options::default(),
        );
        assert_eq!(i, None);
        // 2 CPUs on nodes of 1: no eviction makes room there either (kube 1.37).
        assert_eq!(d.code, Code::UnschedulableAndUnresolvable);
        assert_eq!(
            d.message,
            "0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 Insufficient cpu."
        );
        assert_eq!(d.feasible_nodes, 0);
    }

    #[test]
    fn invalid_pods_and_nodes() {
        let mut bad = pod("bad");
        bad.error = Some("Pod default/bad: spec.containers[0].resources.requests.cpu: invalid quantity \"x\": unknown suffix".into());
        let ns = nodes(&[("a", 1000)]);
        let (d, _) = schedule_pod(&profile(""), Cluster::of(&ns), &bad, Options::default());
        assert_eq!(d.code, Code::UnschedulableAndUnresolvable);
        assert!(
            d.message
                .contains("spec.containers[0].resources.requests.cpu")
        );

        let mut broken = node("broken", 1000, 1000);
        broken.record.error = Some("Node broken: status.allocatable.cpu: invalid quantity".into());
        let (d, _) = schedule_pod(
            &profile(""),
            Cluster::of(&[Arc::new(broken.build())]),
            &pod("p"),
            Options::default(),
        );
        assert_eq!(d.code, Code::UnschedulableAndUnresolvable);
        assert!(
            d.message.contains("Node broken: status.allocatable.cpu"),
            "{}",
            d.message
        );

        let (d, _) = schedule_pod(
            &profile(""),
            Cluster::of(&[]),
            &pod("p"),
            Options::default(),
        );
        assert_eq!(d.message, diagnosis::NO_NODES_AVAILABLE);
    }

    #[test]
    fn ties_are_broken_by_pod_not_always_first() {
        let ns = nodes(&[("a", 4000), ("b", 4000), ("c", 4000), ("d", 4000)]);
        let prof = profile("");
        let chosen: std::collections::HashSet<String> = (0..40)
            .map(|i| {
                schedule_pod(
                    &prof,
                    Cluster::of(&ns),
                    &pod(&format!("p{i}")),
                    Options::default(),
                )
                .0
                .node
                .expect("fits")
            })
            .collect();
        assert!(chosen.len() > 1, "ties spread over nodes: {chosen:?}");
        let again = schedule_pod(&prof, Cluster::of(&ns), &pod("p7"), Options::default())
            .0
            .node;
        assert_eq!(
            again,
            schedule_pod(&prof, Cluster::of(&ns), &pod("p7"), Options::default())
                .0
                .node,
            "deterministic"
        );
    }

    #[test]
    fn large_clusters_filter_only_enough_nodes_and_rotate() {
        let names: Vec<String> = (0..1000).map(|i| format!("n{i:04}")).collect();
        let specs: Vec<(&str, i64)> = names.iter().map(|n| (n.as_str(), 4000)).collect();
        let ns = nodes(&specs);
        let prof = profile("");
        let (first, _) = schedule_pod(&prof, Cluster::of(&ns), &pod("a"), Options::default());
        // 50% - 1000/125 = 42% of 1000 nodes.
        assert_eq!((first.evaluated_nodes, first.feasible_nodes), (420, 420));
        assert_eq!(
            prof.start.get(ns.len()),
            420,
            "the next cycle starts where this one stopped"
        );
        let all = profile(r#","percentageOfNodesToScore":100"#);
        assert_eq!(
            schedule_pod(&all, Cluster::of(&ns), &pod("b"), Options::default())
                .0
                .evaluated_nodes,
            1000
        );

        // Few feasible nodes: everything is examined and every failure explained.
        let mut mixed = nodes(&specs);
        for n in mixed.iter_mut().skip(3) {
            Arc::make_mut(n).add_pod(Arc::new(with_requests(pod("big"), 4000, 0)));
        }
        let (d, i) = schedule_pod(
            &prof,
            Cluster::of(&mixed),
            &with_requests(pod("c"), 1000, 0),
            Options::default(),
        );
        assert_eq!((d.evaluated_nodes, d.feasible_nodes), (1000, 3));
        assert!(i.is_some_and(|i| i < 3));
    }

    /// Rejects node "a", gives node "c" a large bonus.
    struct Outside;

    impl Extension for Outside {
        fn judge(
            &self,
            _pod: &PodRecord,
            feasible: &[&NodeInfo],
            _totals: &[i64],
        ) -> CoreResult<Vec<Verdict>> {
            Ok(feasible
                .iter()
                .map(|n| match n.node.as_ref().map(|r| r.name()) {
                    Some("a") => Verdict::Reject("outside says no".to_owned()),
                    Some("c") => Verdict::Score(10_000),
                    _ => Verdict::Score(0),
                })
                .collect())
        }
    }

    struct Broken;

    impl Extension for Broken {
        fn judge(&self, _: &PodRecord, _: &[&NodeInfo], _: &[i64]) -> CoreResult<Vec<Verdict>> {
            Err(CoreError::Plugin("plugins: boom".to_owned()))
        }
    }

    #[test]
    fn outside_plugins_filter_and_score_the_kept_nodes() {
        let ns = nodes(&[("a", 8000), ("b", 8000), ("c", 1000)]);
        let p = with_requests(pod("p"), 500, 0);
        let run = |ext: &dyn Extension, ns: &[Arc<NodeInfo>]| {
            let options = Options {
                extension: Some(ext),
                ..Options::default()
            };
            schedule_pod(&profile(""), Cluster::of(ns), &p, options).0
        };
        let d = run(&Outside, &ns);
        assert_eq!(
            d.node.as_deref(),
            Some("c"),
            "the bonus outweighs the core's preference"
        );
        assert_eq!(d.feasible_nodes, 2);
        let only_a = nodes(&[("a", 8000)]);
        let d = run(&Outside, &only_a);
        assert_eq!(d.code, Code::Unschedulable);
        assert_eq!(d.message, "0/1 nodes are available: 1 outside says no.");
        let d = run(&Broken, &ns);
        assert_eq!((d.code, d.message.as_str()), (Code::Error, "plugins: boom"));
    }

    /// A profile whose score plugins all skip the pod still decides the next pods of its
    /// shape by the ranking (every total 0, ties broken per pod), as before totals were kept.
    #[test]
    fn a_ranking_without_score_plugins_still_serves() {
        let prof = Profile::from_json(
            br#"{"schedulerName":"podium","parallelism":2,"filters":["NodeResourcesFit"]}"#,
        )
        .expect("valid profile");
        let mut state = ClusterState::new(&["podium"]);
        for n in ["n1", "n2", "n3"] {
            let node = format!(
                r#"{{"type":"ADDED","object":{{"metadata":{{"name":"{n}","uid":"{n}"}},"status":{{"allocatable":{{"cpu":"4","memory":"1Gi","pods":"10"}}}}}}}}"#
            );
            state.apply_event(Kind::Node, node.as_bytes()).unwrap();
        }
        let uids: Vec<String> = ["p1", "p2"].iter().map(|s| (*s).to_owned()).collect();
        for u in &uids {
            let pod = format!(
                r#"{{"type":"ADDED","object":{{"metadata":{{"name":"{u}","namespace":"ns","uid":"{u}"}},"spec":{{"schedulerName":"podium","containers":[{{"resources":{{"requests":{{"cpu":"100m"}}}}}}]}}}}}}"#
            );
            state.apply_event(Kind::Pod, pod.as_bytes()).unwrap();
        }
        let ds = schedule_batch(&state.snapshot(), &uids, &prof, None);
        assert_eq!((ds[0].code, ds[1].code), (Code::Success, Code::Success));
        assert!(!ds[0].reused && ds[1].reused, "{ds:?}");
    }

    /// The static verdicts a profile keeps from one batch to the next hold only while the
    /// nodes are the same records: nodes tainted between two batches refuse the second
    /// batch's pod, though the first batch found no node refused by a static filter.
    #[test]
    fn kept_static_verdicts_follow_nodes_changed_between_batches() {
        let mut state = ClusterState::new(&["podium"]);
        let node = |kind: &str, n: &str, taints: &str| {
            format!(
                r#"{{"type":"{kind}","object":{{"metadata":{{"name":"{n}","uid":"{n}"}},"spec":{{"taints":[{taints}]}},"status":{{"allocatable":{{"cpu":"4","memory":"1Gi","pods":"10"}}}}}}}}"#
            )
        };
        let pod = |u: &str| {
            format!(
                r#"{{"type":"ADDED","object":{{"metadata":{{"name":"{u}","namespace":"ns","uid":"{u}"}},"spec":{{"schedulerName":"podium","containers":[{{"resources":{{"requests":{{"cpu":"100m"}}}}}}]}}}}}}"#
            )
        };
        for n in ["n1", "n2"] {
            state
                .apply_event(Kind::Node, node("ADDED", n, "").as_bytes())
                .unwrap();
        }
        for u in ["p1", "p2", "p3"] {
            state.apply_event(Kind::Pod, pod(u).as_bytes()).unwrap();
        }
        let profile = profile("");
        let batch = |state: &ClusterState, uid: &str| {
            let ds = schedule_batch(&state.snapshot(), &[uid.to_owned()], &profile, None);
            ds.into_iter().next().expect("one decision")
        };
        assert_eq!(batch(&state, "p1").code, Code::Success);
        let taint = r#"{"key":"k","value":"v","effect":"NoSchedule"}"#;
        for n in ["n1", "n2"] {
            let modified = node("MODIFIED", n, taint);
            state.apply_event(Kind::Node, modified.as_bytes()).unwrap();
        }
        let refused = "0/2 nodes are available: 2 node(s) had untolerated taint(s).";
        for uid in ["p2", "p3"] {
            let d = batch(&state, uid);
            assert_eq!(
                (d.code, d.message.as_str()),
                (Code::UnschedulableAndUnresolvable, refused)
            );
        }
    }

    #[test]
    fn batch_pods_see_each_other_and_the_state_is_untouched() {
        let mut state = ClusterState::new(&["podium"]);
        let node = |n: &str| {
            format!(
                r#"{{"type":"ADDED","object":{{"metadata":{{"name":"{n}","uid":"{n}"}},"status":{{"allocatable":{{"cpu":"1","memory":"1Gi","pods":"10"}}}}}}}}"#
            )
        };
        let pod = |u: &str| {
            format!(
                r#"{{"type":"ADDED","object":{{"metadata":{{"name":"{u}","namespace":"ns","uid":"{u}"}},"spec":{{"schedulerName":"podium","containers":[{{"resources":{{"requests":{{"cpu":"600m"}}}}}}]}}}}}}"#
            )
        };
        for n in ["n1", "n2"] {
            state.apply_event(Kind::Node, node(n).as_bytes()).unwrap();
        }
        for u in ["p1", "p2", "p3"] {
            state.apply_event(Kind::Pod, pod(u).as_bytes()).unwrap();
        }
        let snap = state.snapshot();
        let uids: Vec<String> = ["p1", "p2", "p3", "p1", "ghost"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let ds = schedule_batch(&snap, &uids, &profile(""), None);
        let nodes: Vec<Option<&str>> = ds.iter().map(|d| d.node.as_deref()).collect();
        assert!(nodes[0].is_some() && nodes[1].is_some() && nodes[0] != nodes[1]);
        assert_eq!(ds[2].code, Code::Unschedulable, "both nodes are full now");
        assert_eq!(
            ds[2].message,
            "0/2 nodes are available: 2 Insufficient cpu."
        );
        assert_eq!(ds[3].code, Code::Error, "a pod is never placed twice");
        assert_eq!(ds[4].code, Code::Error);
        assert_eq!(state.node_usage("n1").unwrap()[0], ("cpu".to_owned(), 0));
        assert_eq!(state.pending().len(), 3);
    }
}
