//! PodTopologySpread (filter): `whenUnsatisfiable: DoNotSchedule` constraints. Placing the pod
//! in a node's domain must keep that domain within `maxSkew` of the least populated eligible
//! domain (taken as 0 while fewer than `minDomains` domains exist).
//!
//! PreFilter counts the selected pods per domain once per batch (`counts::SpreadCounts`, kept
//! in step with the batch's placements), or in parallel over nodes without an index; Filter is a
//! label lookup and a map lookup per constraint.

use std::sync::Arc;

use rayon::prelude::*;

use crate::error::CoreResult;
use crate::framework::cycle_state::PluginState;
use crate::framework::index_view::IndexView;
use crate::framework::plugin::{
    Filter, Plugin, PodContext, PreFilter, PreFilterExtensions, Prepared,
};
use crate::framework::spec::ProfileSpec;
use crate::framework::status::Status;
use crate::intern::Sym;
use crate::plugins::pod_topology_spread::constraints::{self, SpreadDefaults};
use crate::plugins::pod_topology_spread::counts::SpreadCounts;
use crate::plugins::pod_topology_spread::domains::{
    self, DomainCache, DomainCounts, Domains, least,
};
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::spread::{SpreadConstraint, WhenUnsatisfiable, has_all_keys};

pub const NAME: &str = "PodTopologySpread";
pub const REASON_NOT_MATCH: &str = "node(s) didn't match pod topology spread constraints";
pub const REASON_MISSING_LABEL: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

const MIN_NODES_PER_TASK: usize = 64;

pub struct PodTopologySpread {
    defaults: SpreadDefaults,
}

impl PodTopologySpread {
    pub fn from_spec(spec: &ProfileSpec) -> CoreResult<Self> {
        Ok(Self {
            defaults: SpreadDefaults::parse(spec.plugin_args.get(NAME))?,
        })
    }
}

#[derive(Clone)]
struct Constraint {
    c: SpreadConstraint,
    /// Shared with the batch's counts as they stood for this pod (copied when either changes).
    counts: Arc<DomainCounts>,
    /// How many eligible domains there are.
    domains: usize,
    /// The smallest count over the eligible domains (0 below minDomains; i64::MAX when there
    /// is no eligible domain, so nothing is ever skewed).
    min: i64,
    /// 1 when the constraint selects the incoming pod itself.
    self_match: i64,
}

struct State {
    constraints: Vec<Constraint>,
}

/// A constraint's smallest count, 0 below its minDomains (as kube's `minMatchNum`); `least`:
/// the least populated eligible domain's count.
fn global_min(c: &SpreadConstraint, domains: usize, least: impl FnOnce() -> i64) -> i64 {
    if i64::try_from(domains).unwrap_or(i64::MAX) < i64::from(c.min_domains) {
        0
    } else {
        least()
    }
}

/// Pods per domain for each constraint, over the nodes that carry every constraint's key and
/// pass its inclusion policies.
pub fn domain_counts(ctx: &PodContext<'_>, cs: &[SpreadConstraint]) -> Vec<Domains> {
    if let Some(view) = ctx.index {
        return cs
            .iter()
            .map(|c| indexed_counts(ctx, view, cs, c))
            .collect();
    }
    scanned_counts(ctx, cs)
        .into_iter()
        .map(|counts| Domains {
            domains: counts.len(),
            counts: Arc::new(counts),
            least: None,
        })
        .collect()
}

/// One constraint's counts on the nodes the batch's domain cache says count: as the batch's
/// counts stand (`SpreadCounts`), counted the first time from the pods its selector can match.
fn indexed_counts(
    ctx: &PodContext<'_>,
    view: &IndexView<'_>,
    cs: &[SpreadConstraint],
    c: &SpreadConstraint,
) -> Domains {
    let eligible = domains::eligible(&view.batch.get::<DomainCache>(), ctx.pod, ctx.nodes, cs, c);
    let namespace = ctx.pod.namespace;
    let key = (namespace, &c.selector, c.topology_key);
    view.batch.follow::<SpreadCounts>().get(key, &eligible, || {
        count_selected(ctx, view, c, &eligible.nodes)
    })
}

