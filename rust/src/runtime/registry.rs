//! Plugins by kube-scheduler name. A new plugin is one folder under `plugins/` plus one line
//! here.

use crate::error::{CoreError, CoreResult};
use crate::framework::spec::ProfileSpec;
use crate::plugins::dynamic_resources::plugin as dynamic_resources;
use crate::plugins::{
    balanced_allocation, capacity_scheduling, image_locality, inter_pod_affinity, node_affinity,
    node_name, node_ports, node_resource_topology_match, node_resources_fit, node_unschedulable,
    numa_packing, pod_topology_spread, taint_toleration, volume_binding,
};
use crate::runtime::points::{FilterPoints, ScorePoints};

#[cfg(test)]
use crate::plugins::fewest_pods;

type FilterCtor = fn(&ProfileSpec) -> CoreResult<FilterPoints>;
type ScoreCtor = fn(&ProfileSpec) -> CoreResult<ScorePoints>;

const FILTERS: &[(&str, FilterCtor)] = &[
    (pod_topology_spread::filter::NAME, |spec| {
        Ok(
            FilterPoints::of(pod_topology_spread::filter::PodTopologySpread::from_spec(
                spec,
            )?)
            .pre_filter()
            .into(),
        )
    }),
    (inter_pod_affinity::filter::NAME, |_| {
        Ok(
            FilterPoints::of(inter_pod_affinity::filter::InterPodAffinity)
                .pre_filter()
                .into(),
        )
    }),
    (node_unschedulable::NAME, |_| {
        Ok(FilterPoints::of(node_unschedulable::NodeUnschedulable).into())
    }),
    (node_name::NAME, |_| {
        Ok(FilterPoints::of(node_name::NodeName).into())
    }),
    (taint_toleration::filter::NAME, |_| {
        Ok(FilterPoints::of(taint_toleration::filter::TaintToleration).into())
    }),
    (node_affinity::filter::NAME, |_| {
        Ok(FilterPoints::of(node_affinity::filter::NodeAffinity)
            .pre_filter()
            .into())
    }),
    (node_ports::NAME, |_| {
        Ok(FilterPoints::of(node_ports::NodePorts).pre_filter().into())
    }),
    (node_resources_fit::filter::NAME, |_| {
        Ok(
            FilterPoints::of(node_resources_fit::filter::NodeResourcesFit)
                .pre_filter()
                .into(),
        )
    }),
    (node_resource_topology_match::filter::NAME, |spec| {
        Ok(FilterPoints::of(
            node_resource_topology_match::filter::NodeResourceTopologyMatch::from_spec(spec)?,
        )
        .pre_filter()
        .reserve()
        .into())
    }),
    (volume_binding::NAME, |_| {
        Ok(FilterPoints::of(volume_binding::VolumeBinding)
            .pre_filter()
            .reserve()
            .into())
    }),
    (dynamic_resources::NAME, |_| {
        Ok(
            FilterPoints::of(dynamic_resources::DynamicResources::default())
                .pre_filter()
                .reserve()
                .into(),
        )
    }),
    (capacity_scheduling::NAME, |_| {
        Ok(FilterPoints::of(capacity_scheduling::CapacityScheduling)
            .pre_filter()
            .into())
    }),
];

const SCORES: &[(&str, ScoreCtor)] = &[
    (pod_topology_spread::score::NAME, |spec| {
        Ok(ScorePoints::with_pre_score(
            pod_topology_spread::score::PodTopologySpreadScore::from_spec(spec)?,
        ))
    }),
    (inter_pod_affinity::score::NAME, |spec| {
        Ok(ScorePoints::with_pre_score(
            inter_pod_affinity::score::InterPodAffinityScore::from_spec(spec)?,
        ))
    }),
    (image_locality::NAME, |_| {
        Ok(ScorePoints::with_pre_score(image_locality::ImageLocality))
    }),
    (node_resources_fit::score::NAME, |spec| {
        Ok(ScorePoints::with_pre_score(
            node_resources_fit::score::NodeResourcesFitScore::from_spec(spec)?,
        ))
    }),
    (balanced_allocation::NAME, |spec| {
        Ok(ScorePoints::with_pre_score(
            balanced_allocation::BalancedAllocation::from_spec(spec)?,
        ))
    }),
    (taint_toleration::score::NAME, |_| {
        Ok(ScorePoints::of(
            taint_toleration::score::TaintTolerationScore,
        ))
    }),
    (node_affinity::score::NAME, |_| {
        Ok(ScorePoints::with_pre_score(
            node_affinity::score::NodeAffinityScore,
        ))
    }),
    (numa_packing::NAME, |spec| {
        Ok(ScorePoints::with_pre_score(
            numa_packing::NumaPacking::from_spec(spec)?,
        ))
    }),
    (dynamic_resources::NAME, |_| {
        Ok(ScorePoints::with_pre_score(
            dynamic_resources::DynamicResourcesScore::default(),
        ))
    }),
    // The architecture guide's worked example (docs/architecture.md), for tests only.
    #[cfg(test)]
    (fewest_pods::NAME, |_| {
        Ok(ScorePoints::with_pre_score(fewest_pods::FewestPods))
    }),
];

pub fn filter(name: &str, spec: &ProfileSpec) -> CoreResult<FilterPoints> {
    let (_, ctor) = FILTERS
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| CoreError::Invalid(format!("unknown filter plugin {name:?}")))?;
    ctor(spec)
}

pub fn score(name: &str, spec: &ProfileSpec) -> CoreResult<ScorePoints> {
    let (_, ctor) = SCORES
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| CoreError::Invalid(format!("unknown score plugin {name:?}")))?;
    ctor(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plugin that says it does not normalize leaves every score as it is (a reused ranking
    /// counts on it: `scoring::Totals`), out-of-range ones included (the clamp comes after).
    #[test]
    fn plugins_that_do_not_normalize_leave_scores_unchanged() {
        let spec: ProfileSpec =
            serde_json::from_str(r#"{"schedulerName":"podium"}"#).expect("valid spec");
        let raw = [-7, 0, 3, 50, 100, 250];
        let mut normalizing = Vec::new();
        for (name, ctor) in SCORES {
            let plugin = ctor(&spec).expect("builds with defaults");
            let mut scores = raw;
            plugin.normalize(None, &mut scores);
            if plugin.normalizes() {
                normalizing.push(*name);
            } else {
                assert_eq!(scores, raw, "{name} says it does not normalize");
            }
        }
        assert!(normalizing.contains(&taint_toleration::score::NAME));
        assert!(!normalizing.contains(&node_resources_fit::score::NAME));
    }
}
