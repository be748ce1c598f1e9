//! Quotas across the boundary: each ElasticQuota with what its namespace's pods use, for metrics
//! and `podium quotas`.

use std::collections::BTreeMap;

use pyo3::prelude::*;

use crate::intern::resolve;
use crate::state::quota::Quota;
use crate::state::resources::{ResourceName, Resources};

/// One ElasticQuota and its namespace's use. Amounts by resource name, in the resource's base
/// unit (cpu in millicores, memory in bytes).
#[pyclass(frozen, get_all, module = "podium._core")]
pub struct QuotaUsage {
    namespace: String,
    name: String,
    min: BTreeMap<String, i64>,
    max: BTreeMap<String, i64>,
    /// Every resource `min` or `max` names.
    used: BTreeMap<String, i64>,
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

    pub(super) fn new(quota: &Quota, used: &Resources) -> Self {
        let mut names: Vec<ResourceName> = quota.min_names.to_vec();
        names.extend(
            quota
                .max_names
                .iter()
                .filter(|r| !quota.min_names.contains(r)),
        );
        Self {
            namespace: resolve(quota.namespace).to_owned(),
            name: resolve(quota.name).to_owned(),
            min: listed(&quota.min, &quota.min_names),
            max: listed(&quota.max, &quota.max_names),
            used: listed(used, &names),
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

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<QuotaUsage>()
}
