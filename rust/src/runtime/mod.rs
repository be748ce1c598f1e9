//! kube's `framework/runtime`: the registry of plugins by name, a profile built from it, and
//! running a profile's plugins over nodes (static filters per batch, the score phase). Above the
//! plugins, below the scheduling that uses it (`cycle`, `gang`, `preemption`, `explain`).

pub mod kept_statics;
pub mod points;
pub mod pre_filter_result;
pub mod profile;
pub mod registry;
pub mod reuse;
pub mod scoring;
pub mod static_filters;
