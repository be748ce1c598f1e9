//! InterPodAffinity (score): the weights of the preferred pod affinity (+) and anti-affinity
//! (-) terms satisfied by placing the pod in a node's domains — the incoming pod's terms
//! against the placed pods, and the placed pods' terms against the incoming pod (their
//! required affinity counting `hardPodAffinityWeight`) — scaled to 0..100 between the lowest
//! and the highest node.

use rayon::prelude::*;
use serde::Deserialize;

use crate::error::{CoreError, CoreResult};
use crate::framework::cycle_state::{FilterStates, PluginState};
use crate::framework::index_view::IndexView;
use crate::framework::plugin::{MAX_NODE_SCORE, Plugin, PodContext, PreScore, Prepared, Score};
use crate::framework::spec::ProfileSpec;
use crate::intern::Sym;
use crate::plugins::inter_pod_affinity::filter::{
    any_pod_has_affinity_terms, matching_per_domain, node_labels,
};
use crate::plugins::inter_pod_affinity::term_counts::TermCounts;
use crate::plugins::inter_pod_affinity::topology_pairs::PairCounts;
use crate::state::labels::Labels;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::pod_affinity::{AffinityTerm, PodAffinity, WeightedTerm};
use crate::state::pod_index::filed_under;

pub const NAME: &str = "InterPodAffinity";

const MIN_NODES_PER_TASK: usize = 64;

/// `InterPodAffinityArgs`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Args {
    #[serde(default = "default_hard_weight")]
    hard_pod_affinity_weight: i32,
    #[serde(default)]
    ignore_preferred_terms_of_existing_pods: bool,
}

fn default_hard_weight() -> i32 {
    1
}

pub struct InterPodAffinityScore {
    hard_weight: i64,
    ignore_existing_preferred: bool,
}

impl InterPodAffinityScore {
    pub fn from_spec(spec: &ProfileSpec) -> CoreResult<Self> {
        let args: Args = match spec.plugin_args.get(NAME) {
            None => Args {
                hard_pod_affinity_weight: default_hard_weight(),
                ignore_preferred_terms_of_existing_pods: false,
            },
            Some(v) => Args::deserialize(v)
                .map_err(|e| CoreError::Invalid(format!("pluginArgs.{NAME}: {e}")))?,
        };
        if !(0..=100).contains(&args.hard_pod_affinity_weight) {
            return Err(CoreError::Invalid(format!(
                "pluginArgs.{NAME}.hardPodAffinityWeight: {} is not in 0..100",
                args.hard_pod_affinity_weight
            )));
        }
        Ok(Self {
            hard_weight: i64::from(args.hard_pod_affinity_weight),
            ignore_existing_preferred: args.ignore_preferred_terms_of_existing_pods,
        })
    }
}

/// Score per topology domain; a node scores the sum over its domains.
struct State {
    scores: PairCounts,
    keys: Vec<Sym>,
}

fn add_terms(
    acc: &mut PairCounts,
    terms: &[WeightedTerm],
    sign: i64,
    matches: impl Fn(&AffinityTerm) -> bool,
    labels: &Labels,
) {
    for t in terms {
        if matches(&t.term) {
            acc.add(t.term.topology_key, labels, sign * i64::from(t.weight));
        }
    }
}

impl Plugin for InterPodAffinityScore {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl PreScore for InterPodAffinityScore {
    fn pre_score(
        &self,
        ctx: &PodContext<'_>,
        _: &[&NodeInfo],
        _filters: FilterStates<'_>,
    ) -> Prepared {
        let pod = ctx.pod;
        let own = pod.pod_affinity.as_deref();
        let has_preferred = own.is_some_and(|a| {
            !a.preferred_affinity.is_empty() || !a.preferred_anti_affinity.is_empty()
        });
        if !has_preferred && (self.ignore_existing_preferred || !any_pod_has_affinity_terms(ctx)) {
            return Prepared::Skip;
        }
        let ns_labels = ctx.namespaces.labels(pod.namespace);
        let scores = match ctx.index {
            Some(view) => self.indexed(ctx, view, own.filter(|_| has_preferred), ns_labels),
            None => self.scanned(ctx, own.filter(|_| has_preferred), ns_labels),
        };
        if scores.is_empty() {
            return Prepared::Skip;
        }
        let keys = scores.all_keys();
        Prepared::Run(Some(Box::new(State { scores, keys })))
    }
}

impl Score for InterPodAffinityScore {
    /// A pod without terms of its own reads only placed pods' terms (see the trait).
    fn node_local(&self, pod: &PodRecord) -> bool {
        pod.pod_affinity.is_none()
    }

    fn score(&self, state: Option<&PluginState>, _: &PodRecord, node: &NodeInfo) -> i64 {
        let (Some(state), Some(n)) = (state.and_then(|s| s.downcast_ref::<State>()), &node.node)
        else {
            return 0;
        };
        state
            .keys
            .iter()
            .filter_map(|&k| state.scores.for_node(k, &n.labels))
            .sum()
    }

