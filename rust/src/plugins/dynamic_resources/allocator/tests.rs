use super::*;
use crate::intern::resolve;
use crate::plugins::dynamic_resources::error::{CelFailure, SelectorSource};
use crate::plugins::dynamic_resources::score::PCIE_ROOT;
use crate::plugins::dynamic_resources::testing::{World, claim};
use crate::state::dra::device::AttrValue;
use crate::state::dra::fixtures::{
    aligned_claim, claim_json, class_json, gpu_and_nic_classes, gpu_node_slice, nic_node_slice,
};

fn fit(v: Verdict) -> Fit {
    match v {
        Verdict::Fit(f) => f,
        Verdict::Unfit(u) => panic!("expected a fit, got {u}"),
    }
}

fn unfit(v: Verdict) -> Unfit {
    match v {
        Verdict::Fit(f) => panic!("expected no fit, got {f:?}"),
        Verdict::Unfit(u) => u,
    }
}

fn names(f: &Fit) -> Vec<String> {
    fit_keys(f)
        .iter()
        .map(|k| resolve(k.device).to_owned())
        .collect()
}

fn root_of(w: &World, key: DeviceKey) -> AttrValue {
    let id = w.inv.id(&key).unwrap();
    w.inv
        .device(id)
        .attribute_named(QualifiedName::parse(PCIE_ROOT))
        .unwrap()
}

#[test]
fn gpus_and_nic_on_one_pcie_root() {
    let mut w = World::gpu_cluster(1);
    for round in 0..4 {
        let pod = w
            .prepare(&[claim(&aligned_claim("ns", &format!("c{round}"), 2))])
            .unwrap();
        let f = fit(w.allocate(&pod, "node-0").unwrap());
        let keys = fit_keys(&f);
        assert_eq!(keys.len(), 3);
        let root = root_of(&w, keys[0]);
        assert!(keys.iter().all(|k| root_of(&w, *k) == root), "{keys:?}");
        w.assume(&f);
    }
    // Four roots, each with two GPUs and one NIC: all taken.
    let pod = w.prepare(&[claim(&aligned_claim("ns", "c4", 1))]).unwrap();
    assert_eq!(
        unfit(w.allocate(&pod, "node-0").unwrap()),
        Unfit::CannotAllocate
    );
}

#[test]
fn packing_keeps_whole_roots_free() {
    let mut w = World::gpu_cluster(1);
    let gpu = |name: &str, selector: &str| {
        claim(&claim_json(
            "ns",
            name,
            &format!(
                r#"[{{"name":"gpu","exactly":{{"deviceClassName":"gpu.example.com",
                    "selectors":[{{"cel":{{"expression":"{selector}"}}}}]}}}}]"#
            ),
            "[]",
            "{}",
        ))
    };
    // Someone holds gpu-2, half of the second root.
    let held = fit(w
        .allocate(
            &w.prepare(&[gpu(
                "held",
                "device.attributes['gpu.example.com'].index == 2",
            )])
            .unwrap(),
            "node-0",
        )
        .unwrap());
    w.assume(&held);
    let one = w.prepare(&[gpu("one", "true")]).unwrap();
    // kube's first fit breaks the first root...
    w.opts.max_solutions = 1;
    let kube = fit(w.allocate(&one, "node-0").unwrap());
    assert_eq!(names(&kube), ["gpu-0"]);
    assert_eq!((kube.broken_roots, kube.stranded), (1, 2));
    // ...podium completes the broken one and strands nothing.
    w.opts = Options::default();
    let packed = fit(w.allocate(&one, "node-0").unwrap());
    assert_eq!(names(&packed), ["gpu-3"]);
    assert_eq!((packed.broken_roots, packed.stranded), (0, 0));
    assert!(
        packed.score > kube.score,
        "{} vs {}",
        packed.score,
        kube.score
    );
}

#[test]
fn kube_first_fit_with_one_solution() {
    let mut w = World::gpu_cluster(1);
    w.opts.max_solutions = 1;
    let pod = w.prepare(&[claim(&aligned_claim("ns", "c", 1))]).unwrap();
    let f = fit(w.allocate(&pod, "node-0").unwrap());
    assert_eq!(names(&f), ["gpu-0", "nic-0"]);
}

