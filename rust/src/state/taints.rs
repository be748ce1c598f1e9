//! Node taints and pod tolerations, interned, with kube's matching rules.

use crate::intern::{Sym, sym};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaintEffect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
    /// An effect this version does not know: never matched by the filters or scores.
    Other(Sym),
}

impl TaintEffect {
    pub fn parse(s: &str) -> Self {
        match s {
            "NoSchedule" => Self::NoSchedule,
            "PreferNoSchedule" => Self::PreferNoSchedule,
            "NoExecute" => Self::NoExecute,
            other => Self::Other(sym(other)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taint {
    pub key: Sym,
    pub value: Sym,
    pub effect: TaintEffect,
}

impl Taint {
    pub fn new(key: &str, value: &str, effect: TaintEffect) -> Self {
        Self {
            key: sym(key),
            value: sym(value),
            effect,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TolerationOperator {
    Equal,
    Exists,
    /// Anything else tolerates nothing.
    Invalid,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toleration {
    /// None: empty key (with Exists, matches every taint).
    pub key: Option<Sym>,
    pub operator: TolerationOperator,
    pub value: Sym,
    /// None: empty effect, matches every effect.
    pub effect: Option<TaintEffect>,
}

impl Toleration {
    pub fn new(key: &str, operator: &str, value: &str, effect: &str) -> Self {
        Self {
            key: (!key.is_empty()).then(|| sym(key)),
            operator: match operator {
                "" | "Equal" => TolerationOperator::Equal,
                "Exists" => TolerationOperator::Exists,
                _ => TolerationOperator::Invalid,
            },
            value: sym(value),
            effect: (!effect.is_empty()).then(|| TaintEffect::parse(effect)),
        }
    }

    /// `v1.Toleration.ToleratesTaint`.
    pub fn tolerates(&self, taint: &Taint) -> bool {
        if self.effect.is_some_and(|e| e != taint.effect) {
            return false;
        }
        if self.key.is_some_and(|k| k != taint.key) {
            return false;
        }
        match self.operator {
            TolerationOperator::Equal => self.value == taint.value,
            TolerationOperator::Exists => true,
            TolerationOperator::Invalid => false,
        }
    }
}

pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| t.tolerates(taint))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(k: &str, v: &str, e: TaintEffect) -> Taint {
        Taint::new(k, v, e)
    }

    #[test]
    fn equal_requires_same_key_value_and_effect() {
        let t = taint("gpu", "true", TaintEffect::NoSchedule);
        assert!(Toleration::new("gpu", "Equal", "true", "NoSchedule").tolerates(&t));
        assert!(Toleration::new("gpu", "", "true", "").tolerates(&t));
        assert!(!Toleration::new("gpu", "Equal", "false", "NoSchedule").tolerates(&t));
        assert!(!Toleration::new("gpu", "Equal", "true", "NoExecute").tolerates(&t));
        assert!(!Toleration::new("other", "Equal", "true", "").tolerates(&t));
    }

    #[test]
    fn exists_and_empty_key() {
        let t = taint("gpu", "x", TaintEffect::NoExecute);
        assert!(Toleration::new("gpu", "Exists", "", "").tolerates(&t));
        assert!(Toleration::new("", "Exists", "", "").tolerates(&t));
        assert!(!Toleration::new("", "Exists", "", "NoSchedule").tolerates(&t));
        assert!(!Toleration::new("gpu", "Bogus", "x", "").tolerates(&t));
    }
}
