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
    /// podium's own arguments (NUMA policy, rack label, reservations).
    #[serde(default)]
    pub podium: PodiumSpec,
    /// Other plugins' pluginConfig args by plugin name (kube's field names), read by the
    /// plugins themselves (InterPodAffinity, PodTopologySpread).
    #[serde(default)]
    pub plugin_args: BTreeMap<String, serde_json::Value>,
}

/// `podium` in the profile's spec: podium's own arguments.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodiumSpec {
    /// The NUMA policy of pods without a `podium.dev/numa` annotation (single, prefer, none).
    pub numa_default_policy: Option<String>,
    /// The node label naming a node's rack (what `podium.dev/rack` on a PodGroup asks for).
    pub rack_label: Option<String>,
    /// Gangs' topology levels, widest first (block, rack, host, ...): node labels whose
    /// values name domains; checked by `framework::levels::TopologyLevels::from_spec`.
    pub topology_levels: Option<Vec<String>>,
    /// NodeResourceTopologyMatch's and NUMAPacking's args, decoded by those plugins (as
    /// `plugin_args` are by theirs).
    pub numa: Option<serde_json::Value>,
    /// Whole-node reservations' args; checked by `ReservationArgs::check`.
    pub reservation: Option<ReservationArgs>,
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
    /// The args, checked; None when reservations are off (no resources, or no node may be
    /// held).
    pub fn check(self) -> CoreResult<Option<Self>> {
        if !(self.min_share > 0.0 && self.min_share <= 1.0) {
            return Err(CoreError::Invalid(format!(
                "minShare {} is not in (0, 1]",
                self.min_share
            )));
        }
        if !(0.0..=1.0).contains(&self.max_node_share) {
            return Err(CoreError::Invalid(format!(
                "maxNodeShare {} is not in [0, 1]",
                self.max_node_share
            )));
        }
        Ok((self.max_node_share > 0.0 && !self.resources.is_empty()).then_some(self))
    }
}
