//! CapacityScheduling in real scheduling cycles: quotas and pods through the cache's watch
//! path, batches on snapshots, gangs, and the decisions' messages.

use crate::cycle::schedule_batch;
use crate::framework::code::Code;
use crate::runtime::profile::Profile;
use crate::state::cluster::ClusterState;
use crate::state::kind::Kind;

fn event(t: &str, obj: &str) -> Vec<u8> {
    format!(r#"{{"type":"{t}","object":{obj}}}"#).into_bytes()
}

fn profile() -> Profile {
    Profile::from_json(
        br#"{"schedulerName":"podium","parallelism":1,
             "filters":["NodeResourcesFit","CapacityScheduling"],
             "scores":{"NodeResourcesFit":1}}"#,
    )
    .expect("valid profile")
}

/// `nodes` nodes of 8 GPUs; quotas (namespace, min GPUs, max GPUs).
fn cluster(nodes: usize, quotas: &[(&str, u32, u32)]) -> ClusterState {
    let mut s = ClusterState::new(&["podium"]);
    for i in 0..nodes {
        let node = format!(
            r#"{{"metadata":{{"name":"n{i}","uid":"n{i}","resourceVersion":"1"}},
                "status":{{"allocatable":{{"cpu":"64","memory":"256Gi","pods":"110","nvidia.com/gpu":"8"}}}}}}"#
        );
        s.apply_event(Kind::Node, &event("ADDED", &node)).unwrap();
    }
    for (ns, min, max) in quotas {
        let q = format!(
            r#"{{"metadata":{{"name":"quota","namespace":"{ns}","uid":"q-{ns}"}},
                "spec":{{"min":{{"nvidia.com/gpu":"{min}"}},"max":{{"nvidia.com/gpu":"{max}"}}}}}}"#
        );
        let change = s
            .apply_event(Kind::ElasticQuota, &event("ADDED", &q))
            .unwrap();
        assert_eq!(change.error, None);
    }
    s
}

/// A pending (or, with `node`, bound) pod of `ns` asking `gpus` GPUs.
fn pod(s: &mut ClusterState, ns: &str, uid: &str, gpus: u32, node: Option<&str>) {
    prioritized_pod(s, ns, uid, gpus, node, 0);
}

/// As `pod`, of `priority`.
fn prioritized_pod(
    s: &mut ClusterState,
    ns: &str,
    uid: &str,
    gpus: u32,
    node: Option<&str>,
    priority: i32,
) {
    let node = node.map_or(String::new(), |n| format!(r#","nodeName":"{n}""#));
    let phase = if node.is_empty() {
        "Pending"
    } else {
        "Running"
    };
    let json = format!(
        r#"{{"metadata":{{"name":"{uid}","namespace":"{ns}","uid":"{uid}","resourceVersion":"2"}},
            "spec":{{"schedulerName":"podium","priority":{priority}{node},"containers":[{{"name":"c",
              "resources":{{"requests":{{"nvidia.com/gpu":"{gpus}"}},"limits":{{"nvidia.com/gpu":"{gpus}"}}}}}}]}},
            "status":{{"phase":"{phase}"}}}}"#
    );
    s.apply_event(Kind::Pod, &event("ADDED", &json)).unwrap();
}

fn decide(s: &ClusterState, uids: &[&str]) -> Vec<crate::cycle::Decision> {
    let uids: Vec<String> = uids.iter().map(|u| (*u).to_owned()).collect();
    schedule_batch(&s.snapshot(), &uids, &profile(), None)
}

#[test]
fn a_batch_stops_at_the_quota_max_and_says_so() {
    let mut s = cluster(2, &[("team-a", 3, 3)]);
    for uid in ["a1", "a2", "a3", "a4"] {
        pod(&mut s, "team-a", uid, 1, None);
    }
    let d = decide(&s, &["a1", "a2", "a3", "a4"]);
    let placed = d.iter().filter(|x| x.node.is_some()).count();
    assert_eq!(
        placed,
        3,
        "{:?}",
        d.iter().map(|x| &x.message).collect::<Vec<_>>()
    );
    assert_eq!(d[3].code, Code::Unschedulable);
    assert!(
        d[3].message.contains(
            "quota team-a/quota: would exceed max nvidia.com/gpu (3/3 used, 1 requested)"
        ),
        "{}",
        d[3].message
    );
}

