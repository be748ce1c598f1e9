//! A batch that decides pods by what an earlier pod of their shape left (`runtime::reuse`)
//! decides every pod exactly as pods decided one batch each (nothing to reuse): on random
//! clusters small enough that a full cycle examines every node, the same pods are scheduled
//! both ways, and the decisions must match down to the score and the failure message. The pods
//! repeat a few shapes in different namespaces and with different team labels, some of which
//! bound pods' terms select (so only some may share a shape across identity).

use std::sync::Arc;

use crate::cycle::{Decision, schedule_batch};
use crate::intern::{resolve, sym};
use crate::runtime::profile::Profile;
use crate::state::labels::Labels;
use crate::state::node_images::NodeImages;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::pod_affinity::{PodAffinity, WeightedTerm};
use crate::state::pod_index::PodIndex;
use crate::state::pod_shape::same_shape;
use crate::state::snapshot::{NodeSlots, PendingPods, Snapshot};
use crate::state::taints::{Taint, TaintEffect, Toleration};
use crate::testutil::{Rng, affinity_term, node, pod, with_requests};

const GPU: &str = "example.com/gpu";

fn random_node(rng: &mut Rng, i: usize) -> NodeInfo {
    let name = format!("n{i}");
    let cpu = i64::try_from(2000 + 1000 * rng.below(6)).expect("small");
    let mut b = node(
        &name,
        cpu,
        (4 + i64::try_from(rng.below(12)).expect("small")) << 30,
    );
    let zone = ["z1", "z2", "z3"][rng.below(3)];
    b.record.labels =
        Labels::from_pairs([("kubernetes.io/hostname", name.as_str()), ("zone", zone)]);
    if rng.chance(40) {
        b.record.allocatable.scalar =
            vec![(sym(GPU), 2 + i64::try_from(rng.below(3)).expect("small"))];
    }
    if rng.chance(20) {
        b.record.taints = vec![Taint::new("spot", "yes", TaintEffect::PreferNoSchedule)].into();
    }
    if rng.chance(10) {
        b.record.taints = vec![Taint::new("dedicated", "x", TaintEffect::NoSchedule)].into();
    }
    if rng.chance(50) {
        b.record.images = NodeImages::new(vec![(sym("img:1"), 500 << 20)]);
    }
    b.build()
}

/// One of a few shapes, so that most pods repeat an earlier one; now and then a pod carrying
/// anti-affinity (never reused itself, and it makes the batch drop what it kept).
fn random_pod(rng: &mut Rng, i: usize) -> PodRecord {
    let name = format!("p{i}");
    let shape = rng.below(20);
    let mut p = match shape {
        0..=7 => {
            let mut p = with_requests(pod(&name), 300, 512 << 20);
            p.images = Box::new([sym("img:1")]);
            p.labels = Labels::from_pairs([("app", "a")]);
            p
        }
        8..=12 => {
            let mut p = with_requests(pod(&name), 1000, 2 << 30);
            p.requests.scalar = vec![(sym(GPU), 1)];
            p.non_zero_requests.scalar = p.requests.scalar.clone();
            p.labels = Labels::from_pairs([("app", "b")]);
            p
        }
        13..=17 => {
            let mut p = with_requests(pod(&name), 700, 1 << 30);
            p.node_selector = Labels::from_pairs([("zone", "z2")]);
            p.tolerations = Box::new([Toleration::new("spot", "Equal", "yes", "PreferNoSchedule")]);
            p.labels = Labels::from_pairs([("app", "c")]);
            p
        }
        _ => {
            let mut p = with_requests(pod(&name), 200, 256 << 20);
            // Across nodes: a zone with it takes no `b` pod, and `a` pods score its zone lower.
            let a = PodAffinity {
                required_anti_affinity: vec![affinity_term("zone", "app", "b")].into(),
                preferred_anti_affinity: vec![WeightedTerm {
                    weight: 40,
                    term: affinity_term("zone", "app", "a"),
                }]
                .into(),
                ..PodAffinity::default()
            };
            p.pod_affinity = Some(Box::new(a));
            p.labels = Labels::from_pairs([("app", "d")]);
            p
        }
    };
    p.created = f64::from(u32::try_from(i).expect("small"));
    // Identity: which team, in which namespace, owned by which Job.
    let team = ["x", "y", "z"][rng.below(3)];
    let mut labels: Vec<(&str, &str)> = p
        .labels
        .iter()
        .map(|(k, v)| (resolve(k), resolve(v)))
        .collect();
    labels.push(("team", team));
    p.labels = Labels::from_pairs(labels);
    p.namespace = sym(["default", "other"][rng.below(2)]);
    p.owner = Some(format!("job-{}", rng.below(4)).into());
    p
}

