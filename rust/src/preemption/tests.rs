//! Preemption on a `ClusterState` fed with apiserver JSON, as the scheduler sees it.

use super::*;
use crate::cycle::schedule_batch;
use crate::framework::code::Code;
use crate::state::cluster::ClusterState;
use crate::state::kind::Kind;

fn profile() -> Profile {
    Profile::from_json(
        br#"{"schedulerName":"podium","parallelism":2,
            "filters":["NodeUnschedulable","NodeName","TaintToleration","NodeAffinity","NodePorts","NodeResourcesFit"],
            "scores":{"NodeResourcesFit":1}}"#,
    )
    .expect("valid profile")
}

struct Pod<'a> {
    name: &'a str,
    node: Option<&'a str>,
    cpu: &'a str,
    priority: i32,
    labels: &'a [(&'a str, &'a str)],
    extra_spec: &'a str,
    extra_meta: &'a str,
    started: &'a str,
}

impl<'a> Pod<'a> {
    fn new(name: &'a str, node: Option<&'a str>, cpu: &'a str, priority: i32) -> Self {
        Self {
            name,
            node,
            cpu,
            priority,
            labels: &[],
            extra_spec: "",
            extra_meta: "",
            started: "2026-01-01T00:00:00Z",
        }
    }

    fn json(&self) -> String {
        let node = self
            .node
            .map_or(String::new(), |n| format!(r#""nodeName":"{n}","#));
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!(r#""{k}":"{v}""#))
            .collect();
        format!(
            r#"{{"metadata":{{"name":"{n}","namespace":"ns","uid":"{n}","labels":{{{labels}}}{meta}}},
                "spec":{{{node}"schedulerName":"podium","priority":{p}{spec},
                         "containers":[{{"resources":{{"requests":{{"cpu":"{cpu}"}}}}}}]}},
                "status":{{"phase":"{phase}","startTime":"{start}"}}}}"#,
            n = self.name,
            labels = labels.join(","),
            meta = self.extra_meta,
            p = self.priority,
            spec = self.extra_spec,
            cpu = self.cpu,
            phase = if self.node.is_some() {
                "Running"
            } else {
                "Pending"
            },
            start = self.started,
        )
    }
}

fn cluster(nodes: &[&str]) -> ClusterState {
    let mut state = ClusterState::new(&["podium"]);
    for n in nodes {
        let json = format!(
            r#"{{"metadata":{{"name":"{n}","uid":"{n}","labels":{{"name":"{n}"}}}},"status":{{"allocatable":{{"cpu":"4","memory":"8Gi","pods":"110"}}}}}}"#
        );
        add(&mut state, Kind::Node, &json);
    }
    state
}

fn add(state: &mut ClusterState, kind: Kind, object: &str) {
    let line = format!(r#"{{"type":"ADDED","object":{object}}}"#);
    let change = state.apply_event(kind, line.as_bytes()).expect("event");
    assert_eq!(change.error, None, "{object}");
}

fn put(state: &mut ClusterState, pod: &Pod<'_>) {
    add(state, Kind::Pod, &pod.json());
}

fn run(state: &ClusterState, uids: &[&str]) -> Outcome {
    let uids: Vec<String> = uids.iter().map(|u| (*u).to_owned()).collect();
    preempt(&state.snapshot(), &uids, &profile(), None)
}

fn victims(outcome: &Outcome) -> Vec<&str> {
    let mut names: Vec<&str> = outcome.victims.iter().map(|v| v.name.as_str()).collect();
    names.sort_unstable();
    names
}

fn nominated(outcome: &Outcome) -> Vec<&str> {
    outcome
        .nominations
        .iter()
        .map(|(_, n)| n.as_str())
        .collect()
}

#[test]
fn lowest_priority_fewest_victims() {
    let mut s = cluster(&["n1", "n2", "n3"]);
    put(&mut s, &Pod::new("a1", Some("n1"), "2", 10));
    put(&mut s, &Pod::new("a2", Some("n1"), "2", 10));
    put(&mut s, &Pod::new("b", Some("n2"), "4", 10));
    put(&mut s, &Pod::new("c", Some("n3"), "4", 20));
    put(&mut s, &Pod::new("hi", None, "4", 100));
    let out = run(&s, &["hi"]);
    assert_eq!(out.message, "");
    // n1: two victims (sum 20), n2: one of 10, n3: one of 20.
    assert_eq!((nominated(&out), victims(&out)), (vec!["n2"], vec!["b"]));
    assert_eq!(out.victims[0].node, "n2");
    assert_eq!(out.victims[0].priority, 10);
}

#[test]
fn reprieves_from_the_most_important_down() {
    let mut s = cluster(&["n1"]);
    put(&mut s, &Pod::new("keep", Some("n1"), "2", 5));
    put(&mut s, &Pod::new("mid", Some("n1"), "1", 3));
    put(&mut s, &Pod::new("low", Some("n1"), "1", 1));
    put(&mut s, &Pod::new("equal", None, "1", 10));
    put(&mut s, &Pod::new("hi", None, "2", 10));
    let out = run(&s, &["hi"]);
    assert_eq!(victims(&out), vec!["low", "mid"]);
}

#[test]
fn only_lower_priorities_and_only_where_it_helps() {
    let mut s = cluster(&["n1", "n2"]);
    put(&mut s, &Pod::new("same", Some("n1"), "4", 10));
    put(&mut s, &Pod::new("low", Some("n2"), "4", 1));
    let mut hi = Pod::new("hi", None, "4", 10);
    hi.extra_spec = r#","nodeSelector":{"name":"n1"}"#;
    put(&mut s, &hi);
    let out = run(&s, &["hi"]);
    assert!(out.nominations.is_empty() && out.victims.is_empty());
    assert!(out.eligible);
    assert_eq!(
        out.message,
        "preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling."
    );
}

#[test]
fn a_pod_larger_than_any_node_evicts_nobody() {
    let mut s = cluster(&["n1", "n2"]);
    put(&mut s, &Pod::new("low", Some("n1"), "4", 1));
    // 5 CPUs on nodes of 4: kube 1.37 judges every node unresolvable, victims or not.
    put(&mut s, &Pod::new("huge", None, "5", 100));
    let out = run(&s, &["huge"]);
    assert!(out.victims.is_empty());
    assert_eq!(
        out.message,
        "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
    );
    // Told its decision was unresolvable everywhere, preemption says the same without a search.
    assert_eq!(super::preempt_unresolvable(&s.snapshot(), "huge"), out);
    let mut never = Pod::new("never", None, "5", 100);
    never.extra_spec = r#","preemptionPolicy":"Never""#;
    put(&mut s, &never);
    let out = super::preempt_unresolvable(&s.snapshot(), "never");
    assert!(!out.eligible);
    assert_eq!(
        out.message,
        "preemption: not eligible due to preemptionPolicy=Never."
    );
}

#[test]
fn budgets_are_respected_when_another_choice_exists() {
    let mut s = cluster(&["n1", "n2"]);
    let mut guarded = Pod::new("guarded", Some("n1"), "4", 1);
    guarded.labels = &[("app", "db")];
    put(&mut s, &guarded);
    put(&mut s, &Pod::new("free", Some("n2"), "4", 5));
    add(
        &mut s,
        Kind::PodDisruptionBudget,
        r#"{"metadata":{"name":"db","namespace":"ns"},"spec":{"minAvailable":1,"selector":{"matchLabels":{"app":"db"}}},"status":{"disruptionsAllowed":0}}"#,
    );
    put(&mut s, &Pod::new("hi", None, "4", 100));
    let out = run(&s, &["hi"]);
    assert_eq!(
        (nominated(&out), victims(&out)),
        (vec!["n2"], vec!["free"]),
        "the budget outweighs the lower priority"
    );

    // No other choice: the budget is violated rather than the pod left pending.
    let mut s = cluster(&["n1"]);
    put(&mut s, &guarded);
    add(
        &mut s,
        Kind::PodDisruptionBudget,
        r#"{"metadata":{"name":"db","namespace":"ns"},"spec":{"selector":{"matchLabels":{"app":"db"}}}}"#,
    );
    put(&mut s, &Pod::new("hi", None, "4", 100));
    assert_eq!(victims(&run(&s, &["hi"])), vec!["guarded"]);
}

#[test]
fn a_budget_with_room_left_is_no_obstacle() {
    let mut s = cluster(&["n1", "n2"]);
    let mut guarded = Pod::new("guarded", Some("n1"), "4", 1);
    guarded.labels = &[("app", "db")];
    put(&mut s, &guarded);
    put(&mut s, &Pod::new("other", Some("n2"), "4", 5));
    add(
        &mut s,
        Kind::PodDisruptionBudget,
        r#"{"metadata":{"name":"db","namespace":"ns"},"spec":{"selector":{"matchLabels":{"app":"db"}}},"status":{"disruptionsAllowed":1}}"#,
    );
    put(&mut s, &Pod::new("hi", None, "4", 100));
    assert_eq!(victims(&run(&s, &["hi"])), vec!["guarded"]);
}

const GANG: &str = "scheduling.x-k8s.io/pod-group";

#[test]
fn a_victim_in_a_gang_takes_its_whole_gang() {
    let mut s = cluster(&["n1", "n2", "n3"]);
    for (name, node) in [("g-0", "n1"), ("g-1", "n2")] {
        let mut p = Pod::new(name, Some(node), "4", 1);
        p.labels = &[(GANG, "g")];
        put(&mut s, &p);
    }
    put(&mut s, &Pod::new("single", Some("n3"), "4", 5));
    put(&mut s, &Pod::new("hi", None, "4", 100));
    let out = run(&s, &["hi"]);
    assert_eq!(victims(&out), vec!["g-0", "g-1"], "never half a gang");
    assert!(matches!(nominated(&out)[..], ["n1" | "n2"]));
    assert!(
        out.victims
            .iter()
            .all(|v| v.pod_group.as_deref() == Some("g"))
    );
}

#[test]
fn a_gang_with_one_protected_member_is_not_a_victim() {
    let mut s = cluster(&["n1", "n2"]);
    let mut low = Pod::new("g-0", Some("n1"), "4", 1);
    low.labels = &[(GANG, "g")];
    put(&mut s, &low);
    let mut high = Pod::new("g-1", Some("n2"), "4", 500);
    high.labels = &[(GANG, "g")];
    put(&mut s, &high);
    put(&mut s, &Pod::new("hi", None, "4", 100));
    let out = run(&s, &["hi"]);
    assert!(out.victims.is_empty(), "{out:?}");
    assert!(
        out.message.contains("2 No preemption victims"),
        "{}",
        out.message
    );
}

#[test]
fn a_gang_preempts_whole_lower_gangs_as_one() {
    let mut s = cluster(&["n1", "n2", "n3", "n4"]);
    for (name, node, group, priority) in [
        ("a-0", "n1", "a", 1),
        ("a-1", "n2", "a", 1),
        ("b-0", "n3", "b", 2),
        ("b-1", "n4", "b", 2),
    ] {
        let mut p = Pod::new(name, Some(node), "4", priority);
        p.labels = match group {
            "a" => &[(GANG, "a")],
            _ => &[(GANG, "b")],
        };
        put(&mut s, &p);
    }
    for name in ["h-0", "h-1"] {
        let mut p = Pod::new(name, None, "4", 100);
        p.labels = &[(GANG, "h")];
        put(&mut s, &p);
    }
    let out = run(&s, &["h-0", "h-1"]);
    assert_eq!(
        victims(&out),
        vec!["a-0", "a-1"],
        "one whole gang, no part of b"
    );
    let mut nodes = nominated(&out);
    nodes.sort_unstable();
    assert_eq!(
        nodes,
        vec!["n1", "n2"],
        "the second member uses the room the first made"
    );
}

#[test]
fn a_set_gets_all_its_room_or_nothing() {
    let mut s = cluster(&["n1", "n2"]);
    put(&mut s, &Pod::new("low", Some("n1"), "4", 1));
    put(&mut s, &Pod::new("high", Some("n2"), "4", 1000));
    for name in ["h-0", "h-1"] {
        let mut p = Pod::new(name, None, "4", 100);
        p.labels = &[(GANG, "h")];
        put(&mut s, &p);
    }
    let out = run(&s, &["h-0", "h-1"]);
    assert!(
        out.victims.is_empty() && out.nominations.is_empty(),
        "{out:?}"
    );
    assert!(
        out.message.starts_with("preemption: 0/")
            && out
                .message
                .ends_with(" The 2 pods of the gang were planned together."),
        "{}",
        out.message
    );
}

#[test]
fn eligibility() {
    let mut s = cluster(&["n1"]);
    put(&mut s, &Pod::new("low", Some("n1"), "4", 1));
    let mut never = Pod::new("never", None, "4", 100);
    never.extra_spec = r#","preemptionPolicy":"Never""#;
    put(&mut s, &never);
    let out = run(&s, &["never"]);
    assert_eq!(
        out.message,
        "preemption: not eligible due to preemptionPolicy=Never."
    );
    assert!(!out.eligible);
    // The victims of the last preemption are still terminating on the nominated node.
    let mut going = Pod::new("going", Some("n1"), "1", 1);
    going.extra_meta = r#","deletionTimestamp":"2026-01-01T00:00:00Z""#;
    put(&mut s, &going);
    put(&mut s, &Pod::new("waiting", None, "4", 100));
    s.nominate("waiting", Some("n1")).unwrap();
    let out = run(&s, &["waiting"]);
    assert!(
        out.message == "preemption: not eligible due to a terminating pod on the nominated node."
    );
    assert!(!out.eligible, "the nomination must be kept");
    assert!(run(&s, &["ghost"]).message.contains("not pending"));
}

#[test]
fn priority_classes_decide_when_spec_priority_is_unset() {
    let mut s = cluster(&["n1"]);
    add(
        &mut s,
        Kind::PriorityClass,
        r#"{"metadata":{"name":"top"},"value":1000}"#,
    );
    let mut low = Pod::new("low", Some("n1"), "4", 0);
    low.extra_spec = "";
    put(&mut s, &low);
    // No spec.priority (admission off): the class gives 1000.
    let pod = r#"{"metadata":{"name":"hi","namespace":"ns","uid":"hi"},
        "spec":{"schedulerName":"podium","priorityClassName":"top",
                "containers":[{"resources":{"requests":{"cpu":"4"}}}]}}"#;
    add(&mut s, Kind::Pod, pod);
    assert_eq!(victims(&run(&s, &["hi"])), vec!["low"]);
}

#[test]
fn the_plan_holds_in_the_snapshot_and_the_nomination_in_later_cycles() {
    let mut s = cluster(&["n1"]);
    put(&mut s, &Pod::new("low", Some("n1"), "4", 1));
    put(&mut s, &Pod::new("hi", None, "4", 100));
    put(&mut s, &Pod::new("other", None, "4", 1));
    let snap = s.snapshot();
    let out = preempt(&snap, &["hi".to_owned()], &profile(), None);
    assert_eq!(victims(&out), vec!["low"]);
    let decisions = schedule_batch(&snap, &["other".to_owned()], &profile(), None);
    assert_eq!(
        decisions[0].code,
        Code::Unschedulable,
        "the room is the preemptor's"
    );

    // The victim is gone and the cache holds the node for the nominated pod.
    let line = format!(
        r#"{{"type":"DELETED","object":{}}}"#,
        Pod::new("low", Some("n1"), "4", 1).json()
    );
    s.apply_event(Kind::Pod, line.as_bytes()).unwrap();
    s.nominate("hi", Some("n1")).unwrap();
    assert_eq!(s.nominated_node("hi"), Some("n1"));
    let snap = s.snapshot();
    let decisions = schedule_batch(&snap, &["other".to_owned()], &profile(), None);
    assert_eq!(decisions[0].code, Code::Unschedulable, "held for hi");
    let decisions = schedule_batch(&snap, &["hi".to_owned()], &profile(), None);
    assert_eq!(decisions[0].node.as_deref(), Some("n1"));
    s.nominate("hi", None).unwrap();
    assert_eq!(s.nominated_node("hi"), None);
}

/// What a snapshot decides after placing a pod must be what a fresh snapshot decides once
/// the pod is assumed: kube drops a nomination once its pod is assumed, so a nominee placed
/// by one batch is not held on its node again by the next batch on the same snapshot.
#[test]
fn a_nominee_placed_in_a_batch_is_not_held_again_by_later_batches_on_the_snapshot() {
    let mut s = cluster(&["n1"]);
    put(&mut s, &Pod::new("hi", None, "2", 100));
    put(&mut s, &Pod::new("other", None, "2", 1));
    s.nominate("hi", Some("n1")).unwrap();
    let snap = s.snapshot();
    let placed = schedule_batch(&snap, &["hi".to_owned()], &profile(), None);
    assert_eq!(placed[0].node.as_deref(), Some("n1"));
    // n1: 2 of 4 CPUs taken by hi, placed; held for it as well, it would be full.
    let decisions = schedule_batch(&snap, &["other".to_owned()], &profile(), None);
    assert_eq!(
        (decisions[0].node.as_deref(), decisions[0].message.as_str()),
        (Some("n1"), ""),
        "hi counted once on n1"
    );

    s.assume("hi", "n1", None).unwrap();
    let decisions = schedule_batch(&s.snapshot(), &["other".to_owned()], &profile(), None);
    assert_eq!(
        decisions[0].node.as_deref(),
        Some("n1"),
        "as after the assume"
    );
}

#[test]
fn a_nominee_placed_elsewhere_no_longer_holds_its_nominated_node_on_the_snapshot() {
    let mut s = cluster(&["n1", "n2"]);
    // The victim on n1 is still going: hi lands on n2 rather than wait.
    put(&mut s, &Pod::new("going", Some("n1"), "3", 1));
    put(&mut s, &Pod::new("hi", None, "2", 100));
    let mut other = Pod::new("other", None, "1", 1);
    other.extra_spec = r#","nodeSelector":{"name":"n1"}"#;
    put(&mut s, &other);
    s.nominate("hi", Some("n1")).unwrap();
    let snap = s.snapshot();
    let placed = schedule_batch(&snap, &["hi".to_owned()], &profile(), None);
    assert_eq!(placed[0].node.as_deref(), Some("n2"));
    let decisions = schedule_batch(&snap, &["other".to_owned()], &profile(), None);
    assert_eq!(
        (decisions[0].node.as_deref(), decisions[0].message.as_str()),
        (Some("n1"), ""),
        "n1 is no longer held for hi"
    );
}

/// Nodes `(name, rack)` of 4 CPUs with the default rack label.
fn racked(nodes: &[(&str, &str)]) -> ClusterState {
    let mut state = ClusterState::new(&["podium"]);
    for (n, rack) in nodes {
        let json = format!(
            r#"{{"metadata":{{"name":"{n}","uid":"{n}","labels":{{"topology.kubernetes.io/rack":"{rack}"}}}},"status":{{"allocatable":{{"cpu":"4","memory":"8Gi","pods":"110"}}}}}}"#
        );
        add(&mut state, Kind::Node, &json);
    }
    state
}

fn rack_group(annotations: &str, min_member: u32) -> PodGroupRecord {
    let json = format!(
        r#"{{"metadata":{{"name":"h","namespace":"ns","annotations":{{{annotations}}}}},
            "spec":{{"minMember":{min_member}}}}}"#
    );
    crate::state::pod_group::parse_pod_group(json.as_bytes()).expect("a PodGroup")
}

