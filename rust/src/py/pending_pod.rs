//! A pending pod as the queue sees it (`ClusterState.pending`), and what the fair-share order
//! charges for it.

use pyo3::prelude::*;

use crate::state::cluster::PendingInfo;
use crate::state::resources::Resources;

#[pyclass(frozen, module = "podium._core")]
pub struct PendingPod {
    #[pyo3(get)]
    uid: String,
    #[pyo3(get)]
    namespace: String,
    #[pyo3(get)]
    name: String,
    #[pyo3(get)]
    scheduler_name: String,
    #[pyo3(get)]
    priority: i32,
    #[pyo3(get)]
    created: f64,
    #[pyo3(get)]
    pod_group: Option<String>,
    /// A claim of it comes from a template not made into a claim yet: the queue keeps it
    /// waiting for its own update, without backoff (kube's DynamicResources PreEnqueue).
    #[pyo3(get)]
    claims_pending: bool,
    /// What it asks: the fair-share order charges its quota with it (not shown to Python).
    pub(super) requests: Resources,
}

impl PendingPod {
    pub(super) fn namespace(&self) -> &str {
        &self.namespace
    }
}

#[pymethods]
impl PendingPod {
    fn __repr__(&self) -> String {
        format!(
            "PendingPod({}/{} uid={})",
            self.namespace, self.name, self.uid
        )
    }
}

impl From<PendingInfo> for PendingPod {
    fn from(p: PendingInfo) -> Self {
        Self {
            uid: p.uid,
            namespace: p.namespace,
            name: p.name,
            scheduler_name: p.scheduler_name,
            priority: p.priority,
            created: p.created,
            pod_group: p.pod_group,
            claims_pending: p.claims_pending,
            requests: p.requests,
        }
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PendingPod>()
}
