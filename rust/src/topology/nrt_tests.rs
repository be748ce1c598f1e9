use serde_json::json;

use super::super::node::{LOCAL_DISTANCE, ManagerPolicy, ManagerScope, REMOTE_DISTANCE};
use super::super::test_support::{GPU, NIC, nrt_object, zone};
use super::*;

fn parse_err(object: serde_json::Value) -> String {
    parse_node_resource_topology(&object)
        .unwrap_err()
        .message()
        .to_string()
}

#[test]
fn parses_zones_resources_costs_and_policy() {
    let object = nrt_object(
        "node-7",
        &[zone(4, 1), zone(4, 2)],
        Some("single-numa-node"),
        None,
    );
    let topology = parse_node_resource_topology(&object).unwrap();
    assert_eq!(topology.node, "node-7");
    assert_eq!(topology.zones.len(), 2);
    assert_eq!(topology.zones[1].name, "node-1");
    assert_eq!(
        topology.zones[0].resource("cpu").unwrap().allocatable,
        32_000
    );
    assert_eq!(
        topology.zones[0].resource("memory").unwrap().available,
        64 << 30
    );
    assert_eq!(topology.zones[1].resource(NIC).unwrap().capacity, 2);
    assert_eq!(topology.distances.get(0, 1), 21);
    assert_eq!(topology.distances.get(1, 1), 10);
    assert_eq!(topology.policy, ManagerPolicy::SingleNumaNode);
    assert_eq!(topology.scope, ManagerScope::Pod);
}

#[test]
fn parses_the_bytes_entry_point() {
    let object = nrt_object("n", &[zone(8, 1)], None, None);
    let topology = parse_node_resource_topology_json(object.to_string().as_bytes()).unwrap();
    assert_eq!(topology.zones[0].resource(GPU).unwrap().allocatable, 8);
    let err = parse_node_resource_topology_json(b"{").unwrap_err();
    assert!(
        err.message()
            .starts_with("NodeResourceTopology <unknown>: <document>: invalid JSON"),
        "{err}"
    );
}

#[test]
fn legacy_topology_policies_apply_without_attributes() {
    let cases = [
        (
            "SingleNUMANodeContainerLevel",
            ManagerPolicy::SingleNumaNode,
            ManagerScope::Container,
        ),
        (
            "SingleNUMANodePodLevel",
            ManagerPolicy::SingleNumaNode,
            ManagerScope::Pod,
        ),
        (
            "Restricted",
            ManagerPolicy::Restricted,
            ManagerScope::Container,
        ),
        (
            "RestrictedPodLevel",
            ManagerPolicy::Restricted,
            ManagerScope::Pod,
        ),
        (
            "BestEffort",
            ManagerPolicy::BestEffort,
            ManagerScope::Container,
        ),
        ("None", ManagerPolicy::None, ManagerScope::Container),
    ];
    for (legacy, policy, scope) in cases {
        let mut object = nrt_object("n", &[zone(2, 1)], None, None);
        object["topologyPolicies"] = json!([legacy]);
        let topology = parse_node_resource_topology(&object).unwrap();
        assert_eq!(
            (topology.policy, topology.scope),
            (policy, scope),
            "{legacy}"
        );
    }
}

#[test]
fn attributes_win_over_legacy_policies() {
    let mut object = nrt_object("n", &[zone(2, 1)], Some("restricted"), None);
    object["topologyPolicies"] = json!(["SingleNUMANodePodLevel"]);
    assert_eq!(
        parse_node_resource_topology(&object).unwrap().policy,
        ManagerPolicy::Restricted
    );
}

#[test]
fn missing_costs_get_default_distances() {
    let mut object = nrt_object("n", &[zone(1, 0), zone(1, 0)], None, None);
    for zone in object["zones"].as_array_mut().unwrap() {
        zone.as_object_mut().unwrap().remove("costs");
    }
    let topology = parse_node_resource_topology(&object).unwrap();
    assert_eq!(topology.distances.get(0, 0), LOCAL_DISTANCE);
    assert_eq!(topology.distances.get(0, 1), REMOTE_DISTANCE);
}

