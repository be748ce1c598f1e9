//! NodeAffinity (filter): `spec.nodeSelector` and the required node affinity terms must match.

use crate::framework::plugin::{FilterPlugin, PluginState, PodContext, Prepared};
use crate::framework::status::Status;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::required_node_affinity::required_matches;

pub const NAME: &str = "NodeAffinity";
pub const REASON_POD: &str = "node(s) didn't match Pod's node affinity/selector";

pub struct NodeAffinity;

impl FilterPlugin for NodeAffinity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn node_static(&self) -> bool {
        true
    }

    fn pre_filter(&self, ctx: &PodContext<'_>) -> Prepared {
        // Nothing required: every node matches.
        if ctx.pod.node_selector.is_empty() && ctx.pod.required_affinity.is_none() {
            Prepared::Skip
        } else {
            Prepared::Run(None)
        }
    }

    fn filter(&self, _: Option<&PluginState>, pod: &PodRecord, node: &NodeInfo) -> Status {
        if required_matches(pod, node) {
            Status::success()
        } else {
            Status::unresolvable(REASON_POD)
        }
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
            index: None,
        };
        assert!(matches!(NodeAffinity.pre_filter(&ctx), Prepared::Skip));
        p.node_selector = Labels::from_pairs([("zone", "a")]);
        let ctx = PodContext {
            pod: &p,
            nodes: &nodes,
            namespaces: &Default::default(),
            volumes: &Default::default(),
            index: None,
        };
        assert!(matches!(NodeAffinity.pre_filter(&ctx), Prepared::Run(None)));
    }
}