#[test]
fn all_mode_takes_every_matching_device_or_nothing() {
    let mut w = World::gpu_cluster(1);
    let all = claim(&claim_json(
        "ns",
        "all",
        r#"[{"name":"nics","exactly":{"deviceClassName":"nic.example.com","allocationMode":"All"}}]"#,
        "[]",
        "{}",
    ));
    let pod = w.prepare(std::slice::from_ref(&all)).unwrap();
    let f = fit(w.allocate(&pod, "node-0").unwrap());
    assert_eq!(names(&f), ["nic-0", "nic-1", "nic-2", "nic-3"]);
    let one_nic = claim(&claim_json(
        "ns",
        "one",
        r#"[{"name":"nic","exactly":{"deviceClassName":"nic.example.com"}}]"#,
        "[]",
        "{}",
    ));
    let f1 = fit(w
        .allocate(&w.prepare(&[one_nic]).unwrap(), "node-0")
        .unwrap());
    w.assume(&f1);
    assert_eq!(
        unfit(w.allocate(&pod, "node-0").unwrap()),
        Unfit::CannotAllocate
    );
}

#[test]
fn first_available_takes_the_first_subrequest_that_fits() {
    let mut w = World::gpu_cluster(1);
    let prio = |name: &str| {
        claim(&claim_json(
            "ns",
            name,
            r#"[{"name":"gpu","firstAvailable":[
                {"name":"eight","deviceClassName":"gpu.example.com","count":8},
                {"name":"two","deviceClassName":"gpu.example.com","count":2}]}]"#,
            "[]",
            "{}",
        ))
    };
    let f = fit(w
        .allocate(&w.prepare(&[prio("a")]).unwrap(), "node-0")
        .unwrap());
    assert_eq!(f.claims[0].devices.len(), 8);
    assert_eq!(resolve(f.claims[0].devices[0].request), "gpu/eight");
    let small = claim(&claim_json(
        "ns",
        "s",
        r#"[{"name":"gpu","exactly":{"deviceClassName":"gpu.example.com"}}]"#,
        "[]",
        "{}",
    ));
    let fs = fit(w.allocate(&w.prepare(&[small]).unwrap(), "node-0").unwrap());
    w.assume(&fs);
    let f = fit(w
        .allocate(&w.prepare(&[prio("b")]).unwrap(), "node-0")
        .unwrap());
    assert_eq!(f.claims[0].devices.len(), 2);
    assert_eq!(resolve(f.claims[0].devices[0].request), "gpu/two");
}

#[test]
fn all_claims_of_a_pod_are_allocated_together() {
    let mut w = World::gpu_cluster(1);
    let six = claim(&claim_json(
        "ns",
        "six",
        r#"[{"name":"gpu","exactly":{"deviceClassName":"gpu.example.com","count":6}}]"#,
        "[]",
        "{}",
    ));
    let three = claim(&claim_json(
        "ns",
        "three",
        r#"[{"name":"gpu","exactly":{"deviceClassName":"gpu.example.com","count":3}}]"#,
        "[]",
        "{}",
    ));
    let pod = w.prepare(&[six.clone(), three]).unwrap();
    assert_eq!(
        unfit(w.allocate(&pod, "node-0").unwrap()),
        Unfit::CannotAllocate
    );
    let two = claim(&claim_json(
        "ns",
        "two",
        r#"[{"name":"gpu","exactly":{"deviceClassName":"gpu.example.com","count":2}}]"#,
        "[]",
        "{}",
    ));
    let f = fit(w
        .allocate(&w.prepare(&[six, two]).unwrap(), "node-0")
        .unwrap());
    let mut keys = fit_keys(&f);
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 8, "no device in two claims");
    w.assume(&f);
}

