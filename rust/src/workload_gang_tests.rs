//! Gangs of the Workload API's PodGroups (`scheduling.k8s.io/v1beta1`) through `schedule_gang`:
//! all or nothing as scheduler-plugins' gangs, inside one domain of the group's topology key.

use std::sync::Arc;

use crate::cycle::Decision;
use crate::framework::code::Code;
use crate::gang::{Gang, schedule_gang};
use crate::intern::sym;
use crate::preemption::preempt;
use crate::runtime::profile::Profile;
use crate::state::labels::Labels;
use crate::state::pod::PodRecord;
use crate::state::pod_group::PodGroupRecord;
use crate::state::snapshot::{NodeSlots, PendingPods, Snapshot};
use crate::state::workload_pod_group::parse_workload_pod_group;
use crate::testutil::{node, pod, with_requests};

const BLOCK: &str = "topology.kubernetes.io/block";

fn profile() -> Profile {
    Profile::from_json(
        br#"{"schedulerName":"podium","parallelism":2,
            "filters":["NodeUnschedulable","NodeResourcesFit"],
            "scores":{"NodeResourcesFit":1}}"#,
    )
    .expect("valid profile")
}

/// `(name, block, cpu millicores)` nodes, and these pending pods.
fn snapshot(nodes: &[(&str, &str, i64)], pending: &[PodRecord]) -> Snapshot {
    let slots: NodeSlots = nodes
        .iter()
        .map(|&(name, block, cpu)| {
            let mut b = node(name, cpu, 1 << 34);
            if !block.is_empty() {
                b.record.labels = Labels::from_pairs([(BLOCK, block)]);
            }
            Some(Arc::new(b.build()))
        })
        .collect();
    let pending: PendingPods = pending
        .iter()
        .map(|p| (p.uid.clone(), Arc::new(p.clone())))
        .collect();
    Snapshot::new(1, nodes.len(), slots, pending)
}

fn group(spec: &str) -> PodGroupRecord {
    let json = format!(r#"{{"metadata":{{"name":"g","namespace":"default"}},"spec":{spec}}}"#);
    let g = parse_workload_pod_group(json.as_bytes()).expect("a PodGroup");
    assert_eq!(g.error, None);
    g
}

fn members(n: usize, cpu: i64) -> Vec<PodRecord> {
    (0..n)
        .map(|i| {
            let mut p = with_requests(pod(&format!("m{i}")), cpu, 0);
            p.pod_group = Some(sym("g"));
            p
        })
        .collect()
}

fn uids(pods: &[PodRecord]) -> Vec<String> {
    pods.iter().map(|p| p.uid.to_string()).collect()
}

fn place(snap: &Snapshot, pods: &[PodRecord], group: &PodGroupRecord) -> Vec<Decision> {
    let job = [group.name];
    let gang = Gang {
        group,
        job_groups: &job,
        extension: None,
    };
    schedule_gang(snap, &uids(pods), &profile(), &gang)
}

fn nodes_of(ds: &[Decision]) -> Vec<String> {
    ds.iter().filter_map(|d| d.node.clone()).collect()
}

#[test]
fn a_gang_of_min_count_is_placed_whole_or_not_at_all() {
    let pods = members(4, 1000);
    let snap = snapshot(&[("n1", "", 2000), ("n2", "", 1000)], &pods);
    let ds = place(
        &snap,
        &pods,
        &group(r#"{"schedulingPolicy":{"gang":{"minCount":4}}}"#),
    );
    assert!(ds.iter().all(|d| d.code == Code::Unschedulable), "{ds:?}");
    assert!(nodes_of(&ds).is_empty());
    assert!(
        ds[0]
            .message
            .starts_with("PodGroup default/g: the 4 pod(s) do not all fit at once"),
        "{}",
        ds[0].message
    );
    let snap = snapshot(&[("n1", "", 2000), ("n2", "", 2000)], &pods);
    let ds = place(
        &snap,
        &pods,
        &group(r#"{"schedulingPolicy":{"gang":{"minCount":4}}}"#),
    );
    assert_eq!(nodes_of(&ds).len(), 4, "{ds:?}");
}

#[test]
fn basic_places_whoever_fits() {
    // A basic group is no gang: each member placed when it fits (kube's minCount 1).
    let pods = members(3, 1000);
    let snap = snapshot(&[("n1", "", 2000)], &pods);
    let ds = place(&snap, &pods, &group(r#"{"schedulingPolicy":{"basic":{}}}"#));
    assert_eq!(nodes_of(&ds).len(), 2, "{ds:?}");
}

#[test]
fn a_topology_key_keeps_the_gang_in_one_domain() {
    // 3 pods of 1 cpu: block a holds 2 (plus room elsewhere), block b holds 3.
    let pods = members(3, 1000);
    let nodes = [
        ("a1", "a", 1000),
        ("a2", "a", 1000),
        ("b1", "b", 2000),
        ("b2", "b", 1000),
        ("x", "", 4000),
    ];
    let snap = snapshot(&nodes, &pods);
    let spec = r#"{"schedulingPolicy":{"gang":{"minCount":3}},
                  "schedulingConstraints":{"topology":[{"key":"topology.kubernetes.io/block"}]}}"#;
    let ds = place(&snap, &pods, &group(spec));
    let mut placed = nodes_of(&ds);
    placed.sort();
    assert_eq!(placed, ["b1", "b1", "b2"], "{ds:?}");
}

#[test]
fn a_topology_key_no_domain_fits_places_nothing_and_says_which_key() {
    let pods = members(3, 1000);
    let nodes = [("a1", "a", 2000), ("b1", "b", 2000), ("x", "", 8000)];
    let snap = snapshot(&nodes, &pods);
    let spec = r#"{"schedulingPolicy":{"gang":{"minCount":3}},
                  "schedulingConstraints":{"topology":[{"key":"topology.kubernetes.io/block"}]}}"#;
    let ds = place(&snap, &pods, &group(spec));
    assert!(nodes_of(&ds).is_empty(), "{ds:?}");
    let msg = &ds[0].message;
    assert!(
        msg.starts_with(
            "PodGroup default/g: no topology.kubernetes.io/block domain (of 2) fits the 3 pod(s)"
        ),
        "{msg}"
    );
    // Without any node carrying the key, the message names the label.
    let snap = snapshot(&[("x", "", 8000)], &pods);
    let ds = place(&snap, &pods, &group(spec));
    assert!(nodes_of(&ds).is_empty(), "{ds:?}");
    assert!(
        ds[0].message.contains("label topology.kubernetes.io/block"),
        "{}",
        ds[0].message
    );
}

#[test]
fn preemption_policy_never_keeps_the_gang_from_preempting() {
    let pods = members(2, 1000);
    let snap = snapshot(&[("n1", "", 1000)], &pods);
    let g = group(r#"{"schedulingPolicy":{"gang":{"minCount":2}},"preemptionPolicy":"Never"}"#);
    let outcome = preempt(&snap, &uids(&pods), &profile(), Some(&g));
    assert!(!outcome.eligible);
    assert!(
        outcome
            .message
            .contains("PodGroup's preemptionPolicy=Never"),
        "{}",
        outcome.message
    );
}
