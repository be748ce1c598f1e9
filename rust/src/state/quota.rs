//! Quotas per namespace: scheduler-plugins' `ElasticQuota` (`scheduling.x-k8s.io/v1alpha1`),
//! decoded once, and what the namespace's pods use, kept in step with the pods placed (bound or
//! assumed, not finished) by the cache and by a batch's own placements. CapacityScheduling's
//! semantics (`plugins/capacity_scheduling`): a pod is admitted within its quota's `max`; beyond
//! its `min` it borrows, which it may while all quotas together stay within the sum of their
//! `min`s (what the others leave unused). Unlike CapacityScheduling, a pod within its own `min`
//! is admitted even while others borrow: its guarantee holds wherever nodes have room, and taking
//! back what borrowers hold when they do not is preemption's (reclaim's) job.
//!
//! Persistent maps: a snapshot copies this in O(1).

use std::sync::Arc;

use serde::Deserialize;

use crate::error::{CoreError, CoreResult};
use crate::intern::{Sym, resolve, sym};
use crate::quantity;
use crate::state::resources::{ResourceName, Resources};

/// One ElasticQuota: its `min` and `max`, and which resources each names (a resource a list
/// leaves out is not limited by it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    pub namespace: Sym,
    pub name: Sym,
    pub min: Resources,
    pub max: Resources,
    pub min_names: Box<[ResourceName]>,
    pub max_names: Box<[ResourceName]>,
}

impl Quota {
    /// `namespace/name`, as messages print it.
    pub fn display_name(&self) -> String {
        format!("{}/{}", resolve(self.namespace), resolve(self.name))
    }
}

#[derive(Deserialize, Default)]
struct MetaWire {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
}

/// A quantity as the CRD allows it: a string (`"16"`, `"500m"`) or a plain number.
#[derive(Deserialize)]
#[serde(untagged)]
enum QuantityWire {
    Text(String),
    Number(serde_json::Number),
}

impl QuantityWire {
    fn text(&self) -> String {
        match self {
            Self::Text(t) => t.clone(),
            Self::Number(n) => n.to_string(),
        }
    }
}

type ResourceListWire = std::collections::BTreeMap<String, QuantityWire>;

#[derive(Deserialize, Default)]
struct SpecWire {
    #[serde(default)]
    min: ResourceListWire,
    #[serde(default)]
    max: ResourceListWire,
}

#[derive(Deserialize)]
struct ElasticQuotaWire {
    #[serde(default)]
    metadata: MetaWire,
    #[serde(default)]
    spec: SpecWire,
}

fn resource_list(
    object: &str,
    field: &str,
    list: &ResourceListWire,
) -> CoreResult<(Resources, Box<[ResourceName]>)> {
    let mut out = Resources::default();
    let mut names = Vec::with_capacity(list.len());
    for (key, value) in list {
        let text = &value.text();
        let resource = ResourceName::parse(key);
        let parsed = if resource == ResourceName::Cpu {
            quantity::parse_milli_value(text)
        } else {
            quantity::parse_value(text)
        };
        match parsed {
            Ok(v) if v >= 0 => {
                out.set(resource, v);
                names.push(resource);
            }
            Ok(_) => {
                return Err(CoreError::Invalid(format!(
                    "{object}: spec.{field}.{key}: negative quantity"
                )));
            }
            Err(e) => {
                return Err(CoreError::Invalid(format!(
                    "{object}: spec.{field}.{key}: {e}"
                )));
            }
        }
    }
    Ok((out, names.into_boxed_slice()))
}

/// An ElasticQuota object, or a message naming the object and the bad field.
pub fn parse_quota(bytes: &[u8]) -> CoreResult<Quota> {
    let w: ElasticQuotaWire = serde_json::from_slice(bytes)
        .map_err(|e| CoreError::Invalid(format!("ElasticQuota: {e}")))?;
    if w.metadata.name.is_empty() || w.metadata.namespace.is_empty() {
        return Err(CoreError::Invalid(
            "ElasticQuota: metadata.name and metadata.namespace are required".into(),
        ));
    }
    let object = format!("ElasticQuota {}/{}", w.metadata.namespace, w.metadata.name);
    let (min, min_names) = resource_list(&object, "min", &w.spec.min)?;
    let (max, max_names) = resource_list(&object, "max", &w.spec.max)?;
    for &r in &min_names {
        if max_names.contains(&r) && min.get(r) > max.get(r) {
            return Err(CoreError::Invalid(format!(
                "{object}: spec.min.{}: greater than spec.max.{}",
                r.as_str(),
                r.as_str()
            )));
        }
    }
    Ok(Quota {
        namespace: sym(&w.metadata.namespace),
        name: sym(&w.metadata.name),
        min,
        max,
        min_names,
        max_names,
    })
}

