use super::*;
use crate::intern::sym;
use crate::state::dra::Dra;
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
    // The totals allow it (3,200m for 3,200m), one node at a time does not.
    let mut pods = members("a", 4, 1000, "g");
    pods[3] = with_requests(pod("a3"), 200, 0);
    pods[3].pod_group = Some(sym("g"));
    let snap = snapshot(&[("n1", "", 1600), ("n2", "", 1600)], &pods);
    let ds = place(&snap, &pods, &group("", 4));
    assert!(ds.iter().all(|d| d.code == Code::Unschedulable));
    assert!(nodes_of(&ds).is_empty());
    let msg = &ds[0].message;
    assert!(
        msg.starts_with("PodGroup default/g: the 4 pod(s) do not all fit at once; closest: 2/4, then pod a2: 0/2 nodes are available"),
        "{msg}"
    );
    assert!(msg.contains("Insufficient cpu"), "{msg}");
    for n in snap.nodes_for_test() {
        assert!(n.pods.is_empty(), "trial placements are rolled back");
    }
    assert_eq!(snap.lock().pending.len(), 4);
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
    assert_eq!(
        ds[0].message,
        "PodGroup default/g: no topology.kubernetes.io/rack domain (of 2) fits the 3 pod(s): \
         2 lack cpu (need 3000m, at most 2000m free)"
    );
}

