//! DynamicResources: Dynamic Resource Allocation (`resource.k8s.io/v1`) with kube-scheduler's
//! structured-parameters semantics, plus podium's packing of devices.
//!
//! One concept a file: `wire` (the JSON), `device`/`slice`/`class`/`claim` (decoded records),
//! `pools` (which devices count: newest complete generation), `cel` (selectors), `matcher`
//! (selector verdicts per device), `ledger` (allocated and assumed devices), `constraints`,
//! `capacity`, `taints`, `allocator` (the per-node search), `score` (packing), `bench` (a
//! workload for `podium bench core`).

pub mod allocator;
pub mod bench;
pub mod capacity;
pub mod cel;
pub mod claim;
pub mod class;
pub mod constraints;
pub mod device;
pub mod error;
pub mod ledger;
pub mod matcher;
pub mod pools;
pub mod score;
pub mod slice;
pub mod taints;
pub mod testing;
pub mod wire;

#[cfg(test)]
mod props;

/// kube-scheduler's name for the plugin.
pub const NAME: &str = "DynamicResources";
