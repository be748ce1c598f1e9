//! A plugin at the extension points the profile runs it at (kube's framework runs each plugin
//! at the points it implements; here the registry names them, see `registry`). A point the
//! plugin does not take part in does nothing: PreFilter and PreScore run the per-node step with
//! no state, Reserve takes nothing.

use std::sync::Arc;

use crate::framework::cycle_state::{FilterStates, PluginState};
use crate::framework::plugin::{
    Filter, NodeNames, PodContext, PreFilter, PreScore, Prepared, Reserve, Reserved, Score,
};
use crate::framework::status::Status;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;

/// A filter plugin: its Filter, with its PreFilter and Reserve when it has them.
pub struct FilterPoints {
    filter: Arc<dyn Filter>,
    pre_filter: Option<Arc<dyn PreFilter>>,
    reserve: Option<Arc<dyn Reserve>>,
}

impl FilterPoints {
    /// `plugin` at Filter; `.pre_filter()` and `.reserve()` add the other points it has.
    pub fn of<T: Filter + 'static>(plugin: T) -> FilterBuilder<T> {
        FilterBuilder {
            plugin: Arc::new(plugin),
            pre_filter: None,
            reserve: None,
        }
    }

    pub fn name(&self) -> &'static str {
        self.filter.name()
    }

    pub fn pre_filter(&self, ctx: &PodContext<'_>) -> Prepared {
        self.pre_filter
            .as_ref()
            .map_or(Prepared::Run(None), |p| p.pre_filter(ctx))
    }

    pub fn node_names<'s>(&self, state: Option<&'s PluginState>) -> Option<&'s NodeNames> {
        self.pre_filter.as_ref()?.node_names(state)
    }

    /// PreFilterExtensions' RemovePod: None when the plugin has none (its state counts no
    /// other pods) or `state` is not its own.
    pub fn remove_pods(
        &self,
        state: &PluginState,
        ctx: &PodContext<'_>,
        removed: &NodeInfo,
    ) -> Option<PluginState> {
        self.pre_filter
            .as_ref()?
            .extensions()?
            .remove_pods(state, ctx, removed)
    }

    pub fn filter(&self, state: Option<&PluginState>, pod: &PodRecord, node: &NodeInfo) -> Status {
        self.filter.filter(state, pod, node)
    }

    pub fn node_static(&self) -> bool {
        self.filter.node_static()
    }

    pub fn node_local(&self, pod: &PodRecord) -> bool {
        self.filter.node_local(pod)
    }

    pub fn reads_identity(&self) -> bool {
        self.filter.reads_identity()
    }

    pub fn shape_key(&self, state: Option<&PluginState>) -> Option<u64> {
        self.filter.shape_key(state)
    }

    pub fn refuses_statically(
        &self,
        state: Option<&PluginState>,
        pod: &PodRecord,
        node: &NodeInfo,
    ) -> bool {
        self.filter.refuses_statically(state, pod, node)
    }

    pub fn reserve(
        &self,
        state: Option<&PluginState>,
        pod: &PodRecord,
        node: &NodeInfo,
        reserved: &mut Reserved,
    ) {
        if let Some(plugin) = &self.reserve {
            plugin.reserve(state, pod, node, reserved);
        }
    }
}

pub struct FilterBuilder<T> {
    plugin: Arc<T>,
    pre_filter: Option<Arc<dyn PreFilter>>,
    reserve: Option<Arc<dyn Reserve>>,
}

impl<T: Filter + 'static> FilterBuilder<T> {
    #[must_use]
    pub fn pre_filter(mut self) -> Self
    where
        T: PreFilter,
    {
        self.pre_filter = Some(self.plugin.clone());
        self
    }

    #[must_use]
    pub fn reserve(mut self) -> Self
    where
        T: Reserve,
    {
        self.reserve = Some(self.plugin.clone());
        self
    }
}

impl<T: Filter + 'static> From<FilterBuilder<T>> for FilterPoints {
    fn from(b: FilterBuilder<T>) -> Self {
        Self {
            filter: b.plugin,
            pre_filter: b.pre_filter,
            reserve: b.reserve,
        }
    }
}

/// A score plugin: its Score, with its PreScore when it has one.
pub struct ScorePoints {
    score: Arc<dyn Score>,
    pre_score: Option<Arc<dyn PreScore>>,
}

impl ScorePoints {
    /// `plugin` at Score alone.
    pub fn of<T: Score + 'static>(plugin: T) -> Self {
        Self {
            score: Arc::new(plugin),
            pre_score: None,
        }
    }

    /// `plugin` at PreScore and Score.
    pub fn with_pre_score<T: PreScore + Score + 'static>(plugin: T) -> Self {
        let plugin = Arc::new(plugin);
        Self {
            score: plugin.clone(),
            pre_score: Some(plugin),
        }
    }

    pub fn name(&self) -> &'static str {
        self.score.name()
    }

    pub fn pre_score(
        &self,
        ctx: &PodContext<'_>,
        feasible: &[&NodeInfo],
        filters: FilterStates<'_>,
    ) -> Prepared {
        self.pre_score
            .as_ref()
            .map_or(Prepared::Run(None), |p| p.pre_score(ctx, feasible, filters))
    }

    pub fn score(&self, state: Option<&PluginState>, pod: &PodRecord, node: &NodeInfo) -> i64 {
        self.score.score(state, pod, node)
    }

    pub fn normalize(&self, state: Option<&PluginState>, scores: &mut [i64]) {
        self.score.normalize(state, scores);
    }

    pub fn normalizes(&self) -> bool {
        self.score.normalizes()
    }

    pub fn node_local(&self, pod: &PodRecord) -> bool {
        self.score.node_local(pod)
    }

    pub fn reads_identity(&self) -> bool {
        self.score.reads_identity()
    }

    pub fn shape_key(&self, state: Option<&PluginState>) -> Option<u64> {
        self.score.shape_key(state)
    }
}
