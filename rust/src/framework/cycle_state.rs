//! What plugins computed for one pod's cycle (kube's `CycleState`): each plugin's PreFilter or
//! PreScore state, kept for the pod's cycle and handed back to every per-node call. A score
//! that needs the same per-node work as a filter (NUMAPacking's placements, first made by
//! NodeResourceTopologyMatch) reads the filter's state through `FilterStates` instead of
//! redoing it.

use std::any::Any;

/// Per-pod, per-plugin state computed before the per-node calls.
pub type PluginState = Box<dyn Any + Send + Sync>;

/// The profile's filters (by name) with their PreFilter outcome for this pod (`None`: skipped).
#[derive(Clone, Copy)]
pub struct FilterStates<'a> {
    names: &'a [&'static str],
    states: &'a [Option<Option<PluginState>>],
}

impl<'a> FilterStates<'a> {
    /// `names[i]` prepared `states[i]`.
    pub fn new(names: &'a [&'static str], states: &'a [Option<Option<PluginState>>]) -> Self {
        Self { names, states }
    }

    /// No filter states (a PreScore run outside a scheduling cycle).
    pub fn none() -> Self {
        Self {
            names: &[],
            states: &[],
        }
    }

    /// The state filter `plugin` prepared, if it ran for this pod and left a `T`.
    pub fn get<T: Any>(&self, plugin: &str) -> Option<&'a T> {
        let states: &'a [Option<Option<PluginState>>] = self.states;
        self.names
            .iter()
            .zip(states)
            .find(|(name, _)| **name == plugin)
            .and_then(|(_, state)| state.as_ref()?.as_ref()?.downcast_ref::<T>())
    }
}
