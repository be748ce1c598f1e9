//! One scheduling cycle per pod: PreFilter, Filter (parallel over nodes), PreScore, Score
//! (parallel), Normalize, weighted sum, then the best node, ties broken by a hash of the pod and
//! node (deterministic, but not always the first node, like kube's random pick among ties).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
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
use crate::intern::sym;
use crate::plugins::inter_pod_affinity::term_counts::TermCounts;
use crate::runtime::pre_filter_result;
use crate::runtime::profile::Profile;
use crate::runtime::scoring;
use crate::runtime::static_filters::{self, StaticFilters, static_prefix};
use crate::state::dra::claim::ClaimReservation;
use crate::state::dra::{AssumeError, Dra};
use crate::state::namespaces::Namespaces;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::snapshot::Snapshot;
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
            filter_seconds: 0.0,
            score_seconds: 0.0,
            placement_seconds: 0.0,
        }
    }

    fn failed(mut self, d: Diagnosis) -> Self {
        self.code = d.code;
        self.message = d.message;
        self.reasons = d.reasons;
        self
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
            filter_seconds: 0.0,
            score_seconds: 0.0,
            placement_seconds: 0.0,
        }
    }
}

/// Decides `uids` in order; each success is placed in the snapshot's own copy, so later pods
/// (in this batch and in later batches on the same snapshot) see it.
pub fn schedule_batch(snapshot: &Snapshot, uids: &[String], profile: &Profile) -> Vec<Decision> {
    schedule_batch_with(snapshot, uids, profile, None)
}

