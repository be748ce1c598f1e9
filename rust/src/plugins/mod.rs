//! Plugins, one folder each, named as kube-scheduler names them (snake_case of the plugin's
//! name): a plugin's filter, score, per-batch state (PreFilter counts, caches), add/remove-pod
//! hooks and tests live together in `plugins/<name>/`. Plugins import `state/` and `framework/`;
//! one plugin reads another's only through what its `mod.rs` exports (BalancedAllocation shares
//! NodeResourcesFit's resource scorer, NUMAPacking NodeResourceTopologyMatch's placements, as in
//! kube's `noderesources` package). Nothing here imports the registry, the cycle or `py/`.

pub mod balanced_allocation;
pub mod capacity_scheduling;
pub mod dynamic_resources;
/// The architecture guide's worked example; registered for tests only.
#[cfg(test)]
pub mod fewest_pods;
pub mod image_locality;
pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_resource_topology_match;
pub mod node_resources_fit;
pub mod node_unschedulable;
pub mod numa_packing;
pub mod pod_topology_spread;
pub mod taint_toleration;
pub mod volume_binding;