fn run_gang(state: &ClusterState, uids: &[&str], group: &PodGroupRecord) -> Outcome {
    let uids: Vec<String> = uids.iter().map(|u| (*u).to_owned()).collect();
    preempt(&state.snapshot(), &uids, &profile(), Some(group))
}

fn gang_members(state: &mut ClusterState, names: &[&str], cpu: &str) {
    for name in names {
        let mut p = Pod::new(name, None, cpu, 100);
        p.labels = &[(GANG, "h")];
        put(state, &p);
    }
}

#[test]
fn a_gang_that_fits_without_victims_but_not_in_one_rack_preempts_nobody() {
    // Room for every member, but no rack holds 3 hosts: eviction cannot help, and a
    // nomination would only hold nodes and send the gang round again.
    let mut s = racked(&[("a1", "ra"), ("a2", "ra"), ("b1", "rb"), ("b2", "rb")]);
    put(&mut s, &Pod::new("low", Some("a1"), "1", 1));
    gang_members(&mut s, &["h-0", "h-1", "h-2"], "1");
    let group = rack_group(
        r#""podium.dev/rack":"required","podium.dev/distinct-hosts":"true""#,
        3,
    );
    let out = run_gang(&s, &["h-0", "h-1", "h-2"], &group);
    assert!(
        out.victims.is_empty() && out.nominations.is_empty(),
        "{out:?}"
    );
    assert!(
        out.message.contains("no node left to try"),
        "{}",
        out.message
    );
}