    /// Min-max scaling: the lowest node 0, the highest 100; all equal → all 0.
    fn normalize(&self, _: Option<&PluginState>, scores: &mut [i64]) {
        let (Some(&min), Some(&max)) = (scores.iter().min(), scores.iter().max()) else {
            return;
        };
        let diff = max - min;
        for s in scores.iter_mut() {
            *s = if diff > 0 {
                // kube computes in float and truncates.
                (MAX_NODE_SCORE as f64 * ((*s - min) as f64 / diff as f64)) as i64
            } else {
                0
            };
        }
    }
}

impl InterPodAffinityScore {
    /// The score per domain from the index: only the pods a term can select are looked at.
    fn indexed(
        &self,
        ctx: &PodContext<'_>,
        view: &IndexView<'_>,
        own: Option<&PodAffinity>,
        ns_labels: &Labels,
    ) -> PairCounts {
        let pod = ctx.pod;
        let mut acc = PairCounts::default();
        if let Some(a) = own {
            let counts = view.batch.follow::<TermCounts>();
            for (terms, sign) in [(&a.preferred_affinity, 1), (&a.preferred_anti_affinity, -1)] {
                for w in terms.iter() {
                    let count = || matching_per_domain(ctx, view, &w.term);
                    let weight = sign * i64::from(w.weight);
                    counts.with(&w.term, count, |c| acc.add_scaled(c, weight));
                }
            }
        }
        for (bucket, holders) in view.pods.term_holders(&pod.labels) {
            for placed in holders.values() {
                let (Some(e), Some(labels)) = (
                    placed.pod.pod_affinity.as_deref(),
                    node_labels(ctx, view, placed),
                ) else {
                    continue;
                };
                let selects = |t: &AffinityTerm| {
                    filed_under(t, bucket) && t.matches_with(pod.namespace, &pod.labels, ns_labels)
                };
                if self.hard_weight > 0 {
                    for t in e.required_affinity.iter() {
                        if selects(t) {
                            acc.add(t.topology_key, labels, self.hard_weight);
                        }
                    }
                }
                if !self.ignore_existing_preferred {
                    add_terms(&mut acc, &e.preferred_affinity, 1, selects, labels);
                    add_terms(&mut acc, &e.preferred_anti_affinity, -1, selects, labels);
                }
            }
        }
        acc
    }

