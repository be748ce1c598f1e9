//! FewestPods: prefer the node running the fewest pods. A test plugin: the worked example of
//! `docs/architecture.md` ("Adding a plugin"), registered for tests only.
//!
//! PreScore finds the busiest feasible node once per pod; Score gives each node its share of
//! the room below that, scaled to `0..=MAX_NODE_SCORE`, so no normalize step is needed.

use crate::framework::cycle_state::{FilterStates, PluginState};
use crate::framework::plugin::{MAX_NODE_SCORE, Plugin, PodContext, PreScore, Prepared, Score};
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;

pub const NAME: &str = "FewestPods";

pub struct FewestPods;

/// PreScore's state: the most pods any feasible node runs.
struct Busiest(usize);

impl Plugin for FewestPods {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl PreScore for FewestPods {
    fn pre_score(
        &self,
        _ctx: &PodContext<'_>,
        feasible: &[&NodeInfo],
        _filters: FilterStates<'_>,
    ) -> Prepared {
        let busiest = feasible.iter().map(|n| n.pods.len()).max().unwrap_or(0);
        Prepared::Run(Some(Box::new(Busiest(busiest))))
    }
}

impl Score for FewestPods {
    fn normalizes(&self) -> bool {
        false
    }

    fn score(&self, state: Option<&PluginState>, _pod: &PodRecord, node: &NodeInfo) -> i64 {
        let Some(Busiest(busiest)) = state.and_then(|s| s.downcast_ref::<Busiest>()) else {
            return 0;
        };
        if *busiest == 0 {
            return MAX_NODE_SCORE;
        }
        let room = busiest.saturating_sub(node.pods.len());
        MAX_NODE_SCORE * i64::try_from(room).unwrap_or(0) / i64::try_from(*busiest).unwrap_or(1)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::runtime::profile::Profile;
    use crate::state::namespaces::Namespaces;
    use crate::testutil::{context, node, pod};

    /// Nodes `n0`, `n1`, ... running as many pods as `counts` says.
    fn nodes(counts: &[usize]) -> Vec<Arc<NodeInfo>> {
        counts
            .iter()
            .enumerate()
            .map(|(i, &count)| {
                let mut info = node(&format!("n{i}"), 8000, 1 << 34).build();
                for k in 0..count {
                    info.add_pod(Arc::new(pod(&format!("p{i}-{k}"))));
                }
                Arc::new(info)
            })
            .collect()
    }

    fn scores(nodes: &[Arc<NodeInfo>]) -> Vec<i64> {
        let p = pod("new");
        let ns = Namespaces::default();
        let feasible: Vec<&NodeInfo> = nodes.iter().map(AsRef::as_ref).collect();
        let Prepared::Run(state) =
            FewestPods.pre_score(&context(&p, nodes, &ns), &feasible, FilterStates::none())
        else {
            panic!("FewestPods always runs");
        };
        nodes
            .iter()
            .map(|n| FewestPods.score(state.as_ref(), &p, n))
            .collect()
    }

    #[test]
    fn the_emptiest_node_scores_highest() {
        assert_eq!(scores(&nodes(&[0, 2, 4])), [100, 50, 0]);
    }

    #[test]
    fn empty_nodes_all_score_the_most() {
        assert_eq!(scores(&nodes(&[0, 0])), [100, 100]);
    }

    #[test]
    fn a_profile_enables_it_by_name_with_a_weight() {
        let profile = Profile::from_json(
            br#"{"schedulerName":"podium","filters":["NodeResourcesFit"],"scores":{"FewestPods":2}}"#,
        )
        .expect("registered");
        let names: Vec<(&str, i64)> = profile
            .scores
            .iter()
            .map(|s| (s.plugin.name(), s.weight))
            .collect();
        assert_eq!(names, [(NAME, 2)]);
    }
}
