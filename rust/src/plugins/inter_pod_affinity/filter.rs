//! InterPodAffinity (filter): the pod's required pod affinity and anti-affinity terms, and the
//! required anti-affinity terms of the pods already placed, against the pod (symmetry).
//!
//! PreFilter counts, once per pod and in parallel over nodes, the matching pods per topology
//! domain; Filter then looks up the node's domains, O(terms) per node.

use rayon::prelude::*;

use crate::framework::cycle_state::PluginState;
use crate::framework::index_view::IndexView;
use crate::framework::plugin::{
    Filter, Plugin, PodContext, PreFilter, PreFilterExtensions, Prepared,
};
use crate::framework::status::Status;
use crate::intern::Sym;
use crate::plugins::inter_pod_affinity::term_counts::TermCounts;
use crate::plugins::inter_pod_affinity::topology_pairs::PairCounts;
use crate::state::labels::Labels;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::pod_affinity::AffinityTerm;
use crate::state::pod_index::{Placed, filed_under};

pub const NAME: &str = "InterPodAffinity";
pub const REASON_AFFINITY: &str = "node(s) didn't match pod affinity rules";
pub const REASON_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
pub const REASON_EXISTING_ANTI_AFFINITY: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";

/// Nodes per parallel task in PreFilter.
const MIN_NODES_PER_TASK: usize = 64;

pub struct InterPodAffinity;

#[derive(Default, Clone)]
struct Counts {
    /// Domains of placed pods whose required anti-affinity selects the incoming pod.
    existing_anti: PairCounts,
    /// Domains of placed pods that match every required affinity term of the incoming pod.
    affinity: PairCounts,
    /// Domains of placed pods that match a required anti-affinity term of the incoming pod.
    anti: PairCounts,
}

impl Counts {
    fn subtract(&mut self, other: &Self) {
        self.existing_anti.add_scaled(&other.existing_anti, -1);
        self.affinity.add_scaled(&other.affinity, -1);
        self.anti.add_scaled(&other.anti, -1);
    }

    fn merge(self, other: Self) -> Self {
        Self {
            existing_anti: self.existing_anti.merge(other.existing_anti),
            affinity: self.affinity.merge(other.affinity),
            anti: self.anti.merge(other.anti),
        }
    }
}

struct State {
    counts: Counts,
    /// The topology keys of `counts.existing_anti`: the only labels of a node to look up.
    existing_anti_keys: Vec<Sym>,
    /// kube's first-pod rule: no pod anywhere matches the affinity terms, but the pod matches
    /// its own terms, so it may go anywhere its topology keys exist.
    may_go_first: bool,
}

const NO_TERMS: &[AffinityTerm] = &[];

/// Whether any placed pod carries inter-pod affinity terms (kube's `HavePodsWithAffinity`):
/// when none does and the incoming pod has none, both InterPodAffinity plugins have nothing to do.
pub(crate) fn any_pod_has_affinity_terms(ctx: &PodContext<'_>) -> bool {
    match ctx.index {
        Some(view) => view.pods.any_affinity_terms(),
        None => ctx.nodes.iter().any(|n| !n.affinity_pods.is_empty()),
    }
}

/// The labels of the node a placed pod is on, if the cycle has that node.
pub(crate) fn node_labels<'a>(
    ctx: &PodContext<'a>,
    view: &IndexView<'_>,
    placed: &Placed,
) -> Option<&'a Labels> {
    let pos = view.position(placed)?;
    ctx.nodes[pos].node.as_ref().map(|n| &n.labels)
}

