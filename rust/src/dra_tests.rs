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
    schedule_batch(&s.snapshot(), &[uid.to_owned()], &profile(), None)
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
fn a_placed_pod_carries_its_allocation_and_too_big_claims_wait() {
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
    assert_eq!(d.code, Code::Success, "{}", d.message);
    let node = d.node.clone().unwrap();
    // The decision carries the allocation PreBind writes: two GPUs and a NIC on one PCIe root
    // of the chosen node, bound to it.
    assert_eq!(d.claims.len(), 1);
    let r = &d.claims[0];
    assert_eq!(
        (r.name.as_str(), r.uid.as_str()),
        ("pod-gpus", "uid-ns-pod-gpus")
    );
    let a = r.allocation.as_ref().expect("allocated by podium");
    assert_eq!(a.node.map(crate::intern::resolve), Some(node.as_str()));
    assert_eq!(a.devices.len(), 3);
    let json = a.to_json();
    assert_eq!(
        json["nodeSelector"]["nodeSelectorTerms"][0]["matchFields"][0]["values"][0],
        node.as_str()
    );
    let results = json["devices"]["results"].as_array().unwrap();
    assert!(results.iter().all(|x| x["pool"] == node.as_str()), "{json}");
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

fn claim_pod(s: &mut ClusterState, uid: &str, claim: &str) {
    s.apply_event(
        Kind::Pod,
        &event(
            "ADDED",
            &pod_json(
                uid,
                &format!(r#"[{{"name":"g","resourceClaimName":"{claim}"}}]"#),
                "[]",
            ),
        ),
    )
    .unwrap();
}

fn claim(s: &mut ClusterState, name: &str, gpus: u32) {
    let json = claim_json(
        "ns",
        name,
        &format!(
            r#"[{{"name":"gpu","exactly":{{"deviceClassName":"gpu.example.com","count":{gpus}}}}}]"#
        ),
        "[]",
        "{}",
    );
    s.apply_event(Kind::ResourceClaim, &event("ADDED", &json))
        .unwrap();
}

#[test]
fn a_pod_naming_a_claim_not_in_the_cache_yet_waits_for_it() {
    let mut s = cluster(1);
    claim_pod(&mut s, "a", "c1");
    assert!(s.pending_pod("a").unwrap().claims_pending);
    assert_eq!(s.pending_naming_claim("ns", "c1"), ["a"]);
    assert!(s.pending_naming_claim("ns", "other").is_empty());
    assert!(s.pending_naming_claim("elsewhere", "c1").is_empty());
    claim(&mut s, "c1", 1);
    assert!(!s.pending_pod("a").unwrap().claims_pending);
}

fn keys(d: &crate::cycle::Decision) -> Vec<String> {
    d.claims
        .iter()
        .flat_map(|c| {
            c.allocation
                .iter()
                .flat_map(|a| a.devices.iter().map(|x| x.key.to_string()))
        })
        .collect()
}

#[test]
fn pods_of_one_batch_never_share_a_device() {
    // One node of 8 GPUs, three pods of 4: two fit, the third sees the devices taken.
    let mut s = cluster(1);
    for (pod, c) in [("a", "ca"), ("b", "cb"), ("c", "cc")] {
        claim(&mut s, c, 4);
        claim_pod(&mut s, pod, c);
    }
    let uids = ["a", "b", "c"].map(str::to_owned);
    let d = schedule_batch(&s.snapshot(), &uids, &profile(), None);
    assert_eq!(d[0].code, Code::Success, "{}", d[0].message);
    assert_eq!(d[1].code, Code::Success, "{}", d[1].message);
    let (a, b) = (keys(&d[0]), keys(&d[1]));
    assert_eq!((a.len(), b.len()), (4, 4));
    assert!(a.iter().all(|k| !b.contains(k)), "{a:?} {b:?}");
    assert_eq!(d[2].node, None);
    assert!(
        d[2].message.contains("cannot allocate all claims"),
        "{}",
        d[2].message
    );
}

#[test]
fn a_claim_shared_in_one_batch_is_allocated_once_and_its_pods_follow_it() {
    let mut s = cluster(4);
    claim(&mut s, "shared", 2);
    for pod in ["s1", "s2", "s3"] {
        claim_pod(&mut s, pod, "shared");
    }
    let uids = ["s1", "s2", "s3"].map(str::to_owned);
    let d = schedule_batch(&s.snapshot(), &uids, &profile(), None);
    assert!(
        d.iter().all(|x| x.code == Code::Success),
        "{:?}",
        d.iter().map(|x| &x.message).collect::<Vec<_>>()
    );
    assert!(d[0].claims[0].allocation.is_some());
    for later in &d[1..] {
        assert_eq!(later.node, d[0].node, "follows the claim's node");
        assert_eq!(later.claims.len(), 1, "still to be reserved for it");
        assert!(later.claims[0].allocation.is_none(), "allocated once");
    }
}

#[test]
fn the_cache_holds_an_assumed_allocation_until_written_or_forgotten() {
    let mut s = cluster(1);
    claim(&mut s, "c1", 8);
    claim(&mut s, "c2", 8);
    claim_pod(&mut s, "p1", "c1");
    claim_pod(&mut s, "p2", "c2");
    let d = decide(&s, "p1");
    assert_eq!(d.code, Code::Success, "{}", d.message);
    s.assume_with_volumes("p1", "node-0", None, None, &d.claims)
        .unwrap();
    // The next snapshot sees the 8 GPUs taken.
    let other = decide(&s, "p2");
    assert_eq!(other.node, None, "{}", other.message);
    // Assuming the same allocation twice is refused (the claim shows allocated now).
    let err = s
        .assume_with_volumes("p2", "node-0", None, None, &d.claims)
        .unwrap_err();
    assert!(err.to_string().contains("got allocated elsewhere"), "{err}");
    // A failed binding frees the devices.
    s.forget("p1");
    assert_eq!(decide(&s, "p2").code, Code::Success);
    // Written by PreBind: the allocation stands even when the pod is forgotten (or deleted),
    // until the informer shows the claim.
    s.assume_with_volumes("p1", "node-0", None, None, &d.claims)
        .unwrap();
    s.claim_written("p1", "uid-ns-c1");
    s.forget("p1");
    assert_eq!(decide(&s, "p2").node, None);
}

#[test]
fn preemption_counts_the_devices_its_victims_claims_free() {
    let mut s = cluster(1);
    // A low-priority pod runs on node-0 with all 8 GPUs, through a claim reserved for it.
    let results: Vec<String> = (0..8)
        .map(|i| {
            format!(
                r#"{{"request":"gpu","driver":"gpu.example.com","pool":"node-0","device":"gpu-{i}"}}"#
            )
        })
        .collect();
    let held = claim_json(
        "ns",
        "held",
        r#"[{"name":"gpu","exactly":{"deviceClassName":"gpu.example.com","count":8}}]"#,
        "[]",
        &format!(
            r#"{{"allocation":{{"devices":{{"results":[{}]}},
                "nodeSelector":{{"nodeSelectorTerms":[{{"matchFields":[{{"key":"metadata.name","operator":"In","values":["node-0"]}}]}}]}}}},
               "reservedFor":[{{"resource":"pods","name":"p-low","uid":"low"}}]}}"#,
            results.join(",")
        ),
    );
    s.apply_event(Kind::ResourceClaim, &event("ADDED", &held))
        .unwrap();
    let low = r#"{"metadata":{"name":"p-low","namespace":"ns","uid":"low","resourceVersion":"2"},
        "spec":{"schedulerName":"podium","nodeName":"node-0","priority":1,"containers":[{"name":"c"}],
          "resourceClaims":[{"name":"g","resourceClaimName":"held"}]},
        "status":{"phase":"Running"}}"#;
    s.apply_event(Kind::Pod, &event("ADDED", low)).unwrap();
    claim(&mut s, "wanted", 8);
    let high = r#"{"metadata":{"name":"p-high","namespace":"ns","uid":"high","resourceVersion":"3"},
        "spec":{"schedulerName":"podium","priority":100,"containers":[{"name":"c"}],
          "resourceClaims":[{"name":"g","resourceClaimName":"wanted"}]},
        "status":{"phase":"Pending"}}"#;
    s.apply_event(Kind::Pod, &event("ADDED", high)).unwrap();
    let d = decide(&s, "high");
    assert!(
        d.message.contains("cannot allocate all claims"),
        "{}",
        d.message
    );
    let out = crate::preemption::preempt(&s.snapshot(), &["high".to_owned()], &profile(), None);
    assert!(out.message.is_empty(), "{}", out.message);
    let victims: Vec<&str> = out.victims.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(victims, ["p-low"]);
    assert_eq!(out.nominations, [("high".to_owned(), "node-0".to_owned())]);
}

