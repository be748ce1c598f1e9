//! Score plugins, one per file, named as kube-scheduler names them. Scores end in 0..=100.

pub mod balanced_allocation;
pub mod image_locality;
pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_resources_fit;
pub mod numa_packing;
pub mod pod_topology_spread;
pub mod resource_allocation;
pub mod taint_toleration;
