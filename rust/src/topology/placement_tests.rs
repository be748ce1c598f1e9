use serde_json::json;

use super::super::node::ManagerPolicy;
use super::super::nrt::parse_node_resource_topology;
use super::super::request::{NumaPolicy, PlacementRequest, ResourceRole};
use super::super::test_support::{
    GPU, NIC, ZoneSpec, nrt_object, topology, topology_with_policy, used, zone,
};
use super::super::usage::{PendingLedger, ZoneUsage};
use super::*;

fn gpus(policy: NumaPolicy, count: i64) -> PlacementRequest {
    PlacementRequest::new(policy).with(GPU, count, ResourceRole::Gpu)
}

fn gpus_nics(policy: NumaPolicy, gpu_count: i64, nic_count: i64) -> PlacementRequest {
    gpus(policy, gpu_count).with(NIC, nic_count, ResourceRole::Nic)
}

/// (zone, resource, amount) triples of an allocation, for compact assertions.
fn layout(allocation: &Allocation) -> Vec<(String, String, i64)> {
    allocation
        .zones
        .iter()
        .flat_map(|z| {
            z.resources
                .iter()
                .map(|(r, &a)| (z.zone.clone(), r.clone(), a))
        })
        .collect()
}

fn triple(zone: &str, resource: &str, amount: i64) -> (String, String, i64) {
    (zone.to_string(), resource.to_string(), amount)
}

#[test]
fn single_fits_in_one_zone_for_every_zone_size_and_count() {
    for per_zone in [1, 2, 4, 8] {
        for zones in [1, 2, 4, 8] {
            let node = topology(&vec![zone(per_zone, 1); zones]);
            for want in 1..=per_zone {
                let allocation =
                    place(&node, &ZoneUsage::new(), &gpus(NumaPolicy::Single, want)).unwrap();
                assert_eq!(
                    allocation.zones.len(),
                    1,
                    "{zones} zones of {per_zone}, want {want}"
                );
                assert!(allocation.numa_aligned);
                assert_eq!(allocation.cost, 0);
                assert_eq!(allocation.zones[0].resources[GPU], want);
            }
            let too_big = place(
                &node,
                &ZoneUsage::new(),
                &gpus(NumaPolicy::Single, per_zone + 1),
            )
            .unwrap_err();
            assert_eq!(
                too_big.reason,
                format!(
                    "node(s) had no single NUMA node with {} nvidia.com/gpu",
                    per_zone + 1
                )
            );
            assert!(!too_big.resolvable, "no zone is ever large enough");
        }
    }
}

#[test]
fn single_reason_lists_every_aligned_resource() {
    let node = topology(&[zone(4, 1), zone(4, 1)]);
    let request = gpus_nics(NumaPolicy::Single, 4, 2);
    let err = place(&node, &ZoneUsage::new(), &request).unwrap_err();
    assert_eq!(
        err.reason,
        "node(s) had no single NUMA node with 4 nvidia.com/gpu and 2 rdma/hca"
    );
    let request = gpus_nics(NumaPolicy::Single, 4, 1)
        .with("cpu", 40_000, ResourceRole::Cpu)
        .with("memory", 16 << 30, ResourceRole::Memory);
    let err = place(&node, &ZoneUsage::new(), &request).unwrap_err();
    assert_eq!(
        err.reason,
        "node(s) had no single NUMA node with 4 nvidia.com/gpu, 1 rdma/hca, 40 cpu and 16Gi memory"
    );
}

#[test]
fn single_best_fits_into_the_fullest_zone_that_still_fits() {
    let node = topology(&[zone(8, 1), used(zone(8, 1), 5), used(zone(8, 1), 2)]);
    let allocation = place(&node, &ZoneUsage::new(), &gpus(NumaPolicy::Single, 2)).unwrap();
    assert_eq!(layout(&allocation), [triple("node-1", GPU, 2)]);
    let allocation = place(&node, &ZoneUsage::new(), &gpus(NumaPolicy::Single, 4)).unwrap();
    assert_eq!(layout(&allocation), [triple("node-2", GPU, 4)]);
}