// --- Extended resources backed by DRA (DRAExtendedResource) --------------------------------

/// The GPU class, serving `nvidia.com/gpu` too.
fn gpu_class_serving_extended_resource(s: &mut ClusterState) {
    let class = r#"{"metadata":{"name":"gpu.example.com","creationTimestamp":"2026-01-01T00:00:00Z"},
        "spec":{"selectors":[{"cel":{"expression":"device.driver == 'gpu.example.com'"}}],
                "extendedResourceName":"nvidia.com/gpu"}}"#;
    s.apply_event(Kind::DeviceClass, &event("MODIFIED", class))
        .unwrap();
}

/// A pending pod asking `resource: count` in one container.
fn extended_pod(s: &mut ClusterState, uid: &str, resource: &str, count: u32) {
    let pod = format!(
        r#"{{"metadata":{{"name":"p-{uid}","namespace":"ns","uid":"{uid}","resourceVersion":"2"}},
            "spec":{{"schedulerName":"podium","containers":[{{"name":"train",
              "resources":{{"requests":{{"cpu":"1","{resource}":"{count}"}},"limits":{{"{resource}":"{count}"}}}}}}]}},
            "status":{{"phase":"Pending"}}}}"#
    );
    s.apply_event(Kind::Pod, &event("ADDED", &pod)).unwrap();
}

