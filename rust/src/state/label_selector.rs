//! Label selectors (`metav1.LabelSelector`) as pod affinity terms and topology spread
//! constraints use them: interned, validated once at parse time, matched with integer compares.
//!
//! kube's conversion rules: a nil selector matches nothing, an empty one matches everything,
//! `matchLabels` pairs and `matchExpressions` are ANDed.

use crate::bounded::quoted;
use crate::error::{CoreError, CoreResult};
use crate::intern::{Sym, sym};
use crate::state::affinity_wire::LabelSelectorWire;
use crate::state::labels::Labels;
use crate::state::wire::Str;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectorOp {
    In(Box<[Sym]>),
    NotIn(Box<[Sym]>),
    Exists,
    DoesNotExist,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectorRequirement {
    pub key: Sym,
    pub op: SelectorOp,
}

impl SelectorRequirement {
    fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(self.key);
        match (&self.op, value) {
            (SelectorOp::In(vs), Some(v)) => vs.contains(&v),
            (SelectorOp::In(_), None) => false,
            (SelectorOp::NotIn(vs), Some(v)) => !vs.contains(&v),
            (SelectorOp::NotIn(_), None) => true,
            (SelectorOp::Exists, v) => v.is_some(),
            (SelectorOp::DoesNotExist, v) => v.is_none(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum LabelSelector {
    /// A nil selector.
    #[default]
    Nothing,
    /// ANDed requirements; none at all matches everything.
    All(Box<[SelectorRequirement]>),
}

impl LabelSelector {
    pub fn everything() -> Self {
        Self::All(Box::default())
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        match self {
            Self::Nothing => false,
            Self::All(reqs) => reqs.iter().all(|r| r.matches(labels)),
        }
    }

    /// `selector` plus `key In (value)` (or `NotIn` when `negate`) for each of `keys` the pod
    /// has a label for: how kube merges `matchLabelKeys` / `mismatchLabelKeys`.
    pub fn with_label_keys(self, keys: &[Sym], pod_labels: &Labels, negate: bool) -> Self {
        let extra = keys.iter().filter_map(|&k| {
            pod_labels.get(k).map(|v| SelectorRequirement {
                key: k,
                op: if negate {
                    SelectorOp::NotIn(Box::new([v]))
                } else {
                    SelectorOp::In(Box::new([v]))
                },
            })
        });
        match self {
            Self::Nothing => Self::Nothing,
            Self::All(reqs) => Self::All(reqs.into_vec().into_iter().chain(extra).collect()),
        }
    }

    /// Parses a selector; `Err(CoreError::field(field, message))` names the offending field relative to
    /// `path`.
    pub fn parse(wire: Option<&LabelSelectorWire<'_>>, path: &str) -> CoreResult<Self> {
        let Some(wire) = wire else {
            return Ok(Self::Nothing);
        };
        let mut reqs = Vec::new();
        for (k, v) in wire.match_labels.iter().flatten() {
            reqs.push(SelectorRequirement {
                key: sym(k),
                op: SelectorOp::In(Box::new([sym(v)])),
            });
        }
        for (i, e) in wire.match_expressions.iter().flatten().enumerate() {
            let at = format!("{path}.matchExpressions[{i}]");
            if e.key.is_empty() {
                return Err(CoreError::field(format!("{at}.key"), "must not be empty"));
            }
            let values: Vec<&Str<'_>> = e.values.iter().flatten().collect();
            let syms = || values.iter().map(|v| sym(v)).collect::<Box<[Sym]>>();
            let op = match (&*e.operator, values.is_empty()) {
                ("In", false) => SelectorOp::In(syms()),
                ("NotIn", false) => SelectorOp::NotIn(syms()),
                ("Exists", true) => SelectorOp::Exists,
                ("DoesNotExist", true) => SelectorOp::DoesNotExist,
                ("In" | "NotIn", true) => {
                    return Err(CoreError::field(
                        format!("{at}.values"),
                        format!("must be non-empty for operator {}", e.operator),
                    ));
                }
                ("Exists" | "DoesNotExist", false) => {
                    return Err(CoreError::field(
                        format!("{at}.values"),
                        format!("must be empty for operator {}", e.operator),
                    ));
                }
                (other, _) => {
                    return Err(CoreError::field(
                        format!("{at}.operator"),
                        format!(
                            "unknown operator {} (In, NotIn, Exists, DoesNotExist)",
                            quoted(other)
                        ),
                    ));
                }
            };
            reqs.push(SelectorRequirement {
                key: sym(&e.key),
                op,
            });
        }
        Ok(Self::All(reqs.into_boxed_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::affinity_wire::LabelSelectorWire;

    fn parse(json: &str) -> CoreResult<LabelSelector> {
        let wire: LabelSelectorWire<'_> = serde_json::from_str(json).expect("json");
        LabelSelector::parse(Some(&wire), "spec.x.labelSelector")
    }

    #[test]
    fn nil_empty_and_requirements() {
        let labels = Labels::from_pairs([("app", "web"), ("tier", "fe")]);
        assert!(!LabelSelector::parse(None, "x").unwrap().matches(&labels));
        assert!(parse("{}").unwrap().matches(&Labels::default()));
        let sel = parse(
            r#"{"matchLabels":{"app":"web"},"matchExpressions":[
                {"key":"tier","operator":"In","values":["fe","be"]},
                {"key":"canary","operator":"DoesNotExist"}]}"#,
        )
        .unwrap();
        assert!(sel.matches(&labels));
        assert!(!sel.matches(&Labels::from_pairs([("app", "web"), ("tier", "db")])));
        let not_in =
            parse(r#"{"matchExpressions":[{"key":"app","operator":"NotIn","values":["db"]}]}"#)
                .unwrap();
        assert!(not_in.matches(&labels) && not_in.matches(&Labels::default()));
    }

    #[test]
    fn malformed_expressions_name_the_field() {
        let err = parse(r#"{"matchExpressions":[{"key":"a","operator":"Gt","values":["1"]}]}"#)
            .unwrap_err();
        assert_eq!(
            err.path(),
            "spec.x.labelSelector.matchExpressions[0].operator"
        );
        let err = parse(r#"{"matchExpressions":[{"key":"a","operator":"In"}]}"#).unwrap_err();
        assert_eq!(
            err.path(),
            "spec.x.labelSelector.matchExpressions[0].values"
        );
        let err = parse(r#"{"matchExpressions":[{"key":"a","operator":"Exists","values":["x"]}]}"#)
            .unwrap_err();
        assert_eq!(
            err.path(),
            "spec.x.labelSelector.matchExpressions[0].values"
        );
    }

    #[test]
    fn label_keys_merge_from_the_pod() {
        let pod = Labels::from_pairs([("app", "web"), ("hash", "h1")]);
        let sel =
            LabelSelector::everything().with_label_keys(&[sym("hash"), sym("absent")], &pod, false);
        assert!(sel.matches(&pod));
        assert!(!sel.matches(&Labels::from_pairs([("app", "web"), ("hash", "h2")])));
        let mis = LabelSelector::everything().with_label_keys(&[sym("hash")], &pod, true);
        assert!(!mis.matches(&pod));
        assert!(mis.matches(&Labels::from_pairs([("hash", "h2")])));
        assert_eq!(
            LabelSelector::Nothing.with_label_keys(&[sym("hash")], &pod, false),
            LabelSelector::Nothing
        );
    }
}