#[test]
fn required_rack_without_rack_labels_says_so() {
    let pods = members("a", 2, 100, "g");
    let snap = snapshot(&[("n1", "", 4000)], &pods);
    let ds = place(&snap, &pods, &group(r#""podium.dev/rack":"required""#, 2));
    assert_eq!(
        ds[0].message,
        "PodGroup default/g: 2 pod(s) must share a topology.kubernetes.io/rack domain, and no node has the label topology.kubernetes.io/rack"
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
    assert_eq!(
        ds[0].message,
        "PodGroup default/g: the 4 pod(s) do not all fit at once: the cluster lacks cpu \
         (need 3000m, 2000m free)",
        "the three cheapest members' sum is pruned without a trial"
    );
}

const BLOCK: &str = "topology.kubernetes.io/block";

/// `(name, block, rack, cpu millicores)` nodes (empty: no such label), and these pending pods.
fn racked(nodes: &[(&str, &str, &str, i64)], pending: &[PodRecord]) -> Snapshot {
    let slots: NodeSlots = nodes
        .iter()
        .map(|&(name, block, rack, cpu)| {
            let mut b = node(name, cpu, 1 << 34);
            let pairs: Vec<(&str, &str)> = [(BLOCK, block), (RACK, rack)]
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .collect();
            b.record.labels = Labels::from_pairs(pairs);
            Some(Arc::new(b.build()))
        })
        .collect();
    let pending: PendingPods = pending
        .iter()
        .map(|p| (p.uid.clone(), Arc::new(p.clone())))
        .collect();
    Snapshot::new(1, nodes.len(), slots, pending)
}

/// The value of `key` on each placed member's node, in member order.
fn where_placed(snap: &Snapshot, ds: &[Decision], key: &str) -> Vec<String> {
    let nodes = snap.nodes_for_test();
    ds.iter()
        .filter_map(|d| d.node.as_deref())
        .map(|name| {
            let info = nodes
                .iter()
                .find(|n| n.node.as_ref().is_some_and(|r| r.name() == name))
                .expect("a node");
            let labels = &info.node.as_ref().expect("a node").labels;
            labels
                .get(sym(key))
                .map_or(String::new(), |v| resolve(v).to_owned())
        })
        .collect()
}

fn distinct(values: &[String]) -> Vec<String> {
    let mut out = values.to_vec();
    out.sort();
    out.dedup();
    out
}

#[test]
fn required_block_with_slices_per_rack_lands_so() {
    // Block b1 has 4 racks of 2 one-pod nodes; b2 has one rack of 8. Slices of 2 per rack in
    // b1, or all 4 in b2's single rack: both are inside one block. b2's nodes are bigger (more
    // free left), so best fit picks b1, and each slice shares a rack.
    let pods = members("a", 4, 1000, "g");
    let mut nodes = Vec::new();
    let names: Vec<String> = (0..16).map(|i| format!("n{i}")).collect();
    for (i, name) in names.iter().enumerate().take(8) {
        let rack = ["r1", "r2", "r3", "r4"][i / 2];
        nodes.push((name.as_str(), "b1", rack, 1000));
    }
    for name in &names[8..16] {
        nodes.push((name.as_str(), "b2", "r9", 4000));
    }
    let snap = racked(&nodes, &pods);
    let g = group(
        r#""podium.dev/topology-level":"topology.kubernetes.io/block",
           "podium.dev/slice-size":"2","podium.dev/slice-level":"topology.kubernetes.io/rack""#,
        4,
    );
    let ds = place(&snap, &pods, &g);
    assert!(ds.iter().all(|d| d.code == Code::Success), "{ds:?}");
    assert_eq!(distinct(&where_placed(&snap, &ds, BLOCK)), ["b1"]);
    let racks = where_placed(&snap, &ds, RACK);
    assert_eq!(
        racks[0], racks[1],
        "the first slice shares a rack: {racks:?}"
    );
    assert_eq!(
        racks[2], racks[3],
        "the second slice shares a rack: {racks:?}"
    );
    assert_ne!(
        racks[0], racks[2],
        "a rack holds 2 pods, one slice: {racks:?}"
    );
}

#[test]
fn required_block_with_slices_fails_whole_with_the_reason() {
    // One block, racks of one 1-pod node each: no rack holds a slice of 2.
    let pods = members("a", 4, 1000, "g");
    let snap = racked(
        &[
            ("n1", "b1", "r1", 1000),
            ("n2", "b1", "r2", 1000),
            ("n3", "b1", "r3", 1000),
            ("n4", "b1", "r4", 1000),
        ],
        &pods,
    );
    let g = group(
        r#""podium.dev/topology-level":"topology.kubernetes.io/block",
           "podium.dev/slice-size":"2","podium.dev/slice-level":"topology.kubernetes.io/rack""#,
        4,
    );
    let ds = place(&snap, &pods, &g);
    assert!(
        ds.iter()
            .all(|d| d.code == Code::Unschedulable && d.node.is_none())
    );
    assert_eq!(
        ds[0].message,
        "PodGroup default/g: no topology.kubernetes.io/block domain (of 1) fits the 4 pod(s): \
         1 lacks room for the slices (2 slice(s) of 2 pod(s) each in one \
         topology.kubernetes.io/rack domain, room for at most 0)"
    );
    assert_eq!(snap.lock().pending.len(), 4, "nothing placed");
    // Without slices the block takes them.
    let ds = place(
        &snap,
        &pods,
        &group(
            r#""podium.dev/topology-level":"topology.kubernetes.io/block""#,
            4,
        ),
    );
    assert!(ds.iter().all(|d| d.code == Code::Success), "{ds:?}");
}

#[test]
fn a_slice_that_fails_its_trial_tries_the_next_rack() {
    // Rack r1 has room by its totals, but a taint-like refusal: its node is cordoned. The
    // slice goes to r2.
    let pods = members("a", 2, 500, "g");
    let mut snap_nodes = vec![("n1", "b1", "r1", 4000), ("n2", "b1", "r2", 8000)];
    snap_nodes.sort();
    let snap = racked(&snap_nodes, &pods);
    {
        let mut data = snap.lock();
        let mut info = (*data.nodes[0].clone().expect("node")).clone();
        let mut record = (**info.node.as_ref().expect("record")).clone();
        record.unschedulable = true;
        info.node = Some(Arc::new(record));
        data.nodes.set(0, Some(Arc::new(info)));
    }
    let g = group(
        r#""podium.dev/topology-level":"topology.kubernetes.io/block",
           "podium.dev/slice-size":"2","podium.dev/slice-level":"topology.kubernetes.io/rack""#,
        2,
    );
    let ds = place(&snap, &pods, &g);
    assert_eq!(nodes_of(&ds), ["n2", "n2"], "{ds:?}");
}

#[test]
fn best_fit_picks_the_fullest_domain_that_takes_the_gang() {
    // Three blocks with 8, 3 and 2 cores free: a gang of 2 × 1 core fits b2 and b3 tightest
    // in b3, and in b1 with most left over.
    let pods = members("a", 2, 1000, "g");
    let snap = racked(
        &[
            ("a1", "b1", "", 8000),
            ("b1", "b2", "", 3000),
            ("c1", "b3", "", 2000),
            ("d1", "b4", "", 1000),
        ],
        &pods,
    );
    let g = group(
        r#""podium.dev/topology-level":"topology.kubernetes.io/block""#,
        2,
    );
    let ds = place(&snap, &pods, &g);
    assert_eq!(where_placed(&snap, &ds, BLOCK), ["b3", "b3"], "{ds:?}");
}

#[test]
fn domains_that_cannot_hold_the_sum_are_pruned_without_a_trial() {
    // Every block has a node that could take one member; none has the sum of three.
    let pods = members("a", 3, 1000, "g");
    let snap = racked(
        &[
            ("a1", "b1", "", 2000),
            ("b1", "b2", "", 2500),
            ("c1", "b3", "", 1000),
        ],
        &pods,
    );
    let g = group(
        r#""podium.dev/topology-level":"topology.kubernetes.io/block""#,
        3,
    );
    let ds = place(&snap, &pods, &g);
    assert_eq!(
        ds[0].message,
        "PodGroup default/g: no topology.kubernetes.io/block domain (of 3) fits the 3 pod(s): \
         3 lack cpu (need 3000m, at most 2500m free)"
    );
    assert_eq!(ds[0].evaluated_nodes, 0, "no member was decided");
    assert!(ds[0].reasons.is_empty());
    // Room per node prunes too: 3.9 cores free in b1, but no node has room for two 1-core
    // pods and one has room for none.
    let snap = racked(
        &[
            ("a1", "b1", "", 1500),
            ("a2", "b1", "", 1500),
            ("a3", "b1", "", 900),
        ],
        &pods,
    );
    let g = group(
        r#""podium.dev/topology-level":"topology.kubernetes.io/block""#,
        3,
    );
    let ds = place(&snap, &pods, &g);
    assert_eq!(
        ds[0].message,
        "PodGroup default/g: no topology.kubernetes.io/block domain (of 1) fits the 3 pod(s): \
         1 lacks room on its nodes (room for at most 2 of 3 pod(s))"
    );
    assert_eq!(ds[0].evaluated_nodes, 0, "no member was decided");
}

#[test]
fn preferred_rack_falls_back_to_the_block_before_the_cluster() {
    // No rack holds 3 members; block b2 does (two racks), and so would the cluster.
    let pods = members("a", 3, 1000, "g");
    let snap = racked(
        &[
            ("a1", "b1", "r1", 2000),
            ("b1", "b2", "r2", 2000),
            ("b2", "b2", "r3", 1000),
            ("c1", "b3", "r4", 1000),
        ],
        &pods,
    );
    let g = group(
        r#""podium.dev/topology-level":"topology.kubernetes.io/rack","podium.dev/topology-mode":"preferred""#,
        3,
    );
    let ds = place(&snap, &pods, &g);
    assert!(ds.iter().all(|d| d.code == Code::Success), "{ds:?}");
    assert_eq!(distinct(&where_placed(&snap, &ds, BLOCK)), ["b2"]);
    // Required, the same gang does not fit.
    let pods = members("b", 3, 1000, "g");
    let snap = racked(
        &[
            ("a1", "b1", "r1", 2000),
            ("b1", "b2", "r2", 2000),
            ("b2", "b2", "r3", 1000),
        ],
        &pods,
    );
    let g = group(
        r#""podium.dev/topology-level":"topology.kubernetes.io/rack""#,
        3,
    );
    let ds = place(&snap, &pods, &g);
    assert!(ds.iter().all(|d| d.code == Code::Unschedulable), "{ds:?}");
}

#[test]
fn members_already_running_keep_their_block() {
    let pods = members("a", 1, 100, "g");
    let snap = racked(&[("a1", "b1", "", 1000), ("b1", "b2", "", 250)], &pods);
    {
        let mut data = snap.lock();
        let mut running = with_requests(pod("old"), 100, 0);
        running.pod_group = Some(sym("g"));
        let mut info = (*data.nodes[0].clone().expect("node")).clone();
        info.add_pod(Arc::new(running));
        data.nodes.set(0, Some(Arc::new(info)));
    }
    let g = group(
        r#""podium.dev/topology-level":"topology.kubernetes.io/block""#,
        2,
    );
    let ds = place(&snap, &pods, &g);
    assert_eq!(
        nodes_of(&ds),
        ["a1"],
        "b2 is the better fit, but the running member is in b1"
    );
}

#[test]
fn a_slice_level_not_below_the_gang_level_is_an_error() {
    let pods = members("a", 2, 100, "g");
    let snap = racked(&[("a1", "b1", "r1", 1000)], &pods);
    let g = group(
        r#""podium.dev/topology-level":"topology.kubernetes.io/rack",
           "podium.dev/slice-size":"1","podium.dev/slice-level":"topology.kubernetes.io/block""#,
        2,
    );
    let ds = place(&snap, &pods, &g);
    assert!(
        ds.iter()
            .all(|d| d.code == Code::UnschedulableAndUnresolvable)
    );
    assert_eq!(
        ds[0].message,
        "PodGroup default/g: the slice level topology.kubernetes.io/block is not below the \
         gang's level topology.kubernetes.io/rack in the profile's topology levels \
         (topology.kubernetes.io/block, topology.kubernetes.io/rack, kubernetes.io/hostname)"
    );
}

#[test]
fn any_label_is_a_level() {
    // An NVLink clique label, outside the profile's list: domains by its values.
    let pods = members("a", 2, 1000, "g");
    let clique = "nvidia.com/gpu.clique";
    let slots: NodeSlots = [("a1", "c1"), ("a2", "c2"), ("a3", "c2")]
        .iter()
        .map(|&(name, c)| {
            let mut b = node(name, 1000, 1 << 34);
            b.record.labels = Labels::from_pairs([(clique, c)]);
            Some(Arc::new(b.build()))
        })
        .collect();
    let pending: PendingPods = pods
        .iter()
        .map(|p| (p.uid.clone(), Arc::new(p.clone())))
        .collect();
    let snap = Snapshot::new(1, 3, slots, pending);
    let g = group(r#""podium.dev/topology-level":"nvidia.com/gpu.clique""#, 2);
    let ds = place(&snap, &pods, &g);
    let mut chosen = nodes_of(&ds);
    chosen.sort();
    assert_eq!(chosen, ["a2", "a3"]);
}

#[test]
fn identical_members_share_filter_verdicts() {
    let mut pods = members("a", 3, 1000, "g");
    for (i, p) in pods.iter_mut().enumerate() {
        // A completion index: no placed pod has affinity terms, so it does not matter.
        p.labels =
            Labels::from_pairs([("batch.kubernetes.io/job-completion-index", &*i.to_string())]);
    }
    let mut odd = with_requests(pod("odd"), 2000, 0);
    odd.pod_group = Some(sym("g"));
    pods.push(odd);
    let arcs: Vec<Arc<PodRecord>> = pods.iter().cloned().map(Arc::new).collect();
    let snap = snapshot(&[("n1", "", 8000)], &pods);
    let data = snap.lock();
    let (slots, nodes): (Vec<usize>, Vec<Arc<NodeInfo>>) = data.real_nodes().into_iter().unzip();
    let g = group("", 4);
    let job = [g.name];
    let gang = Gang {
        group: &g,
        job_groups: &job,
        extension: None,
    };
    let excluded = HashSet::new();
    let needs = Need::of(&arcs, (4, false), true, Dra::none());
    let profile = profile();
    let request = Request {
        gang: &gang,
        members: &arcs,
        need: 4,
        needs: &needs,
        excluded: &excluded,
        slices: None,
        held: None,
    };
    let search = Search::new(&profile, &data, (&nodes, &slots), request);
    assert_eq!(
        search.kinds(),
        2,
        "three alike whatever their index, one apart"
    );
}

#[test]
fn identical_members_share_their_ranking() {
    // The first member ranks the nodes; the next are decided from its ranking, with only the
    // node each placement changed judged again (it fills n4 after one member: never twice).
    let pods = members("a", 6, 700, "g");
    let nodes = [
        ("n1", "", 2000),
        ("n2", "", 1500),
        ("n3", "", 3000),
        ("n4", "", 1000),
    ];
    let snap = snapshot(&nodes, &pods);
    let ds = place(&snap, &pods, &group("", 6));
    assert!(ds.iter().all(|d| d.code == Code::Success), "{ds:?}");
    assert!(!ds[0].reused, "the first member runs a full cycle");
    assert_eq!(ds.iter().filter(|d| d.reused).count(), 5, "{ds:?}");
    let on = nodes_of(&ds);
    assert!(on.iter().filter(|n| *n == "n4").count() <= 1, "{on:?}");
}

#[test]
fn placements_match_member_by_member_decisions() {
    // The memo must not change a decision: the same gang decided without one lands the same.
    let pods = members("a", 6, 700, "g");
    let nodes = [
        ("n1", "", 2000),
        ("n2", "", 1500),
        ("n3", "", 3000),
        ("n4", "", 1000),
    ];
    let snap = snapshot(&nodes, &pods);
    let with_memo = nodes_of(&place(&snap, &pods, &group("", 6)));
    let snap = snapshot(&nodes, &pods);
    let mut alone = Vec::new();
    for p in &pods {
        let ds = place(&snap, std::slice::from_ref(p), &group("", 1));
        alone.extend(nodes_of(&ds));
    }
    assert_eq!(with_memo, alone);
}

#[test]
fn placed_members_are_in_the_snapshot_index_for_later_pods() {
    use crate::state::label_selector::{LabelSelector, SelectorOp, SelectorRequirement};
    let mut pods = members("a", 2, 100, "g");
    for p in &mut pods {
        p.labels = Labels::from_pairs([("app", "trainer")]);
    }
    let snap = snapshot(&[("n1", "", 4000)], &pods);
    let ds = place(&snap, &pods, &group("", 2));
    assert!(ds.iter().all(|d| d.code == Code::Success), "{ds:?}");
    let selector = LabelSelector::All(Box::new([SelectorRequirement {
        key: sym("app"),
        op: SelectorOp::In(Box::new([sym("trainer")])),
    }]));
    let data = snap.lock();
    let found: usize = data
        .index
        .candidates(&[sym("default")], &selector)
        .expect("an In requirement is indexed")
        .iter()
        .map(|pods| pods.len())
        .sum();
    assert_eq!(
        found, 2,
        "affinity and spread of later pods count the members"
    );
}

#[test]
fn extended_resources_dra_serves_do_not_prune_domains() {
    use crate::state::cluster::ClusterState;
    use crate::state::dra::fixtures::{gpu_and_nic_classes, gpu_node_slice};
    use crate::state::kind::Kind;
    let event = |t: &str, obj: &str| format!(r#"{{"type":"{t}","object":{obj}}}"#).into_bytes();
    let mut s = ClusterState::new(&["podium"]);
    for c in gpu_and_nic_classes() {
        s.apply_event(Kind::DeviceClass, &event("ADDED", &c))
            .unwrap();
    }
    // The GPU class serves nvidia.com/gpu: no node's allocatable lists it.
    let class = r#"{"metadata":{"name":"gpu.example.com","creationTimestamp":"2026-01-01T00:00:00Z"},
        "spec":{"selectors":[{"cel":{"expression":"device.driver == 'gpu.example.com'"}}],
                "extendedResourceName":"nvidia.com/gpu"}}"#;
    s.apply_event(Kind::DeviceClass, &event("MODIFIED", class))
        .unwrap();
    for (n, block) in [("n0", "b1"), ("n1", "b1")] {
        let node = format!(
            r#"{{"metadata":{{"name":"{n}","uid":"uid-{n}","resourceVersion":"1",
                "labels":{{"topology.kubernetes.io/block":"{block}"}}}},
                "status":{{"allocatable":{{"cpu":"64","memory":"256Gi","pods":"110"}}}}}}"#
        );
        s.apply_event(Kind::Node, &event("ADDED", &node)).unwrap();
        s.apply_event(
            Kind::ResourceSlice,
            &event("ADDED", &gpu_node_slice(n, 8, 4)),
        )
        .unwrap();
    }
    let mut uids = Vec::new();
    for i in 0..2 {
        let pod = format!(
            r#"{{"metadata":{{"name":"m{i}","namespace":"ns","uid":"m{i}","resourceVersion":"2",
                "labels":{{"scheduling.x-k8s.io/pod-group":"g"}}}},
                "spec":{{"schedulerName":"podium","containers":[{{"name":"train",
                  "resources":{{"requests":{{"cpu":"1","nvidia.com/gpu":"4"}},"limits":{{"nvidia.com/gpu":"4"}}}}}}]}},
                "status":{{"phase":"Pending"}}}}"#
        );
        s.apply_event(Kind::Pod, &event("ADDED", &pod)).unwrap();
        uids.push(format!("m{i}"));
    }
    let g = parse_pod_group(
        br#"{"metadata":{"name":"g","namespace":"ns",
            "annotations":{"podium.dev/topology-level":"topology.kubernetes.io/block"}},
            "spec":{"minMember":2}}"#,
    )
    .expect("a PodGroup");
    let profile = Profile::from_json(
        br#"{"schedulerName":"podium","parallelism":1,
             "filters":["NodeUnschedulable","NodeResourcesFit","DynamicResources"],
             "scores":{"NodeResourcesFit":1}}"#,
    )
    .expect("valid profile");
    let job = [g.name];
    let gang = Gang {
        group: &g,
        job_groups: &job,
        extension: None,
    };
    let ds = schedule_gang(&s.snapshot(), &uids, &profile, &gang);
    assert!(ds.iter().all(|d| d.code == Code::Success), "{ds:?}");
}

