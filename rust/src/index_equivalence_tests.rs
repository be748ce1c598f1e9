//! The batch's shortcuts (the pod index, spread's domain cache, the static verdicts)
//! change how a decision is reached, never the decision: on random clusters, a batch scheduled
//! with them (`schedule_batch`) decides every pod exactly as pods scheduled one by one without
//! them (`schedule_pod_holding`), down to the failure message.

use std::sync::Arc;

use crate::cycle::{Cluster, Decision, Options, schedule_batch, schedule_pod};
use crate::framework::nominator::Nominees;
use crate::intern::sym;
use crate::runtime::profile::Profile;
use crate::state::disruption::Budgets;
use crate::state::label_selector::{LabelSelector, SelectorOp, SelectorRequirement};
use crate::state::labels::Labels;
use crate::state::namespaces::Namespaces;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::pod_affinity::{AffinityTerm, PodAffinity, WeightedTerm};
use crate::state::pod_index::PodIndex;
use crate::state::priority::PriorityClasses;
use crate::state::snapshot::{NodeSlots, PendingPods, Snapshot};
use crate::state::spread::{SpreadConstraint, WhenUnsatisfiable};
use crate::state::taints::{Taint, TaintEffect, Toleration};
use crate::testutil::{Rng, node, pod, with_requests};

const APPS: &[&str] = &["a", "b", "c", "d", "e"];
const NAMESPACES: &[&str] = &["default", "other"];
const KEYS: &[&str] = &["zone", "kubernetes.io/hostname", "rack"];
const IMAGES: &[&str] = &["img:1", "img:2", "img:3"];

fn selector(rng: &mut Rng) -> LabelSelector {
    let app = sym(rng.pick(APPS));
    let req = match rng.below(6) {
        // Kinds the index cannot look pods up by: they take the walking path inside it.
        0 => SelectorRequirement {
            key: sym("app"),
            op: SelectorOp::Exists,
        },
        1 => SelectorRequirement {
            key: sym("app"),
            op: SelectorOp::NotIn(Box::new([app])),
        },
        2 => SelectorRequirement {
            key: sym("app"),
            op: SelectorOp::In(Box::new([app, sym(rng.pick(APPS))])),
        },
        _ => SelectorRequirement {
            key: sym("app"),
            op: SelectorOp::In(Box::new([app])),
        },
    };
    let mut reqs = vec![req];
    if rng.chance(20) {
        reqs.push(SelectorRequirement {
            key: sym("tier"),
            op: SelectorOp::In(Box::new([sym(rng.pick(&["x", "y"]))])),
        });
    }
    LabelSelector::All(reqs.into())
}

fn term(rng: &mut Rng) -> AffinityTerm {
    let namespace_selector = rng.chance(10).then(|| LabelSelector::All(Box::default()));
    AffinityTerm {
        selector: selector(rng),
        namespaces: Box::new([sym(rng.pick(NAMESPACES))]),
        namespace_selector,
        topology_key: sym(rng.pick(KEYS)),
    }
}

fn affinity(rng: &mut Rng, pending: bool) -> Option<Box<PodAffinity>> {
    if !rng.chance(if pending { 60 } else { 15 }) {
        return None;
    }
    let mut a = PodAffinity::default();
    let terms = |rng: &mut Rng, percent| -> Vec<AffinityTerm> {
        let mut out = Vec::new();
        for _ in 0..2 {
            if rng.chance(percent) {
                out.push(term(rng));
            }
        }
        out
    };
    let weighted = |rng: &mut Rng| -> Vec<WeightedTerm> {
        let mut out = Vec::new();
        for _ in 0..2 {
            if rng.chance(40) {
                let weight = i32::try_from(1 + rng.below(100)).expect("small");
                out.push(WeightedTerm {
                    weight,
                    term: term(rng),
                });
            }
        }
        out
    };
    a.required_affinity = terms(rng, 15).into();
    a.required_anti_affinity = terms(rng, 40).into();
    a.preferred_affinity = weighted(rng).into();
    a.preferred_anti_affinity = weighted(rng).into();
    Some(Box::new(a))
}