#[test]
fn single_is_unschedulable_but_resolvable_when_only_usage_blocks_it() {
    let node = topology(&[used(zone(4, 1), 1), used(zone(4, 1), 2)]);
    let err = place(&node, &ZoneUsage::new(), &gpus(NumaPolicy::Single, 4)).unwrap_err();
    assert!(err.resolvable);
}

#[test]
fn exclusive_cpus_and_memory_share_the_gpu_zone() {
    let node = topology(&[zone(4, 1), zone(4, 1)]);
    let request = gpus_nics(NumaPolicy::Single, 2, 1)
        .with("cpu", 16_000, ResourceRole::Cpu)
        .with("memory", 8 << 30, ResourceRole::Memory);
    let allocation = place(&node, &ZoneUsage::new(), &request).unwrap();
    assert_eq!(allocation.zones.len(), 1);
    let zone = &allocation.zones[0];
    assert_eq!(zone.resources["cpu"], 16_000);
    assert_eq!(zone.resources["memory"], 8 << 30);
    assert_eq!(zone.resources[NIC], 1);
    // 40 exclusive CPUs exceed any zone's 32.
    let greedy = gpus(NumaPolicy::Single, 1).with("cpu", 40_000, ResourceRole::Cpu);
    assert!(place(&node, &ZoneUsage::new(), &greedy).is_err());
}

#[test]
fn prefer_uses_the_fewest_zones() {
    let node = topology(&[zone(2, 1); 4]);
    let allocation = place(&node, &ZoneUsage::new(), &gpus(NumaPolicy::Prefer, 2)).unwrap();
    assert_eq!(allocation.zones.len(), 1);
    let allocation = place(&node, &ZoneUsage::new(), &gpus(NumaPolicy::Prefer, 3)).unwrap();
    assert_eq!(allocation.zones.len(), 2);
    assert!(!allocation.numa_aligned);
    let allocation = place(&node, &ZoneUsage::new(), &gpus(NumaPolicy::Prefer, 8)).unwrap();
    assert_eq!(allocation.zones.len(), 4);
    let err = place(&node, &ZoneUsage::new(), &gpus(NumaPolicy::Prefer, 9)).unwrap_err();
    assert_eq!(
        err.reason,
        "node(s) had insufficient nvidia.com/gpu in NUMA zones"
    );
    assert!(!err.resolvable);
}

#[test]
fn prefer_picks_the_cheapest_pair_of_zones() {
    // Zones 0-1 and 2-3 sit on different sockets; 1 and 2 are the closest free pair after 0/3.
    let costs: [&[i64]; 4] = [
        &[10, 12, 30, 32],
        &[12, 10, 14, 30],
        &[30, 14, 10, 12],
        &[32, 30, 12, 10],
    ];
    let object = nrt_object(
        "n",
        &[used(zone(4, 1), 4), zone(4, 1), zone(4, 1), zone(4, 1)],
        None,
        Some(&costs),
    );
    let node = parse_node_resource_topology(&object).unwrap();
    let allocation = place(&node, &ZoneUsage::new(), &gpus(NumaPolicy::Prefer, 8)).unwrap();
    let zones: Vec<&str> = allocation.zones.iter().map(|z| z.zone.as_str()).collect();
    assert_eq!(
        zones,
        ["node-2", "node-3"],
        "cost 12 beats 1-2 (14) and 1-3 (30)"
    );
    assert_eq!(allocation.cost, 12);
}

#[test]
fn prefer_splits_leave_the_remainder_in_one_zone() {
    let node = topology(&[used(zone(4, 1), 1), zone(4, 1)]);
    let allocation = place(&node, &ZoneUsage::new(), &gpus(NumaPolicy::Prefer, 5)).unwrap();
    assert_eq!(
        layout(&allocation),
        [triple("node-0", GPU, 3), triple("node-1", GPU, 2)]
    );
}

