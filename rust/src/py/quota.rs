//! Quotas across the boundary: each ElasticQuota with what its subtree's pods use, for metrics
//! and `podium quotas`; the fair-share order's view for the queue.

use std::collections::BTreeMap;

use pyo3::prelude::*;

use super::pending_pod::PendingPod;
use crate::intern::{lookup, resolve};
use crate::state::quota::{FairShare, Quota, Quotas};
use crate::state::resources::{ResourceName, Resources};

/// One ElasticQuota and its subtree's use. Amounts by resource name, in the resource's base
/// unit (cpu in millicores, memory in bytes).
#[pyclass(frozen, get_all, module = "podium._core")]
pub struct QuotaUsage {
    namespace: String,
    name: String,
    min: BTreeMap<String, i64>,
    max: BTreeMap<String, i64>,
    /// Every resource `min` or `max` names: its namespace's pods and its descendants'.
    used: BTreeMap<String, i64>,
    /// The namespace of its parent's ElasticQuota, as used (None for a root, and for a quota
    /// whose parent annotation is bad: see `error`).
    parent: Option<String>,
    weight: f64,
    /// Its weighted dominant share beyond its guarantee (the fair-share order's key at its
    /// level; lower is served first).
    share: f64,
    /// A bad parent, or children promised more than its min.
    error: Option<String>,
}

fn listed(values: &Resources, names: &[ResourceName]) -> BTreeMap<String, i64> {
    names
        .iter()
        .map(|&r| (r.as_str().to_owned(), values.get(r)))
        .collect()
}

impl QuotaUsage {
    pub(super) fn sort_key(&self) -> (&str, &str) {
        (&self.namespace, &self.name)
    }

    pub(super) fn new(quota: &Quota, quotas: &Quotas, fair: Option<&FairShare>) -> Self {
        let mut names: Vec<ResourceName> = quota.min_names.to_vec();
        names.extend(
            quota
                .max_names
                .iter()
                .filter(|r| !quota.min_names.contains(r)),
        );
        let ns = quota.namespace;
        #[allow(clippy::cast_precision_loss)] // a weight, shown
        let weight = quota.weight_milli as f64 / 1000.0;
        Self {
            namespace: resolve(ns).to_owned(),
            name: resolve(quota.name).to_owned(),
            min: listed(&quota.min, &quota.min_names),
            max: listed(&quota.max, &quota.max_names),
            used: listed(&quotas.subtree_used(ns), &names),
            parent: quotas.ancestors(ns).first().map(|p| resolve(*p).to_owned()),
            weight,
            share: fair
                .and_then(|f| f.key(ns, &Resources::default()).last().copied())
                .unwrap_or(0.0),
            error: quotas.error(ns).map(str::to_owned),
        }
    }
}

#[pymethods]
impl QuotaUsage {
    fn __repr__(&self) -> String {
        format!(
            "QuotaUsage({}/{} used={:?})",
            self.namespace, self.name, self.used
        )
    }
}

/// The fair-share order's view: the quotas' ledger when taken, charged with the pods handed
/// out since.
#[pyclass(name = "FairShare", module = "podium._core")]
pub struct PyFairShare {
    inner: FairShare,
}

impl PyFairShare {
    pub(super) fn new(inner: FairShare) -> Self {
        Self { inner }
    }
}

#[pymethods]
impl PyFairShare {
    /// The order's key for `pod`: per quota from the root down to its namespace's, the weighted
    /// dominant share beyond its guarantee with `pod` counted as placed (empty without a quota).
    fn key(&self, pod: PyRef<'_, PendingPod>) -> Vec<f64> {
        lookup(pod.namespace())
            .map_or_else(Vec::new, |ns| self.inner.key(ns, &pod.requests).to_vec())
    }

    /// `pod` was handed out: its quota counts it from now on.
    fn charge(&mut self, pod: PyRef<'_, PendingPod>) {
        if let Some(ns) = lookup(pod.namespace()) {
            self.inner.charge(ns, &pod.requests);
        }
    }
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<QuotaUsage>()?;
    m.add_class::<PyFairShare>()
}
