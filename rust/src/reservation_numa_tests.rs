//! Reservations on nodes with NUMA topology: a node is held for a whole-node pod only if,
//! emptied, it would take the pod with every filter the pod faces, zones and kubelet's policy
//! included. The oracle throughout is an independent cluster holding only the node and its
//! topology object with everything free, judged by the ordinary scheduling path.

use proptest::prelude::*;
use serde_json::Value;

use super::*;
use crate::cycle::schedule_batch;
use crate::state::cluster::ClusterState;
use crate::state::kind::Kind;
use crate::topology::test_support::{ZoneSpec, nrt_object, used, zone};

const GPU_FILTERS: &str =
    r#""NodeUnschedulable","TaintToleration","NodeResourcesFit","NodeResourceTopologyMatch""#;

fn profile() -> Profile {
    let spec = format!(
        r#"{{"schedulerName":"podium","parallelism":2,"filters":[{GPU_FILTERS}],
            "scores":{{"NodeResourcesFit":1}},
            "podium":{{"reservation":{{"resources":["nvidia.com/gpu"],"minShare":1.0,
                                       "maxNodeShare":1.0}}}}}}"#
    );
    Profile::from_json(spec.as_bytes()).expect("valid profile")
}

fn apply(state: &mut ClusterState, kind: Kind, event: &str, object: &Value) {
    let line = format!(r#"{{"type":"{event}","object":{object}}}"#);
    let change = state.apply_event(kind, line.as_bytes()).expect("event");
    assert_eq!(change.error, None, "{object}");
}

fn node_object(name: &str, zones: &[ZoneSpec]) -> Value {
    let gpus: i64 = zones.iter().map(|z| z.gpus).sum();
    let cpus: i64 = zones.iter().map(|z| z.cpus).sum();
    serde_json::json!({
        "metadata": {"name": name, "uid": name},
        "status": {"allocatable": {
            "cpu": cpus.to_string(), "memory": format!("{}Gi", 64 * zones.len()),
            "pods": "110", "nvidia.com/gpu": gpus.to_string()}},
    })
}

/// The node and its NRT object (`policy`: kubelet's Topology Manager policy).
fn topology_node(state: &mut ClusterState, name: &str, zones: &[ZoneSpec], policy: &str) {
    apply(state, Kind::Node, "ADDED", &node_object(name, zones));
    set_topology(state, name, zones, policy);
}

fn set_topology(state: &mut ClusterState, name: &str, zones: &[ZoneSpec], policy: &str) {
    let object = nrt_object(name, zones, Some(policy), None);
    apply(state, Kind::NodeResourceTopology, "MODIFIED", &object);
}

/// A pod asking `gpus`; bound to `node` when given; `numa`: its `podium.dev/numa` policy.
fn gpu_pod(name: &str, node: Option<&str>, gpus: i64, numa: Option<&str>) -> Value {
    let mut pod = serde_json::json!({
        "metadata": {"name": name, "namespace": "ns", "uid": name},
        "spec": {"schedulerName": "podium", "containers": [{"name": "c", "resources": {
            "requests": {"cpu": "1", "nvidia.com/gpu": gpus.to_string()}}}]},
        "status": {"phase": if node.is_some() { "Running" } else { "Pending" }},
    });
    if let Some(node) = node {
        pod["spec"]["nodeName"] = Value::from(node);
    }
    if let Some(numa) = numa {
        pod["metadata"]["annotations"] = serde_json::json!({"podium.dev/numa": numa});
    }
    pod
}

/// Would `zones` under `policy`, with nothing on the node, take `pod`? Judged on a cluster of
/// its own by the ordinary scheduling path.
fn empty_node_takes(zones: &[ZoneSpec], policy: &str, pod: &Value) -> bool {
    let mut s = ClusterState::new(&["podium"]);
    topology_node(&mut s, "fresh", zones, policy);
    apply(&mut s, Kind::Pod, "ADDED", pod);
    let uid = pod["metadata"]["uid"].as_str().expect("uid").to_owned();
    schedule_batch(&s.snapshot(), &[uid], &profile(), None)[0]
        .node
        .is_some()
}

fn reserve_big(state: &ClusterState) -> Option<String> {
    reserve(&state.snapshot(), &["big".to_owned()], &profile())
        .pop()
        .flatten()
}

const SHAPES: [(&str, &[ZoneSpec]); 3] = [
    ("2x4", &[zone(4, 0), zone(4, 0)]),
    ("4x2", &[zone(2, 0), zone(2, 0), zone(2, 0), zone(2, 0)]),
    ("6/2/0", &[zone(6, 0), zone(2, 0), zone(0, 0)]),
];

const POLICIES: [&str; 4] = ["none", "best-effort", "restricted", "single-numa-node"];
const POD_POLICIES: [Option<&str>; 4] = [None, Some("none"), Some("prefer"), Some("single")];

/// The issue's reproduction: 8 GPUs in two zones of 4 under `single-numa-node`, a 1-GPU pod on
/// it, an 8-GPU single-NUMA pod waiting. The node could never take it, so it is not held, and
/// once the small pod is gone nothing is held either.
#[test]
fn a_node_whose_zones_can_never_hold_the_pod_is_not_reserved() {
    let mut s = ClusterState::new(&["podium"]);
    let zones = [used(zone(4, 0), 1), zone(4, 0)];
    topology_node(&mut s, "n", &zones, "single-numa-node");
    apply(
        &mut s,
        Kind::Pod,
        "ADDED",
        &gpu_pod("small", Some("n"), 1, None),
    );
    apply(
        &mut s,
        Kind::Pod,
        "ADDED",
        &gpu_pod("big", None, 8, Some("single")),
    );
    assert_eq!(reserve_big(&s), None);
    // A standing hold (made before this fix, or by an older replica) does not stand either.
    s.nominate("big", Some("n")).expect("nominate");
    assert_eq!(reserve_big(&s), None);
    apply(
        &mut s,
        Kind::Pod,
        "DELETED",
        &gpu_pod("small", Some("n"), 1, None),
    );
    assert_eq!(reserve_big(&s), None);
    // A pod that does not need one zone is held for: the node, emptied, takes it.
    apply(
        &mut s,
        Kind::Pod,
        "ADDED",
        &gpu_pod("small", Some("n"), 1, None),
    );
    set_topology(&mut s, "n", &zones, "none");
    apply(
        &mut s,
        Kind::Pod,
        "MODIFIED",
        &gpu_pod("big", None, 8, Some("prefer")),
    );
    assert_eq!(reserve_big(&s).as_deref(), Some("n"));
}

/// Every topology shape under every kubelet policy and pod policy: held exactly when the
/// emptied node takes the pod.
#[test]
fn each_shape_and_policy_is_held_exactly_when_the_emptied_node_takes_the_pod() {
    let mut held = Vec::new();
    for (shape, zones) in SHAPES {
        for policy in POLICIES {
            for numa in POD_POLICIES {
                let mut s = ClusterState::new(&["podium"]);
                let mut busy = zones.to_vec();
                busy[0] = used(busy[0], 1);
                topology_node(&mut s, "n", &busy, policy);
                apply(
                    &mut s,
                    Kind::Pod,
                    "ADDED",
                    &gpu_pod("small", Some("n"), 1, None),
                );
                let big = gpu_pod("big", None, 8, numa);
                apply(&mut s, Kind::Pod, "ADDED", &big);
                let expected = empty_node_takes(zones, policy, &big);
                let got = reserve_big(&s);
                assert_eq!(
                    got.is_some(),
                    expected,
                    "{shape} under {policy}, pod numa {numa:?}: reserved {got:?}"
                );
                if expected {
                    held.push((shape, policy, numa));
                }
            }
        }
    }
    // The oracle is not trivially one way: a single-NUMA pod is held nowhere (no zone has 8),
    // and a pod with no NUMA wish on a node without kubelet alignment is held on every shape.
    assert!(!held.iter().any(|&(_, _, numa)| numa == Some("single")));
    for (shape, _) in SHAPES {
        assert!(
            held.contains(&(shape, "none", Some("none"))),
            "{shape}: {held:?}"
        );
    }
    assert!(
        !held.contains(&("2x4", "single-numa-node", None)),
        "{held:?}"
    );
}

#[derive(Debug, Clone)]
enum Step {
    /// A pod of this many GPUs bound to node 0 or 1.
    Place(usize, i64),
    /// The oldest small pod still there is deleted.
    Delete,
    /// Node 0 or 1 reports a new shape and kubelet policy.
    Topology(usize, usize, usize),
    /// The waiting pod's NUMA wish changes.
    Wish(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..2usize, 1..4i64).prop_map(|(n, g)| Step::Place(n, g)),
        Just(Step::Delete),
        (0..2usize, 0..SHAPES.len(), 0..POLICIES.len())
            .prop_map(|(n, s, p)| Step::Topology(n, s, p)),
        (0..POD_POLICIES.len()).prop_map(Step::Wish),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// After any sequence of placements, deletions, topology updates and changes to the pod,
    /// each followed by the pod's retry (as the event that made it brings about), no node is
    /// held for a pod that the node, emptied, could not take.
    #[test]
    fn no_node_is_held_for_a_pod_it_could_not_take_emptied(steps in prop::collection::vec(step(), 1..12)) {
        let names = ["n0", "n1"];
        let mut shape = [0usize, 1];
        let mut policy = [3usize, 0];
        let mut wish = 0usize;
        let mut s = ClusterState::new(&["podium"]);
        for i in 0..2 {
            topology_node(&mut s, names[i], SHAPES[shape[i]].1, POLICIES[policy[i]]);
        }
        apply(&mut s, Kind::Pod, "ADDED", &gpu_pod("big", None, 8, POD_POLICIES[wish]));
        let mut small: Vec<(String, usize, i64)> = Vec::new();
        for (k, step) in steps.into_iter().enumerate() {
            match step {
                Step::Place(n, gpus) => {
                    let name = format!("small-{k}");
                    apply(&mut s, Kind::Pod, "ADDED", &gpu_pod(&name, Some(names[n]), gpus, None));
                    small.push((name, n, gpus));
                }
                Step::Delete => {
                    if !small.is_empty() {
                        let (name, n, gpus) = small.remove(0);
                        apply(&mut s, Kind::Pod, "DELETED", &gpu_pod(&name, Some(names[n]), gpus, None));
                    }
                }
                Step::Topology(n, new_shape, new_policy) => {
                    shape[n] = new_shape;
                    policy[n] = new_policy;
                    // The node's allocatable follows its zones, as kubelet would report it.
                    apply(&mut s, Kind::Node, "MODIFIED", &node_object(names[n], SHAPES[new_shape].1));
                    set_topology(&mut s, names[n], SHAPES[new_shape].1, POLICIES[new_policy]);
                }
                Step::Wish(w) => {
                    wish = w;
                    apply(&mut s, Kind::Pod, "MODIFIED", &gpu_pod("big", None, 8, POD_POLICIES[wish]));
                }
            }
            let held = reserve_big(&s);
            s.nominate("big", held.as_deref()).expect("nominate");
            if let Some(node) = held {
                let n = names.iter().position(|&name| name == node).expect("a known node");
                let big = gpu_pod("big", None, 8, POD_POLICIES[wish]);
                prop_assert!(
                    empty_node_takes(SHAPES[shape[n]].1, POLICIES[policy[n]], &big),
                    "{node} ({}, {}) held for a pod with numa {:?}",
                    SHAPES[shape[n]].0, POLICIES[policy[n]], POD_POLICIES[wish]
                );
            }
        }
    }
}