#[test]
fn nics_follow_gpus_one_per_gpu_zone() {
    let node = topology(&[zone(4, 2), zone(4, 2)]);
    let allocation = place(
        &node,
        &ZoneUsage::new(),
        &gpus_nics(NumaPolicy::Prefer, 8, 2),
    )
    .unwrap();
    assert_eq!(
        layout(&allocation),
        [
            triple("node-0", GPU, 4),
            triple("node-0", NIC, 1),
            triple("node-1", GPU, 4),
            triple("node-1", NIC, 1)
        ]
    );
    // The zone with the GPUs gets the NIC even though another zone has more NICs free.
    let node = topology(&[zone(0, 4), used(zone(4, 1), 2)]);
    let allocation = place(
        &node,
        &ZoneUsage::new(),
        &gpus_nics(NumaPolicy::Prefer, 2, 1),
    )
    .unwrap();
    assert_eq!(
        layout(&allocation),
        [triple("node-1", GPU, 2), triple("node-1", NIC, 1)]
    );
}

#[test]
fn none_fills_the_smallest_fragments_anywhere() {
    let node = topology(&[used(zone(4, 1), 3), zone(4, 1), used(zone(4, 1), 3)]);
    let allocation = place(&node, &ZoneUsage::new(), &gpus(NumaPolicy::None, 2)).unwrap();
    assert_eq!(
        layout(&allocation),
        [triple("node-0", GPU, 1), triple("node-2", GPU, 1)]
    );
    assert!(!allocation.numa_aligned);
    assert_eq!(allocation.policy, NumaPolicy::None);
}

#[test]
fn node_single_numa_policy_overrides_pod_prefer_and_none() {
    let node = topology_with_policy(&[zone(4, 1), zone(4, 1)], ManagerPolicy::SingleNumaNode);
    for policy in [NumaPolicy::Prefer, NumaPolicy::None] {
        let err = place(&node, &ZoneUsage::new(), &gpus(policy, 6)).unwrap_err();
        assert_eq!(
            err.reason,
            "node(s) had topology manager policy single-numa-node that cannot align the pod"
        );
        let allocation = place(&node, &ZoneUsage::new(), &gpus(policy, 3)).unwrap();
        assert!(allocation.numa_aligned);
    }
}

#[test]
fn node_restricted_policy_demands_the_minimal_zone_count() {
    let node = topology_with_policy(
        &[used(zone(4, 1), 2), used(zone(4, 1), 2)],
        ManagerPolicy::Restricted,
    );
    // 3 GPUs could fit one zone on an idle node, so kubelet would only admit one zone.
    let err = place(&node, &ZoneUsage::new(), &gpus(NumaPolicy::None, 3)).unwrap_err();
    assert_eq!(
        err.reason,
        "node(s) had topology manager policy restricted that cannot align the pod"
    );
    assert!(err.resolvable);
    // 6 GPUs need two zones anyway: fine.
    let node = topology_with_policy(&[zone(4, 1), zone(4, 1)], ManagerPolicy::Restricted);
    assert_eq!(
        place(&node, &ZoneUsage::new(), &gpus(NumaPolicy::Prefer, 6))
            .unwrap()
            .zones
            .len(),
        2
    );
}

#[test]
fn best_effort_policy_allows_spreading() {
    let node = topology_with_policy(&[zone(4, 1), zone(4, 1)], ManagerPolicy::BestEffort);
    assert_eq!(
        place(&node, &ZoneUsage::new(), &gpus(NumaPolicy::Prefer, 6))
            .unwrap()
            .zones
            .len(),
        2
    );
}

#[test]
fn pending_allocations_are_never_double_counted_against_a_stale_object() {
    // The NRT object never changes during the burst: only the ledger knows about the pods.
    for per_zone in [1, 2, 4, 8] {
        let node = topology(&[zone(per_zone, 1), zone(per_zone, 1)]);
        let mut ledger = PendingLedger::default();
        let mut placed = 0;
        for pod in 0..(4 * per_zone) {
            match place(&node, ledger.usage(), &gpus(NumaPolicy::Single, 1)) {
                Ok(allocation) => {
                    ledger.assume(&format!("pod-{pod}"), allocation);
                    placed += 1;
                }
                Err(err) => assert!(err.resolvable, "{}", err.reason),
            }
            for zone in &node.zones {
                assert!(
                    ledger.usage().get(&zone.name, GPU) <= per_zone,
                    "zone {} overfilled",
                    zone.name
                );
            }
        }
        assert_eq!(placed, 2 * per_zone);
    }
}

