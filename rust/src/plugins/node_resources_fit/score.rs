//! NodeResourcesFit (score): LeastAllocated (spread), MostAllocated (bin-pack) or
//! RequestedToCapacityRatio (a piecewise-linear shape over utilization), each a weighted average
//! over the configured resources.
//!
//! An extended resource a DeviceClass serves is scored on a node without it in its allocatable
//! by the class's devices there, as kube-scheduler does (DRAExtendedResource, GA in 1.37):
//! PreScore takes the devices and what is allocated (`DraScoring`), Score counts them per node.

use crate::error::{CoreError, CoreResult};
use crate::framework::cycle_state::{FilterStates, PluginState};
use crate::framework::plugin::{MAX_NODE_SCORE, Plugin, PodContext, PreScore, Prepared, Score};
use crate::framework::spec::ProfileSpec;
use crate::plugins::node_resources_fit::resource_allocation::{
    DraMatchers, DraScoring, allocatable_and_requested, weighted_resources,
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
    matchers: DraMatchers,
}

impl NodeResourcesFitScore {
    pub fn new(strategy: Strategy, resources: Vec<(ResourceName, i64)>) -> Self {
        Self {
            strategy,
            resources,
            matchers: DraMatchers::default(),
        }
    }

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
        Ok(Self::new(strategy, resources))
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

fn dra_scoring(state: Option<&PluginState>) -> Option<&DraScoring> {
    state.and_then(|s| s.downcast_ref::<DraScoring>())
}

impl PreScore for NodeResourcesFitScore {
    /// kube's PreScore takes the DRA state when a scored resource is one a DeviceClass serves.
    fn pre_score(
        &self,
        ctx: &PodContext<'_>,
        _feasible: &[&NodeInfo],
        _filters: FilterStates<'_>,
    ) -> Prepared {
        let dra = DraScoring::prepare(ctx.dra, &self.matchers, &self.resources, ctx.pod);
        Prepared::Run(dra.map(|d| Box::new(d) as PluginState))
    }
}

impl Score for NodeResourcesFitScore {
    fn normalizes(&self) -> bool {
        false
    }

    /// The node's own resources, and its own devices' allocations (see `shape_key` for
    /// network-attached ones).
    fn node_local(&self, _: &PodRecord) -> bool {
        true
    }

    fn reads_identity(&self) -> bool {
        false
    }

    /// Network-attached devices counted for a DRA-backed resource are taken by placements on
    /// other nodes too: such scores are not to be reused.
    fn shape_key(&self, state: Option<&PluginState>) -> Option<u64> {
        dra_scoring(state).map_or(Some(0), |d| d.node_local().then_some(0))
    }

    fn score(&self, state: Option<&PluginState>, pod: &PodRecord, node: &NodeInfo) -> i64 {
        let dra = dra_scoring(state);
        let mut total: i64 = 0;
        let mut weights: i64 = 0;
        for &(resource, weight) in &self.resources {
            let (alloc, req) = allocatable_and_requested(node, pod, resource, false, dra);
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
        NodeResourcesFitScore::new(
            strategy,
            vec![(ResourceName::Cpu, 1), (ResourceName::Memory, 1)],
        )
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

    /// Nodes `n` (with `held` of its 4 GPUs allocated) and `m` (4 free GPUs), no device
    /// plugin: `nvidia.com/gpu` is served by the GPU class's devices.
    fn dra_world(held: usize) -> crate::state::dra::Dra {
        use crate::error::CoreError;
        use crate::state::dra::claim::Claim;
        use crate::state::dra::class::DeviceClass;
        use crate::state::dra::fixtures::{claim_json, gpu_node_slice};
        use crate::state::dra::slice::Slice;
        let mut dra = crate::state::dra::Dra::default();
        let class = r#"{"metadata":{"name":"gpu.example.com"},"spec":{"extendedResourceName":"nvidia.com/gpu"}}"#;
        dra.upsert_class(
            "gpu.example.com",
            DeviceClass::decode(class).map_err(CoreError::from),
        );
        for n in ["n", "m"] {
            let slice = Slice::decode(&gpu_node_slice(n, 4, 1)).map_err(CoreError::from);
            dra.upsert_slice(n, slice);
        }
        let results: Vec<String> = (0..held)
            .map(|i| {
                format!(
                    r#"{{"request":"gpu","driver":"gpu.example.com","pool":"n","device":"gpu-{i}"}}"#
                )
            })
            .collect();
        let claim = claim_json(
            "ns",
            "held",
            r#"[{"name":"gpu","exactly":{"deviceClassName":"gpu.example.com"}}]"#,
            "[]",
            &format!(
                r#"{{"allocation":{{"devices":{{"results":[{}]}}}}}}"#,
                results.join(",")
            ),
        );
        dra.upsert_claim("ns", "held", Claim::decode(&claim).map_err(CoreError::from));
        dra
    }

    #[test]
    fn extended_resources_dra_serves_are_scored_by_the_class_devices() {
        let gpu = ResourceName::Scalar(sym("nvidia.com/gpu"));
        let dra = dra_world(2);
        let mut p = pod("p");
        p.requests.set(gpu, 1);
        p.non_zero_requests = p.requests.clone();
        let (n, m) = (node("n", 1000, 1000).build(), node("m", 1000, 1000).build());
        let scores = |strategy: Strategy| {
            let s = NodeResourcesFitScore::new(strategy, vec![(gpu, 1)]);
            let state = DraScoring::prepare(&dra, &s.matchers, &s.resources, &p)
                .map(|d| Box::new(d) as PluginState);
            (
                s.score(state.as_ref(), &p, &n),
                s.score(state.as_ref(), &p, &m),
            )
        };
        // n: 2 held + 1 asked of 4; m: 1 of 4.
        assert_eq!(scores(Strategy::MostAllocated), (75, 25));
        assert_eq!(scores(Strategy::LeastAllocated), (25, 75));
        assert_eq!(
            scores(Strategy::RequestedToCapacityRatio(vec![(0, 0), (100, 100)])),
            (75, 25)
        );
        // With cpu and memory in the average, the GPUs still tell the nodes apart.
        let s = NodeResourcesFitScore::new(
            Strategy::MostAllocated,
            vec![(ResourceName::Cpu, 1), (ResourceName::Memory, 1), (gpu, 1)],
        );
        let state = DraScoring::prepare(&dra, &s.matchers, &s.resources, &p)
            .map(|d| Box::new(d) as PluginState);
        assert_eq!(s.score(state.as_ref(), &p, &n), 25);
        assert_eq!(s.score(state.as_ref(), &p, &m), 8);
        assert_eq!(s.shape_key(state.as_ref()), Some(0));
    }

    #[test]
    fn extended_resources_scored_only_when_requested() {
        let gpu = sym("nvidia.com/gpu");
        let mut n = node("n", 1000, 1000);
        n.record.allocatable.set(ResourceName::Scalar(gpu), 8);
        let info = n.build();
        let s = NodeResourcesFitScore::new(
            Strategy::MostAllocated,
            vec![(ResourceName::Scalar(gpu), 1)],
        );
        let mut p = pod("p");
        assert_eq!(s.score(None, &p, &info), 0);
        p.requests.set(ResourceName::Scalar(gpu), 2);
        p.non_zero_requests.set(ResourceName::Scalar(gpu), 2);
        assert_eq!(s.score(None, &p, &info), 25);
    }
}