#[test]
fn a_gang_preempts_inside_one_rack_on_distinct_hosts() {
    // Rack ra is full of cheap pods, rack rb of dearer ones; without the rack rule the plan
    // would mix racks, and without distinct hosts it would stack members on one node.
    let mut s = racked(&[
        ("a1", "ra"),
        ("a2", "ra"),
        ("b1", "rb"),
        ("b2", "rb"),
        ("c1", "rc"),
    ]);
    for (name, node, priority) in [
        ("pa1", "a1", 5),
        ("pa2", "a2", 5),
        ("pb1", "b1", 1),
        ("pb2", "b2", 9),
        ("pc1", "c1", 1000),
    ] {
        put(&mut s, &Pod::new(name, Some(node), "4", priority));
    }
    gang_members(&mut s, &["h-0", "h-1"], "2");
    let group = rack_group(
        r#""podium.dev/rack":"required","podium.dev/distinct-hosts":"true""#,
        2,
    );
    let out = run_gang(&s, &["h-0", "h-1"], &group);
    assert_eq!(out.message, "");
    let mut nodes = nominated(&out);
    nodes.sort_unstable();
    // rb costs a victim of 9 and ra two of 5: kube's order puts the lower highest priority
    // first; rc has one host, held by a pod the gang may not evict.
    assert_eq!(
        (nodes, victims(&out)),
        (vec!["a1", "a2"], vec!["pa1", "pa2"])
    );

    // Without a rack rule or distinct hosts, one cheap victim makes room for both members.
    let loose = rack_group("", 2);
    let out = run_gang(&s, &["h-0", "h-1"], &loose);
    assert_eq!(
        (nominated(&out), victims(&out)),
        (vec!["b1", "b1"], vec!["pb1"])
    );
}

