//! Plugins by kube-scheduler name. A new plugin is one file plus one line here.

use crate::filter;
use crate::framework::plugin::{FilterPlugin, ScorePlugin};
use crate::framework::profile::ProfileSpec;
use crate::score;

type FilterCtor = fn(&ProfileSpec) -> Result<Box<dyn FilterPlugin>, String>;
type ScoreCtor = fn(&ProfileSpec) -> Result<Box<dyn ScorePlugin>, String>;

const FILTERS: &[(&str, FilterCtor)] = &[
    (filter::pod_topology_spread::NAME, |spec| {
        Ok(Box::new(
            filter::pod_topology_spread::PodTopologySpread::from_spec(spec)?,
        ))
    }),
    (filter::inter_pod_affinity::NAME, |_| {
        Ok(Box::new(filter::inter_pod_affinity::InterPodAffinity))
    }),
    (filter::node_unschedulable::NAME, |_| {
        Ok(Box::new(filter::node_unschedulable::NodeUnschedulable))
    }),
    (filter::node_name::NAME, |_| {
        Ok(Box::new(filter::node_name::NodeName))
    }),
    (filter::taint_toleration::NAME, |_| {
        Ok(Box::new(filter::taint_toleration::TaintToleration))
    }),
    (filter::node_affinity::NAME, |_| {
        Ok(Box::new(filter::node_affinity::NodeAffinity))
    }),
    (filter::node_ports::NAME, |_| {
        Ok(Box::new(filter::node_ports::NodePorts))
    }),
    (filter::node_resources_fit::NAME, |_| {
        Ok(Box::new(filter::node_resources_fit::NodeResourcesFit))
    }),
    (filter::node_resource_topology_match::NAME, |spec| {
        Ok(Box::new(
            filter::node_resource_topology_match::NodeResourceTopologyMatch::from_spec(spec)?,
        ))
    }),
    (filter::volume_binding::NAME, |_| {
        Ok(Box::new(filter::volume_binding::VolumeBinding))
    }),
];

const SCORES: &[(&str, ScoreCtor)] = &[
    (score::pod_topology_spread::NAME, |spec| {
        Ok(Box::new(
            score::pod_topology_spread::PodTopologySpreadScore::from_spec(spec)?,
        ))
    }),
    (score::inter_pod_affinity::NAME, |spec| {
        Ok(Box::new(
            score::inter_pod_affinity::InterPodAffinityScore::from_spec(spec)?,
        ))
    }),
    (score::image_locality::NAME, |_| {
        Ok(Box::new(score::image_locality::ImageLocality))
    }),
    (score::node_resources_fit::NAME, |spec| {
        Ok(Box::new(
            score::node_resources_fit::NodeResourcesFitScore::from_spec(spec)?,
        ))
    }),
    (score::balanced_allocation::NAME, |spec| {
        Ok(Box::new(
            score::balanced_allocation::BalancedAllocation::from_spec(spec)?,
        ))
    }),
    (score::taint_toleration::NAME, |_| {
        Ok(Box::new(score::taint_toleration::TaintTolerationScore))
    }),
    (score::node_affinity::NAME, |_| {
        Ok(Box::new(score::node_affinity::NodeAffinityScore))
    }),
    (score::numa_packing::NAME, |spec| {
        Ok(Box::new(score::numa_packing::NumaPacking::from_spec(spec)?))
    }),
];

pub fn filter(name: &str, spec: &ProfileSpec) -> Result<Box<dyn FilterPlugin>, String> {
    let (_, ctor) = FILTERS
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| format!("unknown filter plugin {name:?}"))?;
    ctor(spec)
}

pub fn score(name: &str, spec: &ProfileSpec) -> Result<Box<dyn ScorePlugin>, String> {
    let (_, ctor) = SCORES
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| format!("unknown score plugin {name:?}"))?;
    ctor(spec)
}

pub fn filter_names() -> impl Iterator<Item = &'static str> {
    FILTERS.iter().map(|(n, _)| *n)
}

pub fn score_names() -> impl Iterator<Item = &'static str> {
    SCORES.iter().map(|(n, _)| *n)
}
