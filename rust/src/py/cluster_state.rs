//! `ClusterState` (the cache) and what its methods return: list pages, watch changes, pending
//! pods, PodGroups' members.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use pyo3::prelude::*;

use super::dra::ResourceClaimReservation;
use super::enums;
use super::errors::{CoreError, without_gil};
use super::pending_pod::PendingPod;
use super::pod_group::PodGroup;
use super::quota::{PyFairShare, QuotaUsage};
use super::snapshot::PySnapshot;
use super::volumes::{ClaimBinding, ClaimInfo, VolumeInfo};
use crate::intern;
use crate::state::cluster::{self, ChangeOutcome, ClusterState};
use crate::state::dra::claim::ClaimReservation;
use crate::state::kind::Kind;

#[pyclass(frozen, get_all, module = "podium._core")]
pub struct ListPage {
    resource_version: String,
    continue_token: Option<String>,
    items: usize,
    errors: Vec<String>,
    bound_pod_errors: Vec<(String, String, String, String)>,
}

#[pyclass(frozen, get_all, module = "podium._core")]
pub struct Change {
    event: Py<PyAny>,
    kind: Py<PyAny>,
    resource_version: String,
    status_code: Option<i64>,
    namespace: String,
    name: String,
    uid: String,
    scheduler_name: String,
    node_name: Option<String>,
    priority: i32,
    created: f64,
    terminal: bool,
    gated: bool,
    pod_group: Option<String>,
    error: Option<String>,
    relevant: bool,
}

#[pymethods]
impl Change {
    fn __repr__(&self) -> String {
        format!(
            "Change(event={}, uid={:?}, name={:?}/{:?}, error={:?})",
            self.event, self.uid, self.namespace, self.name, self.error
        )
    }
}

impl Change {
    fn new(py: Python<'_>, c: ChangeOutcome, kind: Kind) -> PyResult<Self> {
        Ok(Self {
            event: enums::event_type(py, c.event)?,
            kind: enums::kind(py, kind)?,
            resource_version: c.resource_version,
            status_code: c.status_code,
            namespace: c.namespace,
            name: c.name,
            uid: c.uid,
            scheduler_name: c.scheduler_name,
            node_name: c.node_name,
            priority: c.priority,
            created: c.created,
            terminal: c.terminal,
            gated: c.gated,
            pod_group: c.pod_group,
            error: c.error,
            relevant: c.relevant,
        })
    }
}

#[pyclass(frozen, get_all, module = "podium._core")]
pub struct GroupMember {
    uid: String,
    name: String,
    node: Option<String>,
    assumed: bool,
    running: bool,
    terminal: bool,
    owner: Option<String>,
}

#[pymethods]
impl GroupMember {
    fn __repr__(&self) -> String {
        format!("GroupMember({} node={:?})", self.name, self.node)
    }
}

impl From<cluster::GroupMember> for GroupMember {
    fn from(m: cluster::GroupMember) -> Self {
        Self {
            uid: m.uid,
            name: m.name,
            node: m.node,
            assumed: m.assumed,
            running: m.running,
            terminal: m.terminal,
            owner: m.owner,
        }
    }
}

#[pyclass(name = "ClusterState", frozen, module = "podium._core")]
pub struct PyClusterState {
    // A mutex, not a PyO3 borrow: a second caller waits instead of failing while the first
    // works without the GIL.
    inner: Mutex<ClusterState>,
}

impl PyClusterState {
    fn lock(&self) -> MutexGuard<'_, ClusterState> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[pymethods]
impl PyClusterState {
    #[new]
    fn new(scheduler_names: Vec<String>) -> Self {
        Self {
            inner: Mutex::new(ClusterState::new(&scheduler_names)),
        }
    }

    fn apply_list(&self, py: Python<'_>, kind: Kind, body: &[u8]) -> PyResult<ListPage> {
        let page = without_gil(py, || self.lock().apply_list(kind, body))?;
        Ok(ListPage {
            resource_version: page.resource_version,
            continue_token: page.continue_token,
            items: page.items,
            errors: page.errors,
            bound_pod_errors: page.bound_pod_errors,
        })
    }

    fn begin_relist(&self, kind: Kind) {
        self.lock().begin_relist(kind);
    }

    fn end_relist(&self, py: Python<'_>, kind: Kind) -> PyResult<Vec<String>> {
        without_gil(py, || Ok(self.lock().end_relist(kind)))
    }

    fn apply_event(&self, py: Python<'_>, kind: Kind, line: &[u8]) -> PyResult<Change> {
        let change = without_gil(py, || self.lock().apply_event(kind, line))?;
        Change::new(py, change, kind)
    }

    fn pending(&self, py: Python<'_>) -> PyResult<Vec<PendingPod>> {
        let pods = without_gil(py, || Ok(self.lock().pending()))?;
        Ok(pods.into_iter().map(PendingPod::from).collect())
    }

    /// The pending pods that name the claim `namespace/name`.
    fn pending_naming_claim(&self, namespace: &str, name: &str) -> Vec<String> {
        self.lock().pending_naming_claim(namespace, name)
    }

    fn pending_pod(&self, uid: &str) -> Option<PendingPod> {
        self.lock().pending_pod(uid).map(PendingPod::from)
    }

