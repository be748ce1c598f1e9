//! The cluster cache: compact records parsed once from the apiserver's JSON.

pub mod affinity_wire;
pub mod cluster;
pub mod disruption;
pub mod kind;
pub mod label_selector;
pub mod labels;
pub mod namespaces;
pub mod node;
pub mod node_info;
pub mod node_selector;
pub mod object;
pub mod pod;
pub mod pod_affinity;
pub mod pod_group;
pub mod pod_groups;
pub mod priority;
pub mod requests;
pub mod resources;
pub mod snapshot;
pub mod spread;
pub mod taints;
pub mod topology;
pub mod topology_pairs;
pub mod volumes;
pub mod wire;