#[test]
fn a_nominated_member_placed_is_no_longer_held_on_the_snapshot() {
    // g0 was nominated to n1 (an earlier preemption); the gang places it there. A later batch
    // on the same snapshot must count it once on n1, as after its assume, not also held.
    let mut pods = members("g", 1, 1000, "g");
    pods[0].priority = 100;
    pods[0].priority_set = true;
    pods[0].nominated_node = Some(sym("n1"));
    let low = with_requests(pod("low"), 1000, 0);
    let mut pending = pods.clone();
    pending.push(low.clone());
    let nominated: PendingPods = [(pods[0].uid.clone(), Arc::new(pods[0].clone()))]
        .into_iter()
        .collect();
    let snap = snapshot(&[("n1", "", 2000)], &pending).with_preemption_objects(
        crate::state::priority::PriorityClasses::default(),
        crate::state::disruption::Budgets::default(),
        nominated,
    );
    assert_eq!(nodes_of(&place(&snap, &pods, &group("", 1))), vec!["n1"]);
    let ds = crate::cycle::schedule_batch(&snap, &[low.uid.to_string()], &profile(), None);
    assert_eq!(
        (ds[0].node.as_deref(), ds[0].message.as_str()),
        (Some("n1"), ""),
        "g0 counted once on n1"
    );
}

