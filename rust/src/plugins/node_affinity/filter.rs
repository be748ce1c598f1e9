//! NodeAffinity (filter): `spec.nodeSelector` and the required node affinity terms must match.

use crate::framework::cycle_state::PluginState;
use crate::framework::plugin::{Filter, NodeNames, Plugin, PodContext, PreFilter, Prepared};
use crate::framework::status::Status;
use crate::state::node_info::NodeInfo;
use crate::state::node_selector::{NodeSelector, Operator};
use crate::state::pod::PodRecord;
use crate::state::required_node_affinity::required_matches;

pub const NAME: &str = "NodeAffinity";
pub const REASON_POD: &str = "node(s) didn't match Pod's node affinity/selector";
/// Every required term names nodes (`matchFields` on `metadata.name`), but no node is named by
/// all of a term's fields.
pub const REASON_CONFLICT: &str = "pod affinity terms conflict";

pub struct NodeAffinity;

/// kube's NodeAffinity PreFilter: the nodes the required terms name with `matchFields`
/// `metadata.name In`, the union over terms of each term's intersection; None when some term
/// names no node (it may match any). Other fields and operators narrow nothing here: the
/// filter still judges them.
fn named_nodes(selector: &NodeSelector) -> Option<NodeNames> {
    if selector.terms.is_empty() {
        return None;
    }
    let mut union = NodeNames::default();
    for term in &selector.terms {
        let mut named: Option<NodeNames> = None;
        for field in &term.fields {
            if let Operator::In(values) = field {
                let these: NodeNames = values.iter().copied().collect();
                named = Some(match named {
                    None => these,
                    Some(so_far) => so_far.intersection(&these).copied().collect(),
                });
            }
        }
        union.extend(named?);
    }
    Some(union)
}

impl Plugin for NodeAffinity {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl PreFilter for NodeAffinity {
    fn pre_filter(&self, ctx: &PodContext<'_>) -> Prepared {
        // Nothing required: every node matches.
        if ctx.pod.node_selector.is_empty() && ctx.pod.required_affinity.is_none() {
            return Prepared::Skip;
        }
        match ctx.pod.required_affinity.as_ref().and_then(named_nodes) {
            None => Prepared::Run(None),
            Some(names) if names.is_empty() => {
                Prepared::Reject(Status::unresolvable(REASON_CONFLICT))
            }
            Some(names) => Prepared::Run(Some(Box::new(names))),
        }
    }

    fn node_names<'s>(&self, state: Option<&'s PluginState>) -> Option<&'s NodeNames> {
        state?.downcast_ref::<NodeNames>()
    }
}

impl Filter for NodeAffinity {
    fn node_local(&self, _: &PodRecord) -> bool {
        true
    }

    fn reads_identity(&self) -> bool {
        false
    }

    fn filter(&self, _: Option<&PluginState>, pod: &PodRecord, node: &NodeInfo) -> Status {
        if required_matches(pod, node) {
            Status::success()
        } else {
            Status::unresolvable(REASON_POD)
        }
    }

    fn node_static(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::sym;
    use crate::state::labels::Labels;
    use crate::state::node_selector::{NodeSelector, Operator, Requirement, Term};
    use crate::testutil::{node, pod};

    #[test]
    fn selector_and_required_terms() {
        let mut n = node("n1", 1000, 1000);
        n.record.labels = Labels::from_pairs([("zone", "a"), ("gpu", "h100")]);
        let info = n.build();
        let mut p = pod("p");
        assert!(NodeAffinity.filter(None, &p, &info).is_success());
        p.node_selector = Labels::from_pairs([("zone", "b")]);
        assert_eq!(
            NodeAffinity.filter(None, &p, &info).reasons.to_vec(),
            vec![REASON_POD]
        );
        p.node_selector = Labels::from_pairs([("zone", "a")]);
        let term = |v: &str| Term {
            expressions: vec![Requirement {
                key: sym("gpu"),
                op: Operator::parse("In", &[v]),
            }]
            .into(),
            fields: Box::default(),
        };
        p.required_affinity = Some(NodeSelector {
            terms: vec![term("a100")].into(),
        });
        assert!(!NodeAffinity.filter(None, &p, &info).is_success());
        p.required_affinity = Some(NodeSelector {
            terms: vec![term("a100"), term("h100")].into(),
        });
        assert!(NodeAffinity.filter(None, &p, &info).is_success());
    }

    #[test]
    fn skipped_when_nothing_is_required() {
        let nodes = [std::sync::Arc::new(node("n1", 1000, 1000).build())];
        let mut p = pod("p");
        let ctx = PodContext {
            pod: &p,
            nodes: &nodes,
            namespaces: &Default::default(),
            volumes: &Default::default(),
            dra: crate::state::dra::Dra::none(),
            index: None,
        };
        assert!(matches!(NodeAffinity.pre_filter(&ctx), Prepared::Skip));
        p.node_selector = Labels::from_pairs([("zone", "a")]);
        let ctx = PodContext {
            pod: &p,
            nodes: &nodes,
            namespaces: &Default::default(),
            volumes: &Default::default(),
            dra: crate::state::dra::Dra::none(),
            index: None,
        };
        assert!(matches!(NodeAffinity.pre_filter(&ctx), Prepared::Run(None)));
    }
}
