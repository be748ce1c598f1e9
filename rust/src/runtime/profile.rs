//! A scheduling profile: the enabled plugins with their args and weights, and the worker pool
//! its cycles run on. Built from the JSON spec `podium.config.Profile.core_spec()` writes.

use std::sync::Arc;

use crate::error::{CoreError, CoreResult};
use crate::framework::levels::TopologyLevels;
use crate::framework::sampling::StartIndex;
use crate::framework::spec::{ProfileSpec, ReservationArgs};
use crate::runtime::kept_statics::KeptStatics;
use crate::runtime::points::{FilterPoints, ScorePoints};
use crate::runtime::registry;
use crate::state::object::{decode, decode_value};

pub struct WeightedScore {
    pub plugin: ScorePoints,
    pub weight: i64,
}

pub struct Profile {
    pub scheduler_name: String,
    pub filters: Vec<FilterPoints>,
    /// `filters`' names, in their order (how a score finds a filter's state).
    pub filter_names: Vec<&'static str>,
    pub scores: Vec<WeightedScore>,
    /// 0: kube's adaptive rule (see `sampling`).
    pub percentage_of_nodes_to_score: usize,
    /// Where the next cycle of this profile starts filtering.
    pub start: StartIndex,
    pub pool: Arc<rayon::ThreadPool>,
    /// Static filter verdicts kept from one batch to the next while the nodes are the same.
    pub statics: KeptStatics,
    /// Whole-node reservations' args (`podium.reservation`); None: reservations are off.
    pub reservation: Option<ReservationArgs>,
    /// Gangs' topology levels (`podium.topologyLevels`, `podium.rackLabel`).
    pub levels: TopologyLevels,
    pub spec: ProfileSpec,
}

/// kube-scheduler's default `parallelism`.
const DEFAULT_PARALLELISM: usize = 16;

impl Profile {
    pub fn from_json(bytes: &[u8]) -> CoreResult<Self> {
        let spec: ProfileSpec = decode(bytes).map_err(|e| e.in_object("Profile"))?;
        Self::from_spec(spec)
    }

    /// As `from_json`, from the spec as a JSON value (what the Python boundary hands over).
    pub fn from_value(value: serde_json::Value) -> CoreResult<Self> {
        let spec: ProfileSpec = decode_value(value).map_err(|e| e.in_object("Profile"))?;
        Self::from_spec(spec)
    }

    pub fn from_spec(spec: ProfileSpec) -> CoreResult<Self> {
        let who = format!("Profile {:?}", spec.scheduler_name);
        let invalid =
            |field: &str, msg: String| CoreError::Invalid(format!("{who}: {field}: {msg}"));
        if spec.scheduler_name.is_empty() {
            return Err(invalid("schedulerName", "must not be empty".into()));
        }
        if !(0..=100).contains(&spec.percentage_of_nodes_to_score) {
            return Err(invalid(
                "percentageOfNodesToScore",
                format!("{} is not in 0..100", spec.percentage_of_nodes_to_score),
            ));
        }
        let reservation = match spec.podium.reservation.clone() {
            Some(args) => args
                .check()
                .map_err(|e| invalid("podium.reservation", e.to_string()))?,
            None => None,
        };
        let levels = TopologyLevels::new(
            spec.podium.rack_label.as_deref(),
            spec.podium.topology_levels.as_deref(),
        )
        .map_err(|e| CoreError::Invalid(format!("{who}: {e}")))?;
        let mut filters = Vec::with_capacity(spec.filters.len());
        for (i, name) in spec.filters.iter().enumerate() {
            let plugin = registry::filter(name, &spec)
                .map_err(|e| invalid(&format!("filters[{i}]"), e.to_string()))?;
            filters.push(plugin);
        }
        let mut scores = Vec::with_capacity(spec.scores.len());
        for (name, &weight) in &spec.scores {
            if weight < 0 {
                return Err(invalid(
                    &format!("scores.{name}"),
                    format!("negative weight {weight}"),
                ));
            }
            let plugin = registry::score(name, &spec)
                .map_err(|e| invalid(&format!("scores.{name}"), e.to_string()))?;
            scores.push(WeightedScore { plugin, weight });
        }
        let wanted = match spec.parallelism {
            0 => DEFAULT_PARALLELISM,
            n if n > 0 => usize::try_from(n).unwrap_or(DEFAULT_PARALLELISM),
            n => return Err(invalid("parallelism", format!("{n} is negative"))),
        };
        // kube's parallelism counts goroutines; these are OS threads, and more of them than
        // cores only makes the work-stealing pool spin against itself.
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let threads = wanted.min(cores);
        let name = spec.scheduler_name.clone();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(move |i| format!("podium-{name}-{i}"))
            .build()
            .map_err(|e| CoreError::Internal(format!("{who}: worker pool: {e}")))?;
        Ok(Self {
            scheduler_name: spec.scheduler_name.clone(),
            filter_names: filters.iter().map(|f| f.name()).collect(),
            filters,
            scores,
            percentage_of_nodes_to_score: usize::try_from(spec.percentage_of_nodes_to_score)
                .unwrap_or(0),
            start: StartIndex::default(),
            pool: Arc::new(pool),
            statics: KeptStatics::default(),
            reservation,
            levels,
            spec,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_spec() {
        let p = Profile::from_json(
            br#"{"schedulerName":"podium","filters":["NodeUnschedulable","NodeResourcesFit"],
                 "scores":{"NodeResourcesFit":1,"TaintToleration":3},
                 "fit":{"strategy":"MostAllocated","resources":[{"name":"cpu","weight":1}],"shape":[]},
                 "balancedResources":[{"name":"cpu","weight":1}],
                 "percentageOfNodesToScore":0,"parallelism":2,"podium":{"rackLabel":"r"}}"#,
        )
        .expect("valid");
        assert_eq!(p.scheduler_name, "podium");
        assert_eq!(p.filters.len(), 2);
        assert_eq!(p.scores.len(), 2);
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        assert_eq!(p.pool.current_num_threads(), 2.min(cores));
    }

    #[test]
    fn unknown_plugin_is_named() {
        let err = Profile::from_json(br#"{"schedulerName":"podium","filters":["NodeMagic"]}"#)
            .err()
            .expect("unknown plugin");
        assert!(err.to_string().contains("NodeMagic"), "{err}");
        assert!(err.to_string().contains("filters[0]"), "{err}");
        let err = Profile::from_json(br#"{"schedulerName":"podium","scores":{"Nope":1}}"#)
            .err()
            .expect("unknown score plugin");
        assert!(err.to_string().contains("Nope"), "{err}");
    }

    #[test]
    fn bad_fields_are_named() {
        let err = Profile::from_json(br#"{"schedulerName":"p","parallelism":"x"}"#)
            .err()
            .unwrap();
        assert!(err.to_string().contains("parallelism"), "{err}");
        let err = Profile::from_json(br#"{"schedulerName":"p","bogus":1}"#)
            .err()
            .unwrap();
        assert!(err.to_string().contains("bogus"), "{err}");
        let err = Profile::from_json(
            br#"{"schedulerName":"p","scores":{"NodeResourcesFit":1},"fit":{"strategy":"Random"}}"#,
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("Random"), "{err}");
    }
}