/// A gang's snapshot with `nominee` (not a member) pending and nominated to its node, as after
/// a preemption made room for it there.
fn with_nominee(nodes: &[(&str, &str, i64)], gang: &[PodRecord], nominee: &PodRecord) -> Snapshot {
    let mut pending = gang.to_vec();
    pending.push(nominee.clone());
    let nominated: PendingPods = [(nominee.uid.clone(), Arc::new(nominee.clone()))]
        .into_iter()
        .collect();
    snapshot(nodes, &pending).with_preemption_objects(
        crate::state::priority::PriorityClasses::default(),
        crate::state::disruption::Budgets::default(),
        nominated,
    )
}

fn prioritized(mut p: PodRecord, priority: i32) -> PodRecord {
    p.priority = priority;
    p.priority_set = true;
    p
}

fn nominee(name: &str, cpu: i64, priority: i32, node: &str) -> PodRecord {
    let mut p = prioritized(with_requests(pod(name), cpu, 0), priority);
    p.nominated_node = Some(sym(node));
    p
}

fn gang_of(n: usize, cpu: i64, priority: i32) -> Vec<PodRecord> {
    members("g", n, cpu, "g")
        .into_iter()
        .map(|p| prioritized(p, priority))
        .collect()
}

#[test]
fn a_node_held_for_a_nominee_goes_to_no_gang_of_lower_or_equal_priority() {
    // kube filters each member with the nominated pods of at least its priority on their
    // nodes (RunFilterPluginsWithNominatedPods): n1's room is the nominee's.
    let high = nominee("high", 2000, 100, "n1");
    for priority in [0, 100] {
        let pods = gang_of(2, 1000, priority);
        let snap = with_nominee(&[("n1", "", 2000), ("n2", "", 2000)], &pods, &high);
        let ds = place(&snap, &pods, &group("", 2));
        assert_eq!(
            nodes_of(&ds),
            vec!["n2", "n2"],
            "priority {priority}: {ds:?}"
        );
        let n1 = &snap.nodes_for_test()[0];
        assert!(
            n1.pods.is_empty(),
            "the hold is not written to the snapshot"
        );
    }
}

