use super::*;
use crate::intern::sym;
use crate::state::labels::Labels;
use crate::state::pod_group::parse_pod_group;
use crate::state::snapshot::{NodeSlots, PendingPods};
use crate::testutil::{node, pod, with_requests};

const RACK: &str = "topology.kubernetes.io/rack";

fn profile() -> Profile {
    Profile::from_json(
        br#"{"schedulerName":"podium","parallelism":2,
            "filters":["NodeUnschedulable","NodeResourcesFit"],
            "scores":{"NodeResourcesFit":1}}"#,
    )
    .expect("valid profile")
}

/// `(name, rack, cpu millicores)` nodes, and these pending pods.
fn snapshot(nodes: &[(&str, &str, i64)], pending: &[PodRecord]) -> Snapshot {
    let slots: NodeSlots = nodes
        .iter()
        .map(|&(name, rack, cpu)| {
            let mut b = node(name, cpu, 1 << 34);
            if !rack.is_empty() {
                b.record.labels = Labels::from_pairs([(RACK, rack)]);
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

fn group(annotations: &str, min_member: u32) -> PodGroupRecord {
    let json = format!(
        r#"{{"metadata":{{"name":"g","namespace":"default","annotations":{{{annotations}}}}},
            "spec":{{"minMember":{min_member}}}}}"#
    );
    parse_pod_group(json.as_bytes()).expect("a PodGroup")
}

fn members(prefix: &str, n: usize, cpu: i64, group_name: &str) -> Vec<PodRecord> {
    (0..n)
        .map(|i| {
            let mut p = with_requests(pod(&format!("{prefix}{i}")), cpu, 0);
            p.pod_group = Some(sym(group_name));
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
fn a_gang_that_fits_is_placed_whole() {
    let pods = members("a", 3, 1000, "g");
    let snap = snapshot(&[("n1", "", 2000), ("n2", "", 2000)], &pods);
    let ds = place(&snap, &pods, &group("", 3));
    assert!(ds.iter().all(|d| d.code == Code::Success), "{ds:?}");
    assert_eq!(nodes_of(&ds).len(), 3);
    assert!(
        snap.lock().pending.is_empty(),
        "placed members leave pending"
    );
}

#[test]
fn a_gang_that_does_not_fit_leaves_the_snapshot_untouched() {
    let pods = members("a", 5, 1000, "g");
    let snap = snapshot(&[("n1", "", 2000), ("n2", "", 2000)], &pods);
    let ds = place(&snap, &pods, &group("", 5));
    assert!(ds.iter().all(|d| d.code == Code::Unschedulable));
    assert!(nodes_of(&ds).is_empty());
    let msg = &ds[0].message;
    assert!(
        msg.starts_with("PodGroup default/g: the 5 pod(s) do not all fit at once; closest: 4/5"),
        "{msg}"
    );
    assert!(msg.contains("Insufficient cpu"), "{msg}");
    for n in snap.nodes_for_test() {
        assert!(n.pods.is_empty(), "trial placements are rolled back");
    }
    assert_eq!(snap.lock().pending.len(), 5);
}

#[test]
fn two_big_gangs_never_deadlock() {
    // Each gang needs 60% of the cluster: the first takes it, the second waits holding nothing.
    let a = members("a", 3, 1000, "ga");
    let b = members("b", 3, 1000, "gb");
    let all: Vec<PodRecord> = a.iter().chain(&b).cloned().collect();
    let snap = snapshot(
        &[
            ("n1", "", 1000),
            ("n2", "", 1000),
            ("n3", "", 1000),
            ("n4", "", 1000),
            ("n5", "", 1000),
        ],
        &all,
    );
    let first = place(&snap, &a, &group("", 3));
    let second = place(&snap, &b, &group("", 3));
    assert!(first.iter().all(|d| d.code == Code::Success));
    assert!(
        second
            .iter()
            .all(|d| d.code == Code::Unschedulable && d.node.is_none())
    );
    let used: usize = snap.nodes_for_test().iter().map(|n| n.pods.len()).sum();
    assert_eq!(used, 3, "only the first gang's pods count");
}

#[test]
fn required_rack_lands_in_one_rack_on_distinct_hosts() {
    let pods = members("a", 3, 100, "g");
    let snap = snapshot(
        &[
            ("r1-a", "r1", 4000),
            ("r1-b", "r1", 4000),
            ("r2-a", "r2", 4000),
            ("r2-b", "r2", 4000),
            ("r2-c", "r2", 4000),
        ],
        &pods,
    );
    let g = group(
        r#""podium.dev/rack":"required","podium.dev/distinct-hosts":"true""#,
        3,
    );
    let ds = place(&snap, &pods, &g);
    let mut chosen = nodes_of(&ds);
    chosen.sort();
    assert_eq!(chosen, ["r2-a", "r2-b", "r2-c"], "only r2 has 3 hosts");
}

#[test]
fn required_rack_fails_when_no_rack_is_big_enough() {
    let pods = members("a", 3, 1000, "g");
    let snap = snapshot(
        &[
            ("r1-a", "r1", 2000),
            ("r2-a", "r2", 2000),
            ("loose", "", 8000),
        ],
        &pods,
    );
    let ds = place(&snap, &pods, &group(r#""podium.dev/rack":"required""#, 3));
    assert!(ds.iter().all(|d| d.code == Code::Unschedulable));
    assert!(
        ds[0]
            .message
            .starts_with("PodGroup default/g: no rack (of 2) has room for all 3 pod(s) together; closest: 2/3 in rack r1"),
        "{}",
        ds[0].message
    );
    assert!(
        ds[0].message.contains("0/1 nodes are available"),
        "{}",
        ds[0].message
    );
}

#[test]
fn required_rack_without_rack_labels_says_so() {
    let pods = members("a", 2, 100, "g");
    let snap = snapshot(&[("n1", "", 4000)], &pods);
    let ds = place(&snap, &pods, &group(r#""podium.dev/rack":"required""#, 2));
    assert_eq!(
        ds[0].message,
        "PodGroup default/g: 2 pod(s) must share a rack, and no node has the rack label topology.kubernetes.io/rack"
    );
}

#[test]
fn preferred_rack_falls_back_to_the_cluster() {
    let pods = members("a", 3, 1000, "g");
    let snap = snapshot(&[("r1-a", "r1", 2000), ("r2-a", "r2", 2000)], &pods);
    let ds = place(&snap, &pods, &group(r#""podium.dev/rack":"preferred""#, 3));
    assert!(ds.iter().all(|d| d.code == Code::Success), "{ds:?}");

    let pods = members("b", 2, 1000, "g");
    let snap = snapshot(&[("r1-a", "r1", 1000), ("r2-a", "r2", 2000)], &pods);
    let ds = place(&snap, &pods, &group(r#""podium.dev/rack":"preferred""#, 2));
    assert_eq!(nodes_of(&ds), ["r2-a", "r2-a"], "one rack that fits wins");
}

#[test]
fn distinct_hosts_without_enough_hosts_fails() {
    let pods = members("a", 3, 100, "g");
    let snap = snapshot(&[("n1", "", 8000), ("n2", "", 8000)], &pods);
    let ds = place(
        &snap,
        &pods,
        &group(r#""podium.dev/distinct-hosts":"true""#, 3),
    );
    assert!(ds.iter().all(|d| d.code == Code::Unschedulable), "{ds:?}");
}

#[test]
fn groups_of_one_job_spread_over_racks() {
    let first = members("a", 2, 100, "g1");
    let second = members("b", 2, 100, "g2");
    let all: Vec<PodRecord> = first.iter().chain(&second).cloned().collect();
    let snap = snapshot(
        &[
            ("r1-a", "r1", 4000),
            ("r1-b", "r1", 4000),
            ("r2-a", "r2", 4000),
            ("r2-b", "r2", 4000),
        ],
        &all,
    );
    let job = [sym("g1"), sym("g2")];
    let mut placed = Vec::new();
    for (pods, name) in [(&first, "g1"), (&second, "g2")] {
        let json = format!(
            r#"{{"metadata":{{"name":"{name}","namespace":"default",
                "annotations":{{"podium.dev/rack":"required","podium.dev/job":"j"}}}},
                "spec":{{"minMember":2}}}}"#
        );
        let g = parse_pod_group(json.as_bytes()).expect("a PodGroup");
        let gang = Gang {
            group: &g,
            job_groups: &job,
            extension: None,
        };
        let ds = schedule_gang(&snap, &uids(pods), &profile(), &gang);
        let racks: HashSet<String> = nodes_of(&ds).iter().map(|n| n[..2].to_owned()).collect();
        assert_eq!(racks.len(), 1, "{ds:?}");
        placed.extend(racks);
    }
    assert_ne!(
        placed[0], placed[1],
        "the job's second group takes the other rack"
    );
}

#[test]
fn placed_members_pin_the_rack() {
    let pods = members("a", 1, 100, "g");
    let snap = snapshot(&[("r1-a", "r1", 4000), ("r2-a", "r2", 8000)], &pods);
    {
        let mut data = snap.lock();
        let mut running = with_requests(pod("old"), 100, 0);
        running.pod_group = Some(sym("g"));
        let slot = 0;
        let mut info = (*data.nodes[slot].clone().expect("node")).clone();
        info.add_pod(Arc::new(running));
        data.nodes.set(slot, Some(Arc::new(info)));
    }
    let ds = place(&snap, &pods, &group(r#""podium.dev/rack":"required""#, 2));
    assert_eq!(nodes_of(&ds), ["r1-a"]);
}

#[test]
fn an_unknown_member_fails_the_whole_gang() {
    let pods = members("a", 2, 100, "g");
    let snap = snapshot(&[("n1", "", 4000)], &pods[..1]);
    let ds = place(&snap, &pods, &group("", 2));
    assert!(ds.iter().all(|d| d.code == Code::Error));
    assert_eq!(snap.lock().pending.len(), 1);
}

#[test]
fn members_beyond_min_member_may_stay_behind() {
    let pods = members("a", 4, 1000, "g");
    let snap = snapshot(&[("n1", "", 2000), ("n2", "", 1000)], &pods);
    let ds = place(&snap, &pods, &group("", 3));
    let placed = ds.iter().filter(|d| d.code == Code::Success).count();
    assert_eq!(placed, 3, "{ds:?}");
    assert_eq!(snap.lock().pending.len(), 1, "the fourth stays pending");

    let snap = snapshot(&[("n1", "", 2000)], &pods);
    let ds = place(&snap, &pods, &group("", 3));
    assert!(
        ds.iter().all(|d| d.code == Code::Unschedulable),
        "minMember 3 never fits"
    );
    assert!(ds[0].message.contains("closest: 2/4"), "{}", ds[0].message);
}