#[test]
fn switches_attach_to_their_numa_zone_and_lend_it_their_devices() {
    let object = json!({
        "metadata": {"name": "dgx"},
        "zones": [
            {"name": "node-0", "type": "Node", "resources": [
                {"name": "cpu", "capacity": "64", "allocatable": "62", "available": "62"}]},
            {"name": "pci-0", "type": "PCIeSwitch", "parent": "node-0", "resources": [
                {"name": GPU, "capacity": 2, "allocatable": 2, "available": 1},
                {"name": NIC, "capacity": 1, "allocatable": 1, "available": 1}]},
            {"name": "pci-1", "type": "PCIeSwitch", "parent": "node-0", "resources": [
                {"name": GPU, "capacity": 2, "allocatable": 2, "available": 2}]},
            {"name": "gpu-leaf", "type": "Device", "parent": "pci-1"},
            {"name": "socket-0", "type": "Socket"},
        ],
    });
    let topology = parse_node_resource_topology(&object).unwrap();
    assert_eq!(topology.zones.len(), 1);
    let numa = &topology.zones[0];
    let names: Vec<&str> = numa.switches.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["pci-0", "pci-1", "gpu-leaf"]);
    let gpus = numa.resource(GPU).unwrap();
    assert_eq!((gpus.capacity, gpus.available), (4, 3));
    assert_eq!(numa.resource(NIC).unwrap().allocatable, 1);
    assert_eq!(numa.resource("cpu").unwrap().allocatable, 62_000);
}

#[test]
fn malformed_objects_name_the_object_and_field() {
    let base = || nrt_object("node-7", &[zone(4, 1), zone(4, 1)], None, None);
    let mut bad_quantity = base();
    bad_quantity["zones"][1]["resources"][0]["available"] = json!("x");
    assert!(parse_err(bad_quantity).starts_with(
        "NodeResourceTopology node-7: zones[1].resources[0].available: invalid quantity \"x\""
    ));

    let mut negative = base();
    negative["zones"][0]["resources"][2]["capacity"] = json!(-4);
    assert!(
        parse_err(negative)
            .starts_with("NodeResourceTopology node-7: zones[0].resources[2].capacity: negative")
    );

    let mut not_quantity = base();
    not_quantity["zones"][0]["resources"][2]["allocatable"] = json!(true);
    assert!(
        parse_err(not_quantity)
            .contains("zones[0].resources[2].allocatable: invalid quantity true")
    );

    let mut missing = base();
    missing["zones"][0]["resources"][1]
        .as_object_mut()
        .unwrap()
        .remove("allocatable");
    assert!(parse_err(missing).ends_with("zones[0].resources[1].allocatable: missing"));

    let mut cost = base();
    cost["zones"][1]["costs"][0]["value"] = json!("near");
    assert!(parse_err(cost).ends_with("zones[1].costs[0].value: must be a non-negative integer"));

    let mut policy = base();
    policy["attributes"] = json!([{"name": "topologyManagerPolicy", "value": "sometimes"}]);
    assert!(
        parse_err(policy)
            .ends_with("attributes[0].value: unknown topology manager policy \"sometimes\"")
    );

    let mut legacy = base();
    legacy["topologyPolicies"] = json!(["Whatever"]);
    assert!(
        parse_err(legacy).ends_with("topologyPolicies[0]: unknown topology policy \"Whatever\"")
    );

    let mut duplicate = base();
    duplicate["zones"][1]["name"] = json!("node-0");
    assert!(parse_err(duplicate).ends_with("zones[1].name: duplicate zone \"node-0\""));

    let mut orphan = base();
    orphan["zones"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "pci-9", "type": "PCIeSwitch", "parent": "gone"}));
    assert!(parse_err(orphan).ends_with("zones[2].parent: unknown zone \"gone\""));

    let mut cycle = base();
    cycle["zones"].as_array_mut().unwrap().extend([
        json!({"name": "a", "type": "PCIeSwitch", "parent": "b"}),
        json!({"name": "b", "type": "PCIeSwitch", "parent": "a"}),
    ]);
    assert!(parse_err(cycle).ends_with("zones[2].parent: parent chain is a cycle or too deep"));

    let mut no_numa = base();
    for zone in no_numa["zones"].as_array_mut().unwrap() {
        zone["type"] = json!("Socket");
    }
    assert!(parse_err(no_numa).ends_with("zones: no zone of type \"Node\""));

    let mut zones_type = base();
    zones_type["zones"] = json!({"node-0": {}});
    assert_eq!(
        parse_err(zones_type),
        "NodeResourceTopology node-7: zones: not an array"
    );

    let mut zone_name = base();
    zone_name["zones"][0]["name"] = json!(3);
    assert_eq!(
        parse_err(zone_name),
        "NodeResourceTopology node-7: zones[0].name: not a string"
    );

    assert_eq!(
        parse_err(json!({"metadata": {}, "zones": []})),
        "NodeResourceTopology <unknown>: metadata.name: missing"
    );
    assert_eq!(
        parse_err(json!({"metadata": {"name": "n"}})),
        "NodeResourceTopology n: zones: missing or empty"
    );
}

#[test]
fn too_many_zones_is_an_error_not_a_panic() {
    let zones = vec![zone(1, 0); MAX_ZONES + 1];
    let err = parse_err(nrt_object("big", &zones, None, None));
    assert!(
        err.ends_with("zones: 33 NUMA zones; at most 32 are supported"),
        "{err}"
    );
}