    /// The score per domain by walking every node's pods, in parallel: when no index is kept
    /// in step with the nodes.
    fn scanned(
        &self,
        ctx: &PodContext<'_>,
        own: Option<&PodAffinity>,
        ns_labels: &Labels,
    ) -> PairCounts {
        let pod = ctx.pod;
        let has_preferred = own.is_some();
        let incoming = |t: &AffinityTerm| t.matches_with(pod.namespace, &pod.labels, ns_labels);
        ctx.nodes
            .par_iter()
            .with_min_len(MIN_NODES_PER_TASK)
            .fold(PairCounts::default, |mut acc, info| {
                let Some(node) = &info.node else {
                    return acc;
                };
                let labels = &node.labels;
                if labels.is_empty() {
                    return acc;
                }
                // The incoming pod's preferences look at every placed pod.
                if let Some(a) = own.filter(|_| has_preferred) {
                    for existing in &info.pods {
                        // kube matches these against the merged namespace list only.
                        let m = |t: &AffinityTerm| {
                            t.matches(existing.namespace, &existing.labels, ctx.namespaces)
                        };
                        add_terms(&mut acc, &a.preferred_affinity, 1, m, labels);
                        add_terms(&mut acc, &a.preferred_anti_affinity, -1, m, labels);
                    }
                }
                // The placed pods' terms, only those of pods that have any.
                for existing in &info.affinity_pods {
                    let Some(e) = existing.pod_affinity.as_deref() else {
                        continue;
                    };
                    if self.hard_weight > 0 {
                        for t in e.required_affinity.iter() {
                            if incoming(t) {
                                acc.add(t.topology_key, labels, self.hard_weight);
                            }
                        }
                    }
                    if !self.ignore_existing_preferred {
                        add_terms(&mut acc, &e.preferred_affinity, 1, incoming, labels);
                        add_terms(&mut acc, &e.preferred_anti_affinity, -1, incoming, labels);
                    }
                }
                acc
            })
            .reduce(PairCounts::default, PairCounts::merge)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::intern::sym;
    use crate::state::namespaces::Namespaces;
    use crate::state::pod_affinity::PodAffinity;
    use crate::testutil::{affinity_term, context, node, pod};

    fn spec(args: &str) -> ProfileSpec {
        serde_json::from_str(&format!(
            r#"{{"schedulerName":"p","pluginArgs":{{{args}}}}}"#
        ))
        .expect("spec")
    }

    fn zone_node(name: &str, zone: &str) -> Arc<NodeInfo> {
        let mut n = node(name, 4000, 1 << 30);
        n.record.labels = Labels::from_pairs([("zone", zone), ("kubernetes.io/hostname", name)]);
        Arc::new(n.build())
    }

    fn labelled(name: &str, app: &str) -> PodRecord {
        let mut p = pod(name);
        p.labels = Labels::from_pairs([("app", app)]);
        p
    }

    fn scores(plugin: &InterPodAffinityScore, nodes: &[Arc<NodeInfo>], p: &PodRecord) -> Vec<i64> {
        let ns = Namespaces::default();
        let ctx = context(p, nodes, &ns);
        let feasible: Vec<&NodeInfo> = nodes.iter().map(|n| &**n).collect();
        let state = match plugin.pre_score(&ctx, &feasible, FilterStates::none()) {
            Prepared::Run(s) => s,
            _ => return vec![0; nodes.len()],
        };
        let mut s: Vec<i64> = nodes
            .iter()
            .map(|n| plugin.score(state.as_ref(), p, n))
            .collect();
        plugin.normalize(state.as_ref(), &mut s);
        s
    }

    fn weighted(weight: i32, term: AffinityTerm) -> WeightedTerm {
        WeightedTerm { weight, term }
    }

    #[test]
    fn incoming_preferences_attract_and_repel() {
        let mut nodes = vec![
            zone_node("a1", "a"),
            zone_node("a2", "a"),
            zone_node("b1", "b"),
            zone_node("c1", "c"),
        ];
        Arc::make_mut(&mut nodes[0]).add_pod(Arc::new(labelled("db", "db")));
        Arc::make_mut(&mut nodes[2]).add_pod(Arc::new(labelled("noisy", "noisy")));
        let mut p = pod("web");
        p.pod_affinity = Some(Box::new(PodAffinity {
            preferred_affinity: vec![weighted(80, affinity_term("zone", "app", "db"))].into(),
            preferred_anti_affinity: vec![weighted(20, affinity_term("zone", "app", "noisy"))]
                .into(),
            ..PodAffinity::default()
        }));
        let plugin = InterPodAffinityScore::from_spec(&spec("")).unwrap();
        // Raw: a=80, b=-20, c=0 → (x+20)/100.
        assert_eq!(scores(&plugin, &nodes, &p), vec![100, 100, 0, 20]);
    }

    #[test]
    fn existing_pods_terms_count_symmetrically() {
        let mut nodes = vec![
            zone_node("a1", "a"),
            zone_node("b1", "b"),
            zone_node("c1", "c"),
        ];
        let mut wants_web = labelled("cache", "cache");
        wants_web.pod_affinity = Some(Box::new(PodAffinity {
            required_affinity: vec![affinity_term("zone", "app", "web")].into(),
            ..PodAffinity::default()
        }));
        let mut hates_web = labelled("batch", "batch");
        hates_web.pod_affinity = Some(Box::new(PodAffinity {
            preferred_anti_affinity: vec![weighted(5, affinity_term("zone", "app", "web"))].into(),
            ..PodAffinity::default()
        }));
        Arc::make_mut(&mut nodes[0]).add_pod(Arc::new(wants_web));
        Arc::make_mut(&mut nodes[1]).add_pod(Arc::new(hates_web));
        let web = labelled("web", "web");
        let plugin = InterPodAffinityScore::from_spec(&spec("")).unwrap();
        // Raw: a=+1 (hard weight), b=-5, c=0 → min -5, max 1.
        assert_eq!(scores(&plugin, &nodes, &web), vec![100, 0, 83]);
        let heavy = InterPodAffinityScore::from_spec(&spec(
            r#""InterPodAffinity":{"hardPodAffinityWeight":10}"#,
        ))
        .unwrap();
        assert_eq!(scores(&heavy, &nodes, &web), vec![100, 0, 33]);
        let ignore = InterPodAffinityScore::from_spec(&spec(
            r#""InterPodAffinity":{"ignorePreferredTermsOfExistingPods":true}"#,
        ))
        .unwrap();
        assert_eq!(
            scores(&ignore, &nodes, &web),
            vec![0, 0, 0],
            "skipped: no own terms"
        );
        let other_ns = {
            let mut p = labelled("web", "web");
            p.namespace = sym("elsewhere");
            p
        };
        assert_eq!(scores(&plugin, &nodes, &other_ns), vec![0, 0, 0]);
    }

    #[test]
    fn bad_args_are_named() {
        let err = InterPodAffinityScore::from_spec(&spec(
            r#""InterPodAffinity":{"hardPodAffinityWeight":101}"#,
        ))
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("hardPodAffinityWeight"), "{err}");
        let err = InterPodAffinityScore::from_spec(&spec(r#""InterPodAffinity":{"bogus":1}"#))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("bogus"), "{err}");
    }
}