fn spread(rng: &mut Rng) -> Box<[SpreadConstraint]> {
    let mut out: Vec<SpreadConstraint> = Vec::new();
    for key in KEYS {
        if !rng.chance(30) {
            continue;
        }
        out.push(SpreadConstraint {
            max_skew: i32::try_from(1 + rng.below(2)).expect("small"),
            topology_key: sym(key),
            when_unsatisfiable: if rng.chance(50) {
                WhenUnsatisfiable::DoNotSchedule
            } else {
                WhenUnsatisfiable::ScheduleAnyway
            },
            selector: selector(rng),
            min_domains: 1,
            honor_node_affinity: rng.chance(70),
            honor_node_taints: rng.chance(30),
        });
    }
    out.into()
}

fn random_pod(rng: &mut Rng, name: &str, pending: bool) -> PodRecord {
    let mut p = with_requests(
        pod(name),
        i64::try_from(100 * (1 + rng.below(10))).expect("small"),
        1 << 28,
    );
    p.namespace = sym(rng.pick(NAMESPACES));
    let mut labels = vec![("app", rng.pick(APPS))];
    if rng.chance(50) {
        labels.push(("tier", rng.pick(&["x", "y"])));
    }
    p.labels = Labels::from_pairs(labels);
    p.pod_affinity = affinity(rng, pending);
    p.deleting = !pending && rng.chance(5);
    if pending {
        p.spread = spread(rng);
        if rng.chance(20) {
            p.node_selector = Labels::from_pairs([("zone", rng.pick(&["z1", "z2"]))]);
        }
        if rng.chance(50) {
            p.images = Box::new([sym(rng.pick(IMAGES))]);
        }
        if rng.chance(30) {
            p.tolerations = Box::new([Toleration::new("t", "Equal", "v", "NoSchedule")]);
        }
        if rng.chance(30) {
            let gpus = i64::try_from(1 + rng.below(3)).expect("small");
            p.requests.scalar = vec![(sym("example.com/gpu"), gpus)];
            p.non_zero_requests.scalar = p.requests.scalar.clone();
        }
    }
    p
}

fn random_node(rng: &mut Rng, i: usize) -> NodeInfo {
    let name = format!("n{i}");
    let mut b = node(&name, 4000, 1 << 34);
    let mut labels = vec![("kubernetes.io/hostname", name.as_str())];
    let zone = rng.pick(&["z1", "z2", "z3"]);
    if rng.chance(90) {
        labels.push(("zone", zone));
    }
    let rack = format!("r{}", i / 4);
    if rng.chance(80) {
        labels.push(("rack", &rack));
    }
    b.record.labels = Labels::from_pairs(labels);
    if rng.chance(50) {
        b.record.allocatable.scalar = vec![(sym("example.com/gpu"), 4)];
    }
    if rng.chance(10) {
        b.record.taints = vec![Taint::new("t", "v", TaintEffect::NoSchedule)].into();
    }
    let mut images: Vec<(crate::intern::Sym, i64)> = IMAGES
        .iter()
        .filter(|_| rng.chance(40))
        .map(|i| (sym(i), 300 << 20))
        .collect();
    images.sort_unstable_by_key(|&(i, _)| i);
    b.record.images = crate::state::node_images::NodeImages::new(images);
    b.build()
}

fn profile() -> Profile {
    Profile::from_json(
        br#"{"schedulerName":"podium","parallelism":2,
            "filters":["NodeUnschedulable","TaintToleration","NodeAffinity","NodeResourcesFit",
                       "InterPodAffinity","PodTopologySpread"],
            "scores":{"NodeResourcesFit":1}}"#,
    )
    .expect("valid profile")
}

fn same(a: &Decision, b: &Decision) -> bool {
    (
        &a.uid,
        a.code,
        &a.node,
        a.score,
        &a.message,
        a.evaluated_nodes,
        a.feasible_nodes,
    ) == (
        &b.uid,
        b.code,
        &b.node,
        b.score,
        &b.message,
        b.evaluated_nodes,
        b.feasible_nodes,
    )
}

