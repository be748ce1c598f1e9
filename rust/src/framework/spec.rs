//! A profile's spec as `podium.config.Profile.core_spec()` writes it (documented in
//! `_core.pyi`): the enabled plugins, their weights and args. Plugins read their args from it;
//! `runtime::profile` builds the plugins.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ResourceWeight {
    pub name: String,
    pub weight: i64,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ShapePoint {
    pub utilization: i64,
    pub score: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitSpec {
    pub strategy: Option<String>,
    pub resources: Option<Vec<ResourceWeight>>,
    pub shape: Option<Vec<ShapePoint>>,
}

/// The profile spec as documented in `_core.pyi`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileSpec {
    pub scheduler_name: String,
    #[serde(default)]
    pub filters: Vec<String>,
    #[serde(default)]
    pub scores: BTreeMap<String, i64>,
    #[serde(default)]
    pub fit: FitSpec,
    pub balanced_resources: Option<Vec<ResourceWeight>>,
    #[serde(default)]
    pub percentage_of_nodes_to_score: i64,
    #[serde(default)]
    pub parallelism: i64,
    /// podium's own arguments (NUMA policy, rack label): read by the plugins that need them.
    #[serde(default)]
    pub podium: serde_json::Value,
    /// Other plugins' pluginConfig args by plugin name (kube's field names), read by the
    /// plugins themselves (InterPodAffinity, PodTopologySpread).
    #[serde(default)]
    pub plugin_args: BTreeMap<String, serde_json::Value>,
}
