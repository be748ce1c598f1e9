//! Plugins by kube-scheduler name. A new plugin is one folder under `plugins/` plus one line
//! here.

use crate::error::{CoreError, CoreResult};
use crate::framework::plugin::{FilterPlugin, ScorePlugin};
use crate::framework::spec::ProfileSpec;
use crate::plugins::dynamic_resources::plugin as dynamic_resources;
use crate::plugins::{
    balanced_allocation, image_locality, inter_pod_affinity, node_affinity, node_name, node_ports,
    node_resource_topology_match, node_resources_fit, node_unschedulable, numa_packing,
    pod_topology_spread, taint_toleration, volume_binding,
};

#[cfg(test)]
use crate::plugins::fewest_pods;

type FilterCtor = fn(&ProfileSpec) -> CoreResult<Box<dyn FilterPlugin>>;
type ScoreCtor = fn(&ProfileSpec) -> CoreResult<Box<dyn ScorePlugin>>;

const FILTERS: &[(&str, FilterCtor)] = &[
    (pod_topology_spread::filter::NAME, |spec| {
        Ok(Box::new(
            pod_topology_spread::filter::PodTopologySpread::from_spec(spec)?,
        ))
    }),
    (inter_pod_affinity::filter::NAME, |_| {
        Ok(Box::new(inter_pod_affinity::filter::InterPodAffinity))
    }),
    (node_unschedulable::NAME, |_| {
        Ok(Box::new(node_unschedulable::NodeUnschedulable))
    }),
    (node_name::NAME, |_| Ok(Box::new(node_name::NodeName))),
    (taint_toleration::filter::NAME, |_| {
        Ok(Box::new(taint_toleration::filter::TaintToleration))
    }),
    (node_affinity::filter::NAME, |_| {
        Ok(Box::new(node_affinity::filter::NodeAffinity))
    }),
    (node_ports::NAME, |_| Ok(Box::new(node_ports::NodePorts))),
    (node_resources_fit::filter::NAME, |_| {
        Ok(Box::new(node_resources_fit::filter::NodeResourcesFit))
    }),
    (node_resource_topology_match::filter::NAME, |spec| {
        Ok(Box::new(
            node_resource_topology_match::filter::NodeResourceTopologyMatch::from_spec(spec)?,
        ))
    }),
    (volume_binding::NAME, |_| {
        Ok(Box::new(volume_binding::VolumeBinding))
    }),
    (dynamic_resources::NAME, |_| {
        Ok(Box::new(dynamic_resources::DynamicResources::default()))
    }),
];

const SCORES: &[(&str, ScoreCtor)] = &[
    (pod_topology_spread::score::NAME, |spec| {
        Ok(Box::new(
            pod_topology_spread::score::PodTopologySpreadScore::from_spec(spec)?,
        ))
    }),
    (inter_pod_affinity::score::NAME, |spec| {
        Ok(Box::new(
            inter_pod_affinity::score::InterPodAffinityScore::from_spec(spec)?,
        ))
    }),
    (image_locality::NAME, |_| {
        Ok(Box::new(image_locality::ImageLocality))
    }),
    (node_resources_fit::score::NAME, |spec| {
        Ok(Box::new(
            node_resources_fit::score::NodeResourcesFitScore::from_spec(spec)?,
        ))
    }),
    (balanced_allocation::NAME, |spec| {
        Ok(Box::new(
            balanced_allocation::BalancedAllocation::from_spec(spec)?,
        ))
    }),
    (taint_toleration::score::NAME, |_| {
        Ok(Box::new(taint_toleration::score::TaintTolerationScore))
    }),
    (node_affinity::score::NAME, |_| {
        Ok(Box::new(node_affinity::score::NodeAffinityScore))
    }),
    (numa_packing::NAME, |spec| {
        Ok(Box::new(numa_packing::NumaPacking::from_spec(spec)?))
    }),
    (dynamic_resources::NAME, |_| {
        Ok(Box::new(dynamic_resources::DynamicResourcesScore::default()))
    }),
    // The architecture guide's worked example (docs/architecture.md), for tests only.
    #[cfg(test)]
    (fewest_pods::NAME, |_| Ok(Box::new(fewest_pods::FewestPods))),
];

pub fn filter(name: &str, spec: &ProfileSpec) -> CoreResult<Box<dyn FilterPlugin>> {
    let (_, ctor) = FILTERS
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| CoreError::Invalid(format!("unknown filter plugin {name:?}")))?;
    ctor(spec)
}

pub fn score(name: &str, spec: &ProfileSpec) -> CoreResult<Box<dyn ScorePlugin>> {
    let (_, ctor) = SCORES
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| CoreError::Invalid(format!("unknown score plugin {name:?}")))?;
    ctor(spec)
}
