//! A profile's spec as `podium.config.Profile.core_spec()` writes it (documented in
//! `_core.pyi`): the enabled plugins, their weights and args. Plugins read their args from it;
//! `runtime::profile` builds the plugins.

use crate::error::{CoreError, CoreResult};
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

/// `podium.reservation` in the profile's spec.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReservationArgs {
    /// The scarce resources whole-node pods ask for.
    pub resources: Vec<String>,
    /// A pod is reserved for when it asks for at least this share of a node's allocatable
    /// amount of one of `resources` (1.0: the whole node's).
    pub min_share: f64,
    /// At most this share of the nodes is held at once (nominations of any kind count); 0
    /// turns reservations off.
    pub max_node_share: f64,
}

impl ReservationArgs {
    /// The args in a profile spec's `podium.reservation`, checked; None when reservations are
    /// off (no resources, or no node may be held).
    pub fn parse(value: &serde_json::Value) -> CoreResult<Option<Self>> {
        let args: Self =
            serde_json::from_value(value.clone()).map_err(|e| CoreError::Invalid(e.to_string()))?;
        if !(args.min_share > 0.0 && args.min_share <= 1.0) {
            return Err(CoreError::Invalid(format!(
                "minShare {} is not in (0, 1]",
                args.min_share
            )));
        }
        if !(0.0..=1.0).contains(&args.max_node_share) {
            return Err(CoreError::Invalid(format!(
                "maxNodeShare {} is not in [0, 1]",
                args.max_node_share
            )));
        }
        Ok((args.max_node_share > 0.0 && !args.resources.is_empty()).then_some(args))
    }
}