fn affinity_profile() -> Profile {
    Profile::from_json(
        br#"{"schedulerName":"podium","parallelism":2,
            "filters":["NodeResourcesFit","PodTopologySpread","InterPodAffinity"],
            "scores":{"NodeResourcesFit":1}}"#,
    )
    .expect("valid profile")
}

fn run_with(state: &ClusterState, uid: &str, profile: &Profile) -> Outcome {
    preempt(&state.snapshot(), &[uid.to_owned()], profile, None)
}

#[test]
fn evicting_the_pods_its_anti_affinity_refuses_makes_room() {
    // n1 has room, but a low-priority pod of app x that the incoming pod's anti-affinity
    // refuses; n2 has a pod of app x it may not evict. Only the eviction on n1 helps: the
    // PreFilter counts must see it gone (kube's RemovePod).
    let mut s = cluster(&["n1", "n2"]);
    let mut low = Pod::new("low", Some("n1"), "1", 1);
    low.labels = &[("app", "x")];
    put(&mut s, &low);
    let mut high = Pod::new("high", Some("n2"), "1", 1000);
    high.labels = &[("app", "x")];
    put(&mut s, &high);
    let mut hi = Pod::new("hi", None, "1", 100);
    hi.extra_spec = r#","affinity":{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[
        {"labelSelector":{"matchLabels":{"app":"x"}},"topologyKey":"name"}]}}"#;
    put(&mut s, &hi);
    let out = run_with(&s, "hi", &affinity_profile());
    assert_eq!(out.message, "");
    assert_eq!((nominated(&out), victims(&out)), (vec!["n1"], vec!["low"]));
}

#[test]
fn evicting_pods_that_skew_the_spread_makes_room() {
    // n1 holds two low-priority pods of app y, n2 is full with a pod it may not evict:
    // with maxSkew 1 over nodes, the pod fits n1 only once both are gone.
    let mut s = cluster(&["n1", "n2"]);
    for name in ["y-0", "y-1"] {
        let mut p = Pod::new(name, Some("n1"), "1", 1);
        p.labels = &[("app", "y")];
        put(&mut s, &p);
    }
    put(&mut s, &Pod::new("full", Some("n2"), "4", 1000));
    let mut hi = Pod::new("hi", None, "1", 100);
    hi.labels = &[("app", "y")];
    hi.extra_spec = r#","topologySpreadConstraints":[{"maxSkew":1,"topologyKey":"name",
        "whenUnsatisfiable":"DoNotSchedule","labelSelector":{"matchLabels":{"app":"y"}}}]"#;
    put(&mut s, &hi);
    let out = run_with(&s, "hi", &affinity_profile());
    assert_eq!(out.message, "");
    assert_eq!(
        (nominated(&out), victims(&out)),
        (vec!["n1"], vec!["y-0", "y-1"])
    );
}