/// As `schedule_batch`, with outside plugins judging the nodes the core keeps.
pub fn schedule_batch_with(
    snapshot: &Snapshot,
    uids: &[String],
    profile: &Profile,
    extension: Option<&dyn Extension>,
) -> Vec<Decision> {
    let mut guard = snapshot.lock();
    let data = &mut *guard;
    let (slots, mut nodes): (Vec<usize>, Vec<Arc<NodeInfo>>) =
        data.real_nodes().into_iter().unzip();
    let mut touched: Vec<usize> = Vec::new();
    let nominees = Nominees::of(&data.nominated, &nodes, &data.priorities);
    let mut positions = vec![NO_NODE; data.nodes.len()];
    for (position, &slot) in slots.iter().enumerate() {
        positions[slot] = u32::try_from(position).unwrap_or(NO_NODE);
    }
    let batch = BatchState::default();
    let statics = StaticFilters::default();
    let terms = batch.get::<TermCounts>();
    // Nodes held for nominated pods (preemption, reservations), as most pods see them: built
    // once, kept in step with the batch's placements, and counted in the index for the batch.
    let mut held = (!nominees.is_empty()).then(|| nominees.held_all(&nodes));
    for (i, pod) in nominees.all() {
        data.index.add(slots[i], pod);
    }
    let decisions = profile.pool.install(|| {
        uids.iter()
            .map(|uid| {
                let Some(pod) = data.pending.get(uid.as_str()).cloned() else {
                    return Decision::unknown(uid);
                };
                // A pod above some nominee's priority gets its own view, which the index
                // (holding every nominee) does not describe. A nominee sees the others held,
                // not itself: taken out of the view and, while it is decided, the index.
                let own = nominees.node_of(&pod.uid);
                let sees_all = held.is_some() && nominees.sees_all(&pod, &data.priorities);
                if sees_all && let (Some(all), Some(j)) = (&mut held, own) {
                    // Taken off its own node while it is decided; put back if it stays pending.
                    Arc::make_mut(&mut all[j]).remove_pod(&pod.uid);
                    data.index.remove(&pod);
                    if let Some(record) = &nodes[j].node {
                        terms.unplace(&pod, &data.namespaces, &record.labels);
                    }
                }
                let (view, indexed) = match &held {
                    None => (Cow::Borrowed(nodes.as_slice()), true),
                    Some(all) if sees_all => (Cow::Borrowed(all.as_slice()), true),
                    Some(_) => (
                        Cow::Owned(
                            nominees
                                .held_for(&pod, &nodes, &data.pending, &data.priorities)
                                .into_owned(),
                        ),
                        false,
                    ),
                };
                // Taken out of the index and term counts while decided (see above).
                let indexed_own = indexed && own.is_some();
                let index = indexed.then(|| IndexView {
                    pods: &data.index,
                    positions: &positions,
                    nodes: nodes.len(),
                    batch: &batch,
                });
                let shared = Shared {
                    index: index.as_ref(),
                    statics: Some(&statics),
                    unheld: held.is_some().then_some(nodes.as_slice()),
                };
                let (decision, chosen) = decide(
                    profile,
                    &view,
                    &data.namespaces,
                    &data.volumes,
                    &data.dra,
                    &pod,
                    extension,
                    None,
                    shared,
                );
                drop(view);
                if chosen.is_none()
                    && let Some(j) = own
                    && indexed_own
                {
                    // Still waiting: held on its node again for the pods after it.
                    if let Some(all) = &mut held {
                        Arc::make_mut(&mut all[j]).add_pod(pod.clone());
                    }
                    data.index.add(slots[j], &pod);
                    if let Some(record) = &nodes[j].node {
                        terms.place(&pod, &data.namespaces, &record.labels);
                    }
                }
                let (mut decision, chosen) = (decision, chosen);
                let chosen = chosen.filter(|_| {
                    let assumed = assume_claims(&mut data.dra, &pod, &decision.claims);
                    if let Err(e) = &assumed {
                        decision.code = Code::Error;
                        decision.message =
                            format!("running Reserve plugin \"DynamicResources\": {e}");
                        decision.node = None;
                    }
                    assumed.is_ok()
                });
                if let Some(i) = chosen {
                    if let Some(all) = &mut held {
                        // Placed: no longer held where it was nominated (kube drops a
                        // nomination once its pod is assumed).
                        if let Some(j) = nominees.node_of(&pod.uid) {
                            Arc::make_mut(&mut all[j]).remove_pod(&pod.uid);
                            // Counted there unless it was decided as a nominee (taken out then).
                            if !indexed_own && let Some(record) = &nodes[j].node {
                                terms.unplace(&pod, &data.namespaces, &record.labels);
                            }
                        }
                        Arc::make_mut(&mut all[i])
                            .place(pod.clone(), decision.allocation.as_deref());
                    }
                    // The free PVs and devices this placement counts on are not free for the
                    // next pods.
                    data.volumes
                        .reserve(&pod.uid, &ClaimBinding::taken(&decision.volumes));
                    if !data.namespaces.quotas.is_empty() {
                        // Its quota is used for the pods decided after it.
                        data.namespaces.quotas.add(pod.namespace, &pod.requests);
                    }
                    let node = Arc::make_mut(&mut nodes[i]);
                    data.index.add(slots[i], &pod);
                    if let Some(record) = &node.node {
                        terms.place(&pod, &data.namespaces, &record.labels);
                    }
                    node.place(pod, decision.allocation.as_deref());
                    data.pending.remove(uid.as_str());
                    touched.push(i);
                }
                decision
            })
            .collect()
    });
    for i in touched {
        data.nodes.set(slots[i], Some(nodes[i].clone()));
    }
    // Nominees placed in the batch are in the index where they landed (same uid); the others
    // were only held.
    for (_, pod) in nominees.all() {
        if data.pending.contains_key(&*pod.uid) {
            data.index.remove(pod);
        }
    }
    decisions
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
    only: Option<&[usize]>,
    statics: Statics<'_>,
) -> Filtered {
    // A subset (a gang's candidate rack) is examined whole, in its own order: it is small, and
    // the profile's rotating start belongs to full passes.
    let n = only.map_or(nodes.len(), <[usize]>::len);
    let want = match only {
        None => feasible_nodes_to_find(profile.percentage_of_nodes_to_score, n),
        Some(_) => n,
    };
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
        // Each task warms its run of nodes, then filters them (see `warm`).
        let runs: Vec<Vec<(usize, Found)>> = (first..first + round)
            .step_by(MIN_NODES_PER_TASK)
            .collect::<Vec<usize>>()
            .into_par_iter()
            .map(|from| {
                let to = (from + MIN_NODES_PER_TASK).min(first + round);
                warm(
                    (from..to)
                        .map(at)
                        .filter(|&i| !refused(i))
                        .map(|i| &*nodes[i]),
                );
                (from..to)
                    .map(|k| {
                        let i = at(k);
                        if refused(i) {
                            return (i, Found::Refused);
                        }
                        let range = statics.map_or(0, |(_, prefix)| prefix)..profile.filters.len();
                        match run_filter_range(profile, states, pod, &nodes[i], range) {
                            None => (i, Found::Feasible),
                            Some(s) => (i, Found::Failed(s)),
                        }
                    })
                    .collect()
            })
            .collect();
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

/// Schedules one pod on `nodes`; returns the decision and the index of the chosen node.
pub fn schedule_pod(
    profile: &Profile,
    nodes: &[Arc<NodeInfo>],
    pod: &PodRecord,
) -> (Decision, Option<usize>) {
    schedule_pod_in(profile, nodes, &Namespaces::default(), pod)
}

/// As `schedule_pod`, with the namespaces' labels (pod affinity's namespaceSelector).
pub fn schedule_pod_in(
    profile: &Profile,
    nodes: &[Arc<NodeInfo>],
    namespaces: &Namespaces,
    pod: &PodRecord,
) -> (Decision, Option<usize>) {
    schedule_pod_with(profile, nodes, namespaces, &Volumes::default(), pod)
}

/// As `schedule_pod_in`, with the volume state (VolumeBinding).
pub fn schedule_pod_with(
    profile: &Profile,
    nodes: &[Arc<NodeInfo>],
    namespaces: &Namespaces,
    volumes: &Volumes,
    pod: &PodRecord,
) -> (Decision, Option<usize>) {
    schedule_pod_extended(profile, nodes, namespaces, volumes, pod, None)
}

/// As `schedule_pod_with`, with outside plugins judging the nodes the core keeps.
pub fn schedule_pod_extended(
    profile: &Profile,
    nodes: &[Arc<NodeInfo>],
    namespaces: &Namespaces,
    volumes: &Volumes,
    pod: &PodRecord,
    extension: Option<&dyn Extension>,
) -> (Decision, Option<usize>) {
    schedule_pod_among(
        profile,
        nodes,
        namespaces,
        volumes,
        Dra::none(),
        pod,
        extension,
        None,
    )
}

/// As `schedule_pod_extended`, choosing only among the nodes at the indices `only` (all when
/// None); the others still count for the plugins that look across nodes (spread, affinity).
/// The diagnosis counts the candidates only.
#[allow(clippy::too_many_arguments)]
pub fn schedule_pod_among(
    profile: &Profile,
    nodes: &[Arc<NodeInfo>],
    namespaces: &Namespaces,
    volumes: &Volumes,
    dra: &Dra,
    pod: &PodRecord,
    extension: Option<&dyn Extension>,
    only: Option<&[usize]>,
) -> (Decision, Option<usize>) {
    decide(
        profile,
        nodes,
        namespaces,
        volumes,
        dra,
        pod,
        extension,
        only,
        Shared::default(),
    )
}

/// As `schedule_pod_in` on `nodes` that hold nominated pods, `unheld` being the same nodes
/// without them: the walking reference for the batch's decisions, reasons included.
#[cfg(test)]
pub(crate) fn schedule_pod_holding(
    profile: &Profile,
    nodes: &[Arc<NodeInfo>],
    unheld: &[Arc<NodeInfo>],
    namespaces: &Namespaces,
    pod: &PodRecord,
) -> (Decision, Option<usize>) {
    let shared = Shared {
        unheld: Some(unheld),
        ..Shared::default()
    };
    let volumes = Volumes::default();
    decide(
        profile,
        nodes,
        namespaces,
        &volumes,
        Dra::none(),
        pod,
        None,
        None,
        shared,
    )
}

/// What the decisions of one batch share beyond the nodes.
#[derive(Clone, Copy, Default)]
struct Shared<'a> {
    /// The placed pods by label, when the caller keeps them in step with the nodes.
    index: Option<&'a IndexView<'a>>,
    /// The batch's cache of node-only filter verdicts.
    statics: Option<&'a StaticFilters>,
    /// The nodes without the pods nominated to them, when the nodes decided on hold some: a
    /// pod refused only because of a hold is told so.
    unheld: Option<&'a [Arc<NodeInfo>]>,
}