/// Calls `f(node labels, pod)` for the placed pods `term` may select (a superset: `f` matches
/// each): from the index, or by walking every node when the term has nothing to look pods up
/// by (no `In` requirement, or a namespaceSelector).
fn for_candidates<'a>(
    ctx: &PodContext<'a>,
    view: &IndexView<'_>,
    term: &AffinityTerm,
    mut f: impl FnMut(&'a Labels, &PodRecord),
) {
    let buckets = if term.namespace_selector.is_none() {
        view.pods.candidates(&term.namespaces, &term.selector)
    } else {
        None
    };
    match buckets {
        Some(buckets) => {
            for placed in buckets.into_iter().flat_map(|pods| pods.values()) {
                if let Some(labels) = node_labels(ctx, view, placed) {
                    f(labels, &placed.pod);
                }
            }
        }
        None => {
            for info in ctx.nodes {
                if let Some(node) = &info.node {
                    for p in &info.pods {
                        f(&node.labels, p);
                    }
                }
            }
        }
    }
}

/// `count` from the index: only the pods a selector can match are looked at.
fn indexed(ctx: &PodContext<'_>, view: &IndexView<'_>, ns_labels: &Labels) -> Counts {
    let pod = ctx.pod;
    let mut acc = Counts::default();
    for (bucket, holders) in view.pods.term_holders(&pod.labels) {
        for placed in holders.values() {
            let (Some(terms), Some(labels)) =
                (&placed.pod.pod_affinity, node_labels(ctx, view, placed))
            else {
                continue;
            };
            for t in terms.required_anti_affinity.iter() {
                if filed_under(t, bucket) && t.matches_with(pod.namespace, &pod.labels, ns_labels) {
                    acc.existing_anti.add(t.topology_key, labels, 1);
                }
            }
        }
    }
    let (affinity, anti) = required(pod);
    // A pod must match every affinity term: the first term's candidates are enough.
    if let Some(first) = affinity.first() {
        for_candidates(ctx, view, first, |labels, existing| {
            if affinity
                .iter()
                .all(|t| t.matches(existing.namespace, &existing.labels, ctx.namespaces))
            {
                for t in affinity {
                    acc.affinity.add(t.topology_key, labels, 1);
                }
            }
        });
    }
    let terms = view.batch.follow::<TermCounts>();
    for t in anti {
        let count = || matching_per_domain(ctx, view, t);
        terms.with(t, count, |c| acc.anti.add_scaled(c, 1));
    }
    acc
}

/// The placed pods `term` selects, per domain of its topology key.
pub(crate) fn matching_per_domain(
    ctx: &PodContext<'_>,
    view: &IndexView<'_>,
    term: &AffinityTerm,
) -> PairCounts {
    let mut counts = PairCounts::default();
    for_candidates(ctx, view, term, |labels, existing| {
        if term.matches(existing.namespace, &existing.labels, ctx.namespaces) {
            counts.add(term.topology_key, labels, 1);
        }
    });
    counts
}

/// kube's first-pod rule (see `State::may_go_first`); counts may hold domains brought to 0 by
/// a preemption's removals, which count as none.
fn may_go_first(ctx: &PodContext<'_>, counts: &Counts, ns_labels: &Labels) -> bool {
    let (affinity, _) = required(ctx.pod);
    !affinity.is_empty()
        && !counts.affinity.any_positive()
        && affinity
            .iter()
            .all(|t| t.matches_with(ctx.pod.namespace, &ctx.pod.labels, ns_labels))
}

fn required(pod: &PodRecord) -> (&[AffinityTerm], &[AffinityTerm]) {
    pod.pod_affinity.as_ref().map_or((NO_TERMS, NO_TERMS), |a| {
        (&a.required_affinity[..], &a.required_anti_affinity[..])
    })
}

