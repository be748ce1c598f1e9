//! `evaluate`: one pod against some or all nodes, without placing it: every filter's reasons per
//! node (as `explain`) and, for the nodes that pass, each score plugin's normalized score with
//! the weighted total a scheduling cycle would rank them by.
//!
//! The extender protocol asks exactly this for the nodes kube-scheduler sends (filter, then
//! prioritize), and `podium explain` shows the best nodes' score breakdown with it. The
//! cluster-wide plugins (inter-pod affinity, topology spread) still count every node of the
//! snapshot; only the per-node steps are limited to the examined nodes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::error::CoreResult;
use crate::explain::{Failure, Target, failures_on, pre_filter_all, resolve};
use crate::framework::extension::{Extension, Verdict};
use crate::framework::plugin::PodContext;
use crate::runtime::profile::Profile;
use crate::runtime::scoring::{self, PluginScores};
use crate::state::node_info::NodeInfo;
use crate::state::snapshot::Snapshot;

/// The reason given for a node the caller named but the snapshot does not have.
pub const UNKNOWN_NODE: &str = "node(s) not in podium's cache";

/// One feasible node's scores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeScores {
    pub node: String,
    /// The weighted sum, as a scheduling cycle ranks nodes.
    pub total: i64,
    /// (plugin, normalized score 0..=100, weight), in the profile's order.
    pub plugins: Vec<(&'static str, i64, i64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// Every examined node → its reasons with the filter that gave each (empty: feasible).
    pub failures: BTreeMap<String, Vec<Failure>>,
    /// The feasible nodes, best first (ties by name); empty if a PreScore failed.
    pub scores: Vec<NodeScores>,
    /// Set when a score plugin's PreScore failed (plugin named): no scores then.
    pub score_error: Option<String>,
}

/// The name outside plugins' reasons and points are shown under.
pub const OUTSIDE_PLUGINS: &str = "PythonPlugins";

/// Evaluates `target` on `only` (node names; None: every node); `extension` (the Python
/// plugins) judges the feasible nodes after the core, as in a scheduling cycle.
pub fn evaluate(
    snapshot: &Snapshot,
    target: Target<'_>,
    profile: &Profile,
    only: Option<&[String]>,
    extension: Option<&dyn Extension>,
) -> CoreResult<Evaluation> {
    let resolved = resolve(snapshot, target)?;
    let (examined, unknown) = match only {
        None => (resolved.nodes.clone(), Vec::new()),
        Some(names) => pick(&resolved.nodes, names),
    };
    let ctx = PodContext {
        pod: &resolved.pod,
        nodes: &resolved.nodes,
        namespaces: &resolved.namespaces,
        volumes: &resolved.volumes,
        dra: &resolved.dra,
        index: None,
    };
    Ok(profile.pool.install(|| {
        let prepared = pre_filter_all(profile, &ctx);
        let mut failures = if let Some(err) = &resolved.pod.error {
            // A malformed cached pod fails everywhere with its own message, as a cycle would.
            examined
                .iter()
                .filter_map(|n| n.node.as_ref())
                .map(|n| (n.name().to_owned(), vec![("Pod", err.to_string())]))
                .collect()
        } else {
            failures_on(profile, &prepared, &resolved.pod, &examined)
        };
        let feasible: Vec<&NodeInfo> = examined
            .iter()
            .filter(|n| {
                n.node
                    .as_ref()
                    .is_some_and(|r| failures.get(r.name()).is_some_and(Vec::is_empty))
            })
            .map(|n| &**n)
            .collect();
        for name in unknown {
            failures.insert(name, vec![("Node", UNKNOWN_NODE.to_owned())]);
        }
        let scored = match scoring::score_nodes(profile, &ctx, &prepared.states, &feasible) {
            Ok(scored) => scored,
            Err(message) => {
                return Evaluation {
                    failures,
                    scores: Vec::new(),
                    score_error: Some(message.to_string()),
                };
            }
        };
        let mut scores = node_scores(&feasible, &scored);
        let mut score_error = None;
        if let Some(extension) = extension.filter(|_| !feasible.is_empty()) {
            let totals: Vec<i64> = scores.iter().map(|n| n.total).collect();
            match extension.judge(&resolved.pod, &feasible, &totals) {
                Ok(verdicts) => judged(&mut scores, &mut failures, verdicts),
                Err(message) => score_error = Some(message.to_string()),
            }
        }
        scores.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.node.cmp(&b.node)));
        Evaluation {
            failures,
            scores,
            score_error,
        }
    }))
}