/// As `schedule_pod_among`, with the placed pods by label when the caller keeps them in step
/// with `nodes`.
#[allow(clippy::too_many_arguments)]
fn decide(
    profile: &Profile,
    nodes: &[Arc<NodeInfo>],
    namespaces: &Namespaces,
    volumes: &Volumes,
    dra: &Dra,
    pod: &PodRecord,
    extension: Option<&dyn Extension>,
    only: Option<&[usize]>,
    shared: Shared<'_>,
) -> (Decision, Option<usize>) {
    let Shared {
        index,
        statics,
        unheld,
    } = shared;
    let mut decision = Decision::for_pod(pod);
    if let Some(err) = &pod.error {
        return (decision.failed(diagnosis::invalid_pod(err)), None);
    }
    let candidates = only.map_or(nodes.len(), <[usize]>::len);
    if candidates == 0 {
        return (decision.failed(diagnosis::no_nodes()), None);
    }
    let ctx = PodContext {
        pod,
        nodes,
        namespaces,
        volumes,
        dra,
        index,
    };
    let started = Instant::now();
    decision.started_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
        });
    let states = match pre_filter(profile, &ctx) {
        Ok(states) => states,
        Err(status) => {
            decision.filter_seconds = started.elapsed().as_secs_f64();
            return (
                decision.failed(diagnosis::pre_filter_error(candidates, &status)),
                None,
            );
        }
    };
    let prefix = static_prefix(profile);
    let verdicts =
        statics.map(|cache| static_filters::verdicts(cache, profile, &states, pod, nodes));
    let Filtered {
        feasible,
        mut failures,
        failed_at,
        refused,
        processed,
    } = find_feasible(
        profile,
        &states,
        pod,
        nodes,
        only,
        verdicts.as_deref().map(|v| (v.as_slice(), prefix)),
    );
    // The refused nodes' reasons, only when a diagnosis needs them.
    let explain_refused = |failures: &mut Vec<Status>| {
        let found: Vec<Status> = refused
            .par_iter()
            .with_min_len(MIN_NODES_PER_TASK)
            .filter_map(|&i| run_filters(profile, &states, pod, &nodes[i]))
            .collect();
        failures.extend(found);
    };
    decision.filter_seconds = started.elapsed().as_secs_f64();
    decision.evaluated_nodes = processed;
    if let Some(err) = failures.iter().find(|s| s.code == Code::Error) {
        decision.code = Code::Error;
        decision.message = err.reasons.join(", ");
        return (decision, None);
    }
    decision.feasible_nodes = feasible.len();
    if feasible.is_empty() {
        if let Some(unheld) = unheld {
            blame_holds(
                profile,
                &states,
                pod,
                (nodes, unheld),
                &failed_at,
                &mut failures,
            );
        }
        explain_refused(&mut failures);
        return (
            decision.failed(diagnosis::fit_error(candidates, &failures)),
            None,
        );
    }

    let filtered_at = Instant::now();
    decision.filter_seconds = (filtered_at - started).as_secs_f64();
    let chosen = if feasible.len() == 1 && extension.is_none() {
        Some((feasible[0], 0))
    } else {
        let feasible_nodes: Vec<&NodeInfo> = feasible.iter().map(|&i| &*nodes[i]).collect();
        let scored = match scoring::score_nodes(profile, &ctx, &states, &feasible_nodes) {
            Ok(scored) => scored,
            Err(message) => {
                decision.code = Code::Error;
                decision.message = message.to_string();
                return (decision, None);
            }
        };
        let mut totals: Vec<Option<i64>> = scoring::totals(&scored, feasible.len())
            .into_iter()
            .map(Some)
            .collect();
        if let Some(extension) = extension {
            let core: Vec<i64> = totals.iter().map(|t| t.unwrap_or(0)).collect();
            let verdicts = match extension.judge(pod, &feasible_nodes, &core) {
                Ok(v) if v.len() == feasible.len() => v,
                Ok(v) => {
                    decision.code = Code::Error;
                    decision.message = format!(
                        "plugins judged {} nodes, {} were feasible",
                        v.len(),
                        feasible.len()
                    );
                    return (decision, None);
                }
                Err(message) => {
                    decision.code = Code::Error;
                    decision.message = message.to_string();
                    return (decision, None);
                }
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
            decision.feasible_nodes -= rejected.len();
            if decision.feasible_nodes == 0 {
                explain_refused(&mut failures);
                decision.score_seconds = filtered_at.elapsed().as_secs_f64();
                let all = failures.iter().chain(&rejected);
                return (decision.failed(diagnosis::fit_error(candidates, all)), None);
            }
        }
        // Hashes the node's symbol, not its name: no string lookup per comparison.
        let tie = |i: usize| {
            let node = nodes[i].node.as_ref().map(|n| n.name.into_usize());
            TIE_BREAK.hash_one((&*pod.uid, node))
        };
        feasible
            .iter()
            .zip(&totals)
            .filter_map(|(i, total)| total.map(|t| (i, t)))
            .max_by(|(a, sa), (b, sb)| sa.cmp(sb).then_with(|| tie(**b).cmp(&tie(**a))))
            .map(|(&i, s)| (i, s))
    };
    let scored_at = Instant::now();
    decision.score_seconds = (scored_at - filtered_at).as_secs_f64();
    let Some((index, score)) = chosen else {
        return (decision, None);
    };
    decision.node = nodes[index].node.as_ref().map(|n| n.name().to_owned());
    decision.score = score;
    let mut reserved = Reserved::default();
    for (plugin, state) in profile.filters.iter().zip(&states) {
        if let Some(state) = state {
            plugin.reserve(state.as_ref(), pod, &nodes[index], &mut reserved);
        }
    }
    decision.allocation = reserved.allocation;
    decision.volumes = reserved.volumes;
    decision.claims = reserved.claims;
    decision.placement_seconds = scored_at.elapsed().as_secs_f64();
    (decision, Some(index))
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
        let Some(allocation) = &c.allocation else {
            continue;
        };
        if let Err(e) = dra.assume(pod.namespace, sym(&c.name), allocation) {
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
        let (d, i) = schedule_pod(&profile(""), &ns, &with_requests(pod("p"), 1000, 1 << 20));
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
        let (d, _) = schedule_pod(&prof, &ns, &with_requests(pod("p"), 1000, 0));
        assert_eq!(d.node.as_deref(), Some("a"));
    }

    #[test]
    fn failure_explains_every_node() {
        let mut tainted = node("t", 8000, 1 << 34);
        tainted.record.taints = vec![Taint::new("key", "value", TaintEffect::NoSchedule)].into();
        let mut ns = nodes(&[("a", 1000), ("b", 1000)]);
        ns.push(Arc::new(tainted.build()));
        let (d, i) = schedule_pod(&profile(""), &ns, &with_requests(pod("p"), 2000, 0));
        assert_eq!(i, None);
        assert_eq!(d.code, Code::Unschedulable);
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
        let (d, _) = schedule_pod(&profile(""), &ns, &bad);
        assert_eq!(d.code, Code::UnschedulableAndUnresolvable);
        assert!(
            d.message
                .contains("spec.containers[0].resources.requests.cpu")
        );

        let mut broken = node("broken", 1000, 1000);
        broken.record.error = Some("Node broken: status.allocatable.cpu: invalid quantity".into());
        let (d, _) = schedule_pod(&profile(""), &[Arc::new(broken.build())], &pod("p"));
        assert_eq!(d.code, Code::UnschedulableAndUnresolvable);
        assert!(
            d.message.contains("Node broken: status.allocatable.cpu"),
            "{}",
            d.message
        );

        let (d, _) = schedule_pod(&profile(""), &[], &pod("p"));
        assert_eq!(d.message, diagnosis::NO_NODES_AVAILABLE);
    }

    #[test]
    fn ties_are_broken_by_pod_not_always_first() {
        let ns = nodes(&[("a", 4000), ("b", 4000), ("c", 4000), ("d", 4000)]);
        let prof = profile("");
        let chosen: std::collections::HashSet<String> = (0..40)
            .map(|i| {
                schedule_pod(&prof, &ns, &pod(&format!("p{i}")))
                    .0
                    .node
                    .expect("fits")
            })
            .collect();
        assert!(chosen.len() > 1, "ties spread over nodes: {chosen:?}");
        let again = schedule_pod(&prof, &ns, &pod("p7")).0.node;
        assert_eq!(
            again,
            schedule_pod(&prof, &ns, &pod("p7")).0.node,
            "deterministic"
        );
    }

    #[test]
    fn large_clusters_filter_only_enough_nodes_and_rotate() {
        let names: Vec<String> = (0..1000).map(|i| format!("n{i:04}")).collect();
        let specs: Vec<(&str, i64)> = names.iter().map(|n| (n.as_str(), 4000)).collect();
        let ns = nodes(&specs);
        let prof = profile("");
        let (first, _) = schedule_pod(&prof, &ns, &pod("a"));
        // 50% - 1000/125 = 42% of 1000 nodes.
        assert_eq!((first.evaluated_nodes, first.feasible_nodes), (420, 420));
        assert_eq!(
            prof.start.get(ns.len()),
            420,
            "the next cycle starts where this one stopped"
        );
        let all = profile(r#","percentageOfNodesToScore":100"#);
        assert_eq!(schedule_pod(&all, &ns, &pod("b")).0.evaluated_nodes, 1000);

        // Few feasible nodes: everything is examined and every failure explained.
        let mut mixed = nodes(&specs);
        for n in mixed.iter_mut().skip(3) {
            Arc::make_mut(n).add_pod(Arc::new(with_requests(pod("big"), 4000, 0)));
        }
        let (d, i) = schedule_pod(&prof, &mixed, &with_requests(pod("c"), 1000, 0));
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
            schedule_pod_extended(
                &profile(""),
                ns,
                &Namespaces::default(),
                &Volumes::default(),
                &p,
                Some(ext),
            )
            .0
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
        let ds = schedule_batch(&snap, &uids, &profile(""));
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