#[test]
fn extended_resources_backed_by_dra_land_where_no_device_plugin_serves_them() {
    let mut s = cluster(1);
    extended_pod(&mut s, "x", "nvidia.com/gpu", 2);
    // No class serves nvidia.com/gpu yet: the node has none of it.
    let d = decide(&s, "x");
    assert_eq!(d.node, None);
    assert!(
        d.message.contains("Insufficient nvidia.com/gpu"),
        "{}",
        d.message
    );
    gpu_class_serving_extended_resource(&mut s);
    let d = decide(&s, "x");
    assert_eq!(d.code, Code::Success, "{}", d.message);
    assert_eq!(d.node.as_deref(), Some("node-0"));
    assert_eq!(d.claims.len(), 1, "{:?}", d.claims);
    let c = &d.claims[0];
    let extended = c.extended.as_ref().expect("a claim to create");
    assert_eq!(c.name, "<extended-resources>");
    assert_eq!(c.uid, "<extended-resources>:x");
    assert_eq!(keys(&d).len(), 2);
    let json = extended.to_json();
    assert_eq!(
        json["spec"]["devices"]["requests"],
        serde_json::json!([{"name":"container-0-request-1","exactly":{
            "deviceClassName":"gpu.example.com","allocationMode":"ExactCount","count":2}}])
    );
    assert_eq!(
        json["requestMappings"],
        serde_json::json!([{"containerName":"train","resourceName":"nvidia.com/gpu",
            "requestName":"container-0-request-1"}])
    );
    // The implicit name of every class serves too.
    extended_pod(
        &mut s,
        "y",
        "deviceclass.resource.kubernetes.io/gpu.example.com",
        1,
    );
    let d = decide(&s, "y");
    assert_eq!(d.code, Code::Success, "{}", d.message);
    assert_eq!(keys(&d).len(), 1);
}

