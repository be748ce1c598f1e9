//! NodeResourcesFit (score): LeastAllocated (spread), MostAllocated (bin-pack) or
//! RequestedToCapacityRatio (a piecewise-linear shape over utilization), each a weighted average
//! over the configured resources.

use crate::error::{CoreError, CoreResult};
use crate::framework::cycle_state::PluginState;
use crate::framework::plugin::{MAX_NODE_SCORE, Plugin, Score};
use crate::framework::spec::ProfileSpec;
use crate::plugins::node_resources_fit::resource_allocation::{
    allocatable_and_requested, weighted_resources,
};
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::resources::ResourceName;

pub const NAME: &str = "NodeResourcesFit";
/// Shape scores are given in 0..=10 (`MaxCustomPriorityScore`).
const MAX_SHAPE_SCORE: i64 = 10;
const MAX_UTILIZATION: i64 = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    LeastAllocated,
    MostAllocated,
    /// (utilization, score scaled to 0..=100) points, utilization increasing.
    RequestedToCapacityRatio(Vec<(i64, i64)>),
}

pub struct NodeResourcesFitScore {
    pub strategy: Strategy,
    pub resources: Vec<(ResourceName, i64)>,
}

impl NodeResourcesFitScore {
    pub fn from_spec(spec: &ProfileSpec) -> CoreResult<Self> {
        let fit = &spec.fit;
        let strategy = match fit.strategy.as_deref().unwrap_or("LeastAllocated") {
            "LeastAllocated" => Strategy::LeastAllocated,
            "MostAllocated" => Strategy::MostAllocated,
            "RequestedToCapacityRatio" => {
                let points = fit.shape.as_deref().unwrap_or_default();
                if points.is_empty() {
                    return Err(CoreError::Invalid(
                        "fit.shape: RequestedToCapacityRatio needs at least one point".into(),
                    ));
                }
                let mut shape = Vec::with_capacity(points.len());
                for (i, p) in points.iter().enumerate() {
                    if !(0..=MAX_UTILIZATION).contains(&p.utilization) {
                        return Err(CoreError::Invalid(format!(
                            "fit.shape[{i}].utilization: {} is not in 0..100",
                            p.utilization
                        )));
                    }
                    if !(0..=MAX_SHAPE_SCORE).contains(&p.score) {
                        return Err(CoreError::Invalid(format!(
                            "fit.shape[{i}].score: {} is not in 0..10",
                            p.score
                        )));
                    }
                    if shape.last().is_some_and(|&(u, _)| u >= p.utilization) {
                        return Err(CoreError::Invalid(format!(
                            "fit.shape[{i}].utilization: must increase"
                        )));
                    }
                    shape.push((p.utilization, p.score * (MAX_NODE_SCORE / MAX_SHAPE_SCORE)));
                }
                Strategy::RequestedToCapacityRatio(shape)
            }
            other => {
                return Err(CoreError::Invalid(format!(
                    "fit.strategy: unknown scoring strategy {other:?}"
                )));
            }
        };
        let resources = weighted_resources(fit.resources.as_deref())
            .map_err(|e| CoreError::Invalid(format!("fit.{e}")))?;
        Ok(Self {
            strategy,
            resources,
        })
    }
}

fn least_requested(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX_NODE_SCORE / capacity
}

fn most_requested(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 {
        return 0;
    }
    requested.min(capacity) * MAX_NODE_SCORE / capacity
}

fn broken_linear(shape: &[(i64, i64)], p: i64) -> i64 {
    for (i, &(u, s)) in shape.iter().enumerate() {
        if p <= u {
            if i == 0 {
                return s;
            }
            let (u0, s0) = shape[i - 1];
            return s0 + (s - s0) * (p - u0) / (u - u0);
        }
    }
    shape.last().map_or(0, |&(_, s)| s)
}

fn shaped(shape: &[(i64, i64)], requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        return broken_linear(shape, MAX_UTILIZATION);
    }
    broken_linear(shape, requested.saturating_mul(MAX_UTILIZATION) / capacity)
}

impl Plugin for NodeResourcesFitScore {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl Score for NodeResourcesFitScore {
    fn node_local(&self, _: &PodRecord) -> bool {
        true
    }

