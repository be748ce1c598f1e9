//! PodTopologySpread (score): `whenUnsatisfiable: ScheduleAnyway` constraints. A node scores
//! the selected pods in its domains, each constraint weighted by log(domains + 2) and offset by
//! `maxSkew - 1`; fewer is better after normalization. Nodes lacking a constraint's key are
//! left out of the ranking and score 0.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::CoreResult;
use crate::framework::cycle_state::{FilterStates, PluginState};
use crate::framework::index_view::IndexView;
use crate::framework::plugin::{MAX_NODE_SCORE, Plugin, PodContext, PreScore, Prepared, Score};
use crate::framework::spec::ProfileSpec;
use crate::intern::{Sym, sym};
use crate::plugins::pod_topology_spread::constraints::{self, SpreadDefaults};
use crate::plugins::pod_topology_spread::counts::SpreadCounts;
use crate::plugins::pod_topology_spread::domains::DomainCounts;
use crate::plugins::pod_topology_spread::filter::domain_counts;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::spread::{HOSTNAME_KEY, SpreadConstraint, WhenUnsatisfiable, has_all_keys};

pub const NAME: &str = "PodTopologySpread";

/// The raw score of a node outside the ranking (kube's `invalidScore`).
const IGNORED: i64 = -1;

pub struct PodTopologySpreadScore {
    defaults: SpreadDefaults,
    hostname: Sym,
}

impl PodTopologySpreadScore {
    pub fn from_spec(spec: &ProfileSpec) -> CoreResult<Self> {
        Ok(Self {
            defaults: SpreadDefaults::parse(spec.plugin_args.get(NAME))?,
            hostname: sym(HOSTNAME_KEY),
        })
    }
}

struct Constraint {
    c: SpreadConstraint,
    /// Selected pods per domain of the feasible nodes (unused for the hostname key, which is
    /// counted on the node itself).
    counts: HashMap<Sym, i64, ahash::RandomState>,
    weight: f64,
    per_node: bool,
    /// For the hostname key with an index: selected pods per node name, as the batch keeps
    /// them (else counted on the node when scored).
    by_node: Option<Arc<DomainCounts>>,
}

/// Selected pods per node name as the batch's counts stand; counted the first time from the
/// pods the selector can match. None without an index, or when the selector has nothing to look
/// pods up by.
fn counts_by_node(ctx: &PodContext<'_>, c: &SpreadConstraint) -> Option<Arc<DomainCounts>> {
    let view = ctx.index?;
    let key = (ctx.pod.namespace, &c.selector);
    view.batch
        .follow::<SpreadCounts>()
        .by_node(key, ctx.nodes, || count_by_node(ctx, view, c))
}

fn count_by_node(
    ctx: &PodContext<'_>,
    view: &IndexView<'_>,
    c: &SpreadConstraint,
) -> Option<DomainCounts> {
    let namespace = ctx.pod.namespace;
    let buckets = view.pods.candidates(&[namespace], &c.selector)?;
    let mut out = DomainCounts::default();
    for placed in buckets.into_iter().flat_map(|pods| pods.values()) {
        let p = &placed.pod;
        if p.namespace != namespace || p.deleting || !c.selector.matches(&p.labels) {
            continue;
        }
        let node = view
            .position(placed)
            .and_then(|pos| ctx.nodes[pos].node.as_ref());
        if let Some(node) = node {
            *out.entry(node.name).or_default() += 1;
        }
    }
    Some(out)
}

struct State {
    constraints: Vec<Constraint>,
    all: Vec<SpreadConstraint>,
    namespace: Sym,
}

impl Plugin for PodTopologySpreadScore {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl PreScore for PodTopologySpreadScore {
    fn pre_score(
        &self,
        ctx: &PodContext<'_>,
        feasible: &[&NodeInfo],
        _filters: FilterStates<'_>,
    ) -> Prepared {
        let cs = self
            .defaults
            .for_pod(ctx.pod, WhenUnsatisfiable::ScheduleAnyway);
        if cs.is_empty() {
            return Prepared::Skip;
        }
        let ranked: Vec<&NodeInfo> = feasible
            .iter()
            .copied()
            .filter(|n| {
                n.node
                    .as_ref()
                    .is_some_and(|r| has_all_keys(&r.labels, &cs))
            })
            .collect();
        let all_counts = domain_counts(ctx, &cs);
        let constraints = cs
            .iter()
            .cloned()
            .zip(all_counts)
            .map(|(c, all)| {
                let per_node = c.topology_key == self.hostname;
                let mut counts: HashMap<Sym, i64, ahash::RandomState> = HashMap::default();
                if !per_node {
                    for n in &ranked {
                        if let Some(v) = n.node.as_ref().and_then(|r| r.labels.get(c.topology_key))
                        {
                            counts.insert(v, all.counts.get(&v).copied().unwrap_or(0));
                        }
                    }
                }
                let size = if per_node { ranked.len() } else { counts.len() };
                let by_node = if per_node {
                    counts_by_node(ctx, &c)
                } else {
                    None
                };
                Constraint {
                    c,
                    counts,
                    weight: ((size + 2) as f64).ln(),
                    per_node,
                    by_node,
                }
            })
            .collect();
        Prepared::Run(Some(Box::new(State {
            constraints,
            all: cs,
            namespace: ctx.pod.namespace,
        })))
    }
}

impl Score for PodTopologySpreadScore {
    fn score(&self, state: Option<&PluginState>, _: &PodRecord, node: &NodeInfo) -> i64 {
        let (Some(state), Some(n)) = (state.and_then(|s| s.downcast_ref::<State>()), &node.node)
        else {
            return 0;
        };
        if !has_all_keys(&n.labels, &state.all) {
            return IGNORED;
        }
        let mut score = 0.0;
        for k in &state.constraints {
            let count = if let Some(by_node) = &k.by_node {
                by_node.get(&n.name).copied().unwrap_or(0)
            } else if k.per_node {
                constraints::count_on(&k.c, node, state.namespace)
            } else {
                n.labels
                    .get(k.c.topology_key)
                    .and_then(|v| k.counts.get(&v))
                    .copied()
                    .unwrap_or(0)
            };
            score += count as f64 * k.weight + f64::from(k.c.max_skew - 1);
        }
        score.round() as i64
    }