/// `ns_labels`: the incoming pod's namespace labels, looked up once per pass, not per node.
fn count(ctx: &PodContext<'_>, ns_labels: &Labels, info: &NodeInfo, mut acc: Counts) -> Counts {
    let Some(node) = &info.node else {
        return acc;
    };
    let pod = ctx.pod;
    let labels = &node.labels;
    for existing in &info.affinity_pods {
        let Some(terms) = &existing.pod_affinity else {
            continue;
        };
        for t in terms.required_anti_affinity.iter() {
            if t.matches_with(pod.namespace, &pod.labels, ns_labels) {
                acc.existing_anti.add(t.topology_key, labels, 1);
            }
        }
    }
    let (affinity, anti) = required(pod);
    if affinity.is_empty() && anti.is_empty() {
        return acc;
    }
    for existing in &info.pods {
        if !affinity.is_empty()
            && affinity
                .iter()
                .all(|t| t.matches(existing.namespace, &existing.labels, ctx.namespaces))
        {
            for t in affinity {
                acc.affinity.add(t.topology_key, labels, 1);
            }
        }
        for t in anti {
            if t.matches(existing.namespace, &existing.labels, ctx.namespaces) {
                acc.anti.add(t.topology_key, labels, 1);
            }
        }
    }
    acc
}

impl Plugin for InterPodAffinity {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl PreFilter for InterPodAffinity {
    fn pre_filter(&self, ctx: &PodContext<'_>) -> Prepared {
        let (affinity, anti) = required(ctx.pod);
        if affinity.is_empty() && anti.is_empty() && !any_pod_has_affinity_terms(ctx) {
            // The common case: nothing to count, so no cluster-wide pass.
            return Prepared::Skip;
        }
        let ns_labels = ctx.namespaces.labels(ctx.pod.namespace);
        let counts = match ctx.index {
            Some(view) => indexed(ctx, view, ns_labels),
            None => ctx
                .nodes
                .par_iter()
                .with_min_len(MIN_NODES_PER_TASK)
                .fold(Counts::default, |acc, info| {
                    count(ctx, ns_labels, info, acc)
                })
                .reduce(Counts::default, Counts::merge),
        };
        if counts.existing_anti.is_empty() && affinity.is_empty() && anti.is_empty() {
            return Prepared::Skip;
        }
        let may_go_first = may_go_first(ctx, &counts, ns_labels);
        let existing_anti_keys = counts.existing_anti.keys();
        Prepared::Run(Some(Box::new(State {
            counts,
            existing_anti_keys,
            may_go_first,
        })))
    }

    fn extensions(&self) -> Option<&dyn PreFilterExtensions> {
        Some(self)
    }
}

impl PreFilterExtensions for InterPodAffinity {
    fn remove_pods(
        &self,
        state: &PluginState,
        ctx: &PodContext<'_>,
        removed: &NodeInfo,
    ) -> Option<PluginState> {
        let state = state.downcast_ref::<State>()?;
        let ns_labels = ctx.namespaces.labels(ctx.pod.namespace);
        let mut counts = state.counts.clone();
        counts.subtract(&count(ctx, ns_labels, removed, Counts::default()));
        let may_go_first = may_go_first(ctx, &counts, ns_labels);
        Some(Box::new(State {
            counts,
            existing_anti_keys: state.existing_anti_keys.clone(),
            may_go_first,
        }))
    }
}

impl Filter for InterPodAffinity {
    /// A pod without terms of its own reads only placed pods' terms (see the trait).
    fn node_local(&self, pod: &PodRecord) -> bool {
        pod.pod_affinity.is_none()
    }

