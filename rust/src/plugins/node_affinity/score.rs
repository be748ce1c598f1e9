//! NodeAffinity (score): the sum of the weights of the preferred terms a node matches,
//! normalized so the best node scores 100.

use crate::framework::cycle_state::{FilterStates, PluginState};
use crate::framework::plugin::{Plugin, PodContext, PreScore, Prepared, Score, default_normalize};
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;

pub const NAME: &str = "NodeAffinity";

pub struct NodeAffinityScore;

impl Plugin for NodeAffinityScore {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl PreScore for NodeAffinityScore {
    fn pre_score(
        &self,
        ctx: &PodContext<'_>,
        _: &[&NodeInfo],
        _filters: FilterStates<'_>,
    ) -> Prepared {
        if ctx.pod.preferred_affinity.is_empty() {
            Prepared::Skip
        } else {
            Prepared::Run(None)
        }
    }
}

impl Score for NodeAffinityScore {
    fn node_local(&self, _: &PodRecord) -> bool {
        true
    }

    fn reads_identity(&self) -> bool {
        false
    }

    fn score(&self, _: Option<&PluginState>, pod: &PodRecord, node: &NodeInfo) -> i64 {
        let Some(n) = &node.node else {
            return 0;
        };
        pod.preferred_affinity
            .iter()
            .filter(|p| p.term.matches(n.name, &n.labels))
            .map(|p| i64::from(p.weight))
            .sum()
    }

    fn normalize(&self, _: Option<&PluginState>, scores: &mut [i64]) {
        default_normalize(scores, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::sym;
    use crate::state::labels::Labels;
    use crate::state::node_selector::{Operator, PreferredTerm, Requirement, Term};
    use crate::testutil::{node, pod};

    #[test]
    fn sums_matching_weights() {
        let term = |k: &str| Term {
            expressions: vec![Requirement {
                key: sym(k),
                op: Operator::Exists,
            }]
            .into(),
            fields: Box::default(),
        };
        let mut p = pod("p");
        p.preferred_affinity = vec![
            PreferredTerm {
                weight: 3,
                term: term("ssd"),
            },
            PreferredTerm {
                weight: 5,
                term: term("gpu"),
            },
        ]
        .into();
        let mut n = node("n", 1, 1);
        n.record.labels = Labels::from_pairs([("gpu", "1"), ("ssd", "1")]);
        assert_eq!(NodeAffinityScore.score(None, &p, &n.build()), 8);
        n.record.labels = Labels::from_pairs([("gpu", "1")]);
        assert_eq!(NodeAffinityScore.score(None, &p, &n.build()), 5);
        let mut scores = [8, 5, 0];
        NodeAffinityScore.normalize(None, &mut scores);
        assert_eq!(scores, [100, 62, 0]);
    }
}
