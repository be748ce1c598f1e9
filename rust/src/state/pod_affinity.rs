//! A pod's inter-pod affinity and anti-affinity terms, parsed once, with kube's matching rules
//! (`framework.AffinityTerm`): a term selects pods in its namespaces (the pod's own namespace
//! when it names none and has no namespaceSelector) or in namespaces whose labels match its
//! namespaceSelector, whose labels match its labelSelector (with `matchLabelKeys` /
//! `mismatchLabelKeys` merged in from the owning pod's labels).

use crate::error::CoreError;
use crate::intern::{Sym, sym};
use crate::state::affinity_wire::{PodAffinityTermWire, PodAffinityWire};
use crate::state::label_selector::LabelSelector;
use crate::state::labels::Labels;
use crate::state::namespaces::Namespaces;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AffinityTerm {
    pub selector: LabelSelector,
    pub namespaces: Box<[Sym]>,
    /// None: no namespaceSelector (kube's nil selector, which matches no namespace).
    pub namespace_selector: Option<LabelSelector>,
    pub topology_key: Sym,
}

impl AffinityTerm {
    /// Does a pod in `namespace` (whose labels are `ns_labels`) with `labels` fall under this
    /// term?
    pub fn matches_with(&self, namespace: Sym, labels: &Labels, ns_labels: &Labels) -> bool {
        (self.namespaces.contains(&namespace)
            || self
                .namespace_selector
                .as_ref()
                .is_some_and(|s| s.matches(ns_labels)))
            && self.selector.matches(labels)
    }