#[test]
fn a_gang_that_fits_only_in_held_room_waits_and_says_so() {
    let high = nominee("high", 2000, 100, "n1");
    let pods = gang_of(3, 1000, 0);
    let snap = with_nominee(&[("n1", "", 2000), ("n2", "", 2000)], &pods, &high);
    let ds = place(&snap, &pods, &group("", 3));
    assert!(nodes_of(&ds).is_empty(), "{ds:?}");
    assert!(ds.iter().all(|d| d.code == Code::Unschedulable));
    // Two members fit n2; the third is refused n1 for the hold alone, and told so.
    assert_eq!(
        ds[0].message,
        "PodGroup default/g: the 3 pod(s) do not all fit at once; closest: 2/3, then pod g2: \
         0/2 nodes are available: 1 Insufficient cpu, 1 node(s) were reserved for nominated pods."
    );
    assert!(snap.nodes_for_test().iter().all(|n| n.pods.is_empty()));
    assert_eq!(snap.lock().pending.len(), 4);
}

#[test]
fn a_gang_above_the_nominees_priority_may_take_its_room() {
    // Nominees of lower priority are not held for a pod (kube): the gang may preempt them too.
    let high = nominee("high", 2000, 100, "n1");
    let pods = gang_of(3, 1000, 200);
    let snap = with_nominee(&[("n1", "", 2000), ("n2", "", 2000)], &pods, &high);
    let ds = place(&snap, &pods, &group("", 3));
    assert!(ds.iter().all(|d| d.code == Code::Success), "{ds:?}");
    assert_eq!(nodes_of(&ds).len(), 3);
}

