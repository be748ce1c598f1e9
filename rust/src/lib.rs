//! `podium._core`: the Python boundary of podium's scheduling core.
//!
//! Only classes, conversions and error mapping live here; the logic is in the modules below.
//! Every entry point that does real work releases the GIL through [`without_gil`], which also
//! turns a Rust panic into a Python exception instead of aborting the scheduler.

pub mod cycle;
pub mod diagnosis;
pub mod error;
pub mod evaluate;
pub mod explain;
pub mod filter;
pub mod framework;
pub mod gang;
#[cfg(test)]
mod index_equivalence_tests;
pub mod intern;
pub mod plugins;
pub mod preemption;
pub mod quantity;
pub mod reservation;
pub mod score;
pub mod state;
#[cfg(test)]
mod testutil;
pub mod topology;

use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, MutexGuard, PoisonError};

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList};

use crate::framework::extension::{Extension, Verdict};
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;

use crate::framework::code::Code;
use crate::state::kind::Kind;

pyo3::create_exception!(
    podium._core,
    CoreError,
    PyValueError,
    "Malformed input. The message names the object and the field path."
);

impl From<error::CoreError> for PyErr {
    fn from(err: error::CoreError) -> Self {
        match err {
            error::CoreError::Invalid(msg) => CoreError::new_err(msg),
            error::CoreError::Internal(_) => PyRuntimeError::new_err(err.to_string()),
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic with a non-string payload".to_owned())
}

/// Runs `work` with the GIL released; a panic becomes `RuntimeError`, an error its exception.
fn without_gil<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> error::CoreResult<T> + Send,
{
    py.detach(|| catch_unwind(AssertUnwindSafe(work)))
        .map_err(|payload| error::CoreError::Internal(panic_message(&*payload)))?
        .map_err(PyErr::from)
}

// ---------------------------------------------------------------------------------------------
// IntEnums, built with Python's enum module so they are real `enum.IntEnum`s.

/// The members of each enum, by value (values are 0..n), so a result costs no Python call.
static CODE_ENUM: PyOnceLock<Vec<Py<PyAny>>> = PyOnceLock::new();
static KIND_ENUM: PyOnceLock<Vec<Py<PyAny>>> = PyOnceLock::new();

const CODE_MEMBERS: [(&str, Code); 6] = [
    ("SUCCESS", Code::Success),
    ("ERROR", Code::Error),
    ("UNSCHEDULABLE", Code::Unschedulable),
    (
        "UNSCHEDULABLE_AND_UNRESOLVABLE",
        Code::UnschedulableAndUnresolvable,
    ),
    ("WAIT", Code::Wait),
    ("SKIP", Code::Skip),
];

fn make_int_enum<'py>(
    py: Python<'py>,
    name: &str,
    doc: &str,
    members: Vec<(&'static str, i64)>,
) -> PyResult<Bound<'py, PyAny>> {
    let kwargs = PyDict::new(py);
    kwargs.set_item("module", "podium._core")?;
    kwargs.set_item("qualname", name)?;
    let cls = py
        .import("enum")?
        .getattr("IntEnum")?
        .call((name, members), Some(&kwargs))?;
    cls.setattr("__doc__", doc)?;
    Ok(cls)
}

/// The members of an IntEnum whose values are 0..n, in value order.
fn enum_members(cls: &Bound<'_, PyAny>, count: usize) -> PyResult<Vec<Py<PyAny>>> {
    (0..count).map(|v| Ok(cls.call1((v,))?.unbind())).collect()
}

fn enum_member(
    py: Python<'_>,
    cell: &PyOnceLock<Vec<Py<PyAny>>>,
    value: i64,
) -> PyResult<Py<PyAny>> {
    let member = cell
        .get(py)
        .and_then(|members| usize::try_from(value).ok().and_then(|i| members.get(i)))
        .ok_or_else(|| PyRuntimeError::new_err(format!("podium._core: no enum member {value}")))?;
    Ok(member.clone_ref(py))
}

// ---------------------------------------------------------------------------------------------
// Plain result classes.

#[pyclass(frozen, get_all, module = "podium._core")]
pub struct ListPage {
    resource_version: String,
    continue_token: Option<String>,
    items: usize,
    errors: Vec<String>,
}

#[pyclass(frozen, get_all, module = "podium._core")]
pub struct Change {
    event: String,
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
            "Change(event={:?}, uid={:?}, name={:?}/{:?}, error={:?})",
            self.event, self.uid, self.namespace, self.name, self.error
        )
    }
}

