//! kube's `PreFilterResult`: a PreFilter may name the only nodes a pod can go on (NodeAffinity
//! does for `matchFields` on `metadata.name`). kube-scheduler then runs no filter on the other
//! nodes and counts them under one reason naming the plugins that narrowed the nodes, so the
//! diagnosis says `node(s) didn't satisfy plugin(s) [NodeAffinity]` for them, not the first
//! filter they would have failed.

use crate::framework::cycle_state::PluginState;
use crate::framework::reasons;
use crate::framework::status::Status;
use crate::intern::sym;
use crate::runtime::profile::Profile;
use crate::state::node_info::NodeInfo;

/// The status of a node the PreFilters' results leave out, with the first plugin whose result
/// leaves it out; None when every result (if any) takes it. A node is left out when any result
/// does not name it (kube intersects them).
pub fn outside(
    profile: &Profile,
    states: &[Option<Option<PluginState>>],
    node: &NodeInfo,
) -> Option<(&'static str, Status)> {
    let name = node.node.as_ref()?.name;
    let mut narrowing: Vec<&'static str> = Vec::new();
    let mut left_out_by = None;
    for (plugin, state) in profile.filters.iter().zip(states) {
        let Some(state) = state else { continue };
        if let Some(names) = plugin.node_names(state.as_ref()) {
            narrowing.push(plugin.name());
            if !names.contains(&name) {
                left_out_by.get_or_insert(plugin.name());
            }
        }
    }
    left_out_by.map(|plugin| (plugin, Status::unresolvable(reason(&mut narrowing))))
}

/// `node(s) didn't satisfy plugin(s) [A B]`: the plugins sorted, as Go prints kube's
/// `sets.List`.
fn reason(plugins: &mut [&'static str]) -> &'static str {
    plugins.sort_unstable();
    let list = plugins.join(" ");
    reasons::cached("PreFilterResult", sym(&list), None, || {
        format!("node(s) didn't satisfy plugin(s) [{list}]")
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::cycle::{Cluster, Options, schedule_pod};
    use crate::intern::sym;
    use crate::state::labels::Labels;
    use crate::state::node_selector::{NodeSelector, Operator, Requirement, Term};
    use crate::state::taints::{Taint, TaintEffect};
    use crate::testutil::{node, pod};

    #[test]
    fn reason_lists_plugins_sorted_as_go_prints_them() {
        assert_eq!(
            reason(&mut ["NodeAffinity"]),
            "node(s) didn't satisfy plugin(s) [NodeAffinity]"
        );
        assert_eq!(
            reason(&mut ["Zeta", "Alpha"]),
            "node(s) didn't satisfy plugin(s) [Alpha Zeta]"
        );
    }

    fn profile() -> Profile {
        Profile::from_json(
            br#"{"schedulerName":"podium","parallelism":2,
                "filters":["NodeUnschedulable","NodeName","TaintToleration","NodeAffinity","NodeResourcesFit"],
                "scores":{"NodeResourcesFit":1}}"#,
        )
        .expect("valid profile")
    }

    /// a (labelled zone=x), b, and c tainted: every filter before NodeAffinity refuses c.
    fn cluster() -> Vec<Arc<NodeInfo>> {
        let mut a = node("a", 1000, 1 << 30);
        a.record.labels = Labels::from_pairs([("zone", "x")]);
        let mut c = node("c", 1000, 1 << 30);
        c.record.taints = vec![Taint::new("k", "v", TaintEffect::NoSchedule)].into();
        vec![
            Arc::new(a.build()),
            Arc::new(node("b", 1000, 1 << 30).build()),
            Arc::new(c.build()),
        ]
    }

    fn naming(terms: &[(&[&[&str]], &str)]) -> crate::state::pod::PodRecord {
        let mut p = pod("p");
        p.required_affinity = Some(NodeSelector {
            terms: terms
                .iter()
                .map(|(fields, zone)| Term {
                    expressions: vec![Requirement {
                        key: sym("zone"),
                        op: Operator::parse("In", &[zone]),
                    }]
                    .into(),
                    fields: fields.iter().map(|v| Operator::parse("In", v)).collect(),
                })
                .collect(),
        });
        p
    }

    #[test]
    fn nodes_left_out_get_kubes_reason_whatever_else_refuses_them() {
        let nodes = cluster();
        // Named and matching: placed.
        let (d, _) = schedule_pod(
            &profile(),
            Cluster::of(&nodes),
            &naming(&[(&[&["a"]], "x")]),
            Options::default(),
        );
        assert_eq!(d.node.as_deref(), Some("a"));
        // Named but the expression fails: the filter's reason there; the tainted node is
        // counted as left out, not as tainted.
        let (d, _) = schedule_pod(
            &profile(),
            Cluster::of(&nodes),
            &naming(&[(&[&["a"]], "y")]),
            Options::default(),
        );
        assert_eq!(
            d.message,
            "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, \
             2 node(s) didn't satisfy plugin(s) [NodeAffinity]."
        );
        // A name no node has: every node is left out.
        let (d, _) = schedule_pod(
            &profile(),
            Cluster::of(&nodes),
            &naming(&[(&[&["ghost"]], "x")]),
            Options::default(),
        );
        assert_eq!(
            d.message,
            "0/3 nodes are available: 3 node(s) didn't satisfy plugin(s) [NodeAffinity]."
        );
        // Two terms: the union of the nodes they name.
        let (d, _) = schedule_pod(
            &profile(),
            Cluster::of(&nodes),
            &naming(&[(&[&["b"]], "y"), (&[&["c"]], "y")]),
            Options::default(),
        );
        assert_eq!(
            d.message,
            "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, \
             1 node(s) didn't satisfy plugin(s) [NodeAffinity], 1 node(s) had untolerated taint(s)."
        );
    }

    #[test]
    fn a_term_naming_no_node_rejects_the_pod_at_pre_filter() {
        // Within a term the fields are ANDed: a and b at once is no node.
        let (d, _) = schedule_pod(
            &profile(),
            Cluster::of(&cluster()),
            &naming(&[(&[&["a"], &["b"]], "x")]),
            Options::default(),
        );
        assert_eq!(
            d.message,
            "0/3 nodes are available: pod affinity terms conflict."
        );
    }

    #[test]
    fn a_term_without_names_narrows_nothing() {
        let mut p = naming(&[(&[&["ghost"]], "x"), (&[], "x")]);
        let (d, _) = schedule_pod(&profile(), Cluster::of(&cluster()), &p, Options::default());
        assert_eq!(d.node.as_deref(), Some("a"));
        // NotIn names no node either.
        p = naming(&[(&[], "x")]);
        if let Some(sel) = &mut p.required_affinity {
            sel.terms[0].fields = vec![Operator::parse("NotIn", &["b"])].into();
        }
        let (d, _) = schedule_pod(&profile(), Cluster::of(&cluster()), &p, Options::default());
        assert_eq!(d.node.as_deref(), Some("a"));
    }
}