/// Applies the outside plugins' verdicts: rejected nodes leave `scores` for `failures`, the
/// others get their points added (shown as one more plugin, weight 1).
fn judged(
    scores: &mut Vec<NodeScores>,
    failures: &mut BTreeMap<String, Vec<Failure>>,
    verdicts: Vec<Verdict>,
) {
    let mut kept = Vec::with_capacity(scores.len());
    for (mut node, verdict) in scores.drain(..).zip(verdicts) {
        match verdict {
            Verdict::Score(points) => {
                node.total = node.total.saturating_add(points);
                node.plugins.push((OUTSIDE_PLUGINS, points, 1));
                kept.push(node);
            }
            Verdict::Reject(reason) => {
                failures
                    .entry(node.node)
                    .or_default()
                    .push((OUTSIDE_PLUGINS, reason));
            }
        }
    }
    *scores = kept;
}

/// The nodes named in `names` (in that order, once each), and the names the snapshot lacks.
fn pick(nodes: &[Arc<NodeInfo>], names: &[String]) -> (Vec<Arc<NodeInfo>>, Vec<String>) {
    let by_name: HashMap<&str, &Arc<NodeInfo>> = nodes
        .iter()
        .filter_map(|n| n.node.as_ref().map(|r| (r.name(), n)))
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut found = Vec::with_capacity(names.len());
    let mut unknown = Vec::new();
    for name in names {
        if !seen.insert(name.as_str()) {
            continue;
        }
        match by_name.get(name.as_str()) {
            Some(&node) => found.push(node.clone()),
            None => unknown.push(name.clone()),
        }
    }
    (found, unknown)
}