fn profile() -> Profile {
    Profile::from_json(
        br#"{"schedulerName":"podium","parallelism":2,
            "filters":["NodeUnschedulable","TaintToleration","NodeAffinity","NodeResourcesFit",
                       "InterPodAffinity","PodTopologySpread"],
            "scores":{"NodeResourcesFit":1,"NodeResourcesBalancedAllocation":1,
                      "ImageLocality":1,"TaintToleration":3,"NodeAffinity":2,
                      "InterPodAffinity":2}}"#,
    )
    .expect("valid profile")
}

/// Schedules `pending` on `nodes`: in one batch, or one batch per pod.
fn decide(nodes: &[Arc<NodeInfo>], pending: &[Arc<PodRecord>], batched: bool) -> Vec<Decision> {
    let mut slots = NodeSlots::new();
    let mut index = PodIndex::default();
    for info in nodes {
        for p in &info.pods {
            index.add(slots.len(), p);
        }
        index.replace_node(None, info.node.as_deref());
        slots.push_back(Some(info.clone()));
    }
    let mut map = PendingPods::new();
    for p in pending {
        map.insert(p.uid.clone(), p.clone());
    }
    let snapshot = Snapshot::new(1, nodes.len(), slots, map).with_index(index);
    let uids: Vec<String> = pending.iter().map(|p| p.uid.to_string()).collect();
    let profile = profile();
    if batched {
        return schedule_batch(&snapshot, &uids, &profile, None);
    }
    uids.chunks(1)
        .flat_map(|uid| schedule_batch(&snapshot, uid, &profile, None))
        .collect()
}

fn key(
    d: &Decision,
) -> (
    &str,
    crate::framework::code::Code,
    Option<&str>,
    i64,
    &str,
    usize,
    usize,
) {
    (
        &d.uid,
        d.code,
        d.node.as_deref(),
        d.score,
        &d.message,
        d.evaluated_nodes,
        d.feasible_nodes,
    )
}

/// Decisions reused, and of those how many served a pod of a shape not seen before in the batch
/// (reused across identity).
fn check(seed: u64) -> (usize, usize) {
    let mut rng = Rng(seed);
    let nodes: Vec<Arc<NodeInfo>> = (0..48)
        .map(|i| {
            let mut info = random_node(&mut rng, i);
            // Some bound pods carrying terms, so that InterPodAffinity runs for the pods they
            // select (team x, app b, app a), and not for the others.
            if rng.chance(15) {
                let mut p = random_pod(&mut rng, 10_000 + i);
                if let Some(a) = p.pod_affinity.as_mut() {
                    a.required_anti_affinity = vec![affinity_term("zone", "team", "x")].into();
                }
                p.node_name = info.node.as_ref().map(|n| n.name);
                info.add_pod(Arc::new(p));
            }
            Arc::new(info)
        })
        .collect();
    let pending: Vec<Arc<PodRecord>> = (0..260)
        .map(|i| Arc::new(random_pod(&mut rng, i)))
        .collect();
    let reused = decide(&nodes, &pending, true);
    let examined = decide(&nodes, &pending, false);
    assert!(
        examined.iter().all(|d| !d.reused),
        "seed {seed}: a batch of one pod has nothing to reuse"
    );
    for (r, e) in reused.iter().zip(&examined) {
        assert_eq!(
            key(r),
            key(e),
            "seed {seed}: pod {} decided differently when reused",
            r.uid
        );
    }
    assert!(
        reused.iter().any(|d| d.node.is_none()) && reused.iter().any(|d| d.node.is_some()),
        "seed {seed}: the cluster should both place and refuse pods"
    );
    let across = pending
        .iter()
        .enumerate()
        .filter(|&(k, p)| reused[k].reused && !pending[..k].iter().any(|q| same_shape(q, p)))
        .count();
    (reused.iter().filter(|d| d.reused).count(), across)
}

#[test]
fn reuse_decides_as_examining_every_node() {
    let seeds: u64 = std::env::var("PODIUM_REUSE_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let (mut reused, mut across) = (0, 0);
    for seed in 1..=seeds {
        let (r, a) = check(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        reused += r;
        across += a;
    }
    assert!(across > 0, "no pod was served across identity");
    // Most pods repeat a shape: a batch that reused little would prove nothing.
    assert!(
        reused > 100 * usize::try_from(seeds).expect("small"),
        "only {reused} decisions reused"
    );
}
