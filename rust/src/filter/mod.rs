//! Filter plugins, one per file, named as kube-scheduler names them.

pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_resource_topology_match;
pub mod node_resources_fit;
pub mod node_unschedulable;
/// Not a plugin: the per-pod NUMA fits NodeResourceTopologyMatch and NUMAPacking share.
pub mod numa_fits;
pub mod pod_topology_spread;
pub mod taint_toleration;
pub mod volume_binding;
