//! The scheduling framework: result codes, statuses, the plugin interfaces and what they are
//! handed (the pod's context, the profile's spec). Below the plugins; `runtime` builds and runs
//! them.

pub mod batch_cache;
pub mod batch_state;
pub mod code;
pub mod extension;
pub mod filter_states;
pub mod index_view;
pub mod plugin;
pub mod reasons;
pub mod sampling;
pub mod spec;
pub mod status;
pub mod warm;
