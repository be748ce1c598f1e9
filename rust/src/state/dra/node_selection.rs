//! Node selectors in DRA objects (a slice's or device's `nodeSelector`, an allocation's), read
//! with kube's node selector rules (`state::node_selector`).

use crate::intern::sym;
use crate::state::node_selector::{FIELD_METADATA_NAME, NodeSelector, Operator, Requirement, Term};
use crate::state::wire::{NodeSelectorWire, RequirementWire, TermWire};

fn operator(r: &RequirementWire<'_>) -> Operator {
    let values: Vec<&str> = r.values.iter().flatten().map(|v| &**v).collect();
    Operator::parse(&r.operator, &values)
}

fn term(t: &TermWire<'_>) -> Term {
    Term {
        expressions: t
            .match_expressions
            .iter()
            .flatten()
            .map(|r| Requirement {
                key: sym(&r.key),
                op: operator(r),
            })
            .collect(),
        fields: t
            .match_fields
            .iter()
            .flatten()
            .map(|r| {
                if r.key == FIELD_METADATA_NAME && matches!(&*r.operator, "In" | "NotIn") {
                    operator(r)
                } else {
                    Operator::Never
                }
            })
            .collect(),
    }
}

pub fn node_selector(w: &NodeSelectorWire<'_>) -> NodeSelector {
    NodeSelector {
        terms: w.node_selector_terms.iter().flatten().map(term).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::labels::Labels;

    #[test]
    fn match_fields_and_expressions() {
        let w: NodeSelectorWire<'_> = serde_json::from_str(
            r#"{"nodeSelectorTerms":[{"matchFields":[{"key":"metadata.name","operator":"In","values":["n1"]}]},
                                     {"matchExpressions":[{"key":"rack","operator":"In","values":["r1"]}]}]}"#,
        )
        .unwrap();
        let s = node_selector(&w);
        assert!(s.matches(sym("n1"), &Labels::default()));
        assert!(!s.matches(sym("n2"), &Labels::default()));
        assert!(s.matches(sym("n2"), &Labels::from_pairs([("rack", "r1")])));
    }
}