    /// Fewer is better: `100 * (max + min - s) / max` over the ranked nodes; the others 0.
    fn normalize(&self, _: Option<&PluginState>, scores: &mut [i64]) {
        let ranked = || scores.iter().copied().filter(|&s| s != IGNORED);
        let min = ranked().min().unwrap_or(0);
        let max = ranked().max().unwrap_or(0);
        for s in scores.iter_mut() {
            *s = if *s == IGNORED {
                0
            } else if max == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE * (max + min - *s) / max
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::state::labels::Labels;
    use crate::state::namespaces::Namespaces;
    use crate::testutil::{context, match_labels, node, pod};

    fn plugin() -> PodTopologySpreadScore {
        PodTopologySpreadScore::from_spec(
            &serde_json::from_str(r#"{"schedulerName":"p"}"#).expect("spec"),
        )
        .expect("plugin")
    }

    fn web(name: &str) -> PodRecord {
        let mut p = pod(name);
        p.labels = Labels::from_pairs([("app", "web")]);
        p
    }

    fn soft(key: &str, max_skew: i32) -> SpreadConstraint {
        SpreadConstraint {
            max_skew,
            topology_key: sym(key),
            when_unsatisfiable: WhenUnsatisfiable::ScheduleAnyway,
            selector: match_labels(&[("app", "web")]),
            min_domains: 1,
            honor_node_affinity: true,
            honor_node_taints: false,
        }
    }

    fn cluster(per_node: &[(&str, Option<&str>, usize)]) -> Vec<Arc<NodeInfo>> {
        per_node
            .iter()
            .map(|&(name, zone, k)| {
                let mut n = node(name, 4000, 1 << 30);
                let mut labels = vec![(HOSTNAME_KEY, name)];
                if let Some(z) = zone {
                    labels.push(("zone", z));
                }
                n.record.labels = Labels::from_pairs(labels);
                let mut info = n.build();
                for i in 0..k {
                    info.add_pod(Arc::new(web(&format!("{name}-{i}"))));
                }
                Arc::new(info)
            })
            .collect()
    }

    fn scores(nodes: &[Arc<NodeInfo>], p: &PodRecord) -> Vec<i64> {
        let ns = Namespaces::default();
        let ctx = context(p, nodes, &ns);
        let feasible: Vec<&NodeInfo> = nodes.iter().map(|n| &**n).collect();
        let Prepared::Run(state) = plugin().pre_score(&ctx, &feasible, FilterStates::none()) else {
            return vec![];
        };
        let mut s: Vec<i64> = nodes
            .iter()
            .map(|n| plugin().score(state.as_ref(), p, n))
            .collect();
        plugin().normalize(state.as_ref(), &mut s);
        s
    }

    #[test]
    fn emptier_domains_score_higher() {
        let nodes = cluster(&[
            ("a1", Some("a"), 2),
            ("a2", Some("a"), 1),
            ("b1", Some("b"), 0),
            ("x", None, 0),
        ]);
        let mut p = web("new");
        p.spread = vec![soft("zone", 1)].into();
        // Two domains: weight ln 4. a: 3 * 1.386 = 4.16 → 4; b: 0. max 4, min 0.
        assert_eq!(scores(&nodes, &p), vec![0, 0, 100, 0]);
        let mut skewed = web("new");
        skewed.spread = vec![soft("zone", 3)].into();
        // a: 4.16 + 2 → 6; b: 2. 100 * (6 + 2 - s) / 6.
        assert_eq!(scores(&nodes, &skewed), vec![33, 33, 100, 0]);
    }

    #[test]
    fn hostname_counts_each_node() {
        let nodes = cluster(&[
            ("a1", Some("a"), 2),
            ("a2", Some("a"), 1),
            ("b1", Some("b"), 0),
        ]);
        let mut p = web("new");
        p.spread = vec![soft(HOSTNAME_KEY, 1)].into();
        // Three ranked nodes: weight ln 5 = 1.609. 3.2 → 3, 1.6 → 2, 0.
        assert_eq!(scores(&nodes, &p), vec![0, 33, 100]);
    }

    #[test]
    fn no_soft_constraints_skip() {
        let nodes = cluster(&[("a1", Some("a"), 0)]);
        let p = web("new");
        let ns = Namespaces::default();
        assert!(matches!(
            plugin().pre_score(&context(&p, &nodes, &ns), &[], FilterStates::none()),
            Prepared::Skip
        ));
    }
}