#[test]
fn pending_usage_beyond_available_clamps_to_zero() {
    let node = topology(&[used(zone(4, 1), 2)]);
    let mut pending = ZoneUsage::new();
    pending.add_amount("node-0", GPU, 3);
    let err = place(&node, &pending, &gpus(NumaPolicy::Prefer, 1)).unwrap_err();
    assert_eq!(
        err.reason,
        "node(s) had insufficient nvidia.com/gpu in NUMA zones"
    );
}

#[test]
fn resources_the_node_does_not_report_are_left_to_node_fit() {
    let node = topology(&[zone(4, 0)]);
    let request = gpus_nics(NumaPolicy::Single, 2, 1);
    let allocation = place(&node, &ZoneUsage::new(), &request).unwrap();
    assert_eq!(layout(&allocation), [triple("node-0", GPU, 2)]);
    let nothing =
        PlacementRequest::new(NumaPolicy::Single).with("example.com/foo", 1, ResourceRole::Other);
    let allocation = place(&node, &ZoneUsage::new(), &nothing).unwrap();
    assert!(allocation.zones.is_empty() && allocation.numa_aligned);
}

fn switched_node(first_switch_gpus_free: i64) -> NodeTopology {
    let switch = |name: &str, gpus_free: i64, nics: i64| {
        json!({"name": name, "type": "PCIeSwitch", "parent": "node-0", "resources": [
            {"name": GPU, "capacity": 4, "allocatable": 4, "available": gpus_free},
            {"name": NIC, "capacity": nics, "allocatable": nics, "available": nics}]})
    };
    let object = json!({
        "metadata": {"name": "dgx"},
        "zones": [
            {"name": "node-0", "type": "Node"},
            switch("pci-0", first_switch_gpus_free, 1),
            switch("pci-1", 4, 1),
        ],
    });
    parse_node_resource_topology(&object).unwrap()
}

#[test]
fn gpus_and_nics_share_a_switch_when_one_holds_them() {
    let node = switched_node(2);
    let allocation = place(
        &node,
        &ZoneUsage::new(),
        &gpus_nics(NumaPolicy::Single, 2, 1),
    )
    .unwrap();
    assert_eq!(
        allocation.zones[0].switch.as_deref(),
        Some("pci-0"),
        "best fit: the partly used switch"
    );
    let allocation = place(
        &node,
        &ZoneUsage::new(),
        &gpus_nics(NumaPolicy::Single, 3, 1),
    )
    .unwrap();
    assert_eq!(allocation.zones[0].switch.as_deref(), Some("pci-1"));
    let allocation = place(
        &node,
        &ZoneUsage::new(),
        &gpus_nics(NumaPolicy::Single, 6, 2),
    )
    .unwrap();
    assert_eq!(
        allocation.zones[0].switch, None,
        "no single switch holds 6 GPUs"
    );
}

#[test]
fn pending_allocations_count_against_their_switch() {
    let node = switched_node(4);
    let mut ledger = PendingLedger::default();
    let first = place(&node, ledger.usage(), &gpus_nics(NumaPolicy::Single, 3, 1)).unwrap();
    ledger.assume("a", first.clone());
    let second = place(&node, ledger.usage(), &gpus_nics(NumaPolicy::Single, 3, 1)).unwrap();
    assert!(first.zones[0].switch.is_some() && second.zones[0].switch.is_some());
    assert_ne!(first.zones[0].switch, second.zones[0].switch);
}

#[test]
fn switch_alignment_steers_the_zone_choice() {
    let switch = |name: &str, parent: &str, gpus_free: i64| {
        json!({"name": name, "type": "PCIeSwitch", "parent": parent, "resources": [
            {"name": GPU, "capacity": 2, "allocatable": 2, "available": gpus_free},
            {"name": NIC, "capacity": 1, "allocatable": 1, "available": 1}]})
    };
    // node-0 has 2 GPUs free but split over two switches; node-1 has a whole switch free.
    let object = json!({
        "metadata": {"name": "n"},
        "zones": [
            {"name": "node-0", "type": "Node"},
            {"name": "node-1", "type": "Node"},
            switch("pci-0", "node-0", 1), switch("pci-1", "node-0", 1),
            switch("pci-2", "node-1", 2), switch("pci-3", "node-1", 0),
        ],
    });
    let node = parse_node_resource_topology(&object).unwrap();
    let allocation = place(
        &node,
        &ZoneUsage::new(),
        &gpus_nics(NumaPolicy::Single, 2, 1),
    )
    .unwrap();
    assert_eq!(allocation.zones[0].zone, "node-1");
    assert_eq!(allocation.zones[0].switch.as_deref(), Some("pci-2"));
}

