//! The score phase over the nodes that passed the filters: each enabled score plugin's PreScore,
//! Score (parallel over nodes) and Normalize. A scheduling cycle sums the weighted results;
//! `evaluate` shows them plugin by plugin.

use rayon::prelude::*;

use crate::framework::filter_states::FilterStates;
use crate::framework::plugin::{MAX_NODE_SCORE, PluginState, PodContext, Prepared};
use crate::framework::profile::Profile;
use crate::framework::warm::warm;
use crate::state::node_info::NodeInfo;

/// Below this many nodes per task, splitting the work costs more than it saves.
const MIN_NODES_PER_TASK: usize = 64;

/// One plugin's normalized scores (`0..=MAX_NODE_SCORE`), in the order of the feasible nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginScores {
    pub plugin: &'static str,
    pub weight: i64,
    pub scores: Vec<i64>,
}

/// Runs every score plugin of `profile` on `feasible`; a plugin that skips the pod is left out.
/// Err: a PreScore failed (the pod's cycle is an error), with the plugin named.
pub fn score_nodes(
    profile: &Profile,
    ctx: &PodContext<'_>,
    filter_states: &[Option<Option<PluginState>>],
    feasible: &[&NodeInfo],
) -> Result<Vec<PluginScores>, String> {
    let mut out = Vec::with_capacity(profile.scores.len());
    feasible
        .par_chunks(MIN_NODES_PER_TASK)
        .for_each(|run| warm(run.iter().copied()));
    for weighted in &profile.scores {
        let plugin = &weighted.plugin;
        let filters = FilterStates::new(&profile.filters, filter_states);
        let state = match plugin.pre_score_with(ctx, feasible, filters) {
            Prepared::Run(state) => state,
            Prepared::Skip => continue,
            Prepared::Reject(status) => {
                return Err(format!("{}: {}", plugin.name(), status.reasons.join(", ")));
            }
        };
        let mut scores: Vec<i64> = feasible
            .par_iter()
            .with_min_len(MIN_NODES_PER_TASK)
            .map(|node| plugin.score(state.as_ref(), ctx.pod, node))
            .collect();
        plugin.normalize(state.as_ref(), &mut scores);
        for score in &mut scores {
            *score = (*score).clamp(0, MAX_NODE_SCORE);
        }
        out.push(PluginScores {
            plugin: plugin.name(),
            weight: weighted.weight,
            scores,
        });
    }
    Ok(out)
}

/// The weighted sum per node.
pub fn totals(scored: &[PluginScores], nodes: usize) -> Vec<i64> {
    let mut totals = vec![0i64; nodes];
    for plugin in scored {
        for (total, score) in totals.iter_mut().zip(&plugin.scores) {
            *total = total.saturating_add(score.saturating_mul(plugin.weight));
        }
    }
    totals
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_weigh_each_plugin() {
        let scored = [
            PluginScores {
                plugin: "A",
                weight: 2,
                scores: vec![10, 100],
            },
            PluginScores {
                plugin: "B",
                weight: 1,
                scores: vec![50, 0],
            },
        ];
        assert_eq!(totals(&scored, 2), vec![70, 200]);
        assert_eq!(totals(&[], 3), vec![0, 0, 0]);
    }
}
