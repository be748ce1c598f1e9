//! TaintToleration (score): fewer untolerated PreferNoSchedule taints is better.

use crate::framework::cycle_state::PluginState;
use crate::framework::plugin::{Plugin, Score, default_normalize};
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::taints::TaintEffect;

pub const NAME: &str = "TaintToleration";

pub struct TaintTolerationScore;

impl Plugin for TaintTolerationScore {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl Score for TaintTolerationScore {
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
        let soft = |e: Option<TaintEffect>| e.is_none_or(|e| e == TaintEffect::PreferNoSchedule);
        let count = n
            .taints
            .iter()
            .filter(|t| t.effect == TaintEffect::PreferNoSchedule)
            .filter(|t| {
                !pod.tolerations
                    .iter()
                    .any(|tol| soft(tol.effect) && tol.tolerates(t))
            })
            .count();
        i64::try_from(count).unwrap_or(i64::MAX)
    }

    fn normalize(&self, _: Option<&PluginState>, scores: &mut [i64]) {
        default_normalize(scores, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::taints::{Taint, Toleration};
    use crate::testutil::{node, pod};

    #[test]
    fn counts_untolerated_soft_taints_and_reverses() {
        let mut n = node("n", 1, 1);
        n.record.taints = vec![
            Taint::new("a", "1", TaintEffect::PreferNoSchedule),
            Taint::new("b", "1", TaintEffect::PreferNoSchedule),
            Taint::new("c", "1", TaintEffect::NoSchedule),
        ]
        .into();
        let info = n.build();
        let mut p = pod("p");
        assert_eq!(TaintTolerationScore.score(None, &p, &info), 2);
        p.tolerations = vec![Toleration::new("a", "Exists", "", "PreferNoSchedule")].into();
        assert_eq!(TaintTolerationScore.score(None, &p, &info), 1);
        // A NoSchedule toleration does not count for PreferNoSchedule taints.
        p.tolerations = vec![Toleration::new("b", "Exists", "", "NoSchedule")].into();
        assert_eq!(TaintTolerationScore.score(None, &p, &info), 2);
        let mut scores = [0, 1, 2];
        TaintTolerationScore.normalize(None, &mut scores);
        assert_eq!(scores, [100, 50, 0]);
    }
}
