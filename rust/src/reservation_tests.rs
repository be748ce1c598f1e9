//! Reservations on a `ClusterState` fed with apiserver JSON, as the scheduler sees it.

use super::*;
use crate::cycle::schedule_batch;
use crate::state::cluster::ClusterState;
use crate::state::kind::Kind;

fn profile(max_node_share: f64) -> Profile {
    let spec = format!(
        r#"{{"schedulerName":"podium","parallelism":2,
            "filters":["NodeUnschedulable","TaintToleration","NodeResourcesFit"],
            "scores":{{"NodeResourcesFit":1}},
            "podium":{{"reservation":{{"resources":["nvidia.com/gpu"],"minShare":1.0,
                                       "maxNodeShare":{max_node_share}}}}}}}"#
    );
    Profile::from_json(spec.as_bytes()).expect("valid profile")
}

fn add(state: &mut ClusterState, kind: Kind, object: &str) {
    let line = format!(r#"{{"type":"ADDED","object":{object}}}"#);
    let change = state.apply_event(kind, line.as_bytes()).expect("event");
    assert_eq!(change.error, None, "{object}");
}

/// 8-GPU nodes; `extra` goes into the node's spec (taints).
fn gpu_node(state: &mut ClusterState, name: &str, extra: &str) {
    add(
        state,
        Kind::Node,
        &format!(
            r#"{{"metadata":{{"name":"{name}","uid":"{name}"}},"spec":{{{extra}}},
                "status":{{"allocatable":{{"cpu":"64","memory":"512Gi","pods":"110","nvidia.com/gpu":"8"}}}}}}"#
        ),
    );
}

fn gpu_pod(state: &mut ClusterState, name: &str, node: Option<&str>, gpus: u32) {
    let node = node.map_or(String::new(), |n| format!(r#""nodeName":"{n}","#));
    let phase = if node.is_empty() {
        "Pending"
    } else {
        "Running"
    };
    add(
        state,
        Kind::Pod,
        &format!(
            r#"{{"metadata":{{"name":"{name}","namespace":"ns","uid":"{name}"}},
                "spec":{{{node}"schedulerName":"podium","containers":[{{"resources":{{"requests":
                    {{"cpu":"1","nvidia.com/gpu":"{gpus}"}}}}}}]}},
                "status":{{"phase":"{phase}"}}}}"#
        ),
    );
}

/// Nodes a (3 GPUs in use), b (1), c (5): none has 8 free.
fn busy_cluster() -> ClusterState {
    let mut s = ClusterState::new(&["podium"]);
    for (node, used) in [("a", 3), ("b", 1), ("c", 5)] {
        gpu_node(&mut s, node, "");
        gpu_pod(&mut s, &format!("on-{node}"), Some(node), used);
    }
    s
}

fn reserve_for(state: &ClusterState, uids: &[&str], max_node_share: f64) -> Vec<Option<String>> {
    let uids: Vec<String> = uids.iter().map(|u| (*u).to_owned()).collect();
    reserve(&state.snapshot(), &uids, &profile(max_node_share))
}

#[test]
fn a_whole_node_pod_gets_the_node_nearest_to_free_and_a_smaller_one_none() {
    let mut s = busy_cluster();
    gpu_pod(&mut s, "big", None, 8);
    gpu_pod(&mut s, "half", None, 4);
    assert_eq!(
        reserve_for(&s, &["big", "half", "nobody"], 1.0),
        vec![Some("b".to_owned()), None, None]
    );
}

#[test]
fn the_held_node_is_kept_from_pods_of_equal_priority() {
    let mut s = busy_cluster();
    gpu_pod(&mut s, "big", None, 8);
    let node = reserve_for(&s, &["big"], 1.0)[0]
        .clone()
        .expect("a reservation");
    s.nominate("big", Some(&node)).expect("nominate");
    // b has 7 GPUs free, the most of any node: without the hold a 4-GPU pod would go there
    // (LeastAllocated); with it, it goes elsewhere.
    gpu_pod(&mut s, "small", None, 4);
    let decisions = schedule_batch(&s.snapshot(), &["small".to_owned()], &profile(1.0), None);
    assert_eq!(
        decisions[0].node.as_deref(),
        Some("a"),
        "{:?}",
        decisions[0]
    );

    // A 7-GPU pod fits only on b, and only but for the hold: it is told so, not that GPUs
    // are short on a node with 7 free.
    gpu_pod(&mut s, "seven", None, 7);
    let decisions = schedule_batch(&s.snapshot(), &["seven".to_owned()], &profile(1.0), None);
    assert_eq!(
        decisions[0].message,
        "0/3 nodes are available: 1 node(s) were reserved for nominated pods, \
         2 Insufficient nvidia.com/gpu.",
    );

    // Once b's pod is gone, the reserved pod takes b.
    let gone = r#"{"type":"DELETED","object":{"metadata":{"name":"on-b","namespace":"ns","uid":"on-b"},"spec":{"nodeName":"b"}}}"#;
    s.apply_event(Kind::Pod, gone.as_bytes()).expect("event");
    let decisions = schedule_batch(&s.snapshot(), &["big".to_owned()], &profile(1.0), None);
    assert_eq!(
        decisions[0].node.as_deref(),
        Some("b"),
        "{:?}",
        decisions[0]
    );
}