    /// As `matches_with`, looking the namespace's labels up only when a selector needs them.
    pub fn matches(&self, namespace: Sym, labels: &Labels, namespaces: &Namespaces) -> bool {
        if !self.selector.matches(labels) {
            return false;
        }
        self.namespaces.contains(&namespace)
            || self
                .namespace_selector
                .as_ref()
                .is_some_and(|s| s.matches(namespaces.labels(namespace)))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightedTerm {
    pub weight: i32,
    pub term: AffinityTerm,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodAffinity {
    pub required_affinity: Box<[AffinityTerm]>,
    pub required_anti_affinity: Box<[AffinityTerm]>,
    pub preferred_affinity: Box<[WeightedTerm]>,
    pub preferred_anti_affinity: Box<[WeightedTerm]>,
}

impl PodAffinity {
    pub fn is_empty(&self) -> bool {
        self.required_affinity.is_empty()
            && self.required_anti_affinity.is_empty()
            && self.preferred_affinity.is_empty()
            && self.preferred_anti_affinity.is_empty()
    }

    /// Parses `spec.affinity.podAffinity` / `podAntiAffinity`. Malformed terms are dropped
    /// and reported as `(field, message)`.
    pub fn parse(
        affinity: Option<&PodAffinityWire<'_>>,
        anti: Option<&PodAffinityWire<'_>>,
        namespace: Sym,
        labels: &Labels,
        errors: &mut Vec<CoreError>,
    ) -> Self {
        let required = |w: Option<&PodAffinityWire<'_>>, path: &str, errors: &mut Vec<_>| {
            w.and_then(|w| {
                w.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .into_iter()
            .flatten()
            .enumerate()
            .filter_map(|(i, t)| {
                let at = format!("{path}.requiredDuringSchedulingIgnoredDuringExecution[{i}]");
                term(t, &at, namespace, labels, errors)
            })
            .collect::<Box<[_]>>()
        };
        let preferred = |w: Option<&PodAffinityWire<'_>>, path: &str, errors: &mut Vec<_>| {
            w.and_then(|w| {
                w.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .into_iter()
            .flatten()
            .enumerate()
            .filter_map(|(i, t)| {
                let at = format!("{path}.preferredDuringSchedulingIgnoredDuringExecution[{i}]");
                if !(1..=100).contains(&t.weight) {
                    errors.push(CoreError::field(
                        format!("{at}.weight"),
                        format!("{} is not in 1..100", t.weight),
                    ));
                    return None;
                }
                let term = term(
                    &t.pod_affinity_term,
                    &format!("{at}.podAffinityTerm"),
                    namespace,
                    labels,
                    errors,
                )?;
                Some(WeightedTerm {
                    weight: t.weight,
                    term,
                })
            })
            .collect::<Box<[_]>>()
        };
        const AFF: &str = "spec.affinity.podAffinity";
        const ANTI: &str = "spec.affinity.podAntiAffinity";
        Self {
            required_affinity: required(affinity, AFF, errors),
            required_anti_affinity: required(anti, ANTI, errors),
            preferred_affinity: preferred(affinity, AFF, errors),
            preferred_anti_affinity: preferred(anti, ANTI, errors),
        }
    }
}

fn term(
    t: &PodAffinityTermWire<'_>,
    path: &str,
    namespace: Sym,
    labels: &Labels,
    errors: &mut Vec<CoreError>,
) -> Option<AffinityTerm> {
    if t.topology_key.is_empty() {
        errors.push(CoreError::field(
            format!("{path}.topologyKey"),
            "must not be empty",
        ));
        return None;
    }
    let report = |errors: &mut Vec<CoreError>, e| {
        errors.push(e);
    };
    let selector =
        match LabelSelector::parse(t.label_selector.as_ref(), &format!("{path}.labelSelector")) {
            Ok(s) => s,
            Err(e) => {
                report(errors, e);
                return None;
            }
        };
    let namespace_selector = match &t.namespace_selector {
        None => None,
        Some(w) => match LabelSelector::parse(Some(w), &format!("{path}.namespaceSelector")) {
            Ok(s) => Some(s),
            Err(e) => {
                report(errors, e);
                return None;
            }
        },
    };
    let keys = |ks: &Option<Vec<_>>| -> Vec<Sym> {
        ks.iter()
            .flatten()
            .map(|k: &crate::state::wire::Str<'_>| sym(k))
            .collect()
    };
    let selector = selector
        .with_label_keys(&keys(&t.match_label_keys), labels, false)
        .with_label_keys(&keys(&t.mismatch_label_keys), labels, true);
    let named: Box<[Sym]> = t.namespaces.iter().flatten().map(|n| sym(n)).collect();
    let namespaces = if named.is_empty() && namespace_selector.is_none() {
        Box::new([namespace]) as Box<[Sym]>
    } else {
        named
    };
    Some(AffinityTerm {
        selector,
        namespaces,
        namespace_selector,
        topology_key: sym(&t.topology_key),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::affinity_wire::PodAffinityWire;
    use crate::state::pod::PodRecord;

    fn parse(aff: &str, anti: &str) -> (PodAffinity, Vec<CoreError>) {
        let a: Option<PodAffinityWire<'_>> = serde_json::from_str(aff).expect("json");
        let b: Option<PodAffinityWire<'_>> = serde_json::from_str(anti).expect("json");
        let mut errors = Vec::new();
        let labels = Labels::from_pairs([("app", "web"), ("hash", "h1")]);
        let p = PodAffinity::parse(a.as_ref(), b.as_ref(), sym("ns1"), &labels, &mut errors);
        (p, errors)
    }

    #[test]
    fn namespaces_default_to_the_pods_own() {
        let (p, errors) = parse(
            r#"{"requiredDuringSchedulingIgnoredDuringExecution":[
                 {"labelSelector":{"matchLabels":{"app":"db"}},"topologyKey":"zone"},
                 {"labelSelector":{},"topologyKey":"zone","namespaces":["a","b"]},
                 {"labelSelector":{},"topologyKey":"zone","namespaceSelector":{}}]}"#,
            "null",
        );
        assert!(errors.is_empty(), "{errors:?}");
        let t = &p.required_affinity;
        assert_eq!(&*t[0].namespaces, &[sym("ns1")]);
        assert_eq!(&*t[1].namespaces, &[sym("a"), sym("b")]);
        assert!(t[2].namespaces.is_empty() && t[2].namespace_selector.is_some());
        let mut db = PodRecord::empty("u", "ns1", "db");
        db.labels = Labels::from_pairs([("app", "db")]);
        let ns = Namespaces::default();
        assert!(t[0].matches(db.namespace, &db.labels, &ns));
        db.namespace = sym("ns2");
        assert!(
            !t[0].matches(db.namespace, &db.labels, &ns),
            "other namespace"
        );
        assert!(
            t[2].matches(db.namespace, &db.labels, &ns),
            "empty namespaceSelector selects every namespace"
        );
    }

    #[test]
    fn match_label_keys_and_errors() {
        let (p, errors) = parse(
            "null",
            r#"{"requiredDuringSchedulingIgnoredDuringExecution":[
                 {"labelSelector":{"matchLabels":{"app":"web"}},"topologyKey":"h","matchLabelKeys":["hash"]},
                 {"labelSelector":{},"topologyKey":""},
                 {"labelSelector":{"matchExpressions":[{"key":"a","operator":"Bad"}]},"topologyKey":"h"}],
               "preferredDuringSchedulingIgnoredDuringExecution":[
                 {"weight":0,"podAffinityTerm":{"topologyKey":"h"}},
                 {"weight":5,"podAffinityTerm":{"labelSelector":{},"topologyKey":"h"}}]}"#,
        );
        assert_eq!(p.required_anti_affinity.len(), 1);
        assert_eq!(p.preferred_anti_affinity.len(), 1);
        let fields: Vec<&str> = errors.iter().map(CoreError::path).collect();
        assert_eq!(
            fields,
            [
                "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[1].topologyKey",
                "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[2].labelSelector.matchExpressions[0].operator",
                "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight",
            ]
        );
        let mut other = PodRecord::empty("u", "ns1", "x");
        other.labels = Labels::from_pairs([("app", "web"), ("hash", "h2")]);
        let ns = Namespaces::default();
        assert!(
            !p.required_anti_affinity[0].matches(other.namespace, &other.labels, &ns),
            "hash differs"
        );
        other.labels = Labels::from_pairs([("app", "web"), ("hash", "h1")]);
        assert!(p.required_anti_affinity[0].matches(other.namespace, &other.labels, &ns));
    }
}