/// Pods asking a DRA-backed extended resource are of one shape: all but the first of a batch
/// are decided from its ranking, exactly as one pod a batch.
#[test]
fn pods_asking_an_extended_resource_dra_serves_share_rankings() {
    let mut s = cluster(4);
    gpu_class_serving_extended_resource(&mut s);
    let uids: Vec<String> = (0..14).map(|i| format!("e{i}")).collect();
    for uid in &uids {
        extended_pod(&mut s, uid, "nvidia.com/gpu", 2);
    }
    let batched = schedule_batch(&s.snapshot(), &uids, &profile(), None);
    let snapshot = s.snapshot();
    let alone: Vec<_> = uids
        .chunks(1)
        .flat_map(|uid| schedule_batch(&snapshot, uid, &profile(), None))
        .collect();
    for (b, a) in batched.iter().zip(&alone) {
        assert_eq!(b.code, Code::Success, "{}", b.message);
        assert_eq!(
            (&b.node, b.score, keys(b)),
            (&a.node, a.score, keys(a)),
            "pod {} (reused: {})",
            b.uid,
            b.reused
        );
    }
    assert!(
        batched.iter().filter(|d| d.reused).count() >= 10,
        "{:?}",
        batched.iter().map(|d| d.reused).collect::<Vec<_>>()
    );
}

/// NodeResourcesFit scores an extended resource DRA serves by the class's devices on each node
/// and those allocated, as kube-scheduler 1.37 does: MostAllocated over `nvidia.com/gpu` packs
/// the GPU pods node after node, LeastAllocated spreads them; a batch's later pods, decided
/// from the first one's ranking, see the devices the earlier ones took.
#[test]
fn node_resources_fit_scores_extended_resources_by_the_devices_dra_serves() {
    let mut s = cluster(3);
    gpu_class_serving_extended_resource(&mut s);
    let uids: Vec<String> = (0..8).map(|i| format!("g{i}")).collect();
    for uid in &uids {
        extended_pod(&mut s, uid, "nvidia.com/gpu", 2);
    }
    for (strategy, expected) in [("MostAllocated", [0, 4, 4]), ("LeastAllocated", [2, 3, 3])] {
        let profile = Profile::from_json(
            format!(
                r#"{{"schedulerName":"podium","parallelism":1,
                    "filters":["NodeUnschedulable","NodeResourcesFit","DynamicResources"],
                    "scores":{{"NodeResourcesFit":1}},
                    "fit":{{"strategy":"{strategy}","resources":[{{"name":"nvidia.com/gpu","weight":1}}]}}}}"#
            )
            .as_bytes(),
        )
        .expect("valid profile");
        let decisions = schedule_batch(&s.snapshot(), &uids, &profile, None);
        let mut per_node = [0usize; 3];
        for d in &decisions {
            assert_eq!(d.code, Code::Success, "{}", d.message);
            let node = d.node.as_deref().expect("placed");
            per_node[node.trim_start_matches("node-").parse::<usize>().unwrap()] += 1;
        }
        per_node.sort_unstable();
        assert_eq!(per_node, expected, "{strategy}");
        assert!(
            decisions.iter().any(|d| d.reused),
            "{strategy}: later pods reuse the ranking"
        );
    }
}

#[test]
fn a_device_plugin_serves_the_resource_where_the_node_has_it() {
    let mut s = cluster(0);
    gpu_class_serving_extended_resource(&mut s);
    let node = r#"{"metadata":{"name":"plugin-node","uid":"uid-plugin-node","resourceVersion":"1"},
        "status":{"allocatable":{"cpu":"64","memory":"256Gi","pods":"110","nvidia.com/gpu":"1"}}}"#;
    s.apply_event(Kind::Node, &event("ADDED", node)).unwrap();
    extended_pod(&mut s, "x", "nvidia.com/gpu", 1);
    let d = decide(&s, "x");
    assert_eq!(d.code, Code::Success, "{}", d.message);
    assert!(d.claims.is_empty(), "no claim: the device plugin's");
    extended_pod(&mut s, "two", "nvidia.com/gpu", 2);
    let d = decide(&s, "two");
    assert_eq!(d.node, None);
    assert!(
        d.message.contains("Insufficient nvidia.com/gpu"),
        "counted against allocatable: {}",
        d.message
    );
}