#[test]
fn no_more_nodes_are_held_than_the_cap_allows() {
    let mut s = busy_cluster();
    for name in ["big-0", "big-1", "big-2"] {
        gpu_pod(&mut s, name, None, 8);
    }
    // A share of 0.5 of 3 nodes: one node.
    assert_eq!(
        reserve_for(&s, &["big-0", "big-1", "big-2"], 0.5),
        vec![Some("b".to_owned()), None, None]
    );
    // The whole cluster: each pod its own node, nearest to free first.
    assert_eq!(
        reserve_for(&s, &["big-0", "big-1", "big-2"], 1.0),
        vec![
            Some("b".to_owned()),
            Some("a".to_owned()),
            Some("c".to_owned())
        ]
    );
    // Off.
    assert_eq!(reserve_for(&s, &["big-0"], 0.0), vec![None]);
}

#[test]
fn a_standing_reservation_stays_while_its_node_still_qualifies() {
    let mut s = busy_cluster();
    gpu_pod(&mut s, "big", None, 8);
    s.nominate("big", Some("c")).expect("nominate");
    assert_eq!(reserve_for(&s, &["big"], 1.0), vec![Some("c".to_owned())]);
    // c is tainted: it would not take the pod even empty, so the reservation moves.
    gpu_node(
        &mut s,
        "c",
        r#""taints":[{"key":"maintenance","effect":"NoSchedule"}]"#,
    );
    assert_eq!(reserve_for(&s, &["big"], 1.0), vec![Some("b".to_owned())]);
}

#[test]
fn a_hold_ends_when_its_pod_lands_elsewhere_in_the_same_batch() {
    let mut s = ClusterState::new(&["podium"]);
    gpu_node(&mut s, "a", "");
    gpu_node(&mut s, "b", "");
    gpu_pod(&mut s, "on-b", Some("b"), 1);
    gpu_pod(&mut s, "big", None, 8);
    gpu_pod(&mut s, "small", None, 4);
    s.nominate("big", Some("b")).expect("nominate");
    let batch = |uids: &[&str]| {
        let uids: Vec<String> = uids.iter().map(|u| (*u).to_owned()).collect();
        schedule_batch(&s.snapshot(), &uids, &profile(1.0), None)
            .into_iter()
            .map(|d| d.node)
            .collect::<Vec<_>>()
    };
    // big takes the empty a; its hold on b goes with it, so small may use b.
    assert_eq!(
        batch(&["big", "small"]),
        vec![Some("a".to_owned()), Some("b".to_owned())]
    );
    // small first: b is held, so small takes a, and big then fits nowhere.
    assert_eq!(batch(&["small", "big"]), vec![Some("a".to_owned()), None]);
}

#[test]
fn a_profile_with_bad_reservation_args_is_refused_naming_the_field() {
    for (args, why) in [
        (
            r#"{"resources":[],"minShare":0,"maxNodeShare":0.1}"#,
            "minShare 0 is not in (0, 1]",
        ),
        (
            r#"{"resources":[],"minShare":1,"maxNodeShare":2}"#,
            "maxNodeShare 2 is not in [0, 1]",
        ),
        (
            r#"{"resources":"gpu","minShare":1,"maxNodeShare":0}"#,
            "invalid type",
        ),
    ] {
        let spec = format!(r#"{{"schedulerName":"p","podium":{{"reservation":{args}}}}}"#);
        let err = Profile::from_json(spec.as_bytes())
            .err()
            .expect("refused")
            .to_string();
        assert!(
            err.contains("podium.reservation") && err.contains(why),
            "{err}"
        );
    }
}
