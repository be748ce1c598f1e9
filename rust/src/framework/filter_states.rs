//! What the filters prepared for a pod (their PreFilter states), as a score plugin may read
//! them: a score that needs the same per-node work as a filter (NUMAPacking's placements, first
//! made by NodeResourceTopologyMatch) takes it from the filter's state instead of redoing it.

use std::any::Any;

use crate::framework::plugin::{FilterPlugin, PluginState};

/// The profile's filters with their PreFilter outcome for this pod (`None`: skipped).
#[derive(Clone, Copy)]
pub struct FilterStates<'a> {
    filters: &'a [Box<dyn FilterPlugin>],
    states: &'a [Option<Option<PluginState>>],
}

impl<'a> FilterStates<'a> {
    pub fn new(
        filters: &'a [Box<dyn FilterPlugin>],
        states: &'a [Option<Option<PluginState>>],
    ) -> Self {
        Self { filters, states }
    }

    /// The state filter `plugin` prepared, if it ran for this pod and left a `T`.
    pub fn get<T: Any>(&self, plugin: &str) -> Option<&'a T> {
        let states: &'a [Option<Option<PluginState>>] = self.states;
        self.filters
            .iter()
            .zip(states)
            .find(|(filter, _)| filter.name() == plugin)
            .and_then(|(_, state)| state.as_ref()?.as_ref()?.downcast_ref::<T>())
    }
}