#[test]
fn single_zone_nodes_without_nrt_place_everything_there() {
    let node = NodeTopology::single_zone(
        "plain",
        vec![super::super::node::ZoneResource {
            name: GPU.into(),
            capacity: 8,
            allocatable: 8,
            available: 3,
        }],
    );
    let allocation = place(&node, &ZoneUsage::new(), &gpus(NumaPolicy::Single, 3)).unwrap();
    assert_eq!(layout(&allocation), [triple("plain", GPU, 3)]);
    assert!(place(&node, &ZoneUsage::new(), &gpus(NumaPolicy::Single, 4)).is_err());
}

#[test]
fn large_zone_counts_fall_back_to_a_greedy_cover() {
    let specs: Vec<ZoneSpec> = vec![zone(1, 0); 16];
    let node = topology(&specs);
    let allocation = place(&node, &ZoneUsage::new(), &gpus(NumaPolicy::Prefer, 5)).unwrap();
    assert_eq!(allocation.zones.len(), 5);
    let total: i64 = allocation.zones.iter().map(|z| z.resources[GPU]).sum();
    assert_eq!(total, 5);
}

#[test]
fn placement_reports_what_it_takes_where() {
    let node = topology(&[zone(4, 1), zone(4, 1)]);
    let request = gpus_nics(NumaPolicy::Prefer, 6, 2);
    let placement = plan(&node, &ZoneUsage::new(), &request).unwrap();
    assert_eq!(placement.zone_count(), 2);
    assert!(!placement.numa_aligned());
    assert_eq!(placement.cost(), 21);
    assert_eq!(placement.taken(0, GPU) + placement.taken(1, GPU), 6);
    assert_eq!(placement.taken_in_role(0, ResourceRole::Nic), 1);
    assert_eq!(placement.taken_in_role(1, ResourceRole::Nic), 1);
    assert_eq!(placement.taken(0, "cpu"), 0, "cpu was not requested");
    assert_eq!(placement.zones().collect::<Vec<_>>(), [0, 1]);
    let allocation = placement.to_allocation(&node);
    assert_eq!(
        allocation,
        place(&node, &ZoneUsage::new(), &request).unwrap()
    );
    assert_eq!(allocation.cost, 21);
}

#[test]
fn parses_and_places_on_an_object_as_the_apiserver_returns_it() {
    // Integers and strings mixed, as stored by the apiserver for an int-or-string field.
    let stored = r#"{"apiVersion":"topology.node.k8s.io/v1alpha2","kind":"NodeResourceTopology",
        "metadata":{"name":"node-7","resourceVersion":"195","uid":"6dbb9689"},
        "attributes":[{"name":"topologyManagerPolicy","value":"single-numa-node"}],
        "topologyPolicies":["SingleNUMANodePodLevel"],
        "zones":[{"costs":[{"name":"node-0","value":10}],"name":"node-0","type":"Node",
          "resources":[{"allocatable":"4","available":"3","capacity":4,"name":"nvidia.com/gpu"},
                       {"allocatable":"60Gi","available":"60Gi","capacity":"64Gi","name":"memory"}]},
          {"name":"pci-0","parent":"node-0","type":"PCIeSwitch"}]}"#;
    let node = super::super::nrt::parse_node_resource_topology_json(stored.as_bytes()).unwrap();
    assert_eq!(node.policy, ManagerPolicy::SingleNumaNode);
    assert_eq!(node.zones[0].switches[0].name, "pci-0");
    assert!(place(&node, &ZoneUsage::new(), &gpus(NumaPolicy::Prefer, 3)).is_ok());
    let err = place(&node, &ZoneUsage::new(), &gpus(NumaPolicy::Prefer, 4)).unwrap_err();
    assert_eq!(
        err.reason,
        "node(s) had topology manager policy single-numa-node that cannot align the pod"
    );
}
