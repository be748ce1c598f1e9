//! The scheduling framework: result codes, statuses, the plugin interfaces and what they are
//! handed (the pod's context, its cycle state, the profile's spec), and the nominator (nodes
//! held for nominated pods). Below the plugins; `runtime` builds and runs them.

pub mod batch_cache;
pub mod batch_state;
pub mod code;
pub mod cycle_state;
pub mod extension;
pub mod index_view;
pub mod levels;
pub mod nominator;
pub mod plugin;
pub mod reasons;
pub mod sampling;
pub mod spec;
pub mod status;
pub mod warm;