#[test]
fn admin_access_does_not_consume() {
    let mut w = World::gpu_cluster(1);
    let eight = claim(&claim_json(
        "ns",
        "all8",
        r#"[{"name":"gpu","exactly":{"deviceClassName":"gpu.example.com","count":8}}]"#,
        "[]",
        "{}",
    ));
    let f = fit(w.allocate(&w.prepare(&[eight]).unwrap(), "node-0").unwrap());
    w.assume(&f);
    let admin = claim(&claim_json(
        "ns",
        "monitor",
        r#"[{"name":"gpu","exactly":{"deviceClassName":"gpu.example.com","allocationMode":"All","adminAccess":true}}]"#,
        "[]",
        "{}",
    ));
    let fa = fit(w.allocate(&w.prepare(&[admin]).unwrap(), "node-0").unwrap());
    assert_eq!(fa.claims[0].devices.len(), 8);
    assert!(fa.claims[0].devices.iter().all(|d| d.admin_access));
    w.assume(&fa);
    let other = claim(&claim_json(
        "ns",
        "nic",
        r#"[{"name":"nic","exactly":{"deviceClassName":"nic.example.com"}}]"#,
        "[]",
        "{}",
    ));
    fit(w.allocate(&w.prepare(&[other]).unwrap(), "node-0").unwrap());
}

#[test]
fn class_and_request_selectors_both_hold() {
    let slices = [gpu_node_slice("n", 4, 2), nic_node_slice("n", 2)];
    let classes = [
        class_json("gpu.example.com", "device.driver == 'gpu.example.com'"),
        class_json(
            "big-gpu",
            "device.driver == 'gpu.example.com' && device.capacity['gpu.example.com'].memory.isGreaterThan(quantity('40Gi'))",
        ),
    ];
    let w = World::new(&slices, &classes);
    let c = claim(&claim_json(
        "ns",
        "c",
        r#"[{"name":"gpu","exactly":{"deviceClassName":"big-gpu","count":2,
            "selectors":[{"cel":{"expression":"device.attributes['gpu.example.com'].index >= 2"}}]}}]"#,
        "[]",
        "{}",
    ));
    let f = fit(w.allocate(&w.prepare(&[c]).unwrap(), "n").unwrap());
    assert_eq!(names(&f), ["gpu-2", "gpu-3"]);
}

#[test]
fn selector_failures_name_claim_request_and_expression() {
    let w = World::gpu_cluster(1);
    let bad = claim(&claim_json(
        "ns",
        "broken",
        r#"[{"name":"gpu","exactly":{"deviceClassName":"gpu.example.com",
            "selectors":[{"cel":{"expression":"device.attributes['gpu.example.com'].model =="}}]}}]"#,
        "[]",
        "{}",
    ));
    let e = w.prepare(&[bad]).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("claim ns/broken"), "{text}");
    assert!(text.contains("request gpu"), "{text}");
    assert!(text.contains("model =="), "{text}");
    let runtime = claim(&claim_json(
        "ns",
        "rt",
        r#"[{"name":"gpu","exactly":{"deviceClassName":"gpu.example.com",
            "selectors":[{"cel":{"expression":"device.attributes['gpu.example.com'].nosuch == 1"}}]}}]"#,
        "[]",
        "{}",
    ));
    let pod = w.prepare(&[runtime]).unwrap();
    match w.allocate(&pod, "node-0").unwrap_err() {
        ClaimError::Selector {
            claim,
            request,
            origin,
            failure,
            ..
        } => {
            assert_eq!(claim, "ns/rt");
            assert_eq!(request, "gpu");
            assert_eq!(origin, SelectorSource::Request);
            assert_eq!(failure, CelFailure::Runtime);
        }
        other => panic!("{other}"),
    }
    let missing = claim(&claim_json(
        "ns",
        "m",
        r#"[{"name":"gpu","exactly":{"deviceClassName":"no-such-class"}}]"#,
        "[]",
        "{}",
    ));
    assert!(matches!(
        w.prepare(&[missing]),
        Err(ClaimError::ClassNotFound { .. })
    ));
}