/// Each feasible node's scores, in `feasible`'s order.
fn node_scores(feasible: &[&NodeInfo], scored: &[PluginScores]) -> Vec<NodeScores> {
    let totals = scoring::totals(scored, feasible.len());
    feasible
        .iter()
        .zip(totals)
        .enumerate()
        .filter_map(|(i, (info, total))| {
            let node = info.node.as_ref()?.name().to_owned();
            let plugins = scored
                .iter()
                .map(|p| (p.plugin, p.scores[i], p.weight))
                .collect();
            Some(NodeScores {
                node,
                total,
                plugins,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CoreError;
    use crate::state::cluster::ClusterState;
    use crate::state::kind::Kind;

    fn profile() -> Profile {
        Profile::from_json(
            br#"{"schedulerName":"podium","parallelism":2,
                "filters":["NodeUnschedulable","NodeResourcesFit"],
                "scores":{"NodeResourcesFit":2}}"#,
        )
        .expect("valid profile")
    }

    fn node(name: &str, cpu: &str) -> Vec<u8> {
        format!(
            r#"{{"type":"ADDED","object":{{"metadata":{{"name":"{name}","uid":"uid-{name}"}},
                "status":{{"allocatable":{{"cpu":"{cpu}","memory":"8Gi","pods":"110"}}}}}}}}"#
        )
        .into_bytes()
    }

    fn pod_object(cpu: &str) -> Vec<u8> {
        format!(
            r#"{{"metadata":{{"name":"x","namespace":"ns","uid":"ux"}},
                "spec":{{"schedulerName":"default-scheduler","nodeName":"a",
                "containers":[{{"resources":{{"requests":{{"cpu":"{cpu}","memory":"1Gi"}}}}}}]}}}}"#
        )
        .into_bytes()
    }

    fn cluster() -> ClusterState {
        let mut s = ClusterState::new(&["podium"]);
        for (n, cpu) in [("a", "2"), ("b", "4"), ("c", "8")] {
            s.apply_event(Kind::Node, &node(n, cpu)).unwrap();
        }
        s
    }

    #[test]
    fn scores_the_feasible_nodes_best_first() {
        let s = cluster();
        let obj = pod_object("3");
        let ev = evaluate(&s.snapshot(), Target::Object(&obj), &profile(), None, None).unwrap();
        assert_eq!(
            ev.failures["a"],
            vec![("NodeResourcesFit", "Insufficient cpu".to_owned())]
        );
        assert!(ev.failures["b"].is_empty() && ev.failures["c"].is_empty());
        let order: Vec<&str> = ev.scores.iter().map(|n| n.node.as_str()).collect();
        assert_eq!(order, ["c", "b"], "LeastAllocated prefers the emptier node");
        let best = &ev.scores[0];
        assert_eq!(best.plugins.len(), 1);
        let (plugin, score, weight) = best.plugins[0];
        assert_eq!((plugin, weight), ("NodeResourcesFit", 2));
        assert_eq!(best.total, score * 2);
    }

    #[test]
    fn only_the_named_nodes_and_unknown_names_said_so() {
        let s = cluster();
        let obj = pod_object("1");
        let names = vec!["b".to_owned(), "zz".to_owned(), "b".to_owned()];
        let ev = evaluate(
            &s.snapshot(),
            Target::Object(&obj),
            &profile(),
            Some(&names),
            None,
        )
        .unwrap();
        assert_eq!(ev.failures.len(), 2);
        assert_eq!(ev.failures["zz"], vec![("Node", UNKNOWN_NODE.to_owned())]);
        assert_eq!(ev.scores.len(), 1);
        assert_eq!(ev.scores[0].node, "b");
    }

    /// Rejects "b", gives "c" nothing and every other node 1000 points.
    struct Outside;

    impl Extension for Outside {
        fn judge(
            &self,
            _: &crate::state::pod::PodRecord,
            feasible: &[&NodeInfo],
            _: &[i64],
        ) -> CoreResult<Vec<Verdict>> {
            Ok(feasible
                .iter()
                .map(|n| match n.node.as_ref().map(|r| r.name()) {
                    Some("b") => Verdict::Reject("too warm".to_owned()),
                    Some("c") => Verdict::Score(0),
                    _ => Verdict::Score(1000),
                })
                .collect())
        }
    }

    #[test]
    fn outside_plugins_reject_and_score_after_the_core() {
        let s = cluster();
        let obj = pod_object("1");
        let ev = evaluate(
            &s.snapshot(),
            Target::Object(&obj),
            &profile(),
            None,
            Some(&Outside),
        )
        .unwrap();
        assert_eq!(
            ev.failures["b"],
            vec![(OUTSIDE_PLUGINS, "too warm".to_owned())]
        );
        let order: Vec<&str> = ev.scores.iter().map(|n| n.node.as_str()).collect();
        assert_eq!(
            order,
            ["a", "c"],
            "a's 1000 points outweigh c's emptier cpu"
        );
        assert_eq!(
            ev.scores[0].plugins.last(),
            Some(&(OUTSIDE_PLUGINS, 1000, 1))
        );
    }

    #[test]
    fn a_malformed_object_is_an_error_naming_the_field() {
        let s = cluster();
        let err = evaluate(
            &s.snapshot(),
            Target::Object(&pod_object("1x")),
            &profile(),
            None,
            None,
        )
        .unwrap_err();
        assert!(
            matches!(&err, CoreError::Invalid(m) if m.contains("requests.cpu")),
            "{err}"
        );
        let err =
            evaluate(&s.snapshot(), Target::Object(b"[]"), &profile(), None, None).unwrap_err();
        assert!(matches!(err, CoreError::Invalid(_)), "{err}");
    }
}