#[test]
fn pods_of_one_batch_share_no_device_through_extended_resources() {
    let mut s = cluster(1);
    gpu_class_serving_extended_resource(&mut s);
    let uids: Vec<String> = (0..5).map(|i| format!("e{i}")).collect();
    for u in &uids {
        extended_pod(&mut s, u, "nvidia.com/gpu", 2);
    }
    let d = schedule_batch(&s.snapshot(), &uids, &profile(), None);
    let mut seen: Vec<String> = Vec::new();
    for x in &d[..4] {
        assert_eq!(x.code, Code::Success, "{}", x.message);
        for k in keys(x) {
            assert!(!seen.contains(&k), "{k} twice");
            seen.push(k);
        }
    }
    assert_eq!(d[4].node, None);
    assert!(
        d[4].message.contains("cannot allocate all claims"),
        "{}",
        d[4].message
    );
}

#[test]
fn an_extended_claim_is_assumed_until_created_and_written_or_forgotten() {
    let mut s = cluster(1);
    gpu_class_serving_extended_resource(&mut s);
    extended_pod(&mut s, "a", "nvidia.com/gpu", 8);
    extended_pod(&mut s, "b", "nvidia.com/gpu", 8);
    let d = decide(&s, "a");
    assert_eq!(d.code, Code::Success, "{}", d.message);
    s.assume_with_volumes("a", "node-0", None, None, &d.claims)
        .unwrap();
    assert_eq!(decide(&s, "b").node, None, "the 8 GPUs are taken");
    // PreBind created it: the informer's unallocated version does not free the devices.
    s.extended_claim_created("a", "<extended-resources>:x-not-this", "ignored", "u0");
    s.extended_claim_created(
        "a",
        "<extended-resources>:a",
        "p-a-extended-resources-k2x9z",
        "uid-real",
    );
    let created = r#"{"metadata":{"namespace":"ns","name":"p-a-extended-resources-k2x9z","uid":"uid-real",
        "annotations":{"resource.kubernetes.io/extended-resource-claim":"true"},
        "ownerReferences":[{"apiVersion":"v1","kind":"Pod","name":"p-a","uid":"a","controller":true}]},
        "spec":{"devices":{"requests":[{"name":"container-0-request-1","exactly":{"deviceClassName":"gpu.example.com","count":8}}]}},
        "status":{}}"#;
    s.apply_event(Kind::ResourceClaim, &event("ADDED", created))
        .unwrap();
    assert_eq!(decide(&s, "b").node, None, "still taken once created");
    // The status write failed: forgotten, the devices are free again (the claim shows
    // unallocated), and the claim left behind keeps its pod waiting until it is deleted.
    s.forget("a");
    assert_eq!(decide(&s, "b").code, Code::Success);
    let again = decide(&s, "a");
    assert_eq!(
        again.claims[0].extended.as_ref().unwrap().replaces,
        Some((
            "p-a-extended-resources-k2x9z".to_owned(),
            "uid-real".to_owned()
        )),
        "PreBind deletes the claim left behind first"
    );
    s.apply_event(Kind::ResourceClaim, &event("DELETED", created))
        .unwrap();
    assert_eq!(decide(&s, "a").code, Code::Success);
    // Forgotten before it was created: nothing is left of it.
    s.assume_with_volumes("a", "node-0", None, None, &d.claims)
        .unwrap();
    assert_eq!(decide(&s, "b").node, None);
    s.forget("a");
    assert_eq!(decide(&s, "b").code, Code::Success);
}

#[test]
fn a_claim_left_from_an_earlier_attempt_is_replaced_and_its_devices_stay_taken() {
    let mut s = cluster(1);
    gpu_class_serving_extended_resource(&mut s);
    extended_pod(&mut s, "a", "nvidia.com/gpu", 2);
    // Allocated to 7 of the 8 GPUs (a failed binding whose claim could not be deleted).
    let results: Vec<String> = (0..7)
        .map(|i| {
            format!(
                r#"{{"request":"container-0-request-1","driver":"gpu.example.com","pool":"node-0","device":"gpu-{i}"}}"#
            )
        })
        .collect();
    let stale = format!(
        r#"{{"metadata":{{"namespace":"ns","name":"p-a-extended-resources-old","uid":"uid-old",
        "annotations":{{"resource.kubernetes.io/extended-resource-claim":"true"}},
        "ownerReferences":[{{"apiVersion":"v1","kind":"Pod","name":"p-a","uid":"a","controller":true}}]}},
        "spec":{{"devices":{{"requests":[{{"name":"container-0-request-1","exactly":{{"deviceClassName":"gpu.example.com","count":7}}}}]}}}},
        "status":{{"allocation":{{"devices":{{"results":[{}]}}}}}}}}"#,
        results.join(",")
    );
    s.apply_event(Kind::ResourceClaim, &event("ADDED", &stale))
        .unwrap();
    // What the PostFilter deletes.
    assert_eq!(
        s.extended_claim_of("a"),
        Some((
            "p-a-extended-resources-old".to_owned(),
            "uid-old".to_owned()
        ))
    );
    assert_eq!(s.extended_claim_of("one"), None);
    let d = decide(&s, "a");
    assert_eq!(d.node, None, "one GPU left");
    assert!(
        d.message.contains("cannot allocate all claims"),
        "{}",
        d.message
    );
    extended_pod(&mut s, "one", "nvidia.com/gpu", 1);
    let d = decide(&s, "one");
    assert_eq!(d.code, Code::Success, "{}", d.message);
    assert_eq!(keys(&d), ["gpu.example.com/node-0/gpu-7"]);
    assert_eq!(d.claims[0].extended.as_ref().unwrap().replaces, None);
}