#[test]
fn allocated_claims_stay_where_their_devices_are() {
    let w = World::gpu_cluster(2);
    let shared = claim(&claim_json(
        "ns",
        "shared",
        r#"[{"name":"gpu","exactly":{"deviceClassName":"gpu.example.com"}}]"#,
        "[]",
        r#"{"allocation":{"devices":{"results":[{"request":"gpu","driver":"gpu.example.com","pool":"node-1","device":"gpu-0"}]},
           "nodeSelector":{"nodeSelectorTerms":[{"matchFields":[{"key":"metadata.name","operator":"In","values":["node-1"]}]}]}},
           "reservedFor":[{"resource":"pods","name":"other","uid":"u"}]}"#,
    ));
    let pod = w.prepare(&[shared]).unwrap();
    assert!(matches!(
        unfit(w.allocate(&pod, "node-0").unwrap()),
        Unfit::ClaimNotAvailable { .. }
    ));
    let f = fit(w.allocate(&pod, "node-1").unwrap());
    assert!(f.claims.is_empty(), "nothing new to allocate");
}

#[test]
fn tainted_devices_need_tolerations() {
    let slice = r#"{"metadata":{"name":"s"},"spec":{"driver":"gpu.example.com","pool":{"name":"n","generation":1,"resourceSliceCount":1},
        "nodeName":"n","devices":[{"name":"gpu-0","taints":[{"key":"ecc","value":"bad","effect":"NoSchedule"}]}]}}"#;
    let w = World::new(&[slice.to_owned()], &gpu_and_nic_classes());
    let plain = claim(&claim_json(
        "ns",
        "p",
        r#"[{"name":"gpu","exactly":{"deviceClassName":"gpu.example.com"}}]"#,
        "[]",
        "{}",
    ));
    assert_eq!(
        unfit(w.allocate(&w.prepare(&[plain]).unwrap(), "n").unwrap()),
        Unfit::CannotAllocate
    );
    let tolerant = claim(&claim_json(
        "ns",
        "t",
        r#"[{"name":"gpu","exactly":{"deviceClassName":"gpu.example.com","tolerations":[{"key":"ecc","operator":"Exists"}]}}]"#,
        "[]",
        "{}",
    ));
    fit(w.allocate(&w.prepare(&[tolerant]).unwrap(), "n").unwrap());
}

#[test]
fn partitions_draw_on_shared_counters() {
    // One GPU with 80Gi, published as a whole device and as two 40Gi halves.
    let counters = r#"{"metadata":{"name":"c"},"spec":{"driver":"gpu.example.com","pool":{"name":"n","generation":1,"resourceSliceCount":2},
        "nodeName":"n","sharedCounters":[{"name":"gpu-0","counters":{"memory":{"value":"80Gi"}}}]}}"#;
    let devices = r#"{"metadata":{"name":"d"},"spec":{"driver":"gpu.example.com","pool":{"name":"n","generation":1,"resourceSliceCount":2},
        "nodeName":"n","devices":[
          {"name":"whole","attributes":{"size":{"string":"whole"}},"consumesCounters":[{"counterSet":"gpu-0","counters":{"memory":{"value":"80Gi"}}}]},
          {"name":"half-0","attributes":{"size":{"string":"half"}},"consumesCounters":[{"counterSet":"gpu-0","counters":{"memory":{"value":"40Gi"}}}]},
          {"name":"half-1","attributes":{"size":{"string":"half"}},"consumesCounters":[{"counterSet":"gpu-0","counters":{"memory":{"value":"40Gi"}}}]}]}}"#;
    let mut w = World::new(
        &[counters.to_owned(), devices.to_owned()],
        &gpu_and_nic_classes(),
    );
    let half = |name: &str| {
        claim(&claim_json(
            "ns",
            name,
            r#"[{"name":"gpu","exactly":{"deviceClassName":"gpu.example.com",
                "selectors":[{"cel":{"expression":"device.attributes['gpu.example.com'].size == 'half'"}}]}}]"#,
            "[]",
            "{}",
        ))
    };
    let whole = claim(&claim_json(
        "ns",
        "w",
        r#"[{"name":"gpu","exactly":{"deviceClassName":"gpu.example.com",
            "selectors":[{"cel":{"expression":"device.attributes['gpu.example.com'].size == 'whole'"}}]}}]"#,
        "[]",
        "{}",
    ));
    let f = fit(w.allocate(&w.prepare(&[half("h0")]).unwrap(), "n").unwrap());
    w.assume(&f);
    assert_eq!(
        unfit(
            w.allocate(&w.prepare(std::slice::from_ref(&whole)).unwrap(), "n")
                .unwrap()
        ),
        Unfit::CannotAllocate,
        "the whole GPU's memory is half drawn"
    );
    let f2 = fit(w.allocate(&w.prepare(&[half("h1")]).unwrap(), "n").unwrap());
    w.assume(&f2);
    w.forget(&f);
    w.forget(&f2);
    fit(w.allocate(&w.prepare(&[whole]).unwrap(), "n").unwrap());
}