#[test]
fn a_member_nominated_to_a_node_is_not_held_against_its_gang() {
    // g0 holds n1 for itself; the gang's other members may use that room alongside it (and it
    // is placed with them, not held and placed both).
    let mut pods = gang_of(3, 1000, 100);
    pods[0].nominated_node = Some(sym("n1"));
    let nominated: PendingPods = [(pods[0].uid.clone(), Arc::new(pods[0].clone()))]
        .into_iter()
        .collect();
    let snap = snapshot(&[("n1", "", 2000), ("n2", "", 1000)], &pods).with_preemption_objects(
        crate::state::priority::PriorityClasses::default(),
        crate::state::disruption::Budgets::default(),
        nominated,
    );
    let ds = place(&snap, &pods, &group("", 3));
    assert!(ds.iter().all(|d| d.code == Code::Success), "{ds:?}");
    let on_n1 = nodes_of(&ds).iter().filter(|n| *n == "n1").count();
    assert_eq!(on_n1, 2, "{ds:?}");
}

#[test]
fn a_rack_whose_room_is_held_is_tried_and_passed_over() {
    // Both racks have 2000m free by their totals (pruning counts held room as free); the
    // first by name is held for the nominee, so its trial fails and the gang lands in r2.
    let high = nominee("high", 2000, 100, "n1");
    let pods = gang_of(2, 1000, 0);
    let snap = with_nominee(
        &[("n1", "r1", 2000), ("n2", "r2", 1000), ("n3", "r2", 1000)],
        &pods,
        &high,
    );
    let ds = place(&snap, &pods, &group(r#""podium.dev/rack":"required""#, 2));
    let mut got = nodes_of(&ds);
    got.sort();
    assert_eq!(got, vec!["n2", "n3"], "{ds:?}");
}

#[test]
fn a_gang_beside_a_hold_writes_only_its_members_to_the_snapshot() {
    // n1 has room for both the nominee and the gang: the gang lands there, and the snapshot
    // counts its members only (the nominee is pending, not placed), so the nominee still fits.
    let high = nominee("high", 2000, 100, "n1");
    let pods = gang_of(2, 1000, 0);
    let snap = with_nominee(&[("n1", "", 4000)], &pods, &high);
    assert_eq!(
        nodes_of(&place(&snap, &pods, &group("", 2))),
        vec!["n1", "n1"]
    );
    let n1 = &snap.nodes_for_test()[0];
    assert_eq!((n1.pods.len(), n1.requested.milli_cpu), (2, 2000));
    let ds = crate::cycle::schedule_batch(&snap, &[high.uid.to_string()], &profile(), None);
    assert_eq!(ds[0].node.as_deref(), Some("n1"), "{ds:?}");
}

/// Places the gang of two `pods` beside `high`, nominated to n1 (rack r1, the most room), with
/// InterPodAffinity on, and wants it in r2 (n2): the nominee's labels or terms keep it out of r1.
/// Returns the snapshot after the commit.
fn placed_in_r2_beside(high: &PodRecord, pods: &[PodRecord]) -> Snapshot {
    let snap = with_nominee(&[("n1", "r1", 8000), ("n2", "r2", 4000)], pods, high);
    let profile = Profile::from_json(
        br#"{"schedulerName":"podium","parallelism":2,
            "filters":["NodeUnschedulable","NodeResourcesFit","InterPodAffinity"],
            "scores":{"NodeResourcesFit":1}}"#,
    )
    .expect("valid profile");
    let g = group("", 2);
    let job = [g.name];
    let gang = Gang {
        group: &g,
        job_groups: &job,
        extension: None,
    };
    let ds = schedule_gang(&snap, &uids(pods), &profile, &gang);
    assert_eq!(nodes_of(&ds), vec!["n2", "n2"], "{ds:?}");
    snap
}

#[test]
fn a_held_nominee_counts_for_the_members_affinity_and_leaves_with_the_commit() {
    // kube adds the nominated pods to the node before filtering (addNominatedPods): the
    // members' required anti-affinity to app=x keeps them out of r1, though r1 has the most
    // room. The snapshot's pod index keeps no trace of the nominee after the commit: it is
    // pending, not placed.
    // No requests: the members would rather go to n1 (least allocated) but for its terms.
    let mut high = nominee("high", 0, 100, "n1");
    high.labels = Labels::from_pairs([("app", "x")]);
    let pods: Vec<PodRecord> = gang_of(2, 100, 0)
        .into_iter()
        .map(|mut p| {
            p.pod_affinity = Some(Box::new(crate::state::pod_affinity::PodAffinity {
                required_anti_affinity: vec![crate::testutil::affinity_term(RACK, "app", "x")]
                    .into(),
                ..Default::default()
            }));
            p
        })
        .collect();
    let snap = placed_in_r2_beside(&high, &pods);
    let data = snap.lock();
    let app_x = crate::testutil::match_labels(&[("app", "x")]);
    let indexed: usize = data
        .index
        .candidates(&[sym("default")], &app_x)
        .map_or(0, |found| found.iter().map(|pods| pods.len()).sum());
    assert_eq!(indexed, 0, "the nominee is not in the snapshot's index");
}

#[test]
fn a_held_nominees_affinity_terms_count_for_the_gang_and_leave_with_the_commit() {
    // The nominee's required anti-affinity keeps pods labelled app=g out of its rack (kube
    // checks existing pods' terms, nominated ones included, against the incoming pod), though
    // r1 has the most room. The snapshot's pod index keeps no trace of it after the commit:
    // it is pending, not placed.
    // No requests: the members would rather go to n1 (least allocated) but for its terms.
    let mut high = nominee("high", 0, 100, "n1");
    high.labels = Labels::from_pairs([("app", "x")]);
    high.pod_affinity = Some(Box::new(crate::state::pod_affinity::PodAffinity {
        required_anti_affinity: vec![crate::testutil::affinity_term(RACK, "app", "g")].into(),
        ..Default::default()
    }));
    let pods: Vec<PodRecord> = gang_of(2, 100, 0)
        .into_iter()
        .map(|mut p| {
            p.labels = Labels::from_pairs([("app", "g")]);
            p
        })
        .collect();
    let snap = placed_in_r2_beside(&high, &pods);
    assert!(
        !snap.lock().index.any_affinity_terms(),
        "the nominee is not in the snapshot's index"
    );
}

#[test]
fn a_gang_leaves_the_quota_held_for_a_nominee_of_its_priority_or_above() {
    // A preemption freed 1000m of default's quota (max 3000m) for `high`, still waiting on n1:
    // a gang of lower priority gets what is left, as CapacityScheduling counts nominated pods
    // at PreFilter; one above the nominee gets it all.
    let high = nominee("high", 1000, 100, "n1");
    let profile = Profile::from_json(
        br#"{"schedulerName":"podium","parallelism":2,
            "filters":["NodeUnschedulable","NodeResourcesFit","CapacityScheduling"],
            "scores":{"NodeResourcesFit":1}}"#,
    )
    .expect("valid profile");
    let quota = crate::state::quota::parse_quota(
        br#"{"metadata":{"name":"quota","namespace":"default","uid":"q"},
            "spec":{"min":{"cpu":"3"},"max":{"cpu":"3"}}}"#,
    )
    .expect("a quota");
    for (priority, fits) in [(0, false), (200, true)] {
        let pods = gang_of(3, 1000, priority);
        let snap = with_nominee(&[("n1", "", 8000), ("n2", "", 8000)], &pods, &high);
        snap.lock().namespaces.quotas.set(quota.clone());
        let g = group("", 3);
        let job = [g.name];
        let gang = Gang {
            group: &g,
            job_groups: &job,
            extension: None,
        };
        let ds = schedule_gang(&snap, &uids(&pods), &profile, &gang);
        assert_eq!(
            nodes_of(&ds).len() == 3,
            fits,
            "priority {priority}: {ds:?}"
        );
        let used = snap.lock().namespaces.quotas.used(sym("default")).milli_cpu;
        assert_eq!(
            used,
            if fits { 3000 } else { 0 },
            "the nominee is not counted in"
        );
    }
}