/// The pods `c` selects in the pod's namespace per domain, on the `eligible` nodes.
fn count_selected(
    ctx: &PodContext<'_>,
    view: &IndexView<'_>,
    c: &SpreadConstraint,
    eligible: &[bool],
) -> DomainCounts {
    let namespace = ctx.pod.namespace;
    let mut counts = DomainCounts::default();
    let mut count = |info: &NodeInfo, n: i64| {
        if let Some(v) = info
            .node
            .as_ref()
            .and_then(|r| r.labels.get(c.topology_key))
        {
            *counts.entry(v).or_default() += n;
        }
    };
    match view.pods.candidates(&[namespace], &c.selector) {
        Some(buckets) => {
            for placed in buckets.into_iter().flat_map(|pods| pods.values()) {
                let p = &placed.pod;
                if p.namespace != namespace || p.deleting || !c.selector.matches(&p.labels) {
                    continue;
                }
                if let Some(pos) = view.position(placed).filter(|&pos| eligible[pos]) {
                    count(&ctx.nodes[pos], 1);
                }
            }
        }
        // A selector without an `In` requirement: every eligible node's pods.
        None => {
            for (info, _) in ctx.nodes.iter().zip(eligible).filter(|(_, e)| **e) {
                let n = constraints::count_on(c, info, namespace);
                if n > 0 {
                    count(info, n);
                }
            }
        }
    }
    counts
}

/// Every node's pods, in parallel: when no index is kept in step with the nodes.
fn scanned_counts(ctx: &PodContext<'_>, cs: &[SpreadConstraint]) -> Vec<DomainCounts> {
    let pod = ctx.pod;
    ctx.nodes
        .par_iter()
        .with_min_len(MIN_NODES_PER_TASK)
        .fold(
            || vec![DomainCounts::default(); cs.len()],
            |mut acc, info| {
                let Some(node) = &info.node else {
                    return acc;
                };
                if !has_all_keys(&node.labels, cs) {
                    return acc;
                }
                for (c, counts) in cs.iter().zip(acc.iter_mut()) {
                    if !constraints::includes(c, pod, info) {
                        continue;
                    }
                    if let Some(value) = node.labels.get(c.topology_key) {
                        *counts.entry(value).or_default() +=
                            constraints::count_on(c, info, pod.namespace);
                    }
                }
                acc
            },
        )
        .reduce(
            || vec![DomainCounts::default(); cs.len()],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(b) {
                    for (k, v) in y {
                        *x.entry(k).or_default() += v;
                    }
                }
                a
            },
        )
}

impl Plugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl PreFilter for PodTopologySpread {
    fn pre_filter(&self, ctx: &PodContext<'_>) -> Prepared {
        let cs = self
            .defaults
            .for_pod(ctx.pod, WhenUnsatisfiable::DoNotSchedule);
        if cs.is_empty() {
            return Prepared::Skip;
        }
        let counts = domain_counts(ctx, &cs);
        let constraints = cs
            .into_iter()
            .zip(counts)
            .map(|(c, found)| {
                let min = global_min(&c, found.domains, || found.min());
                let self_match = i64::from(c.selector.matches(&ctx.pod.labels));
                Constraint {
                    c,
                    counts: found.counts,
                    domains: found.domains,
                    min,
                    self_match,
                }
            })
            .collect();
        Prepared::Run(Some(Box::new(State { constraints })))
    }

    fn extensions(&self) -> Option<&dyn PreFilterExtensions> {
        Some(self)
    }
}

impl PreFilterExtensions for PodTopologySpread {
    fn remove_pods(
        &self,
        state: &PluginState,
        ctx: &PodContext<'_>,
        removed: &NodeInfo,
    ) -> Option<PluginState> {
        let state = state.downcast_ref::<State>()?;
        let node = removed.node.as_ref()?;
        let all: Vec<SpreadConstraint> = state.constraints.iter().map(|k| k.c.clone()).collect();
        let mut constraints = state.constraints.clone();
        // Only pods on a node the counting took in (kube's RemovePod checks the same).
        if has_all_keys(&node.labels, &all) {
            for k in &mut constraints {
                if !constraints::includes(&k.c, ctx.pod, removed) {
                    continue;
                }
                let Some(value) = node.labels.get(k.c.topology_key) else {
                    continue;
                };
                let gone = constraints::count_on(&k.c, removed, ctx.pod.namespace);
                if gone > 0
                    && let Some(n) = Arc::make_mut(&mut k.counts).get_mut(&value)
                {
                    *n -= gone;
                    k.min = global_min(&k.c, k.domains, || least(&k.counts, k.domains));
                }
            }
        }
        Some(Box::new(State { constraints }))
    }
}