#[test]
fn bound_and_assumed_pods_count_and_finished_ones_free_their_quota() {
    let mut s = cluster(2, &[("team-a", 4, 4)]);
    pod(&mut s, "team-a", "running", 3, Some("n0"));
    pod(&mut s, "team-a", "p1", 1, None);
    pod(&mut s, "team-a", "p2", 1, None);
    assert_eq!(decide(&s, &["p1"])[0].code, Code::Success);
    s.assume("p1", "n1", None).unwrap();
    let d = decide(&s, &["p2"]);
    assert!(
        d[0].message.contains("would exceed max"),
        "{}",
        d[0].message
    );
    s.forget("p1");
    assert_eq!(
        decide(&s, &["p2"])[0].code,
        Code::Success,
        "forgotten: free again"
    );
    // The running pod finishes: its 3 GPUs are free in the quota.
    let done = r#"{"metadata":{"name":"running","namespace":"team-a","uid":"running","resourceVersion":"3"},
        "spec":{"schedulerName":"podium","nodeName":"n0","containers":[{"name":"c",
          "resources":{"requests":{"nvidia.com/gpu":"3"},"limits":{"nvidia.com/gpu":"3"}}}]},
        "status":{"phase":"Succeeded"}}"#;
    s.apply_event(Kind::Pod, &event("MODIFIED", done)).unwrap();
    s.assume("p1", "n1", None).unwrap();
    assert_eq!(decide(&s, &["p2"])[0].code, Code::Success);
}

#[test]
fn a_team_borrows_only_what_the_others_leave_unused() {
    // Two teams of min 8 / max 16, on 24 GPUs: the mins, not the nodes, are the limit.
    let mut s = cluster(3, &[("team-a", 8, 16), ("team-b", 8, 16)]);
    for i in 0..12 {
        pod(&mut s, "team-a", &format!("a{i}"), 1, None);
    }
    let uids: Vec<String> = (0..12).map(|i| format!("a{i}")).collect();
    let refs: Vec<&str> = uids.iter().map(String::as_str).collect();
    let d = decide(&s, &refs);
    assert!(
        d.iter().all(|x| x.code == Code::Success),
        "team b uses nothing: a borrows 4"
    );
    for (i, uid) in refs.iter().enumerate() {
        s.assume(uid, if i < 8 { "n0" } else { "n1" }, None)
            .unwrap();
    }
    pod(&mut s, "team-b", "b0", 4, None);
    // Within its own min, b is admitted even though a borrowed; beyond it, b would borrow
    // from a, which lends nothing (a already borrows).
    pod(&mut s, "team-b", "b1", 4, None);
    pod(&mut s, "team-b", "b2", 5, None);
    assert_eq!(
        decide(&s, &["b0"])[0].code,
        Code::Success,
        "b within its min"
    );
    s.assume("b0", "n2", None).unwrap();
    assert_eq!(decide(&s, &["b1"])[0].code, Code::Success);
    let d = decide(&s, &["b2"]);
    assert!(
        d[0].message.contains(
            "quota team-b/quota: would borrow nvidia.com/gpu beyond what other quotas leave unused (16/16"
        ),
        "{}",
        d[0].message
    );
}

#[test]
fn namespaces_without_a_quota_are_not_limited() {
    let mut s = cluster(1, &[("team-a", 0, 0)]);
    pod(&mut s, "elsewhere", "e", 8, None);
    assert_eq!(decide(&s, &["e"])[0].code, Code::Success);
}

fn reclaim(s: &ClusterState, uid: &str) -> crate::preemption::Outcome {
    crate::preemption::preempt(&s.snapshot(), &[uid.to_owned()], &profile(), None)
}

/// Team a (min 8) fills both nodes (16 GPUs): 8 of its pods are borrowed.
fn a_fills_the_cluster() -> ClusterState {
    let mut s = cluster(2, &[("team-a", 8, 16), ("team-b", 8, 16)]);
    for i in 0..16 {
        let node = if i < 8 { "n0" } else { "n1" };
        pod(&mut s, "team-a", &format!("a{i:02}"), 1, Some(node));
    }
    s
}

