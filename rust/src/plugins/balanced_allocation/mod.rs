//! NodeResourcesBalancedAllocation: prefer nodes whose resources would be used evenly
//! (one minus the standard deviation of the requested fractions).

use crate::error::{CoreError, CoreResult};
use crate::framework::cycle_state::{FilterStates, PluginState};
use crate::framework::plugin::{MAX_NODE_SCORE, Plugin, PodContext, PreScore, Prepared, Score};
use crate::framework::spec::ProfileSpec;
use crate::plugins::node_resources_fit::resource_allocation::{
    allocatable_and_requested, weighted_resources,
};
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::resources::ResourceName;

pub const NAME: &str = "NodeResourcesBalancedAllocation";

pub struct BalancedAllocation {
    pub resources: Vec<ResourceName>,
}

impl BalancedAllocation {
    pub fn from_spec(spec: &ProfileSpec) -> CoreResult<Self> {
        let resources = weighted_resources(spec.balanced_resources.as_deref())
            .map_err(|e| CoreError::Invalid(format!("balancedResources.{e}")))?;
        Ok(Self {
            resources: resources.into_iter().map(|(r, _)| r).collect(),
        })
    }
}

#[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
fn balanced_score(fractions: &[f64]) -> i64 {
    let std = match fractions {
        [] | [_] => 0.0,
        [a, b] => ((a - b) / 2.0).abs(),
        _ => {
            let n = fractions.len() as f64;
            let mean = fractions.iter().sum::<f64>() / n;
            (fractions
                .iter()
                .map(|f| (f - mean) * (f - mean))
                .sum::<f64>()
                / n)
                .sqrt()
        }
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

impl Plugin for BalancedAllocation {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl PreScore for BalancedAllocation {
    fn pre_score(
        &self,
        ctx: &PodContext<'_>,
        _: &[&NodeInfo],
        _filters: FilterStates<'_>,
    ) -> Prepared {
        // A pod that requests none of the resources would score every node the same.
        if self.resources.iter().all(|&r| ctx.pod.requests.get(r) == 0) {
            Prepared::Skip
        } else {
            Prepared::Run(None)
        }
    }
}

impl Score for BalancedAllocation {
    fn normalizes(&self) -> bool {
        false
    }

    fn node_local(&self, _: &PodRecord) -> bool {
        true
    }

    fn reads_identity(&self) -> bool {
        false
    }

    #[allow(clippy::cast_precision_loss)]
    fn score(&self, _: Option<&PluginState>, pod: &PodRecord, node: &NodeInfo) -> i64 {
        // Profiles name a handful of resources: keep the fractions on the stack.
        let mut buf = [0.0f64; 8];
        let mut heap = Vec::new();
        let mut len = 0;
        for &r in &self.resources {
            // No DRA devices counted: kube's NewBalancedAllocation hands its scorer no DRA
            // manager, so only NodeResourcesFit scores extended resources DRA serves.
            let (alloc, req) = allocatable_and_requested(node, pod, r, true, None);
            if alloc == 0 {
                continue;
            }
            let fraction = (req as f64 / alloc as f64).min(1.0);
            if len < buf.len() {
                buf[len] = fraction;
            } else {
                if heap.is_empty() {
                    heap.extend_from_slice(&buf);
                }
                heap.push(fraction);
            }
            len += 1;
        }
        if len > buf.len() {
            return balanced_score(&heap);
        }
        balanced_score(&buf[..len])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{node, pod, with_requests};

    fn plugin() -> BalancedAllocation {
        BalancedAllocation {
            resources: vec![ResourceName::Cpu, ResourceName::Memory],
        }
    }

    #[test]
    fn even_use_scores_high() {
        let info = node("n", 1000, 1000).build();
        assert_eq!(
            plugin().score(None, &with_requests(pod("p"), 500, 500), &info),
            100
        );
        // fractions 0.8 and 0.2: std 0.3 -> 70.
        assert_eq!(
            plugin().score(None, &with_requests(pod("p"), 800, 200), &info),
            70
        );
    }

    #[test]
    fn three_resources_use_the_standard_deviation() {
        assert_eq!(balanced_score(&[0.5, 0.5, 0.5]), 100);
        // mean 0.5, deviations 0.5,0,-0.5 -> sqrt(0.5/3) = 0.408 -> 59.
        assert_eq!(balanced_score(&[1.0, 0.5, 0.0]), 59);
    }

    #[test]
    fn many_resources_are_all_counted() {
        let gpu = crate::intern::sym("nvidia.com/gpu");
        let mut n = node("n", 1000, 1000);
        n.record.allocatable.set(ResourceName::Scalar(gpu), 10);
        let info = n.build();
        let mut p = with_requests(pod("p"), 500, 500);
        p.requests.set(ResourceName::Scalar(gpu), 5);
        let mut resources = vec![ResourceName::Cpu; 9];
        resources.push(ResourceName::Memory);
        resources.push(ResourceName::Scalar(gpu));
        // Every fraction is 0.5: perfectly balanced, whatever the count.
        assert_eq!(BalancedAllocation { resources }.score(None, &p, &info), 100);
        let skewed = vec![ResourceName::Cpu; 10]
            .into_iter()
            .chain([ResourceName::Scalar(gpu)])
            .collect();
        p.requests.set(ResourceName::Scalar(gpu), 10);
        // Ten fractions of 0.5 and one of 1.0: mean 0.545, std 0.144 -> 85.
        assert_eq!(
            BalancedAllocation { resources: skewed }.score(None, &p, &info),
            85
        );
    }

    #[test]
    fn best_effort_pods_skip() {
        let nodes = [std::sync::Arc::new(node("n", 1, 1).build())];
        let p = pod("p");
        let ctx = PodContext {
            pod: &p,
            nodes: &nodes,
            namespaces: &Default::default(),
            volumes: &Default::default(),
            dra: crate::state::dra::Dra::none(),
            index: None,
        };
        assert!(matches!(
            plugin().pre_score(&ctx, &[], FilterStates::none()),
            Prepared::Skip
        ));
    }
}
