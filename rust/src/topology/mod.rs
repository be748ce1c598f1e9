//! NUMA-aware GPU/NIC placement: node topology from `NodeResourceTopology` objects, zone
//! placement under the pod's and kubelet's alignment policies, fragmentation-aware packing,
//! and the `podium.dev/allocation` annotation.
//!
//! How the pieces meet (free of PyO3; the boundary lives in `lib.rs`):
//! - cache: each NRT object → [`parse_node_resource_topology`] → a [`NodeTopology`] per node
//!   (a node without one: [`NodeTopology::single_zone`]); a parse error marks the node
//!   infeasible with that message. Each node also keeps a [`PendingLedger`]: `assume` on
//!   assume/bind (or from a bound pod's [`Allocation::from_annotation`] at restart), `forget`
//!   on bind failure or pod deletion, `admitted` when the pod runs, `nrt_updated` on every
//!   NRT update of that node.
//! - per pod: [`NumaPolicy::from_annotation`] and [`TopologyConfig::request`] build a
//!   [`PlacementRequest`] once.
//! - filter: [`plan_in`] with the node's ledger usage and its cached [`ZoneTable`] (the NRT
//!   figures minus that usage, by interned resource name); `Err(Infeasible)` gives the reason
//!   and whether it is resolvable.
//! - score: [`packing_score`] on the [`Placement`], weights from [`PackingWeights::from_json`],
//!   stranding against the waiting job sizes precomputed once in a [`Stranding`].
//! - the chosen node: [`Placement::to_allocation`] → [`Allocation::to_annotation`], and the
//!   ledger `assume`s it (and decisions later in the batch see it).

mod allocation;
mod error;
mod infeasible;
mod needs;
mod node;
mod nrt;
mod packing;
mod placement;
mod request;
mod shares;
#[cfg(test)]
mod simulation_tests;
mod stranding;
#[cfg(test)]
pub(crate) mod test_support;
mod usage;
mod zone_choice;
mod zone_table;

pub use allocation::{ALLOCATION_ANNOTATION, Allocation, ZoneAllocation};
pub use error::TopologyError;
pub use infeasible::{
    Infeasible, insufficient_reason, manager_policy_reason, no_single_zone_reason,
};
pub use node::{
    Distances, LOCAL_DISTANCE, ManagerPolicy, ManagerScope, NodeTopology, REMOTE_DISTANCE, Switch,
    Zone, ZoneResource,
};
pub use nrt::{MAX_ZONES, parse_node_resource_topology, parse_node_resource_topology_json};
pub use packing::{MAX_SCORE, PackingContext, PackingWeights, packing_score, stranded_gpus};
pub use placement::{Placement, place, plan, plan_in};
pub use request::{
    NUMA_POLICY_ANNOTATION, NumaPolicy, PlacementRequest, RequestedResource, ResourceRole,
    TopologyConfig,
};
pub use stranding::Stranding;
pub use usage::{DEFAULT_SETTLE_UPDATES, PendingLedger, ZoneUsage};
pub use zone_table::ZoneTable;
