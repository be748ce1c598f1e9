//! DynamicResources in a real scheduling cycle: objects through the cache's watch path, a batch on a
//! snapshot, the decision's reasons.

use crate::cycle::schedule_batch;
use crate::framework::code::Code;
use crate::runtime::profile::Profile;
use crate::state::cluster::ClusterState;
use crate::state::dra::fixtures::{
    aligned_claim, claim_json, gpu_and_nic_classes, gpu_node_slice, nic_node_slice,
};
use crate::state::kind::Kind;

fn event(t: &str, obj: &str) -> Vec<u8> {
    format!(r#"{{"type":"{t}","object":{obj}}}"#).into_bytes()
}

fn node_json(name: &str) -> String {
    format!(
        r#"{{"metadata":{{"name":"{name}","uid":"uid-{name}","resourceVersion":"1"}},
            "status":{{"allocatable":{{"cpu":"64","memory":"256Gi","pods":"110"}}}}}}"#
    )
}

/// A pending podium pod whose `spec.resourceClaims` are `claims` (JSON array), with `status`.
fn pod_json(uid: &str, claims: &str, statuses: &str) -> String {
    format!(
        r#"{{"metadata":{{"name":"p-{uid}","namespace":"ns","uid":"{uid}","resourceVersion":"2"}},
            "spec":{{"schedulerName":"podium","containers":[{{"name":"c"}}],"resourceClaims":{claims}}},
            "status":{{"phase":"Pending","resourceClaimStatuses":{statuses}}}}}"#
    )
}

fn profile() -> Profile {
    Profile::from_json(
        br#"{"schedulerName":"podium","parallelism":1,
             "filters":["NodeUnschedulable","NodeResourcesFit","DynamicResources"],
             "scores":{"NodeResourcesFit":1,"DynamicResources":2}}"#,
    )
    .expect("valid profile")
}

fn cluster(nodes: usize) -> ClusterState {
    let mut s = ClusterState::new(&["podium"]);
    for c in gpu_and_nic_classes() {
        s.apply_event(Kind::DeviceClass, &event("ADDED", &c))
            .unwrap();
    }
    for i in 0..nodes {
        let n = format!("node-{i}");
        s.apply_event(Kind::Node, &event("ADDED", &node_json(&n)))
            .unwrap();
        s.apply_event(
            Kind::ResourceSlice,
            &event("ADDED", &gpu_node_slice(&n, 8, 4)),
        )
        .unwrap();
        s.apply_event(Kind::ResourceSlice, &event("ADDED", &nic_node_slice(&n, 4)))
            .unwrap();
    }
    s
}

fn decide(s: &ClusterState, uid: &str) -> crate::cycle::Decision {
    schedule_batch(&s.snapshot(), &[uid.to_owned()], &profile())
        .pop()
        .unwrap()
}

#[test]
fn pods_without_claims_are_not_concerned() {
    let mut s = cluster(1);
    s.apply_event(Kind::Pod, &event("ADDED", &pod_json("plain", "[]", "[]")))
        .unwrap();
    let d = decide(&s, "plain");
    assert_eq!(d.code, Code::Success, "{}", d.message);
}

#[test]
fn a_template_claim_not_created_yet_waits() {
    let mut s = cluster(1);
    s.apply_event(
        Kind::Pod,
        &event(
            "ADDED",
            &pod_json(
                "t",
                r#"[{"name":"gpus","resourceClaimTemplateName":"tpl"}]"#,
                "[]",
            ),
        ),
    )
    .unwrap();
    let d = decide(&s, "t");
    assert_eq!(d.code, Code::UnschedulableAndUnresolvable);
    assert!(
        d.message.contains("ResourceClaim not created yet"),
        "{}",
        d.message
    );
}

#[test]
fn a_missing_claim_is_named() {
    let mut s = cluster(1);
    s.apply_event(
        Kind::Pod,
        &event(
            "ADDED",
            &pod_json(
                "m",
                r#"[{"name":"gpus","resourceClaimName":"nowhere"}]"#,
                "[]",
            ),
        ),
    )
    .unwrap();
    let d = decide(&s, "m");
    assert!(d.message.contains("\"nowhere\" not found"), "{}", d.message);
}