    fn filter(&self, state: Option<&PluginState>, pod: &PodRecord, node: &NodeInfo) -> Status {
        let (Some(state), Some(n)) = (state.and_then(|s| s.downcast_ref::<State>()), &node.node)
        else {
            return Status::success();
        };
        let labels = &n.labels;
        let (affinity, anti) = required(pod);
        let mut pods_exist = true;
        for t in affinity {
            match state.counts.affinity.for_node(t.topology_key, labels) {
                // Every topology key of the terms must exist on the node.
                None => return Status::unresolvable(REASON_AFFINITY),
                Some(c) if c <= 0 => pods_exist = false,
                Some(_) => {}
            }
        }
        if !pods_exist && !state.may_go_first {
            return Status::unresolvable(REASON_AFFINITY);
        }
        if anti.iter().any(|t| {
            state
                .counts
                .anti
                .for_node(t.topology_key, labels)
                .is_some_and(|c| c > 0)
        }) {
            return Status::unschedulable(REASON_ANTI_AFFINITY);
        }
        if state.existing_anti_keys.iter().any(|&k| {
            state
                .counts
                .existing_anti
                .for_node(k, labels)
                .is_some_and(|c| c > 0)
        }) {
            return Status::unschedulable(REASON_EXISTING_ANTI_AFFINITY);
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
    use crate::state::pod_affinity::PodAffinity;
    use crate::testutil::{affinity_term, context, node, pod};

    fn zone_node(name: &str, zone: Option<&str>) -> Arc<NodeInfo> {
        let mut n = node(name, 4000, 1 << 30);
        let mut labels = vec![("kubernetes.io/hostname", name)];
        if let Some(z) = zone {
            labels.push(("zone", z));
        }
        n.record.labels = Labels::from_pairs(labels);
        Arc::new(n.build())
    }

    fn labelled(name: &str, ns: &str, labels: &[(&str, &str)]) -> PodRecord {
        let mut p = pod(name);
        p.namespace = sym(ns);
        p.labels = Labels::from_pairs(labels.iter().copied());
        p
    }

    fn place(nodes: &mut [Arc<NodeInfo>], i: usize, p: PodRecord) {
        Arc::make_mut(&mut nodes[i]).add_pod(Arc::new(p));
    }

    /// Runs PreFilter and Filter on every node: the code per node (None = success, Skip = "-").
    fn run(nodes: &[Arc<NodeInfo>], namespaces: &Namespaces, p: &PodRecord) -> Vec<Option<Code>> {
        let ctx = context(p, nodes, namespaces);
        let state = match InterPodAffinity.pre_filter(&ctx) {
            Prepared::Run(s) => s,
            Prepared::Skip => return vec![None; nodes.len()],
            Prepared::Reject(_) => panic!("no rejection expected"),
        };
        nodes
            .iter()
            .map(|n| {
                let st = InterPodAffinity.filter(state.as_ref(), p, n);
                (!st.is_success()).then_some(st.code)
            })
            .collect()
    }

    fn with_terms(mut p: PodRecord, aff: Vec<AffinityTerm>, anti: Vec<AffinityTerm>) -> PodRecord {
        p.pod_affinity = Some(Box::new(PodAffinity {
            required_affinity: aff.into(),
            required_anti_affinity: anti.into(),
            ..PodAffinity::default()
        }));
        p
    }

    const U: Option<Code> = Some(Code::Unschedulable);
    const UU: Option<Code> = Some(Code::UnschedulableAndUnresolvable);

    #[test]
    fn affinity_needs_a_matching_pod_in_the_domain() {
        let mut nodes = vec![
            zone_node("a1", Some("a")),
            zone_node("a2", Some("a")),
            zone_node("b1", Some("b")),
            zone_node("x", None),
        ];
        place(&mut nodes, 0, labelled("db", "default", &[("app", "db")]));
        let p = with_terms(pod("web"), vec![affinity_term("zone", "app", "db")], vec![]);
        let ns = Namespaces::default();
        assert_eq!(run(&nodes, &ns, &p), vec![None, None, UU, UU]);
        let ctx = context(&p, &nodes, &ns);
        let Prepared::Run(state) = InterPodAffinity.pre_filter(&ctx) else {
            panic!("runs");
        };
        assert_eq!(
            InterPodAffinity
                .filter(state.as_ref(), &p, &nodes[2])
                .reasons
                .to_vec(),
            vec![REASON_AFFINITY]
        );
    }

    #[test]
    fn affinity_term_namespaces_and_namespace_selector() {
        let mut nodes = vec![zone_node("a1", Some("a")), zone_node("b1", Some("b"))];
        place(&mut nodes, 0, labelled("db", "data", &[("app", "db")]));
        let ns = {
            let mut ns = Namespaces::default();
            ns.set(sym("data"), Labels::from_pairs([("team", "storage")]));
            ns
        };
        // Same namespace as the pod by default: the db in "data" does not count.
        let p = with_terms(pod("web"), vec![affinity_term("zone", "app", "db")], vec![]);
        assert_eq!(run(&nodes, &ns, &p), vec![UU, UU]);
        let mut named = affinity_term("zone", "app", "db");
        named.namespaces = vec![sym("data")].into();
        let p = with_terms(pod("web"), vec![named], vec![]);
        assert_eq!(run(&nodes, &ns, &p), vec![None, UU]);
        let mut by_selector = affinity_term("zone", "app", "db");
        by_selector.namespaces = Box::default();
        by_selector.namespace_selector =
            Some(crate::testutil::match_labels(&[("team", "storage")]));
        let p = with_terms(pod("web"), vec![by_selector.clone()], vec![]);
        assert_eq!(run(&nodes, &ns, &p), vec![None, UU]);
        let mut other_team = by_selector;
        other_team.namespace_selector = Some(crate::testutil::match_labels(&[("team", "web")]));
        let p = with_terms(pod("web"), vec![other_team], vec![]);
        assert_eq!(run(&nodes, &ns, &p), vec![UU, UU]);
    }

    #[test]
    fn first_pod_of_a_self_affine_group_goes_anywhere_with_the_key() {
        let nodes = vec![zone_node("a1", Some("a")), zone_node("x", None)];
        let me = with_terms(
            labelled("web-0", "default", &[("app", "web")]),
            vec![affinity_term("zone", "app", "web")],
            vec![],
        );
        let ns = Namespaces::default();
        assert_eq!(run(&nodes, &ns, &me), vec![None, UU]);
        // A pod that does not match its own term has no such exception.
        let other = with_terms(pod("p"), vec![affinity_term("zone", "app", "web")], vec![]);
        assert_eq!(run(&nodes, &ns, &other), vec![UU, UU]);
    }

    #[test]
    fn anti_affinity_and_symmetry() {
        let mut nodes = vec![
            zone_node("a1", Some("a")),
            zone_node("a2", Some("a")),
            zone_node("b1", Some("b")),
            zone_node("x", None),
        ];
        place(
            &mut nodes,
            0,
            labelled("web-0", "default", &[("app", "web")]),
        );
        let p = with_terms(
            labelled("web-1", "default", &[("app", "web")]),
            vec![],
            vec![affinity_term("zone", "app", "web")],
        );
        let ns = Namespaces::default();
        assert_eq!(run(&nodes, &ns, &p), vec![U, U, None, None]);

        // An existing pod's anti-affinity keeps a plain pod it selects out of its domain.
        let mut nodes = vec![zone_node("a1", Some("a")), zone_node("b1", Some("b"))];
        place(
            &mut nodes,
            0,
            with_terms(
                labelled("guard", "default", &[("app", "guard")]),
                vec![],
                vec![affinity_term("zone", "app", "web")],
            ),
        );
        let plain = labelled("web-2", "default", &[("app", "web")]);
        assert_eq!(run(&nodes, &ns, &plain), vec![U, None]);
        let mut elsewhere = plain.clone();
        elsewhere.namespace = sym("other");
        assert_eq!(
            run(&nodes, &ns, &elsewhere),
            vec![None, None],
            "term's namespace only"
        );
        let ctx = context(&plain, &nodes, &ns);
        let Prepared::Run(state) = InterPodAffinity.pre_filter(&ctx) else {
            panic!("runs");
        };
        assert_eq!(
            InterPodAffinity
                .filter(state.as_ref(), &plain, &nodes[0])
                .reasons
                .to_vec(),
            vec![REASON_EXISTING_ANTI_AFFINITY]
        );
    }

    #[test]
    fn nothing_to_check_skips() {
        let nodes = vec![zone_node("a1", Some("a"))];
        let (p, ns) = (pod("p"), Namespaces::default());
        let ctx = context(&p, &nodes, &ns);
        assert!(matches!(InterPodAffinity.pre_filter(&ctx), Prepared::Skip));
    }
}
