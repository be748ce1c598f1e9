//! PodDisruptionBudgets (`policy/v1`), as preemption reads them: which pods a budget covers and
//! how many more disruptions its status allows.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::error::{CoreError, CoreResult};
use crate::intern::{Sym, sym};
use crate::state::affinity_wire::LabelSelectorWire;
use crate::state::label_selector::LabelSelector;
use crate::state::object::{LenientIdentity, ObjectRef, decode};
use crate::state::pod::PodRecord;
use crate::state::wire::ObjectMetaWire;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub namespace: Sym,
    pub name: Box<str>,
    pub selector: LabelSelector,
    /// `status.disruptionsAllowed`: 0 until the disruption controller has computed it.
    pub allowed: i32,
    /// `status.disruptedPods`: pods already being disrupted, which count no more.
    pub disrupted: Box<[Box<str>]>,
}

impl Budget {
    /// Whether evicting `pod` uses up this budget. An empty selector matches nothing here, as
    /// in kube-scheduler's preemption (policy/v1 elsewhere reads it as "every pod").
    pub fn covers(&self, pod: &PodRecord) -> bool {
        pod.namespace == self.namespace
            && !matches!(&self.selector, LabelSelector::All(reqs) if reqs.is_empty())
            && self.selector.matches(&pod.labels)
            && !self.disrupted.iter().any(|name| **name == *pod.name)
    }
}

/// The cached budgets by `namespace/name`; persistent, so a snapshot shares it in O(1).
#[derive(Debug, Clone, Default)]
pub struct Budgets(imbl::HashMap<Box<str>, Arc<Budget>>);

impl Budgets {
    pub fn set(&mut self, budget: Budget) {
        let key = key(budget.namespace, &budget.name);
        self.0.insert(key, Arc::new(budget));
    }

    pub fn remove(&mut self, key: &str) {
        self.0.remove(key);
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.keys().map(|k| &**k)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Budget>> + '_ {
        self.0.values()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

pub fn key(namespace: Sym, name: &str) -> Box<str> {
    format!("{}/{name}", crate::intern::resolve(namespace)).into()
}

#[derive(Deserialize)]
struct BudgetWire<'a> {
    #[serde(borrow, default)]
    metadata: ObjectMetaWire<'a>,
    #[serde(borrow)]
    spec: Option<BudgetSpecWire<'a>>,
    status: Option<BudgetStatusWire>,
}

#[derive(Deserialize)]
struct BudgetSpecWire<'a> {
    #[serde(borrow)]
    selector: Option<LabelSelectorWire<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BudgetStatusWire {
    disruptions_allowed: Option<i32>,
    disrupted_pods: Option<BTreeMap<String, IgnoredAny>>,
}

/// The key (`namespace/name`) of a budget object, read leniently: a malformed one must still
/// replace (drop) the version cached before.
pub fn budget_key(bytes: &[u8]) -> Option<Box<str>> {
    let id = LenientIdentity::read(bytes)?;
    (!id.name.is_empty()).then(|| key(sym(&id.namespace), &id.name))
}

/// A PodDisruptionBudget, or a message naming the object and the bad field.
pub fn parse_budget(bytes: &[u8]) -> CoreResult<Budget> {
    let object =
        |namespace: &str, name: &str| ObjectRef::new("PodDisruptionBudget", namespace, name);
    let wire: BudgetWire<'_> = decode(bytes).map_err(|e| {
        let id = LenientIdentity::read(bytes).unwrap_or_default();
        e.in_object(&object(&id.namespace, &id.name).to_string())
    })?;
    let namespace = wire.metadata.namespace.as_deref().unwrap_or_default();
    let name = wire.metadata.name.as_deref().unwrap_or_default();
    let who = object(namespace, name);
    if name.is_empty() {
        return Err(CoreError::Invalid(format!("{who}: metadata.name: missing")));
    }
    let selector = LabelSelector::parse(
        wire.spec.as_ref().and_then(|s| s.selector.as_ref()),
        "spec.selector",
    )
    .map_err(|e| e.in_object(&who.to_string()))?;
    let status = wire.status.as_ref();
    Ok(Budget {
        namespace: sym(namespace),
        name: name.into(),
        selector,
        allowed: status.and_then(|s| s.disruptions_allowed).unwrap_or(0),
        disrupted: status
            .and_then(|s| s.disrupted_pods.as_ref())
            .map(|pods| pods.keys().map(|k| Box::from(k.as_str())).collect())
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::labels::Labels;

    fn pod(namespace: &str, name: &str, labels: &[(&str, &str)]) -> PodRecord {
        let mut p = PodRecord::empty(name, namespace, name);
        p.labels = Labels::from_pairs(labels.iter().copied());
        p
    }

    #[test]
    fn covers_matching_pods_of_its_namespace_not_yet_disrupted() {
        let b = parse_budget(
            br#"{"metadata":{"name":"db","namespace":"ns"},
                 "spec":{"minAvailable":1,"selector":{"matchLabels":{"app":"db"}}},
                 "status":{"disruptionsAllowed":2,"disruptedPods":{"db-0":"2024-01-01T00:00:00Z"}}}"#,
        )
        .unwrap();
        assert_eq!(b.allowed, 2);
        assert!(b.covers(&pod("ns", "db-1", &[("app", "db")])));
        assert!(
            !b.covers(&pod("ns", "db-0", &[("app", "db")])),
            "already disrupted"
        );
        assert!(!b.covers(&pod("other", "db-1", &[("app", "db")])));
        assert!(!b.covers(&pod("ns", "web", &[("app", "web")])));
        assert_eq!(&*key(b.namespace, &b.name), "ns/db");
    }

    #[test]
    fn empty_or_missing_selector_and_status() {
        let b =
            parse_budget(br#"{"metadata":{"name":"all","namespace":"ns"},"spec":{"selector":{}}}"#)
                .unwrap();
        assert_eq!(b.allowed, 0, "no status yet: nothing allowed");
        assert!(!b.covers(&pod("ns", "x", &[("a", "b")])));
        let b =
            parse_budget(br#"{"metadata":{"name":"none","namespace":"ns"},"spec":{}}"#).unwrap();
        assert!(!b.covers(&pod("ns", "x", &[])));
    }

    #[test]
    fn malformed_budgets_name_object_and_field() {
        let err = parse_budget(
            br#"{"metadata":{"name":"db","namespace":"ns"},"spec":{"selector":{"matchExpressions":[{"key":"app","operator":"Near","values":["x"]}]}}}"#,
        )
        .unwrap_err().to_string();
        assert!(
            err.starts_with(
                "PodDisruptionBudget ns/db: spec.selector.matchExpressions[0].operator"
            ),
            "{err}"
        );
        let err = parse_budget(
            br#"{"metadata":{"name":"db","namespace":"ns"},"status":{"disruptionsAllowed":"many"}}"#,
        )
        .unwrap_err().to_string();
        assert!(
            err.starts_with("PodDisruptionBudget ns/db: status.disruptionsAllowed"),
            "{err}"
        );
        assert_eq!(
            budget_key(br#"{"metadata":{"name":"db","namespace":"ns"},"status":7}"#).as_deref(),
            Some("ns/db")
        );
    }
}
