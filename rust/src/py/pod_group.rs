//! `PodGroup`: a gang's PodGroup as the cache holds it; `ClusterState` hands it out and
//! `Snapshot.schedule_gang`/`preempt` take it back.

use std::collections::BTreeMap;
use std::sync::Arc;

use pyo3::prelude::*;

use crate::intern;
use crate::state::pod_group::{Level, PodGroupRecord};
use crate::state::workload_group::WorkloadGroup;

/// A PodGroup as the cache holds it (see `state::pod_group`).
#[pyclass(frozen, module = "podium._core")]
pub struct PodGroup {
    pub(crate) inner: Arc<PodGroupRecord>,
}

impl PodGroup {
    fn workload(&self) -> Option<&WorkloadGroup> {
        self.inner.workload.as_deref()
    }
}

#[pymethods]
impl PodGroup {
    #[getter]
    fn namespace(&self) -> &str {
        self.inner.namespace()
    }
    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }
    #[getter]
    fn uid(&self) -> &str {
        &self.inner.uid
    }
    #[getter]
    fn min_member(&self) -> u32 {
        self.inner.min_member
    }
    #[getter]
    fn min_resources(&self) -> BTreeMap<String, i64> {
        self.inner.min_resources.clone()
    }
    #[getter]
    fn schedule_timeout_seconds(&self) -> Option<u32> {
        self.inner.schedule_timeout_seconds
    }
    /// The topology request's level: its label key, or `podium.dev/rack`'s rack (None).
    #[getter]
    fn topology_level(&self) -> Option<&'static str> {
        match self.inner.topology?.level {
            Level::Key(key) => Some(intern::resolve(key)),
            Level::Rack => None,
        }
    }
    #[getter]
    fn topology_mode(&self) -> Option<&'static str> {
        self.inner.topology.map(|t| t.mode.as_str())
    }
    #[getter]
    fn rack(&self) -> bool {
        self.inner.topology.is_some_and(|t| t.level == Level::Rack)
    }
    #[getter]
    fn slice_size(&self) -> Option<u32> {
        self.inner.topology?.slice.map(|s| s.size)
    }
    #[getter]
    fn slice_level(&self) -> Option<&'static str> {
        match self.inner.topology?.slice?.level {
            Level::Key(key) => Some(intern::resolve(key)),
            Level::Rack => None,
        }
    }
    #[getter]
    fn distinct_hosts(&self) -> bool {
        self.inner.distinct_hosts
    }
    #[getter]
    fn job(&self) -> Option<&'static str> {
        self.inner.job.map(intern::resolve)
    }
    #[getter]
    fn created(&self) -> f64 {
        self.inner.created
    }
    #[getter]
    fn error(&self) -> Option<&str> {
        self.inner.error.as_deref()
    }
    #[getter]
    fn api_version(&self) -> &'static str {
        self.inner.api().api_version()
    }
    #[getter]
    fn gang(&self) -> bool {
        self.inner.workload.as_ref().is_none_or(|w| w.gang)
    }
    #[getter]
    fn priority(&self) -> Option<i32> {
        self.workload().and_then(|w| w.priority)
    }
    #[getter]
    fn priority_class_name(&self) -> Option<&'static str> {
        self.workload()
            .and_then(|w| w.priority_class_name)
            .map(intern::resolve)
    }
    #[getter]
    fn preemption_policy(&self) -> Option<&'static str> {
        self.workload().map(|w| {
            if w.never_preempts {
                "Never"
            } else {
                "PreemptLowerPriority"
            }
        })
    }
    #[getter]
    fn disruption_mode(&self) -> Option<&'static str> {
        self.workload().map(|w| w.disruption.as_str())
    }
    #[getter]
    fn parent_composite_pod_group(&self) -> Option<&'static str> {
        self.workload().and_then(|w| w.parent).map(intern::resolve)
    }
    #[getter]
    fn generation(&self) -> i64 {
        self.workload().map_or(0, |w| w.generation)
    }
    #[getter]
    fn initially_scheduled(&self) -> bool {
        self.workload().is_some_and(|w| w.initially_scheduled)
    }
    fn __repr__(&self) -> String {
        format!(
            "PodGroup({}/{} minMember={})",
            self.inner.namespace(),
            self.inner.name(),
            self.inner.min_member
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PodGroup>()
}