// --- Opportunistic batching of pods with claims ---------------------------------------------

/// A random cluster for `batched_claims_decide_as_one_pod_a_batch`: nodes of three device
/// layouts or none; pods each with a claim of its own (as from a template) of one of a few
/// shapes, in two namespaces, some naming a claim shared with others. Returns the pending uids.
fn random_claims_cluster(rng: &mut crate::testutil::Rng) -> (ClusterState, Vec<String>) {
    let mut s = ClusterState::new(&["podium"]);
    for c in gpu_and_nic_classes() {
        s.apply_event(Kind::DeviceClass, &event("ADDED", &c))
            .unwrap();
    }
    for i in 0..6 + rng.below(10) {
        let n = format!("node-{i}");
        s.apply_event(Kind::Node, &event("ADDED", &node_json(&n)))
            .unwrap();
        let (gpus, roots) = [(8, 4), (8, 4), (4, 2), (8, 2), (0, 0)][rng.below(5)];
        if gpus > 0 {
            for slice in [gpu_node_slice(&n, gpus, roots), nic_node_slice(&n, roots)] {
                s.apply_event(Kind::ResourceSlice, &event("ADDED", &slice))
                    .unwrap();
            }
        }
    }
    let gpus_only = |ns: &str, name: &str, gpus: usize| {
        claim_json(
            ns,
            name,
            &format!(
                r#"[{{"name":"gpu","exactly":{{"deviceClassName":"gpu.example.com","count":{gpus}}}}}]"#
            ),
            "[]",
            "{}",
        )
    };
    let mut uids = Vec::new();
    for i in 0..40 + rng.below(60) {
        let ns = ["ns", "other"][rng.below(2)];
        let (uid, shape) = (format!("p{i}"), rng.below(6));
        let name = if shape == 5 {
            // Shared: allocated by the first of its pods, which the others follow.
            let name = format!("shared-{}", rng.below(2));
            let claim = gpus_only(ns, &name, 2);
            s.apply_event(Kind::ResourceClaim, &event("ADDED", &claim))
                .unwrap();
            name
        } else {
            let name = format!("{uid}-gpus");
            let claim = match shape {
                0 | 1 => aligned_claim(ns, &name, 1),
                2 => aligned_claim(ns, &name, 2),
                3 => gpus_only(ns, &name, 3),
                _ => gpus_only(ns, &name, 8),
            };
            s.apply_event(Kind::ResourceClaim, &event("ADDED", &claim))
                .unwrap();
            name
        };
        let pod = format!(
            r#"{{"metadata":{{"name":"{uid}","namespace":"{ns}","uid":"{uid}","resourceVersion":"2",
                  "labels":{{"team":"t{}"}}}},
                "spec":{{"schedulerName":"podium","containers":[{{"name":"c"}}],
                  "resourceClaims":[{{"name":"gpus","resourceClaimTemplateName":"tpl"}}]}},
                "status":{{"phase":"Pending",
                  "resourceClaimStatuses":[{{"name":"gpus","resourceClaimName":"{name}"}}]}}}}"#,
            rng.below(3)
        );
        s.apply_event(Kind::Pod, &event("ADDED", &pod)).unwrap();
        uids.push(uid);
    }
    (s, uids)
}

