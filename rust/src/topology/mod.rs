//! NUMA-aware GPU/NIC placement: node topology from `NodeResourceTopology` objects, zone
//! placement under the pod's and kubelet's alignment policies, fragmentation-aware packing,
//! and the `podium.dev/allocation` annotation.
//!
//! Free of PyO3: the boundary lives in `lib.rs`.

mod allocation;
mod error;
mod needs;
mod node;
mod nrt;
mod packing;
mod placement;
mod quantity;
mod request;
mod shares;
#[cfg(test)]
mod simulation_tests;
#[cfg(test)]
mod test_support;
mod usage;
mod zone_choice;

pub use allocation::{ALLOCATION_ANNOTATION, Allocation, ZoneAllocation};
pub use error::TopologyError;
pub use node::{
    Distances, LOCAL_DISTANCE, ManagerPolicy, ManagerScope, NodeTopology, REMOTE_DISTANCE, Switch,
    Zone, ZoneResource,
};
pub use nrt::{MAX_ZONES, parse_node_resource_topology, parse_node_resource_topology_json};
pub use packing::{MAX_SCORE, PackingContext, PackingWeights, packing_score, stranded_gpus};
pub use placement::{
    Infeasible, Placement, insufficient_reason, manager_policy_reason, no_single_zone_reason,
    place, plan,
};
pub use request::{
    NUMA_POLICY_ANNOTATION, NumaPolicy, PlacementRequest, RequestedResource, ResourceRole,
    TopologyConfig,
};
pub use usage::{DEFAULT_SETTLE_UPDATES, PendingLedger, ZoneUsage};