    fn reads_identity(&self) -> bool {
        false
    }

    fn score(&self, _: Option<&PluginState>, pod: &PodRecord, node: &NodeInfo) -> i64 {
        let mut total: i64 = 0;
        let mut weights: i64 = 0;
        for &(resource, weight) in &self.resources {
            let (alloc, req) = allocatable_and_requested(node, pod, resource, false);
            if alloc == 0 {
                continue;
            }
            let score = match &self.strategy {
                Strategy::LeastAllocated => least_requested(req, alloc),
                Strategy::MostAllocated => most_requested(req, alloc),
                Strategy::RequestedToCapacityRatio(shape) => {
                    let s = shaped(shape, req, alloc);
                    // kube leaves zero-scoring resources out of the average for this strategy.
                    if s == 0 {
                        continue;
                    }
                    s
                }
            };
            total += score * weight;
            weights += weight;
        }
        if weights == 0 {
            return 0;
        }
        match self.strategy {
            Strategy::RequestedToCapacityRatio(_) => (total + weights / 2) / weights,
            _ => total / weights,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::sym;
    use crate::testutil::{node, pod, with_requests};
    use std::sync::Arc;

    fn scorer(strategy: Strategy) -> NodeResourcesFitScore {
        NodeResourcesFitScore {
            strategy,
            resources: vec![(ResourceName::Cpu, 1), (ResourceName::Memory, 1)],
        }
    }

    #[test]
    fn least_allocated_prefers_empty_nodes() {
        let mut info = node("n", 4000, 10_000).build();
        let p = with_requests(pod("p"), 1000, 2_500);
        // cpu (4000-1000)*100/4000 = 75, memory (10000-2500)*100/10000 = 75.
        assert_eq!(scorer(Strategy::LeastAllocated).score(None, &p, &info), 75);
        info.add_pod(Arc::new(with_requests(pod("x"), 2000, 5_000)));
        assert_eq!(scorer(Strategy::LeastAllocated).score(None, &p, &info), 25);
    }

    #[test]
    fn most_allocated_prefers_full_nodes() {
        let info = node("n", 4000, 10_000).build();
        let p = with_requests(pod("p"), 1000, 5_000);
        assert_eq!(
            scorer(Strategy::MostAllocated).score(None, &p, &info),
            (25 + 50) / 2
        );
    }

    #[test]
    fn non_zero_defaults_are_scored() {
        let info = node("n", 1000, 1 << 30).build();
        let mut p = pod("p");
        p.non_zero_requests.milli_cpu = 100;
        p.non_zero_requests.memory = 200 << 20;
        // cpu 90, memory (1024-200)*100/1024 = 80.
        assert_eq!(scorer(Strategy::LeastAllocated).score(None, &p, &info), 85);
    }

    #[test]
    fn requested_to_capacity_ratio_follows_the_shape() {
        let s = scorer(Strategy::RequestedToCapacityRatio(vec![(0, 0), (100, 100)]));
        let info = node("n", 1000, 1000).build();
        let p = with_requests(pod("p"), 300, 500);
        assert_eq!(s.score(None, &p, &info), 40);
        assert_eq!(broken_linear(&[(10, 20), (50, 100)], 5), 20);
        assert_eq!(broken_linear(&[(10, 20), (50, 100)], 30), 60);
        assert_eq!(broken_linear(&[(10, 20), (50, 100)], 80), 100);
    }

    #[test]
    fn extended_resources_scored_only_when_requested() {
        let gpu = sym("nvidia.com/gpu");
        let mut n = node("n", 1000, 1000);
        n.record.allocatable.set(ResourceName::Scalar(gpu), 8);
        let info = n.build();
        let s = NodeResourcesFitScore {
            strategy: Strategy::MostAllocated,
            resources: vec![(ResourceName::Scalar(gpu), 1)],
        };
        let mut p = pod("p");
        assert_eq!(s.score(None, &p, &info), 0);
        p.requests.set(ResourceName::Scalar(gpu), 2);
        p.non_zero_requests.set(ResourceName::Scalar(gpu), 2);
        assert_eq!(s.score(None, &p, &info), 25);
    }
}
