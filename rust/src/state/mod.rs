//! The cluster cache: compact records parsed once from the apiserver's JSON.

pub mod cluster;
pub mod kind;
pub mod labels;
pub mod node;
pub mod node_info;
pub mod node_selector;
pub mod object;
pub mod pod;
pub mod requests;
pub mod resources;
pub mod snapshot;
pub mod taints;
pub mod wire;