impl Filter for PodTopologySpread {
    fn filter(&self, state: Option<&PluginState>, _: &PodRecord, node: &NodeInfo) -> Status {
        let (Some(state), Some(n)) = (state.and_then(|s| s.downcast_ref::<State>()), &node.node)
        else {
            return Status::success();
        };
        // Inline: this runs for every candidate node of every spread pod.
        let mut values: smallvec::SmallVec<[Sym; 4]> = smallvec::SmallVec::new();
        for k in &state.constraints {
            match n.labels.get(k.c.topology_key) {
                Some(v) => values.push(v),
                None => return Status::unresolvable(REASON_MISSING_LABEL),
            }
        }
        for (k, value) in state.constraints.iter().zip(values) {
            let matching = k.counts.get(&value).copied().unwrap_or(0);
            let skew = matching + k.self_match - k.min;
            if skew > i64::from(k.c.max_skew) {
                return Status::unschedulable(REASON_NOT_MATCH);
            }
        }
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::framework::code::Code;
    use crate::intern::sym;
    use crate::state::labels::Labels;
    use crate::state::namespaces::Namespaces;
    use crate::state::taints::{Taint, TaintEffect};
    use crate::testutil::{context, node, pod, zone_spread};

    fn zone_node(name: &str, zone: Option<&str>) -> NodeInfo {
        let mut n = node(name, 4000, 1 << 30);
        let mut labels = vec![("kubernetes.io/hostname", name)];
        if let Some(z) = zone {
            labels.push(("zone", z));
        }
        n.record.labels = Labels::from_pairs(labels);
        n.build()
    }

    fn web(name: &str) -> PodRecord {
        let mut p = pod(name);
        p.labels = Labels::from_pairs([("app", "web")]);
        p
    }

    fn constraint(max_skew: i32) -> SpreadConstraint {
        zone_spread(max_skew)
    }

    fn plugin() -> PodTopologySpread {
        PodTopologySpread {
            defaults: SpreadDefaults::default(),
        }
    }

    fn run(nodes: &[Arc<NodeInfo>], p: &PodRecord) -> Vec<Option<Code>> {
        let ns = Namespaces::default();
        let ctx = context(p, nodes, &ns);
        let state = match plugin().pre_filter(&ctx) {
            Prepared::Run(s) => s,
            _ => return vec![None; nodes.len()],
        };
        nodes
            .iter()
            .map(|n| {
                let st = plugin().filter(state.as_ref(), p, n);
                (!st.is_success()).then_some(st.code)
            })
            .collect()
    }

    /// Nodes a1, a2 (zone a), b1 (zone b), x (no zone); `per_node` web pods on each.
    fn cluster(per_node: &[usize]) -> Vec<Arc<NodeInfo>> {
        [
            ("a1", Some("a")),
            ("a2", Some("a")),
            ("b1", Some("b")),
            ("x", None),
        ]
        .iter()
        .zip(per_node)
        .map(|(&(name, zone), &k)| {
            let mut info = zone_node(name, zone);
            for i in 0..k {
                info.add_pod(Arc::new(web(&format!("{name}-{i}"))));
            }
            Arc::new(info)
        })
        .collect()
    }

    const U: Option<Code> = Some(Code::Unschedulable);
    const UU: Option<Code> = Some(Code::UnschedulableAndUnresolvable);

    #[test]
    fn skew_and_missing_label() {
        let nodes = cluster(&[1, 1, 1, 5]);
        let mut p = web("new");
        p.spread = vec![constraint(1)].into();
        // a has 2, b has 1: only b keeps the skew ≤ 1; x lacks the key.
        assert_eq!(run(&nodes, &p), vec![U, U, None, UU]);
        p.spread = vec![constraint(2)].into();
        assert_eq!(run(&nodes, &p), vec![None, None, None, UU]);
        // A pod the selector does not pick does not add itself.
        let mut other = pod("other");
        other.spread = vec![constraint(1)].into();
        assert_eq!(run(&nodes, &other), vec![None, None, None, UU]);
        let ns = Namespaces::default();
        p.spread = vec![constraint(1)].into();
        let Prepared::Run(state) = plugin().pre_filter(&context(&p, &nodes, &ns)) else {
            panic!("runs")
        };
        assert_eq!(
            plugin()
                .filter(state.as_ref(), &p, &nodes[0])
                .reasons
                .to_vec(),
            vec![REASON_NOT_MATCH]
        );
        assert_eq!(
            plugin()
                .filter(state.as_ref(), &p, &nodes[3])
                .reasons
                .to_vec(),
            vec![REASON_MISSING_LABEL]
        );
    }

    #[test]
    fn other_namespaces_and_deleting_pods_do_not_count() {
        let mut nodes = cluster(&[0, 0, 0, 0]);
        let mut elsewhere = web("e");
        elsewhere.namespace = sym("other");
        let mut leaving = web("l");
        leaving.deleting = true;
        Arc::make_mut(&mut nodes[0]).add_pod(Arc::new(elsewhere));
        Arc::make_mut(&mut nodes[1]).add_pod(Arc::new(leaving));
        let mut p = web("new");
        p.spread = vec![constraint(1)].into();
        assert_eq!(run(&nodes, &p), vec![None, None, None, UU]);
    }

    #[test]
    fn min_domains_treats_the_global_minimum_as_zero() {
        let nodes = cluster(&[1, 0, 1, 0]);
        let mut p = web("new");
        let mut c = constraint(1);
        p.spread = vec![c.clone()].into();
        assert_eq!(run(&nodes, &p), vec![None, None, None, UU], "a=1 b=1");
        c.min_domains = 3;
        p.spread = vec![c].into();
        // Only 2 domains < 3: min is 0, so 1 + 1 - 0 = 2 > 1 everywhere.
        assert_eq!(run(&nodes, &p), vec![U, U, U, UU]);
    }

    #[test]
    fn inclusion_policies_decide_the_domains() {
        let mut nodes = cluster(&[1, 1, 0, 0]);
        let mut tainted = zone_node("c1", Some("c"));
        tainted.node = tainted.node.map(|n| {
            let mut r = (*n).clone();
            r.taints = vec![Taint::new("k", "v", TaintEffect::NoSchedule)].into();
            Arc::new(r)
        });
        nodes.push(Arc::new(tainted));
        let mut p = web("new");
        p.spread = vec![constraint(1)].into();
        // Taints ignored (default): zone c (0 pods) is the minimum; a=2 and b=0.
        assert_eq!(run(&nodes, &p), vec![U, U, None, UU, None]);
        let mut c = constraint(1);
        c.honor_node_taints = true;
        p.spread = vec![c].into();
        // Zone c does not count; b (0) is still the minimum.
        assert_eq!(run(&nodes, &p), vec![U, U, None, UU, None]);
        // Node affinity honoured: only zone a is a domain for a pod that selects zone a.
        let mut pinned = web("pinned");
        pinned.node_selector = Labels::from_pairs([("zone", "a")]);
        pinned.spread = vec![constraint(1)].into();
        assert_eq!(run(&nodes, &pinned)[..2], [None, None]);
        let mut ignore = constraint(1);
        ignore.honor_node_affinity = false;
        pinned.spread = vec![ignore].into();
        assert_eq!(run(&nodes, &pinned)[..2], [U, U]);
    }

    #[test]
    fn pods_without_constraints_skip() {
        let nodes = cluster(&[0, 0, 0, 0]);
        let p = web("p");
        let ns = Namespaces::default();
        assert!(matches!(
            plugin().pre_filter(&context(&p, &nodes, &ns)),
            Prepared::Skip
        ));
    }
}