/// Pods whose claims are of one shape are decided from what the first of them left (the
/// ranking, or the refusal), and exactly as when each pod is a batch of its own: the same node,
/// score, message and devices.
#[test]
fn batched_claims_decide_as_one_pod_a_batch() {
    let mut reused = 0;
    for seed in 1..=25u64 {
        let mut rng = crate::testutil::Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let (s, uids) = random_claims_cluster(&mut rng);
        let batched = schedule_batch(&s.snapshot(), &uids, &profile(), None);
        let snapshot = s.snapshot();
        let alone: Vec<_> = uids
            .chunks(1)
            .flat_map(|uid| schedule_batch(&snapshot, uid, &profile(), None))
            .collect();
        for (b, a) in batched.iter().zip(&alone) {
            assert!(
                !a.reused,
                "seed {seed}: a batch of one pod has nothing to reuse"
            );
            let summary = |d: &crate::cycle::Decision| {
                (d.code, d.node.clone(), d.score, d.message.clone(), keys(d))
            };
            assert_eq!(
                summary(b),
                summary(a),
                "seed {seed}: pod {} decided differently in the batch (reused: {})",
                b.uid,
                b.reused
            );
        }
        assert!(batched.iter().any(|d| d.node.is_some()), "seed {seed}");
        reused += batched.iter().filter(|d| d.reused).count();
    }
    assert!(reused > 500, "only {reused} decisions reused");
}

#[test]
fn slice_and_class_changes_reach_the_next_decision_of_a_warm_profile() {
    // One profile throughout, so its selector verdicts and fit answers are warm: each change of
    // a slice or a class must be seen by the very next decision, never an answer kept from
    // before it.
    let p = profile();
    let mut s = cluster(1);
    claim(&mut s, "c1", 4);
    claim_pod(&mut s, "a", "c1");
    let decide_warm = |s: &ClusterState| {
        schedule_batch(&s.snapshot(), &["a".to_owned()], &p, None)
            .pop()
            .unwrap()
    };
    let gpus = |count: usize, generation: u32| {
        gpu_node_slice("node-0", count, 4).replace(
            r#""generation":1"#,
            &format!(r#""generation":{generation}"#),
        )
    };
    let placed = |d: &crate::cycle::Decision| d.code == Code::Success && keys(d).len() == 4;
    let d = decide_warm(&s);
    assert!(placed(&d), "{}", d.message);
    // Republished with a newer generation and two GPUs removed from it.
    s.apply_event(Kind::ResourceSlice, &event("MODIFIED", &gpus(2, 2)))
        .unwrap();
    let d = decide_warm(&s);
    assert!(!placed(&d), "two GPUs left: {:?}", keys(&d));
    s.apply_event(Kind::ResourceSlice, &event("MODIFIED", &gpus(8, 3)))
        .unwrap();
    let d = decide_warm(&s);
    assert!(placed(&d), "{}", d.message);
    assert!(
        keys(&d)
            .iter()
            .all(|k| k.starts_with("gpu.example.com/node-0/gpu-")),
        "{:?}",
        keys(&d)
    );
    // The class's selector no longer matches these GPUs.
    let a100 = crate::state::dra::fixtures::class_json(
        "gpu.example.com",
        "device.driver == 'gpu.example.com' && device.attributes['gpu.example.com'].model == 'a100'",
    );
    s.apply_event(Kind::DeviceClass, &event("MODIFIED", &a100))
        .unwrap();
    let d = decide_warm(&s);
    assert!(!placed(&d), "no a100 here: {:?}", keys(&d));
    let [gpu_class, _] = gpu_and_nic_classes();
    s.apply_event(Kind::DeviceClass, &event("MODIFIED", &gpu_class))
        .unwrap();
    let d = decide_warm(&s);
    assert!(placed(&d), "{}", d.message);
    // The slice deleted: no GPU left.
    s.apply_event(Kind::ResourceSlice, &event("DELETED", &gpus(8, 3)))
        .unwrap();
    let d = decide_warm(&s);
    assert!(!placed(&d), "no slice: {:?}", keys(&d));
}