/// Why a pod's quota does not admit it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuotaVerdict {
    Admit,
    /// Over its quota's `max`: (resource, used, requested, max).
    OverMax(ResourceName, i64, i64, i64),
    /// Beyond its `min`, and all quotas together would exceed their `min`s: (resource,
    /// used by all, requested, sum of mins).
    NothingToBorrow(ResourceName, i64, i64, i64),
}

#[derive(Debug, Clone, Default)]
pub struct Quotas {
    /// By namespace (one ElasticQuota a namespace, as CapacityScheduling assumes).
    by_namespace: imbl::HashMap<Sym, Arc<Quota>>,
    /// What each namespace's placed pods request (namespaces with or without a quota).
    used: imbl::HashMap<Sym, Resources>,
}

impl Quotas {
    pub fn is_empty(&self) -> bool {
        self.by_namespace.is_empty()
    }

    pub fn of(&self, namespace: Sym) -> Option<&Arc<Quota>> {
        self.by_namespace.get(&namespace)
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<Quota>> {
        self.by_namespace.values()
    }

    pub fn used(&self, namespace: Sym) -> Resources {
        self.used_ref(namespace).clone()
    }

    /// As `used`, without a copy (for the checks run per pod).
    fn used_ref(&self, namespace: Sym) -> &Resources {
        static NONE: std::sync::LazyLock<Resources> = std::sync::LazyLock::new(Resources::default);
        self.used.get(&namespace).unwrap_or(&NONE)
    }

    pub fn set(&mut self, quota: Quota) {
        self.by_namespace.insert(quota.namespace, Arc::new(quota));
    }

    /// Removes the quota of `namespace` if it is the one named.
    pub fn remove(&mut self, namespace: Sym, name: Sym) {
        if self
            .by_namespace
            .get(&namespace)
            .is_some_and(|q| q.name == name)
        {
            self.by_namespace.remove(&namespace);
        }
    }

    pub fn retain(&mut self, keep: impl Fn(&Quota) -> bool) {
        self.by_namespace.retain(|_, q| keep(q));
    }

    /// A pod of `namespace` requesting `requests` is placed.
    pub fn add(&mut self, namespace: Sym, requests: &Resources) {
        self.used.entry(namespace).or_default().add(requests);
    }

    /// A placed pod of `namespace` is gone.
    pub fn sub(&mut self, namespace: Sym, requests: &Resources) {
        if let Some(used) = self.used.get_mut(&namespace) {
            used.sub(requests);
        }
    }

    /// Whether `requests` more would keep `namespace` within its quota's `min` on every
    /// resource the quota guarantees (false without a quota): its pods may then reclaim.
    pub fn within_min(&self, namespace: Sym, requests: &Resources) -> bool {
        let Some(quota) = self.by_namespace.get(&namespace) else {
            return false;
        };
        let used = self.used_ref(namespace);
        quota
            .min_names
            .iter()
            .all(|&r| used.get(r).saturating_add(requests.get(r)) <= quota.min.get(r))
    }

    /// Whether a placed pod of `namespace` using `requests` is borrowed capacity: its quota is
    /// beyond its `min` on a resource the pod uses, and stays at or above its `min` on every
    /// such resource without the pod. Pods within their quota's `min` are never reclaimed.
    pub fn borrowed(&self, namespace: Sym, requests: &Resources) -> bool {
        let Some(quota) = self.by_namespace.get(&namespace) else {
            return false;
        };
        let used = self.used_ref(namespace);
        let mut over = false;
        for &r in &quota.min_names {
            let (u, want, min) = (used.get(r), requests.get(r), quota.min.get(r));
            if want == 0 {
                continue;
            }
            if u.saturating_sub(want) < min {
                return false;
            }
            over |= u > min;
        }
        over
    }

    /// CapacityScheduling's PreFilter: within `max`, and, beyond `min`, within what the other
    /// quotas leave unused.
    pub fn admits(&self, namespace: Sym, requests: &Resources) -> QuotaVerdict {
        let Some(quota) = self.by_namespace.get(&namespace) else {
            return QuotaVerdict::Admit;
        };
        let used = self.used_ref(namespace);
        for &r in &quota.max_names {
            let (u, want, max) = (used.get(r), requests.get(r), quota.max.get(r));
            if want > 0 && u.saturating_add(want) > max {
                return QuotaVerdict::OverMax(r, u, want, max);
            }
        }
        for &r in &quota.min_names {
            let want = requests.get(r);
            if want == 0 || used.get(r).saturating_add(want) <= quota.min.get(r) {
                continue;
            }
            // Borrowing: every quota's use of `r` against the sum of their mins.
            let (mut all_used, mut all_min) = (0i64, 0i64);
            for q in self.by_namespace.values() {
                if q.min_names.contains(&r) {
                    all_min = all_min.saturating_add(q.min.get(r));
                    all_used = all_used
                        .saturating_add(self.used.get(&q.namespace).map_or(0, |u| u.get(r)));
                }
            }
            if all_used.saturating_add(want) > all_min {
                return QuotaVerdict::NothingToBorrow(r, all_used, want, all_min);
            }
        }
        QuotaVerdict::Admit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(ns: &str, min: u32, max: u32) -> Quota {
        parse_quota(
            format!(
                r#"{{"metadata":{{"name":"q","namespace":"{ns}"}},
                    "spec":{{"min":{{"nvidia.com/gpu":"{min}"}},"max":{{"nvidia.com/gpu":"{max}","cpu":"100"}}}}}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    fn gpus(n: i64) -> Resources {
        let mut r = Resources::default();
        r.set(ResourceName::parse("nvidia.com/gpu"), n);
        r
    }

    #[test]
    fn within_max_and_borrowing_only_what_others_leave() {
        let mut q = Quotas::default();
        q.set(quota("a", 16, 32));
        q.set(quota("b", 16, 32));
        let (a, b) = (sym("a"), sym("b"));
        q.add(a, &gpus(16));
        assert_eq!(
            q.admits(a, &gpus(8)),
            QuotaVerdict::Admit,
            "b leaves 16 unused"
        );
        q.add(a, &gpus(16));
        let gpu = ResourceName::parse("nvidia.com/gpu");
        assert_eq!(q.admits(a, &gpus(1)), QuotaVerdict::OverMax(gpu, 32, 1, 32));
        q.sub(a, &gpus(8));
        q.add(b, &gpus(8));
        assert_eq!(
            q.admits(a, &gpus(1)),
            QuotaVerdict::NothingToBorrow(gpu, 32, 1, 32),
            "a is at 24 (8 borrowed), b uses 8 of its 16: 32 of 32 in use"
        );
        assert_eq!(
            q.admits(b, &gpus(8)),
            QuotaVerdict::Admit,
            "within b's own min"
        );
        assert_eq!(
            q.admits(b, &gpus(9)),
            QuotaVerdict::NothingToBorrow(gpu, 32, 9, 32)
        );
        assert_eq!(q.admits(sym("no-quota"), &gpus(100)), QuotaVerdict::Admit);
    }

    #[test]
    fn quantities_may_be_numbers() {
        let q = parse_quota(
            br#"{"metadata":{"name":"q","namespace":"a"},"spec":{"min":{"nvidia.com/gpu":4,"cpu":1.5},"max":{"memory":"1Gi"}}}"#,
        )
        .unwrap();
        assert_eq!(q.min.get(ResourceName::parse("nvidia.com/gpu")), 4);
        assert_eq!(q.min.get(ResourceName::Cpu), 1500);
        assert_eq!(q.max.get(ResourceName::Memory), 1 << 30);
    }

    #[test]
    fn bad_quotas_name_the_field() {
        let err = parse_quota(
            br#"{"metadata":{"name":"q","namespace":"a"},"spec":{"min":{"cpu":"2"},"max":{"cpu":"1"}}}"#,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "ElasticQuota a/q: spec.min.cpu: greater than spec.max.cpu"
        );
        let err = parse_quota(
            br#"{"metadata":{"name":"q","namespace":"a"},"spec":{"max":{"memory":"lots"}}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("ElasticQuota a/q: spec.max.memory: "),
            "{err}"
        );
    }
}
