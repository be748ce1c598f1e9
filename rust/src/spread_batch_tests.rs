//! PodTopologySpread's counts are kept across a batch's pods (`counts::SpreadCounts`, updated
//! as each pod is placed or a nominee is lifted and held again) instead of counted per pod: on
//! random clusters, spread pods decided in one batch land exactly where they land decided one
//! pod a batch (each batch counting afresh), with the same scores and failures. (Nominees, whose
//! holds take the counts back off a node, are left to `index_equivalence_tests`: a snapshot
//! decided one pod a batch holds a nominee placed by an earlier batch again.)

use std::sync::Arc;

use crate::cycle::{Decision, schedule_batch};
use crate::intern::sym;
use crate::runtime::profile::Profile;
use crate::state::label_selector::{LabelSelector, SelectorOp, SelectorRequirement};
use crate::state::labels::Labels;
use crate::state::namespaces::Namespaces;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::pod_index::PodIndex;
use crate::state::snapshot::{NodeSlots, PendingPods, Snapshot};
use crate::state::spread::{SpreadConstraint, WhenUnsatisfiable};
use crate::state::taints::{Taint, TaintEffect, Toleration};
use crate::testutil::{Rng, node, pod, with_requests};

const APPS: &[&str] = &["a", "b", "c"];
const NAMESPACES: &[&str] = &["default", "other"];
const KEYS: &[&str] = &["zone", "kubernetes.io/hostname", "rack"];

/// A workload's selector: its app, as `matchLabels` or an `In` (looked up in the index) or
/// `Exists` with a `NotIn` (every eligible node's pods walked); sometimes narrowed by a
/// revision, as `matchLabelKeys` merges `pod-template-hash` in.
fn selector(rng: &mut Rng, app: &str) -> LabelSelector {
    let app = sym(app);
    let mut reqs = vec![if rng.chance(80) {
        SelectorRequirement {
            key: sym("app"),
            op: SelectorOp::In(Box::new([app])),
        }
    } else {
        SelectorRequirement {
            key: sym("app"),
            op: SelectorOp::Exists,
        }
    }];
    if rng.chance(25) {
        reqs.push(SelectorRequirement {
            key: sym("rev"),
            op: SelectorOp::In(Box::new([sym(rng.pick(&["1", "2"]))])),
        });
    }
    LabelSelector::All(reqs.into())
}

/// A workload's constraints: one to three keys, either kind, the policies and minDomains drawn.
fn constraints(rng: &mut Rng, app: &str) -> Box<[SpreadConstraint]> {
    let mut out: Vec<SpreadConstraint> = Vec::new();
    for key in KEYS {
        if !rng.chance(if *key == "zone" { 80 } else { 35 }) {
            continue;
        }
        let hard = rng.chance(65);
        out.push(SpreadConstraint {
            max_skew: i32::try_from(1 + rng.below(2)).expect("small"),
            topology_key: sym(key),
            when_unsatisfiable: if hard {
                WhenUnsatisfiable::DoNotSchedule
            } else {
                WhenUnsatisfiable::ScheduleAnyway
            },
            selector: selector(rng, app),
            min_domains: if hard && rng.chance(25) {
                i32::try_from(2 + rng.below(4)).expect("small")
            } else {
                1
            },
            honor_node_affinity: rng.chance(75),
            honor_node_taints: rng.chance(30),
        });
    }
    out.into()
}

fn labelled(rng: &mut Rng, mut p: PodRecord, app: &str) -> PodRecord {
    p.namespace = sym(rng.pick(NAMESPACES));
    let mut labels = vec![("app", app)];
    if rng.chance(50) {
        labels.push(("rev", rng.pick(&["1", "2"])));
    }
    p.labels = Labels::from_pairs(labels);
    p
}

fn random_node(rng: &mut Rng, i: usize) -> NodeInfo {
    let name = format!("n{i}");
    let mut b = node(&name, 4000, 1 << 34);
    let mut labels = vec![("kubernetes.io/hostname", name.as_str())];
    let zone = rng.pick(&["z1", "z2", "z3", "z4"]);
    if rng.chance(90) {
        labels.push(("zone", zone));
    }
    let rack = format!("r{}", i / 5);
    if rng.chance(85) {
        labels.push(("rack", &rack));
    }
    b.record.labels = Labels::from_pairs(labels);
    if rng.chance(12) {
        b.record.taints = vec![Taint::new("t", "v", TaintEffect::NoSchedule)].into();
    }
    b.build()
}

