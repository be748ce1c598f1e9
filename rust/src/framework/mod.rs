//! The scheduling framework: result codes, statuses, plugin interfaces, the registry of
//! plugins by name, and profiles.

pub mod batch_cache;
pub mod code;
pub mod extension;
pub mod filter_states;
pub mod plugin;
pub mod profile;
pub mod reasons;
pub mod registry;
pub mod sampling;
pub mod scoring;
pub mod static_filters;
pub mod status;
pub mod warm;