#[test]
fn a_team_within_its_min_reclaims_exactly_what_was_borrowed() {
    let mut s = a_fills_the_cluster();
    // Same priority as a's pods: only reclaim makes them victims.
    pod(&mut s, "team-b", "b0", 4, None);
    assert!(decide(&s, &["b0"])[0].node.is_none(), "the nodes are full");
    let out = reclaim(&s, "b0");
    assert!(out.message.is_empty(), "{}", out.message);
    assert_eq!(out.victims.len(), 4, "{:?}", out.victims);
    assert!(out.victims.iter().all(|v| v.namespace == "team-a"));
}

#[test]
fn reclaim_never_takes_a_team_below_its_min_and_a_borrower_cannot_reclaim() {
    let mut s = a_fills_the_cluster();
    // b asking its whole min (8) and more than a borrowed is beyond b's min: no reclaim at
    // equal priority.
    pod(&mut s, "team-b", "b-big", 9, None);
    let out = reclaim(&s, "b-big");
    assert!(out.victims.is_empty(), "{:?}", out.victims);
    // b at its min already: its next pod would borrow, and borrowers reclaim nothing.
    for i in 0..8 {
        pod(&mut s, "team-b", &format!("b{i}"), 1, None);
        let out = reclaim(&s, &format!("b{i}"));
        assert_eq!(out.victims.len(), 1, "{}", out.message);
        // Carried out: the victim goes, b's pod takes its place.
        let victim = &out.victims[0];
        let gone = format!(
            r#"{{"metadata":{{"name":"{0}","namespace":"team-a","uid":"{0}","resourceVersion":"9"}},
                "spec":{{"schedulerName":"podium","nodeName":"{1}","containers":[{{"name":"c"}}]}},
                "status":{{"phase":"Running"}}}}"#,
            victim.uid, victim.node
        );
        s.apply_event(Kind::Pod, &event("DELETED", &gone)).unwrap();
        s.assume(&format!("b{i}"), &victim.node, None).unwrap();
    }
    // a is back at its min: none of its pods is borrowed any more.
    pod(&mut s, "team-b", "b-more", 1, None);
    let out = reclaim(&s, "b-more");
    assert!(out.victims.is_empty(), "{:?}", out.victims);
}

/// Adds a quota of `ns` (GPU `min`, `max` 32) under `parent`.
fn team(s: &mut ClusterState, ns: &str, min: u32, parent: Option<&str>) {
    let annotations = parent.map_or(String::new(), |p| {
        format!(r#","annotations":{{"podium.dev/parent":"{p}"}}"#)
    });
    let q = format!(
        r#"{{"metadata":{{"name":"quota","namespace":"{ns}","uid":"q-{ns}"{annotations}}},
            "spec":{{"min":{{"nvidia.com/gpu":"{min}"}},"max":{{"nvidia.com/gpu":"32"}}}}}}"#
    );
    let change = s
        .apply_event(Kind::ElasticQuota, &event("ADDED", &q))
        .unwrap();
    assert_eq!(change.error, None);
}

#[test]
fn reclaim_takes_from_a_sibling_before_another_department() {
    // Two departments of 8 GPUs, two teams of 4 in each, on 16 GPUs. a1 and b1 each run 8:
    // each borrows its sibling's 4, and each department is within its own 8.
    let mut s = cluster(2, &[]);
    for dept in ["dept-a", "dept-b"] {
        team(&mut s, dept, 8, None);
        for t in ["1", "2"] {
            team(&mut s, &format!("{dept}-{t}"), 4, Some(dept));
        }
    }
    for i in 0..8 {
        pod(&mut s, "dept-a-1", &format!("a{i}"), 1, Some("n0"));
        pod(&mut s, "dept-b-1", &format!("b{i}"), 1, Some("n1"));
    }
    // b2 asks its own min: it takes back what its sibling borrowed, not dept-a's pods.
    pod(&mut s, "dept-b-2", "b2-0", 4, None);
    let out = reclaim(&s, "b2-0");
    assert!(out.message.is_empty(), "{}", out.message);
    assert_eq!(out.victims.len(), 4, "{:?}", out.victims);
    assert!(
        out.victims.iter().all(|v| v.namespace == "dept-b-1"),
        "{:?}",
        out.victims
    );
}