#[test]
fn shared_devices_split_consumable_capacity() {
    let slice = r#"{"metadata":{"name":"s"},"spec":{"driver":"nic.example.com","pool":{"name":"n","generation":1,"resourceSliceCount":1},
        "nodeName":"n","devices":[{"name":"nic-0","allowMultipleAllocations":true,
          "capacity":{"bandwidth":{"value":"100G","requestPolicy":{"default":"10G","validRange":{"min":"10G","step":"10G"}}}}}]}}"#;
    let mut w = World::new(&[slice.to_owned()], &gpu_and_nic_classes());
    let share = |name: &str, bw: &str| {
        claim(&claim_json(
            "ns",
            name,
            &format!(
                r#"[{{"name":"nic","exactly":{{"deviceClassName":"nic.example.com","capacity":{{"requests":{{"bandwidth":"{bw}"}}}}}}}}]"#
            ),
            "[]",
            "{}",
        ))
    };
    let a = fit(w
        .allocate(&w.prepare(&[share("a", "45G")]).unwrap(), "n")
        .unwrap());
    assert_eq!(a.claims[0].devices[0].consumed[0].1, 50_000_000_000_000);
    assert!(a.claims[0].devices[0].share_id.is_some());
    w.assume(&a);
    let b = fit(w
        .allocate(&w.prepare(&[share("b", "50G")]).unwrap(), "n")
        .unwrap());
    w.assume(&b);
    assert_eq!(
        unfit(
            w.allocate(&w.prepare(&[share("c", "10G")]).unwrap(), "n")
                .unwrap()
        ),
        Unfit::CannotAllocate,
        "100G consumed"
    );
}

#[test]
fn distinct_attribute_spreads_devices() {
    let w = World::gpu_cluster(1);
    let c = claim(&claim_json(
        "ns",
        "d",
        r#"[{"name":"gpu","exactly":{"deviceClassName":"gpu.example.com","count":4}}]"#,
        r#"[{"distinctAttribute":"resource.kubernetes.io/pcieRoot"}]"#,
        "{}",
    ));
    let f = fit(w.allocate(&w.prepare(&[c]).unwrap(), "node-0").unwrap());
    let mut roots: Vec<_> = fit_keys(&f).iter().map(|k| root_of(&w, *k)).collect();
    roots.dedup();
    assert_eq!(roots.len(), 4);
}

#[test]
fn incomplete_pools_fail_all_requests_on_their_node() {
    let partial = r#"{"metadata":{"name":"s"},"spec":{"driver":"nic.example.com","pool":{"name":"n","generation":1,"resourceSliceCount":2},
        "nodeName":"n","devices":[{"name":"nic-0"}]}}"#;
    let w = World::new(
        &[gpu_node_slice("n", 2, 1), partial.to_owned()],
        &gpu_and_nic_classes(),
    );
    let all = claim(&claim_json(
        "ns",
        "all",
        r#"[{"name":"gpus","exactly":{"deviceClassName":"gpu.example.com","allocationMode":"All"}}]"#,
        "[]",
        "{}",
    ));
    let u = unfit(w.allocate(&w.prepare(&[all]).unwrap(), "n").unwrap());
    assert!(u.to_string().contains("currently being updated"), "{u}");
}
