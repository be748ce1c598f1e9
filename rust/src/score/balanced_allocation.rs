//! NodeResourcesBalancedAllocation: prefer nodes whose resources would be used evenly
//! (one minus the standard deviation of the requested fractions).

use crate::framework::plugin::{MAX_NODE_SCORE, PluginState, PodContext, Prepared, ScorePlugin};
use crate::framework::profile::ProfileSpec;
use crate::score::resource_allocation::{allocatable_and_requested, weighted_resources};
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::resources::ResourceName;

pub const NAME: &str = "NodeResourcesBalancedAllocation";

pub struct BalancedAllocation {
    pub resources: Vec<ResourceName>,
}

impl BalancedAllocation {
    pub fn from_spec(spec: &ProfileSpec) -> Result<Self, String> {
        let resources = weighted_resources(spec.balanced_resources.as_deref())
            .map_err(|e| format!("balancedResources.{e}"))?;
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

impl ScorePlugin for BalancedAllocation {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_score(&self, ctx: &PodContext<'_>, _: &[&NodeInfo]) -> Prepared {
        // A pod that requests none of the resources would score every node the same.
        if self.resources.iter().all(|&r| ctx.pod.requests.get(r) == 0) {
            Prepared::Skip
        } else {
            Prepared::Run(None)
        }
    }

    #[allow(clippy::cast_precision_loss)]
    fn score(&self, _: Option<&PluginState>, pod: &PodRecord, node: &NodeInfo) -> i64 {
        let fractions: Vec<f64> = self
            .resources
            .iter()
            .filter_map(|&r| {
                let (alloc, req) = allocatable_and_requested(node, pod, r, true);
                (alloc != 0).then(|| (req as f64 / alloc as f64).min(1.0))
            })
            .collect();
        balanced_score(&fractions)
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
    fn best_effort_pods_skip() {
        let nodes = [std::sync::Arc::new(node("n", 1, 1).build())];
        let p = pod("p");
        let ctx = PodContext {
            pod: &p,
            nodes: &nodes,
        };
        assert!(matches!(plugin().pre_score(&ctx, &[]), Prepared::Skip));
    }
}
