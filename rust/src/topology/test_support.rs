//! Hand-built topologies for the module's tests.

use serde_json::{Value, json};

use super::node::{ManagerPolicy, NodeTopology};
use super::nrt::parse_node_resource_topology;

pub const GPU: &str = "nvidia.com/gpu";
pub const NIC: &str = "rdma/hca";

/// One NUMA zone's devices, as the updater would report them.
#[derive(Clone, Copy)]
pub struct ZoneSpec {
    pub gpus: i64,
    pub nics: i64,
    pub cpus: i64,
    /// Free GPUs per the NRT object (`available`); `gpus` when `None`.
    pub free_gpus: Option<i64>,
}

pub const fn zone(gpus: i64, nics: i64) -> ZoneSpec {
    ZoneSpec {
        gpus,
        nics,
        cpus: 32,
        free_gpus: None,
    }
}

pub fn used(spec: ZoneSpec, used_gpus: i64) -> ZoneSpec {
    ZoneSpec {
        free_gpus: Some(spec.gpus - used_gpus),
        ..spec
    }
}

/// An NRT object (JSON) for `zones`, with costs 10 local / 21 remote unless `costs` is given.
pub fn nrt_object(
    name: &str,
    zones: &[ZoneSpec],
    policy: Option<&str>,
    costs: Option<&[&[i64]]>,
) -> Value {
    let zone_objects: Vec<Value> = zones
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let cost_row: Vec<Value> = (0..zones.len())
                .map(|j| {
                    let value = costs.map_or(if i == j { 10 } else { 21 }, |c| c[i][j]);
                    json!({"name": format!("node-{j}"), "value": value})
                })
                .collect();
            let mut resources = vec![
                json!({"name": "cpu", "capacity": spec.cpus, "allocatable": spec.cpus, "available": spec.cpus}),
                json!({"name": "memory", "capacity": "64Gi", "allocatable": "64Gi", "available": "64Gi"}),
            ];
            if spec.gpus > 0 {
                let free = spec.free_gpus.unwrap_or(spec.gpus);
                resources.push(json!({"name": GPU, "capacity": spec.gpus, "allocatable": spec.gpus, "available": free}));
            }
            if spec.nics > 0 {
                resources.push(json!({"name": NIC, "capacity": spec.nics, "allocatable": spec.nics, "available": spec.nics}));
            }
            json!({"name": format!("node-{i}"), "type": "Node", "costs": cost_row, "resources": resources})
        })
        .collect();
    let mut object = json!({
        "apiVersion": "topology.node.k8s.io/v1alpha2",
        "kind": "NodeResourceTopology",
        "metadata": {"name": name},
        "topologyPolicies": ["None"],
        "zones": zone_objects,
    });
    if let Some(policy) = policy {
        object["attributes"] = json!([
            {"name": "topologyManagerPolicy", "value": policy},
            {"name": "topologyManagerScope", "value": "pod"},
        ]);
    }
    object
}

pub fn topology(zones: &[ZoneSpec]) -> NodeTopology {
    parse_node_resource_topology(&nrt_object("worker", zones, None, None))
        .expect("valid test object")
}

pub fn topology_with_policy(zones: &[ZoneSpec], policy: ManagerPolicy) -> NodeTopology {
    let mut topology = topology(zones);
    topology.policy = policy;
    topology
}