#[test]
fn a_broken_selector_names_claim_and_request() {
    let mut s = cluster(1);
    let bad = claim_json(
        "ns",
        "bad",
        r#"[{"name":"gpu","exactly":{"deviceClassName":"gpu.example.com",
            "selectors":[{"cel":{"expression":"device.attributes['gpu.example.com'].model =="}}]}}]"#,
        "[]",
        "{}",
    );
    s.apply_event(Kind::ResourceClaim, &event("ADDED", &bad))
        .unwrap();
    s.apply_event(
        Kind::Pod,
        &event(
            "ADDED",
            &pod_json("b", r#"[{"name":"g","resourceClaimName":"bad"}]"#, "[]"),
        ),
    )
    .unwrap();
    let d = decide(&s, "b");
    assert_eq!(d.code, Code::UnschedulableAndUnresolvable);
    assert!(
        d.message.contains("claim ns/bad, request gpu"),
        "{}",
        d.message
    );
    assert!(d.message.contains("CEL compile error"), "{}", d.message);
}

#[test]
fn feasible_claims_are_never_bound_without_their_allocation() {
    let mut s = cluster(2);
    s.apply_event(
        Kind::ResourceClaim,
        &event("ADDED", &aligned_claim("ns", "pod-gpus", 2)),
    )
    .unwrap();
    let too_big = claim_json(
        "ns",
        "nine",
        r#"[{"name":"gpu","exactly":{"deviceClassName":"gpu.example.com","count":9}}]"#,
        "[]",
        "{}",
    );
    s.apply_event(Kind::ResourceClaim, &event("ADDED", &too_big))
        .unwrap();
    // Generated from a template: named in the pod's status.
    s.apply_event(
        Kind::Pod,
        &event(
            "ADDED",
            &pod_json(
                "fits",
                r#"[{"name":"gpus","resourceClaimTemplateName":"tpl"}]"#,
                r#"[{"name":"gpus","resourceClaimName":"pod-gpus"}]"#,
            ),
        ),
    )
    .unwrap();
    let d = decide(&s, "fits");
    assert_eq!(d.code, Code::UnschedulableAndUnresolvable);
    assert_eq!(d.node, None);
    assert!(
        d.message.contains("does not write claim allocations"),
        "{}",
        d.message
    );
    s.apply_event(
        Kind::Pod,
        &event(
            "ADDED",
            &pod_json("big", r#"[{"name":"g","resourceClaimName":"nine"}]"#, "[]"),
        ),
    )
    .unwrap();
    let d = decide(&s, "big");
    assert_eq!(d.node, None);
    assert!(
        d.message.contains("cannot allocate all claims"),
        "{}",
        d.message
    );
}

#[test]
fn claims_allocated_and_reserved_for_the_pod_go_where_their_devices_are() {
    let mut s = cluster(3);
    let allocated = claim_json(
        "ns",
        "done",
        r#"[{"name":"gpu","exactly":{"deviceClassName":"gpu.example.com"}}]"#,
        "[]",
        r#"{"allocation":{"devices":{"results":[{"request":"gpu","driver":"gpu.example.com","pool":"node-2","device":"gpu-0"}]},
           "nodeSelector":{"nodeSelectorTerms":[{"matchFields":[{"key":"metadata.name","operator":"In","values":["node-2"]}]}]}},
           "reservedFor":[{"resource":"pods","name":"p-r","uid":"r"}]}"#,
    );
    s.apply_event(Kind::ResourceClaim, &event("ADDED", &allocated))
        .unwrap();
    s.apply_event(
        Kind::Pod,
        &event(
            "ADDED",
            &pod_json("r", r#"[{"name":"g","resourceClaimName":"done"}]"#, "[]"),
        ),
    )
    .unwrap();
    let d = decide(&s, "r");
    assert_eq!(d.code, Code::Success, "{}", d.message);
    assert_eq!(d.node.as_deref(), Some("node-2"));
}

#[test]
fn explain_names_each_nodes_reason() {
    use crate::explain::{Target, explain};
    let mut s = cluster(2);
    let too_big = claim_json(
        "ns",
        "nine",
        r#"[{"name":"gpu","exactly":{"deviceClassName":"gpu.example.com","count":9}}]"#,
        "[]",
        "{}",
    );
    s.apply_event(Kind::ResourceClaim, &event("ADDED", &too_big))
        .unwrap();
    s.apply_event(
        Kind::Pod,
        &event(
            "ADDED",
            &pod_json("big", r#"[{"name":"g","resourceClaimName":"nine"}]"#, "[]"),
        ),
    )
    .unwrap();
    let why = explain(&s.snapshot(), Target::Pending("big"), &profile()).unwrap();
    assert_eq!(why.len(), 2);
    for reasons in why.values() {
        assert_eq!(reasons, &["cannot allocate all claims".to_owned()]);
    }
}