fn profile() -> Profile {
    Profile::from_json(
        br#"{"schedulerName":"podium","parallelism":2,
            "filters":["NodeUnschedulable","TaintToleration","NodeAffinity","NodeResourcesFit",
                       "PodTopologySpread"],
            "scores":{"NodeResourcesFit":1,"PodTopologySpread":2}}"#,
    )
    .expect("valid profile")
}

/// The same cluster each time it is built from `seed`, with its pending pods' uids in order.
fn cluster(seed: u64) -> (Snapshot, Vec<String>) {
    let mut rng = Rng(seed);
    let mut nodes: Vec<Arc<NodeInfo>> = (0..30)
        .map(|i| Arc::new(random_node(&mut rng, i)))
        .collect();
    let mut index = PodIndex::default();
    let mut slots = NodeSlots::new();
    for info in &mut nodes {
        for k in 0..rng.below(4) {
            let app = rng.pick(APPS);
            let mut p = labelled(&mut rng, pod(&format!("e{}-{k}", slots.len())), app);
            p.deleting = rng.chance(5);
            let p = Arc::new(with_requests(p, 500, 1 << 28));
            index.add(slots.len(), &p);
            Arc::make_mut(info).add_pod(p);
        }
        index.replace_node(None, info.node.as_deref());
        slots.push_back(Some(info.clone()));
    }
    // Workloads: replicas sharing their constraints (as a Deployment's do), some pinned to a
    // zone or tolerating the taint, which changes their eligible nodes.
    let workloads: Vec<(&str, Box<[SpreadConstraint]>)> = (0..4)
        .map(|_| {
            let app = rng.pick(APPS);
            (app, constraints(&mut rng, app))
        })
        .collect();
    let pending: Vec<Arc<PodRecord>> = (0..70)
        .map(|i| {
            let (app, spread) = &workloads[rng.below(workloads.len())];
            let cpu = i64::try_from(300 * (1 + rng.below(4))).expect("small");
            let mut p = labelled(
                &mut rng,
                with_requests(pod(&format!("p{i}")), cpu, 1 << 28),
                app,
            );
            p.spread = spread.clone();
            if rng.chance(15) {
                p.node_selector = Labels::from_pairs([("zone", rng.pick(&["z1", "z2"]))]);
            }
            if rng.chance(25) {
                p.tolerations = Box::new([Toleration::new("t", "Equal", "v", "NoSchedule")]);
            }
            Arc::new(p)
        })
        .collect();
    let mut pending_map = PendingPods::new();
    for p in &pending {
        pending_map.insert(p.uid.clone(), p.clone());
    }
    let mut namespaces = Namespaces::default();
    namespaces.set(sym("other"), Labels::from_pairs([("team", "x")]));
    let snapshot = Snapshot::new(1, nodes.len(), slots, pending_map)
        .with_index(index)
        .with_namespaces(namespaces);
    (
        snapshot,
        pending.iter().map(|p| p.uid.to_string()).collect(),
    )
}

fn outcome(
    d: &Decision,
) -> (
    &str,
    crate::framework::code::Code,
    &Option<String>,
    i64,
    &str,
) {
    (&d.uid, d.code, &d.node, d.score, &d.message)
}

/// Checks one cluster; returns how many of its pods were placed, and of how many.
fn check(seed: u64) -> (usize, usize) {
    let (whole, uids) = cluster(seed);
    let batched = schedule_batch(&whole, &uids, &profile(), None);
    let (alone, _) = cluster(seed);
    let one_by_one = profile();
    let mut placed = 0;
    for (uid, in_batch) in uids.iter().zip(&batched) {
        let d = schedule_batch(&alone, std::slice::from_ref(uid), &one_by_one, None);
        assert_eq!(
            outcome(&d[0]),
            outcome(in_batch),
            "seed {seed}: pod {uid} decided differently in one batch than alone"
        );
        placed += usize::from(in_batch.node.is_some());
    }
    (placed, uids.len())
}

#[test]
fn spread_pods_decide_in_one_batch_as_one_pod_a_batch() {
    let seeds: u64 = std::env::var("PODIUM_SPREAD_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let (mut placed, mut pods) = (0, 0);
    for seed in 1..=seeds {
        let (p, n) = check(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        placed += p;
        pods += n;
    }
    assert!(
        placed > pods / 4 && placed < pods,
        "the clusters should both place and refuse pods ({placed} of {pods} placed)"
    );
}