#[test]
fn a_department_beyond_its_guarantee_is_reclaimed_from_by_another() {
    // dept-a's one team runs 12 of 16 GPUs: dept-a (min 8) borrowed 4 of dept-b's 8.
    let mut s = cluster(2, &[]);
    team(&mut s, "dept-a", 8, None);
    team(&mut s, "dept-a-1", 8, Some("dept-a"));
    team(&mut s, "dept-b", 8, None);
    team(&mut s, "dept-b-1", 8, Some("dept-b"));
    for i in 0..12 {
        let node = if i < 8 { "n0" } else { "n1" };
        pod(&mut s, "dept-a-1", &format!("a{i:02}"), 1, Some(node));
    }
    for i in 0..4 {
        pod(&mut s, "dept-b-1", &format!("b{i}"), 1, Some("n1"));
    }
    pod(&mut s, "dept-b-1", "b-next", 4, None);
    let out = reclaim(&s, "b-next");
    assert!(out.message.is_empty(), "{}", out.message);
    assert_eq!(out.victims.len(), 4, "{:?}", out.victims);
    assert!(out.victims.iter().all(|v| v.namespace == "dept-a-1"));
    // dept-a's team asking more borrows nothing: dept-b's guarantee is in use.
    pod(&mut s, "dept-a-1", "a-more", 1, None);
    let d = decide(&s, &["a-more"]);
    assert!(
        d[0].message
            .contains("quota dept-a-1/quota: would borrow nvidia.com/gpu"),
        "{}",
        d[0].message
    );
}

#[test]
fn pods_waiting_on_their_nominated_nodes_count_in_their_quota() {
    // b (min 8, max 8) already had 8 pods nominated by earlier preemptions, their victims
    // still going: a 9th pod of b is beyond b's max, and must not evict a 9th pod of a.
    let mut s = cluster(2, &[("team-a", 8, 16), ("team-b", 8, 8)]);
    for i in 0..16 {
        let node = if i < 8 { "n0" } else { "n1" };
        pod(&mut s, "team-a", &format!("a{i:02}"), 1, Some(node));
    }
    for i in 0..8 {
        let uid = format!("b{i}");
        pod(&mut s, "team-b", &uid, 1, None);
        s.nominate(&uid, Some(if i < 4 { "n0" } else { "n1" }))
            .unwrap();
    }
    pod(&mut s, "team-b", "b-next", 1, None);
    let out = reclaim(&s, "b-next");
    assert!(out.victims.is_empty(), "{:?}", out.victims);
    assert!(
        out.message
            .contains("quota team-b/quota: would exceed max nvidia.com/gpu (8/8 used"),
        "{}",
        out.message
    );
    // A nominee itself still reclaims (its own request is not counted twice; the node also
    // holds room for the other nominees, hence more than one victim here).
    let out = reclaim(&s, "b0");
    assert!(
        !out.victims.is_empty() && out.victims.iter().all(|v| v.namespace == "team-a"),
        "{}",
        out.message
    );
}

#[test]
fn a_nominee_placed_in_the_batch_counts_once_in_its_quota_when_the_snapshot_preempts() {
    // b (min 2, max 2): b0, nominated to n0, is placed by the batch; b1 finds no room. On the
    // same snapshot (PostFilter after the batch), b uses 1 of its 2: b1 may reclaim from a,
    // which borrows 7. Counted placed and again as held, b0 would put b at its max.
    let mut s = cluster(2, &[("team-a", 8, 16), ("team-b", 2, 2)]);
    for i in 0..15 {
        let node = if i < 7 { "n0" } else { "n1" };
        pod(&mut s, "team-a", &format!("a{i:02}"), 1, Some(node));
    }
    pod(&mut s, "team-b", "b0", 1, None);
    pod(&mut s, "team-b", "b1", 1, None);
    s.nominate("b0", Some("n0")).unwrap();
    let snap = s.snapshot();
    let uids = ["b0".to_owned(), "b1".to_owned()];
    let d = schedule_batch(&snap, &uids, &profile(), None);
    assert_eq!(d[0].node.as_deref(), Some("n0"));
    assert_eq!(d[1].code, Code::Unschedulable, "{}", d[1].message);
    let out = crate::preemption::preempt(&snap, &uids[1..], &profile(), None);
    assert_eq!(out.victims.len(), 1, "{}", out.message);

    s.assume("b0", "n0", None).unwrap();
    assert_eq!(reclaim(&s, "b1").victims.len(), 1, "as after the assume");
}

