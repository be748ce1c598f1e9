//! DynamicResources: Dynamic Resource Allocation (`resource.k8s.io/v1`) with kube-scheduler's
//! structured-parameters semantics, plus podium's packing of devices.
//!
//! The objects (classes, slices, claims), the pool view and the ledger of allocated devices
//! are cluster state, in `state/dra/`. Here, one concept a file: `cel` (selectors), `matcher`
//! (selector verdicts per device), `constraints`, `capacity`, `taints`, `allocator` (the
//! per-node search), `extended` (extended resources backed by DRA, as one more claim),
//! `fit_cache` (its answers kept across pods), `score` (packing), `testing` (a small world to allocate in), `bench` (a
//! workload for `podium bench core`).

pub mod allocator;
pub mod bench;
pub mod capacity;
pub mod cel;
pub mod constraints;
pub mod error;
pub mod extended;
pub mod fit_cache;
pub mod matcher;
pub mod plugin;
pub mod score;
pub mod taints;
pub mod testing;

#[cfg(test)]
mod props;

/// kube-scheduler's name for the plugin.
pub const NAME: &str = "DynamicResources";