fn check(seed: u64) {
    let mut rng = Rng(seed);
    let mut nodes: Vec<Arc<NodeInfo>> = (0..40)
        .map(|i| Arc::new(random_node(&mut rng, i)))
        .collect();
    let mut index = PodIndex::default();
    // Slots as the cache keeps them: a free slot and a slot holding pods of an unknown node
    // sit between real nodes, so slots and positions differ.
    let mut slots = NodeSlots::new();
    let mut orphan = NodeInfo::default();
    let stray = Arc::new(random_pod(&mut rng, "stray", false));
    orphan.add_pod(stray.clone());
    index.add(1, &stray);
    for (i, info) in nodes.iter_mut().enumerate() {
        if i == 1 {
            slots.push_back(None);
            slots.push_back(Some(Arc::new(orphan.clone())));
        }
        for k in 0..rng.below(6) {
            let p = Arc::new(random_pod(&mut rng, &format!("e{i}-{k}"), false));
            index.add(slots.len(), &p);
            Arc::make_mut(info).add_pod(p);
        }
        index.replace_node(None, info.node.as_deref());
        slots.push_back(Some(info.clone()));
    }
    // Some pods hold a nominated node (preemption, reservations), some pods outrank others.
    let pending: Vec<Arc<PodRecord>> = (0..60)
        .map(|i| {
            let mut p = random_pod(&mut rng, &format!("p{i}"), true);
            if rng.chance(15) {
                p.priority = 5;
                p.priority_set = true;
            }
            if rng.chance(12) {
                let node = &nodes[rng.below(nodes.len())];
                p.nominated_node = node.node.as_ref().map(|n| n.name);
            }
            Arc::new(p)
        })
        .collect();
    let mut pending_map = PendingPods::new();
    let mut nominated = PendingPods::new();
    for p in &pending {
        pending_map.insert(p.uid.clone(), p.clone());
        if p.nominated_node.is_some() {
            nominated.insert(p.uid.clone(), p.clone());
        }
    }
    let mut namespaces = Namespaces::default();
    namespaces.set(sym("other"), Labels::from_pairs([("team", "x")]));
    let classes = PriorityClasses::default();
    let snapshot = Snapshot::new(1, nodes.len(), slots, pending_map.clone())
        .with_index(index)
        .with_namespaces(namespaces.clone())
        .with_preemption_objects(classes.clone(), Budgets::default(), nominated.clone());
    let uids: Vec<String> = pending.iter().map(|p| p.uid.to_string()).collect();
    let batched = schedule_batch(&snapshot, &uids, &profile(), None);

    let walking = profile();
    let nominees = Nominees::of(&nominated, &nodes, &classes);
    for (p, with_index) in pending.iter().zip(&batched) {
        // kube's view: every nominee still pending, of at least this pod's priority, but itself.
        let view = nominees
            .held_for(p, &nodes, &pending_map, &classes)
            .into_owned();
        // Walking: no index, no static verdicts; the holds blamed as the batch blames them.
        let cluster = Cluster {
            namespaces: &namespaces,
            ..Cluster::of(&view)
        };
        let options = Options {
            unheld: Some(&nodes),
            ..Options::default()
        };
        let (d, chosen) = schedule_pod(&walking, cluster, p, options);
        assert!(
            same(&d, with_index),
            "seed {seed}: pod {} decided differently with the index:\n walking: {d:?}\n index:   {with_index:?}",
            p.uid
        );
        if let Some(i) = chosen {
            Arc::make_mut(&mut nodes[i]).add_pod(p.clone());
            pending_map.remove(&*p.uid);
        }
    }
    assert!(
        batched.iter().any(|d| d.node.is_some()) && batched.iter().any(|d| d.node.is_none()),
        "seed {seed}: the cluster should both place and refuse pods"
    );
}

#[test]
fn the_index_decides_as_walking_every_node() {
    let seeds: u64 = std::env::var("PODIUM_INDEX_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    for seed in 1..=seeds {
        check(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    }
}