#[test]
fn a_pod_the_snapshot_preempted_for_counts_in_its_quota_for_the_next_preemption() {
    // b (min 1, max 1): b0's preemption nominates it, a PostFilter later on the same snapshot
    // must count it in b's quota as CapacityScheduling counts nominated pods, and evict
    // nothing for b1, which b's max refuses.
    let mut s = cluster(2, &[("team-a", 8, 16), ("team-b", 1, 1)]);
    for i in 0..16 {
        let node = if i < 8 { "n0" } else { "n1" };
        pod(&mut s, "team-a", &format!("a{i:02}"), 1, Some(node));
    }
    pod(&mut s, "team-b", "b0", 1, None);
    pod(&mut s, "team-b", "b1", 1, None);
    let snap = s.snapshot();
    let first = crate::preemption::preempt(&snap, &["b0".to_owned()], &profile(), None);
    assert_eq!(first.victims.len(), 1, "{}", first.message);
    let out = crate::preemption::preempt(&snap, &["b1".to_owned()], &profile(), None);
    assert!(out.victims.is_empty(), "{:?}", out.victims);
    assert!(
        out.message
            .contains("quota team-b/quota: would exceed max nvidia.com/gpu (1/1 used"),
        "{}",
        out.message
    );
}

#[test]
fn a_nominee_the_snapshot_preempted_for_again_counts_once_in_its_quota() {
    // b (min 2, max 2): b0, nominated by an earlier preemption whose victim has gone (a took the
    // room back), preempts again. Counted where the plan puts it, not also where its old
    // nomination held it: b uses 1 of 2, and b1 may still reclaim on the same snapshot.
    let mut s = cluster(2, &[("team-a", 8, 16), ("team-b", 2, 2)]);
    for i in 0..16 {
        let node = if i < 8 { "n0" } else { "n1" };
        pod(&mut s, "team-a", &format!("a{i:02}"), 1, Some(node));
    }
    pod(&mut s, "team-b", "b0", 1, None);
    pod(&mut s, "team-b", "b1", 1, None);
    s.nominate("b0", Some("n0")).unwrap();
    let snap = s.snapshot();
    let first = crate::preemption::preempt(&snap, &["b0".to_owned()], &profile(), None);
    assert_eq!(first.victims.len(), 1, "{}", first.message);
    let out = crate::preemption::preempt(&snap, &["b1".to_owned()], &profile(), None);
    assert_eq!(out.victims.len(), 1, "{}", out.message);
}

#[test]
fn a_batch_leaves_the_quota_held_for_a_nominee_of_its_priority_or_above() {
    // A preemption made room in team-a's quota (max 2) for `nom`, still waiting on n0: the
    // batch's pods of its priority get what is left (1), one of higher priority gets it all,
    // as CapacityScheduling counts nominated pods at PreFilter.
    let mut s = cluster(2, &[("team-a", 2, 2)]);
    pod(&mut s, "team-a", "nom", 1, None);
    s.nominate("nom", Some("n0")).unwrap();
    pod(&mut s, "team-a", "a1", 1, None);
    pod(&mut s, "team-a", "a2", 1, None);
    let d = decide(&s, &["a1", "a2"]);
    assert!(d[0].node.is_some(), "{}", d[0].message);
    assert_eq!(d[1].node, None);
    assert!(
        d[1].message.contains(
            "quota team-a/quota: would exceed max nvidia.com/gpu (2/2 used, 1 requested)"
        ),
        "{}",
        d[1].message
    );
    prioritized_pod(&mut s, "team-a", "urgent", 2, None, 100);
    let d = decide(&s, &["urgent"]);
    assert!(d[0].node.is_some(), "{}", d[0].message);
}

#[test]
fn a_nominee_placed_in_the_batch_counts_once_in_its_quota_for_the_pods_after_it() {
    let mut s = cluster(2, &[("team-a", 2, 2)]);
    pod(&mut s, "team-a", "nom", 1, None);
    s.nominate("nom", Some("n0")).unwrap();
    pod(&mut s, "team-a", "a1", 1, None);
    pod(&mut s, "team-a", "a2", 1, None);
    let d = decide(&s, &["nom", "a1", "a2"]);
    let placed: Vec<bool> = d.iter().map(|x| x.node.is_some()).collect();
    assert_eq!(
        placed,
        [true, true, false],
        "{:?}",
        d.iter().map(|x| &x.message).collect::<Vec<_>>()
    );
    assert!(
        d[2].message.contains("(2/2 used, 1 requested)"),
        "{}",
        d[2].message
    );
}
