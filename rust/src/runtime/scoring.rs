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

/// A ranking's weighted totals, kept across the pods it serves (see `runtime::reuse`): when
/// only a few nodes' raw scores change, their totals are summed again, and a plugin that
/// normalizes is normalized again over the whole list only when its own column changed (or
/// the list lost a node). The totals are those `normalized` then `totals` give over the same
/// raw scores, added up in the same order.
#[derive(Debug, Clone)]
pub struct Totals {
    /// Per running plugin: its normalized, clamped scores by node when it normalizes (None:
    /// its score is its raw score, clamped).
    columns: Vec<Option<Vec<i64>>>,
    /// The weighted sum per node.
    totals: Vec<i64>,
    /// Nodes were removed: every normalizing column is normalized again.
    stale: bool,
}

impl Totals {
    /// Every column normalized and every node summed, from `raw` (a row of `running.len()`
    /// scores per node of `nodes`; no row at all when no plugin runs, every total then 0).
    pub fn new(profile: &Profile, running: &Running, raw: &[i64], nodes: usize) -> Self {
        let mut out = Self {
            columns: running.iter().map(|_| None).collect(),
            totals: vec![0; nodes],
            stale: false,
        };
        for (column, (k, _)) in running.iter().enumerate() {
            if profile.scores[*k].plugin.normalizes() {
                out.columns[column] = Some(Vec::new());
                out.normalize(profile, running, raw, column);
            }
        }
        out.sum_all(profile, running, raw);
        out
    }

    pub fn totals(&self) -> &[i64] {
        &self.totals
    }

    /// The node at `k` is gone; the last node takes its place (as `Ranking::remove`).
    pub fn remove(&mut self, k: usize) {
        self.totals.swap_remove(k);
        for column in self.columns.iter_mut().flatten() {
            column.swap_remove(k);
        }
        self.stale = true;
    }

    /// The rows at `changed` (with each one's raw scores before) were scored again in `raw`:
    /// the totals follow.
    pub fn update(
        &mut self,
        profile: &Profile,
        running: &Running,
        raw: &[i64],
        changed: &[(usize, Vec<i64>)],
    ) {
        let width = running.len();
        let mut renormalized = false;
        for column in 0..width {
            if self.columns[column].is_none() {
                continue;
            }
            let moved = changed
                .iter()
                .any(|(k, before)| raw[k * width + column] != before[column]);
            if self.stale || moved {
                self.normalize(profile, running, raw, column);
                renormalized = true;
            }
        }
        self.stale = false;
        if renormalized {
            self.sum_all(profile, running, raw);
        } else {
            for (k, _) in changed {
                self.totals[*k] = self.sum(profile, running, raw, *k);
            }
        }
    }

    fn normalize(&mut self, profile: &Profile, running: &Running, raw: &[i64], column: usize) {
        let width = running.len();
        let (k, state) = &running[column];
        let Some(scores) = &mut self.columns[column] else {
            return;
        };
        scores.clear();
        scores.extend(raw.iter().skip(column).step_by(width).copied());
        profile.scores[*k].plugin.normalize(state.as_ref(), scores);
        for score in scores.iter_mut() {
            *score = (*score).clamp(0, MAX_NODE_SCORE);
        }
    }

    fn sum_all(&mut self, profile: &Profile, running: &Running, raw: &[i64]) {
        for node in 0..self.totals.len() {
            self.totals[node] = self.sum(profile, running, raw, node);
        }
    }

    /// Node `node`'s total, plugin by plugin as `totals` adds them.
    fn sum(&self, profile: &Profile, running: &Running, raw: &[i64], node: usize) -> i64 {
        let row = &raw[node * running.len()..(node + 1) * running.len()];
        let mut total = 0i64;
        for (column, (k, _)) in running.iter().enumerate() {
            let score = match &self.columns[column] {
                Some(scores) => scores[node],
                None => row[column].clamp(0, MAX_NODE_SCORE),
            };
            total = total.saturating_add(score.saturating_mul(profile.scores[*k].weight));
        }
        total
    }
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

    fn profile() -> Profile {
        let spec = r#"{"schedulerName":"podium",
            "scores":{"TaintToleration":3,"NodeResourcesFit":1,"InterPodAffinity":2,"ImageLocality":1}}"#;
        Profile::from_json(spec.as_bytes()).expect("valid profile")
    }

    /// What a full cycle sums over `raw`.
    fn summed(profile: &Profile, running: &Running, raw: &[i64]) -> Vec<i64> {
        let nodes = raw.len() / running.len();
        totals(&normalized(profile, running, raw), nodes)
    }

    /// Kept totals, updated row by row and node by node gone, always sum what a full cycle
    /// would over the same raw scores: normalizing columns that moved (or lost a node) are
    /// normalized again, the others only re-add the rows that changed.
    #[test]
    fn kept_totals_follow_changed_rows_and_removed_nodes() {
        let profile = profile();
        let running: Running = (0..profile.scores.len()).map(|k| (k, None)).collect();
        let width = running.len();
        let mut rng = crate::testutil::Rng(0x9e37_79b9_7f4a_7c15);
        let nodes = 40;
        let mut raw: Vec<i64> = (0..nodes * width)
            .map(|_| i64::try_from(rng.below(120)).expect("small") - 10)
            .collect();
        let mut kept = Totals::new(&profile, &running, &raw, nodes);
        assert_eq!(kept.totals(), summed(&profile, &running, &raw));
        for round in 0..200 {
            let n = raw.len() / width;
            if round % 17 == 16 && n > 2 {
                let k = rng.below(n);
                let last = n - 1;
                for c in 0..width {
                    raw[k * width + c] = raw[last * width + c];
                }
                raw.truncate(last * width);
                kept.remove(k);
            }
            let n = raw.len() / width;
            let mut changed = Vec::new();
            for _ in 0..=rng.below(2) {
                let k = rng.below(n);
                if changed.iter().any(|(j, _)| *j == k) {
                    continue;
                }
                changed.push((k, raw[k * width..(k + 1) * width].to_vec()));
                for c in 0..width {
                    // Most rows keep the normalizing plugins' scores, as placements do.
                    let normalizes = profile.scores[running[c].0].plugin.normalizes();
                    if !normalizes || rng.chance(20) {
                        raw[k * width + c] = i64::try_from(rng.below(120)).expect("small") - 10;
                    }
                }
            }
            kept.update(&profile, &running, &raw, &changed);
            assert_eq!(
                kept.totals(),
                summed(&profile, &running, &raw),
                "round {round}"
            );
        }
    }
}
