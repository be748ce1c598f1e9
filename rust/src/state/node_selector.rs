//! Node selector terms (`nodeAffinity` required and preferred terms), interned and pre-parsed,
//! with kube's matching rules: terms are ORed, requirements in a term ANDed, an empty term matches
//! nothing, an invalid requirement never matches.

use crate::intern::{Sym, resolve, sym};
use crate::state::labels::Labels;
use crate::state::wire::{NodeSelectorWire, RequirementWire, TermWire};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operator {
    In(Box<[Sym]>),
    NotIn(Box<[Sym]>),
    Exists,
    DoesNotExist,
    Gt(i64),
    Lt(i64),
    /// Invalid operator or values: matches no node.
    Never,
}

impl Operator {
    pub fn parse(op: &str, values: &[&str]) -> Self {
        let syms = || values.iter().map(|v| sym(v)).collect::<Box<[Sym]>>();
        let single_int = || match values {
            [v] => v.parse::<i64>().ok(),
            _ => None,
        };
        match op {
            "In" if !values.is_empty() => Self::In(syms()),
            "NotIn" if !values.is_empty() => Self::NotIn(syms()),
            "Exists" if values.is_empty() => Self::Exists,
            "DoesNotExist" if values.is_empty() => Self::DoesNotExist,
            "Gt" => single_int().map_or(Self::Never, Self::Gt),
            "Lt" => single_int().map_or(Self::Never, Self::Lt),
            _ => Self::Never,
        }
    }

    /// Matches a value that may be absent.
    fn matches(&self, value: Option<Sym>) -> bool {
        match (self, value) {
            (Self::In(vs), Some(v)) => vs.contains(&v),
            (Self::In(_), None) => false,
            (Self::NotIn(vs), Some(v)) => !vs.contains(&v),
            (Self::NotIn(_), None) => true,
            (Self::Exists, v) => v.is_some(),
            (Self::DoesNotExist, v) => v.is_none(),
            (Self::Gt(n), Some(v)) => resolve(v).parse::<i64>().is_ok_and(|x| x > *n),
            (Self::Lt(n), Some(v)) => resolve(v).parse::<i64>().is_ok_and(|x| x < *n),
            (Self::Gt(_) | Self::Lt(_) | Self::Never, _) => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub key: Sym,
    pub op: Operator,
}

/// The only field kube lets node selectors match on.
pub const FIELD_METADATA_NAME: &str = "metadata.name";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Term {
    pub expressions: Box<[Requirement]>,
    /// matchFields on `metadata.name` (any other field is parsed as `Never`).
    pub fields: Box<[Operator]>,
}

impl Term {
    pub fn is_empty(&self) -> bool {
        self.expressions.is_empty() && self.fields.is_empty()
    }

    pub fn matches(&self, node_name: Sym, labels: &Labels) -> bool {
        !self.is_empty()
            && self
                .expressions
                .iter()
                .all(|r| r.op.matches(labels.get(r.key)))
            && self.fields.iter().all(|op| op.matches(Some(node_name)))
    }
}

/// `requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeSelector {
    pub terms: Box<[Term]>,
}

impl NodeSelector {
    pub fn matches(&self, node_name: Sym, labels: &Labels) -> bool {
        self.terms.iter().any(|t| t.matches(node_name, labels))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreferredTerm {
    pub weight: i32,
    pub term: Term,
}

fn operator(r: &RequirementWire<'_>) -> Operator {
    let values: Vec<&str> = r.values.iter().flatten().map(|v| &**v).collect();
    Operator::parse(&r.operator, &values)
}

/// One node selector term as written in an API object.
pub fn term_from_wire(t: &TermWire<'_>) -> Term {
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

/// A node selector as written in an API object (a pod's or PV's node affinity, a
/// ResourceSlice's or an allocation's `nodeSelector`).
pub fn from_wire(w: &NodeSelectorWire<'_>) -> NodeSelector {
    NodeSelector {
        terms: w
            .node_selector_terms
            .iter()
            .flatten()
            .map(term_from_wire)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(key: &str, op: &str, values: &[&str]) -> Requirement {
        Requirement {
            key: sym(key),
            op: Operator::parse(op, values),
        }
    }

    fn term(reqs: Vec<Requirement>) -> Term {
        Term {
            expressions: reqs.into_boxed_slice(),
            fields: Box::default(),
        }
    }

    #[test]
    fn operators() {
        let labels = Labels::from_pairs([("zone", "a"), ("gpus", "8")]);
        let n = sym("node-1");
        let ok = |r: Requirement| term(vec![r]).matches(n, &labels);
        assert!(ok(req("zone", "In", &["a", "b"])));
        assert!(!ok(req("zone", "In", &["b"])));
        assert!(!ok(req("missing", "In", &["a"])));
        assert!(ok(req("zone", "NotIn", &["b"])));
        assert!(ok(req("missing", "NotIn", &["b"])));
        assert!(!ok(req("zone", "NotIn", &["a"])));
        assert!(ok(req("zone", "Exists", &[])));
        assert!(!ok(req("missing", "Exists", &[])));
        assert!(ok(req("missing", "DoesNotExist", &[])));
        assert!(ok(req("gpus", "Gt", &["7"])));
        assert!(!ok(req("gpus", "Gt", &["8"])));
        assert!(ok(req("gpus", "Lt", &["9"])));
        assert!(
            !ok(req("zone", "Gt", &["1"])),
            "non-integer label never matches Gt"
        );
        assert!(
            !ok(req("gpus", "Gt", &["x"])),
            "invalid Gt value never matches"
        );
        assert!(!ok(req("zone", "In", &[])), "In without values is invalid");
        assert!(!ok(req("zone", "Bogus", &["a"])));
    }

    #[test]
    fn terms_are_ored_and_requirements_anded() {
        let labels = Labels::from_pairs([("zone", "a"), ("gpu", "h100")]);
        let n = sym("node-1");
        let both = term(vec![req("zone", "In", &["a"]), req("gpu", "In", &["a100"])]);
        assert!(!both.matches(n, &labels));
        let sel = NodeSelector {
            terms: vec![both, term(vec![req("gpu", "Exists", &[])])].into_boxed_slice(),
        };
        assert!(sel.matches(n, &labels));
        assert!(!NodeSelector::default().matches(n, &labels));
        assert!(
            !Term::default().matches(n, &labels),
            "empty term matches nothing"
        );
    }

    #[test]
    fn match_fields_on_node_name() {
        let t = Term {
            expressions: Box::default(),
            fields: vec![Operator::parse("In", &["node-1"])].into_boxed_slice(),
        };
        assert!(t.matches(sym("node-1"), &Labels::default()));
        assert!(!t.matches(sym("node-2"), &Labels::default()));
    }
}

#[cfg(test)]
mod wire_tests {
    use super::*;
    use crate::state::labels::Labels;

    #[test]
    fn match_fields_and_expressions() {
        let w: NodeSelectorWire<'_> = serde_json::from_str(
            r#"{"nodeSelectorTerms":[{"matchFields":[{"key":"metadata.name","operator":"In","values":["n1"]}]},
                                     {"matchExpressions":[{"key":"rack","operator":"In","values":["r1"]}]}]}"#,
        )
        .unwrap();
        let s = from_wire(&w);
        assert!(s.matches(sym("n1"), &Labels::default()));
        assert!(!s.matches(sym("n2"), &Labels::default()));
        assert!(s.matches(sym("n2"), &Labels::from_pairs([("rack", "r1")])));
    }
}