    #[pyo3(signature = (uid, node, allocation, volumes=None, claims=None))]
    fn assume(
        &self,
        uid: &str,
        node: &str,
        allocation: Option<&str>,
        volumes: Option<Vec<PyRef<'_, ClaimBinding>>>,
        claims: Option<Vec<PyRef<'_, ResourceClaimReservation>>>,
    ) -> PyResult<()> {
        let mut state = self.lock();
        let claims: Vec<ClaimReservation> =
            claims.iter().flatten().map(|c| c.inner.clone()).collect();
        let Some(volumes) = volumes else {
            return Ok(state.assume_with_volumes(uid, node, allocation, None, &claims)?);
        };
        if volumes.is_empty() {
            // No claim to bind (most decisions): no namespace to look up.
            return Ok(state.assume_with_volumes(uid, node, allocation, Some(&[]), &claims)?);
        }
        // The claims are in the pod's namespace.
        let namespace = state
            .pending_pod(uid)
            .map(|p| p.namespace)
            .unwrap_or_default();
        let bindings: Vec<crate::state::volume_binder::ClaimBinding> = volumes
            .iter()
            .map(|b| crate::state::volume_binder::ClaimBinding {
                claim: (intern::sym(&namespace), intern::sym(&b.claim)),
                volume: b.volume.as_deref().map(intern::sym),
            })
            .collect();
        Ok(state.assume_with_volumes(uid, node, allocation, Some(&bindings), &claims)?)
    }

    /// DynamicResources' PreBind wrote one of the pod's claims: its allocation stands until the
    /// informer shows it, even if the pod is forgotten.
    fn claim_written(&self, uid: &str, claim_uid: &str) {
        self.lock().claim_written(uid, claim_uid);
    }

    /// DynamicResources' PreBind created the claim for the pod's extended resources, assumed
    /// under the placeholder uid `assumed_uid`: it is the claim `name` (`claim_uid`) from now on.
    fn extended_claim_created(&self, uid: &str, assumed_uid: &str, name: &str, claim_uid: &str) {
        self.lock()
            .extended_claim_created(uid, assumed_uid, name, claim_uid);
    }

    /// The claim (name, uid) DynamicResources' PreBind made for the pod's extended resources
    /// in an earlier attempt, while the informer shows it.
    fn extended_claim_of(&self, uid: &str) -> Option<(String, String)> {
        self.lock().extended_claim_of(uid)
    }

    fn claim(&self, namespace: &str, name: &str) -> Option<ClaimInfo> {
        self.lock()
            .claim(namespace, name)
            .map(|c| ClaimInfo::from(&*c))
    }

    fn volume(&self, name: &str) -> Option<VolumeInfo> {
        self.lock().volume(name).map(|v| VolumeInfo::from(&*v))
    }

    fn volume_fits_node(&self, volume: &str, node: &str) -> Option<bool> {
        self.lock().volume_fits_node(volume, node)
    }

    fn forget(&self, uid: &str) {
        self.lock().forget(uid);
    }

    fn is_assumed(&self, uid: &str) -> bool {
        self.lock().is_assumed(uid)
    }

    #[getter]
    fn assumed_count(&self) -> usize {
        self.lock().assumed_count()
    }

    fn pod_group(&self, namespace: &str, name: &str) -> Option<PodGroup> {
        self.lock()
            .pod_group(namespace, name)
            .map(|inner| PodGroup { inner })
    }

    /// Every ElasticQuota with what its subtree's pods use (bound and assumed).
    fn quotas(&self) -> Vec<QuotaUsage> {
        let state = self.lock();
        let quotas = &state.namespaces().quotas;
        let fair = state.fair_share();
        let mut out: Vec<QuotaUsage> = quotas
            .all()
            .map(|q| QuotaUsage::new(q, quotas, fair.as_ref()))
            .collect();
        out.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        out
    }

    /// The fair-share order's view of the quotas' ledger, None without ElasticQuotas.
    fn fair_share(&self) -> Option<PyFairShare> {
        self.lock().fair_share().map(PyFairShare::new)
    }

    fn pod_groups(&self) -> Vec<PodGroup> {
        self.lock()
            .pod_groups()
            .into_iter()
            .map(|inner| PodGroup { inner })
            .collect()
    }

    fn group_members(&self, namespace: &str, name: &str) -> Vec<GroupMember> {
        self.lock()
            .group_members(namespace, name)
            .into_iter()
            .map(GroupMember::from)
            .collect()
    }

    #[pyo3(signature = (uid, node))]
    fn nominate(&self, uid: &str, node: Option<&str>) -> PyResult<()> {
        Ok(self.lock().nominate(uid, node)?)
    }

    fn nominated_node(&self, uid: &str) -> Option<&'static str> {
        self.lock().nominated_node(uid)
    }

    fn nominated_to(&self, node: &str) -> Vec<String> {
        self.lock().nominated_to(node)
    }

    fn snapshot(&self) -> PySnapshot {
        PySnapshot::new(self.lock().snapshot())
    }

    #[getter]
    fn node_count(&self) -> usize {
        self.lock().node_count()
    }

    #[getter]
    fn pod_count(&self) -> usize {
        self.lock().pod_count()
    }

    #[getter]
    fn generation(&self) -> u64 {
        self.lock().generation()
    }

    fn has_node(&self, node: &str) -> bool {
        self.lock().has_node(node)
    }

    fn capacity_totals(&self) -> BTreeMap<String, (i64, i64)> {
        self.lock().capacity_totals()
    }

    fn node_usage(&self, node: &str) -> PyResult<HashMap<String, i64>> {
        self.lock()
            .node_usage(node)
            .map(|entries| entries.into_iter().collect())
            .ok_or_else(|| CoreError::new_err(format!("node_usage: unknown node {node:?}")))
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ListPage>()?;
    m.add_class::<Change>()?;
    m.add_class::<GroupMember>()?;
    m.add_class::<PyClusterState>()
}
