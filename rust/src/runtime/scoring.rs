//! The score phase over the nodes that passed the filters: each enabled score plugin's PreScore,
//! Score (parallel over nodes) and Normalize. A scheduling cycle sums the weighted results;
//! `evaluate` shows them plugin by plugin.

use rayon::prelude::*;

use crate::error::{CoreError, CoreResult};
use crate::framework::cycle_state::{FilterStates, PluginState};
use crate::framework::plugin::{MAX_NODE_SCORE, PodContext, Prepared};
use crate::framework::warm::warm_for_scores;
use crate::runtime::profile::Profile;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;

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
) -> CoreResult<Vec<PluginScores>> {
    let running = pre_score(profile, ctx, filter_states, feasible)?;
    let raw = raw_scores(profile, &running, ctx.pod, feasible);
    Ok(normalized(profile, &running, &raw))
}

/// The score plugins that run for the pod (by index in `profile.scores`), each with its
/// PreScore state.
pub type Running = Vec<(usize, Option<PluginState>)>;

/// PreScore of every score plugin; a plugin that skips the pod is left out. Err: a PreScore
/// failed (the pod's cycle is an error), with the plugin named.
pub fn pre_score(
    profile: &Profile,
    ctx: &PodContext<'_>,
    filter_states: &[Option<Option<PluginState>>],
    feasible: &[&NodeInfo],
) -> CoreResult<Running> {
    let mut running: Running = Vec::with_capacity(profile.scores.len());
    for (k, weighted) in profile.scores.iter().enumerate() {
        let plugin = &weighted.plugin;
        let filters = FilterStates::new(&profile.filter_names, filter_states);
        match plugin.pre_score(ctx, feasible, filters) {
            Prepared::Run(state) => running.push((k, state)),
            Prepared::Skip => {}
            Prepared::Reject(status) => {
                return Err(CoreError::Plugin(format!(
                    "{}: {}",
                    plugin.name(),
                    status.reasons.join(", ")
                )));
            }
        }
    }
    Ok(running)
}

/// The raw scores of the `running` plugins, a row per node of `nodes` (one cell per plugin).
///
/// Every plugin scores a node in one parallel pass over the nodes (one fork-join per pod, not
/// one per plugin, and a node's data is read while it is in cache).
pub fn raw_scores(
    profile: &Profile,
    running: &Running,
    pod: &PodRecord,
    nodes: &[&NodeInfo],
) -> Vec<i64> {
    let width = running.len();
    let mut raw = vec![0i64; nodes.len() * width];
    if width > 0 {
        raw.par_chunks_mut(MIN_NODES_PER_TASK * width)
            .zip(nodes.par_chunks(MIN_NODES_PER_TASK))
            .for_each(|(out, nodes)| {
                warm_for_scores(nodes.iter().copied());
                for (row, node) in out.chunks_mut(width).zip(nodes) {
                    score_row(profile, running, pod, node, row);
                }
            });
    }
    raw
}

/// One node's raw scores, one cell per `running` plugin.
pub fn score_row(
    profile: &Profile,
    running: &Running,
    pod: &PodRecord,
    node: &NodeInfo,
    row: &mut [i64],
) {
    for (cell, (k, state)) in row.iter_mut().zip(running) {
        *cell = profile.scores[*k].plugin.score(state.as_ref(), pod, node);
    }
}

/// Each running plugin's scores from the `raw` rows, normalized and clamped.
pub fn normalized(profile: &Profile, running: &Running, raw: &[i64]) -> Vec<PluginScores> {
    let width = running.len();
    running
        .iter()
        .enumerate()
        .map(|(column, (k, state))| {
            let weighted = &profile.scores[*k];
            let mut scores: Vec<i64> = raw.iter().skip(column).step_by(width).copied().collect();
            weighted.plugin.normalize(state.as_ref(), &mut scores);
            for score in &mut scores {
                *score = (*score).clamp(0, MAX_NODE_SCORE);
            }
            PluginScores {
                plugin: weighted.plugin.name(),
                weight: weighted.weight,
                scores,
            }
        })
        .collect()
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