#[pyclass(frozen, get_all, module = "podium._core")]
pub struct PendingPod {
    uid: String,
    namespace: String,
    name: String,
    scheduler_name: String,
    priority: i32,
    created: f64,
    pod_group: Option<String>,
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

impl From<state::cluster::PendingInfo> for PendingPod {
    fn from(p: state::cluster::PendingInfo) -> Self {
        Self {
            uid: p.uid,
            namespace: p.namespace,
            name: p.name,
            scheduler_name: p.scheduler_name,
            priority: p.priority,
            created: p.created,
            pod_group: p.pod_group,
        }
    }
}

#[pyclass(frozen, get_all, module = "podium._core")]
pub struct Decision {
    uid: String,
    namespace: String,
    name: String,
    code: Py<PyAny>,
    node: Option<String>,
    score: i64,
    message: String,
    reasons: HashMap<String, u32>,
    evaluated_nodes: usize,
    feasible_nodes: usize,
    allocation: Option<String>,
    started_ns: u64,
    filter_seconds: f64,
    score_seconds: f64,
    placement_seconds: f64,
}

#[pymethods]
impl Decision {
    fn __repr__(&self) -> String {
        format!(
            "Decision({}/{} node={:?} message={:?})",
            self.namespace, self.name, self.node, self.message
        )
    }
}

#[pyclass(frozen, get_all, module = "podium._core")]
pub struct NodeScore {
    node: String,
    total: i64,
    plugins: Vec<(String, i64, i64)>,
}

#[pymethods]
impl NodeScore {
    fn __repr__(&self) -> String {
        format!("NodeScore({:?} total={})", self.node, self.total)
    }
}

#[pyclass(frozen, get_all, module = "podium._core")]
pub struct Evaluation {
    reasons: BTreeMap<String, Vec<String>>,
    filters: BTreeMap<String, Vec<String>>,
    scores: Vec<Py<NodeScore>>,
    score_error: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// What Python plugins see of a pod and of a node.

fn resource_map(resources: &state::resources::Resources) -> HashMap<String, i64> {
    resources
        .entries()
        .filter(|&(_, v)| v != 0)
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

fn label_map(labels: &state::labels::Labels) -> HashMap<String, String> {
    labels
        .iter()
        .map(|(k, v)| (intern::resolve(k).to_owned(), intern::resolve(v).to_owned()))
        .collect()
}

#[pyclass(frozen, get_all, module = "podium._core")]
pub struct PluginPod {
    uid: String,
    namespace: String,
    name: String,
    priority: i32,
    labels: HashMap<String, String>,
    requests: HashMap<String, i64>,
}

#[pymethods]
impl PluginPod {
    fn __repr__(&self) -> String {
        format!("PluginPod({}/{})", self.namespace, self.name)
    }
}

impl From<&PodRecord> for PluginPod {
    fn from(pod: &PodRecord) -> Self {
        Self {
            uid: pod.uid.to_string(),
            namespace: pod.namespace().to_owned(),
            name: pod.name.to_string(),
            priority: pod.priority,
            labels: label_map(&pod.labels),
            requests: resource_map(&pod.requests),
        }
    }
}

#[pyclass(frozen, get_all, module = "podium._core")]
pub struct PluginNode {
    name: String,
    labels: HashMap<String, String>,
    allocatable: HashMap<String, i64>,
    requested: HashMap<String, i64>,
    pods: usize,
    score: i64,
}

#[pymethods]
impl PluginNode {
    fn __repr__(&self) -> String {
        format!("PluginNode({:?} score={})", self.name, self.score)
    }
}

/// Python plugins behind the core's `Extension` hook: one call per pod with its feasible nodes.
struct PyExtension {
    judge: Py<PyAny>,
}

impl PyExtension {
    fn call(
        &self,
        py: Python<'_>,
        pod: &PodRecord,
        feasible: &[&NodeInfo],
        totals: &[i64],
    ) -> PyResult<Vec<Verdict>> {
        let nodes = PyList::empty(py);
        for (info, &score) in feasible.iter().zip(totals) {
            let Some(record) = info.node.as_ref() else {
                continue;
            };
            let mut allocatable = resource_map(&record.allocatable);
            allocatable.insert("pods".to_owned(), record.allowed_pods);
            nodes.append(PluginNode {
                name: record.name().to_owned(),
                labels: label_map(&record.labels),
                allocatable,
                requested: resource_map(&info.requested),
                pods: info.pod_count(),
                score,
            })?;
        }
        let verdicts = self.judge.call1(py, (PluginPod::from(pod), nodes))?;
        verdicts
            .bind(py)
            .try_iter()?
            .map(|item| {
                let item = item?;
                if let Ok(points) = item.extract::<i64>() {
                    Ok(Verdict::Score(points))
                } else {
                    Ok(Verdict::Reject(item.extract::<String>()?))
                }
            })
            .collect()
    }
}

impl Extension for PyExtension {
    fn judge(
        &self,
        pod: &PodRecord,
        feasible: &[&NodeInfo],
        totals: &[i64],
    ) -> Result<Vec<Verdict>, String> {
        Python::attach(|py| {
            self.call(py, pod, feasible, totals)
                .map_err(|err| format!("plugins: {err}"))
        })
    }
}

/// A PodGroup as the cache holds it (see `state::pod_group`).
#[pyclass(frozen, module = "podium._core")]
pub struct PodGroup {
    inner: std::sync::Arc<state::pod_group::PodGroupRecord>,
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
    #[getter]
    fn rack(&self) -> &'static str {
        self.inner.rack.as_str()
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
    fn __repr__(&self) -> String {
        format!(
            "PodGroup({}/{} minMember={})",
            self.inner.namespace(),
            self.inner.name(),
            self.inner.min_member
        )
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

impl From<state::cluster::GroupMember> for GroupMember {
    fn from(m: state::cluster::GroupMember) -> Self {
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

fn decisions_to_py(py: Python<'_>, decisions: Vec<cycle::Decision>) -> PyResult<Bound<'_, PyList>> {
    let out = PyList::empty(py);
    for d in decisions {
        let code = enum_member(py, &CODE_ENUM, d.code.as_int())?;
        out.append(Decision {
            uid: d.uid,
            namespace: d.namespace,
            name: d.name,
            code,
            node: d.node,
            score: d.score,
            message: d.message,
            reasons: d.reasons,
            evaluated_nodes: d.evaluated_nodes,
            feasible_nodes: d.feasible_nodes,
            allocation: d.allocation,
            started_ns: d.started_ns,
            filter_seconds: d.filter_seconds,
            score_seconds: d.score_seconds,
            placement_seconds: d.placement_seconds,
        })?;
    }
    Ok(out)
}

/// A pod a preemption evicts.
#[pyclass(frozen, get_all, module = "podium._core")]
pub struct Victim {
    uid: String,
    namespace: String,
    name: String,
    node: String,
    priority: i32,
    pod_group: Option<String>,
}

#[pymethods]
impl Victim {
    fn __repr__(&self) -> String {
        format!(
            "Victim({}/{} on {} priority={})",
            self.namespace, self.name, self.node, self.priority
        )
    }
}

/// What `Snapshot.preempt` decided.
#[pyclass(frozen, get_all, module = "podium._core")]
pub struct Preemption {
    nominations: Vec<(String, String)>,
    victims: Vec<Py<Victim>>,
    eligible: bool,
    message: String,
}

#[pymethods]
impl Preemption {
    fn __repr__(&self) -> String {
        format!(
            "Preemption(nominations={:?}, victims={}, message={:?})",
            self.nominations,
            self.victims.len(),
            self.message
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Profile and Snapshot.

#[pyclass(name = "Profile", frozen, module = "podium._core")]
pub struct PyProfile {
    inner: framework::profile::Profile,
}

#[pymethods]
impl PyProfile {
    #[new]
    fn new(spec: &[u8]) -> PyResult<Self> {
        Ok(Self {
            inner: framework::profile::Profile::from_json(spec)?,
        })
    }

    #[getter]
    fn scheduler_name(&self) -> &str {
        &self.inner.scheduler_name
    }
}

#[pyclass(name = "Snapshot", frozen, module = "podium._core")]
pub struct PySnapshot {
    inner: state::snapshot::Snapshot,
}

#[pymethods]
impl PySnapshot {
    #[getter]
    fn generation(&self) -> u64 {
        self.inner.generation()
    }

    #[getter]
    fn node_count(&self) -> usize {
        self.inner.node_count()
    }

    #[pyo3(signature = (uids, profile, plugins = None))]
    fn schedule<'py>(
        &self,
        py: Python<'py>,
        uids: Vec<String>,
        profile: &Bound<'py, PyProfile>,
        plugins: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let profile = &profile.get().inner;
        let extension = plugins.map(|judge| PyExtension { judge });
        let decisions = without_gil(py, || {
            let extension = extension.as_ref().map(|e| e as &dyn Extension);
            Ok(cycle::schedule_batch_with(
                &self.inner,
                &uids,
                profile,
                extension,
            ))
        })?;
        decisions_to_py(py, decisions)
    }

    #[pyo3(signature = (uids, profile, group, job_groups, plugins = None))]
    fn schedule_gang<'py>(
        &self,
        py: Python<'py>,
        uids: Vec<String>,
        profile: &Bound<'py, PyProfile>,
        group: &Bound<'py, PodGroup>,
        job_groups: Vec<String>,
        plugins: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let profile = &profile.get().inner;
        let group = &*group.get().inner;
        let job_groups: Vec<intern::Sym> = job_groups.iter().map(|g| intern::sym(g)).collect();
        let extension = plugins.map(|judge| PyExtension { judge });
        let decisions = without_gil(py, || {
            let gang = gang::Gang {
                group,
                job_groups: &job_groups,
                extension: extension.as_ref().map(|e| e as &dyn Extension),
            };
            Ok(gang::schedule_gang(&self.inner, &uids, profile, &gang))
        })?;
        decisions_to_py(py, decisions)
    }

    fn reserve(
        &self,
        py: Python<'_>,
        uids: Vec<String>,
        profile: &Bound<'_, PyProfile>,
    ) -> PyResult<Vec<Option<String>>> {
        let profile = &profile.get().inner;
        without_gil(py, || Ok(reservation::reserve(&self.inner, &uids, profile)))
    }

    #[pyo3(signature = (uids, profile, group = None))]
    fn preempt(
        &self,
        py: Python<'_>,
        uids: Vec<String>,
        profile: &Bound<'_, PyProfile>,
        group: Option<&Bound<'_, PodGroup>>,
    ) -> PyResult<Preemption> {
        let profile = &profile.get().inner;
        let group = group.map(|g| g.get().inner.clone());
        let outcome = without_gil(py, || {
            Ok(preemption::preempt(
                &self.inner,
                &uids,
                profile,
                group.as_deref(),
            ))
        })?;
        let victims = outcome
            .victims
            .into_iter()
            .map(|v| {
                Py::new(
                    py,
                    Victim {
                        uid: v.uid,
                        namespace: v.namespace,
                        name: v.name,
                        node: v.node,
                        priority: v.priority,
                        pod_group: v.pod_group,
                    },
                )
            })
            .collect::<PyResult<Vec<_>>>()?;
        Ok(Preemption {
            nominations: outcome.nominations,
            victims,
            eligible: outcome.eligible,
            message: outcome.message,
        })
    }

    fn explain(
        &self,
        py: Python<'_>,
        uid: &str,
        profile: &Bound<'_, PyProfile>,
    ) -> PyResult<BTreeMap<String, Vec<String>>> {
        let profile = &profile.get().inner;
        let target = explain::Target::Pending(uid);
        without_gil(py, || explain::explain(&self.inner, target, profile))
    }

    #[pyo3(signature = (pod, profile, nodes = None, *, bound = false, plugins = None))]
    fn evaluate(
        &self,
        py: Python<'_>,
        pod: &Bound<'_, PyAny>,
        profile: &Bound<'_, PyProfile>,
        nodes: Option<Vec<String>>,
        bound: bool,
        plugins: Option<Py<PyAny>>,
    ) -> PyResult<Evaluation> {
        let profile = &profile.get().inner;
        let extension = plugins.map(|judge| PyExtension { judge });
        let extension = extension.as_ref().map(|e| e as &dyn Extension);
        let result = if let Ok(object) = pod.cast::<pyo3::types::PyBytes>() {
            let bytes = object.as_bytes();
            without_gil(py, || {
                evaluate::evaluate(
                    &self.inner,
                    explain::Target::Object(bytes),
                    profile,
                    nodes.as_deref(),
                    extension,
                )
            })?
        } else {
            let uid: String = pod.extract()?;
            let target = if bound {
                explain::Target::Bound(&uid)
            } else {
                explain::Target::Pending(&uid)
            };
            without_gil(py, || {
                evaluate::evaluate(&self.inner, target, profile, nodes.as_deref(), extension)
            })?
        };
        let scores = result
            .scores
            .into_iter()
            .map(|n| {
                Py::new(
                    py,
                    NodeScore {
                        node: n.node,
                        total: n.total,
                        plugins: n
                            .plugins
                            .into_iter()
                            .map(|(p, s, w)| (p.to_owned(), s, w))
                            .collect(),
                    },
                )
            })
            .collect::<PyResult<Vec<_>>>()?;
        let mut reasons = BTreeMap::new();
        let mut filters = BTreeMap::new();
        for (node, failures) in result.failures {
            let (by, why): (Vec<String>, Vec<String>) = failures
                .into_iter()
                .map(|(filter, reason)| (filter.to_owned(), reason))
                .unzip();
            filters.insert(node.clone(), by);
            reasons.insert(node, why);
        }
        Ok(Evaluation {
            reasons,
            filters,
            scores,
            score_error: result.score_error,
        })
    }

    fn explain_bound(
        &self,
        py: Python<'_>,
        uid: &str,
        profile: &Bound<'_, PyProfile>,
    ) -> PyResult<BTreeMap<String, Vec<String>>> {
        let profile = &profile.get().inner;
        let target = explain::Target::Bound(uid);
        without_gil(py, || explain::explain(&self.inner, target, profile))
    }
}

// ---------------------------------------------------------------------------------------------
// ClusterState.

#[pyclass(name = "ClusterState", frozen, module = "podium._core")]
pub struct PyClusterState {
    // A mutex, not a PyO3 borrow: a second caller waits instead of failing while the first
    // works without the GIL.
    inner: Mutex<state::cluster::ClusterState>,
}

impl PyClusterState {
    fn lock(&self) -> MutexGuard<'_, state::cluster::ClusterState> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn change_to_py(py: Python<'_>, c: state::cluster::ChangeOutcome, kind: Kind) -> PyResult<Change> {
    Ok(Change {
        event: c.event,
        kind: enum_member(py, &KIND_ENUM, kind as i64)?,
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

#[pymethods]
impl PyClusterState {
    #[new]
    fn new(scheduler_names: Vec<String>) -> Self {
        Self {
            inner: Mutex::new(state::cluster::ClusterState::new(&scheduler_names)),
        }
    }

    fn apply_list(&self, py: Python<'_>, kind: i64, body: &[u8]) -> PyResult<ListPage> {
        let kind = Kind::from_index(kind)?;
        let page = without_gil(py, || self.lock().apply_list(kind, body))?;
        Ok(ListPage {
            resource_version: page.resource_version,
            continue_token: page.continue_token,
            items: page.items,
            errors: page.errors,
        })
    }

    fn begin_relist(&self, kind: i64) -> PyResult<()> {
        let kind = Kind::from_index(kind)?;
        self.lock().begin_relist(kind);
        Ok(())
    }

    fn end_relist(&self, py: Python<'_>, kind: i64) -> PyResult<Vec<String>> {
        let kind = Kind::from_index(kind)?;
        without_gil(py, || Ok(self.lock().end_relist(kind)))
    }

    fn apply_event(&self, py: Python<'_>, kind: i64, line: &[u8]) -> PyResult<Change> {
        let kind = Kind::from_index(kind)?;
        let change = without_gil(py, || self.lock().apply_event(kind, line))?;
        change_to_py(py, change, kind)
    }

    fn pending(&self, py: Python<'_>) -> PyResult<Vec<PendingPod>> {
        let pods = without_gil(py, || Ok(self.lock().pending()))?;
        Ok(pods.into_iter().map(PendingPod::from).collect())
    }

    fn pending_pod(&self, uid: &str) -> Option<PendingPod> {
        self.lock().pending_pod(uid).map(PendingPod::from)
    }

    #[pyo3(signature = (uid, node, allocation))]
    fn assume(&self, uid: &str, node: &str, allocation: Option<&str>) -> PyResult<()> {
        Ok(self.lock().assume(uid, node, allocation)?)
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

    fn snapshot(&self) -> PySnapshot {
        PySnapshot {
            inner: self.lock().snapshot(),
        }
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

// ---------------------------------------------------------------------------------------------

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("CoreError", py.get_type::<CoreError>())?;
    let code = make_int_enum(
        py,
        "Code",
        "Result of one pod's scheduling attempt, as kube-scheduler's framework.Code.",
        CODE_MEMBERS.iter().map(|&(n, c)| (n, c.as_int())).collect(),
    )?;
    let kind = make_int_enum(
        py,
        "Kind",
        "Object kinds the cache holds.",
        [
            ("NODE", Kind::Node),
            ("POD", Kind::Pod),
            ("NODE_RESOURCE_TOPOLOGY", Kind::NodeResourceTopology),
            ("PERSISTENT_VOLUME", Kind::PersistentVolume),
            ("PERSISTENT_VOLUME_CLAIM", Kind::PersistentVolumeClaim),
            ("STORAGE_CLASS", Kind::StorageClass),
            ("NAMESPACE", Kind::Namespace),
            ("POD_GROUP", Kind::PodGroup),
            ("PRIORITY_CLASS", Kind::PriorityClass),
            ("POD_DISRUPTION_BUDGET", Kind::PodDisruptionBudget),
        ]
        .iter()
        .map(|&(n, k)| (n, k as i64))
        .collect(),
    )?;
    m.add("Code", &code)?;
    m.add("Kind", &kind)?;
    let _ = CODE_ENUM.set(py, enum_members(&code, CODE_MEMBERS.len())?);
    let _ = KIND_ENUM.set(py, enum_members(&kind, Kind::ALL.len())?);
    m.add_class::<ListPage>()?;
    m.add_class::<Change>()?;
    m.add_class::<PendingPod>()?;
    m.add_class::<Decision>()?;
    m.add_class::<Victim>()?;
    m.add_class::<Preemption>()?;
    m.add_class::<PodGroup>()?;
    m.add_class::<GroupMember>()?;
    m.add_class::<NodeScore>()?;
    m.add_class::<Evaluation>()?;
    m.add_class::<PluginPod>()?;
    m.add_class::<PluginNode>()?;
    m.add_class::<PyProfile>()?;
    m.add_class::<PySnapshot>()?;
    m.add_class::<PyClusterState>()?;
    Ok(())
}
