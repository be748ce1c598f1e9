//! What scheduling and preemption decide: `Decision` per pod, `Preemption` with its `Victim`s.

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::PyList;

use super::dra::ResourceClaimReservation;
use super::enums;
use super::volumes::ClaimBinding;
use crate::cycle;
use crate::preemption::{EvictedPod, Outcome};

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
    volumes: Vec<ClaimBinding>,
    claims: Vec<ResourceClaimReservation>,
    started_ns: u64,
    reused: bool,
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

impl Decision {
    fn new(py: Python<'_>, d: cycle::Decision) -> PyResult<Self> {
        Ok(Self {
            uid: d.uid,
            namespace: d.namespace,
            name: d.name,
            code: enums::code(py, d.code)?,
            node: d.node,
            score: d.score,
            message: d.message,
            reasons: d.reasons,
            evaluated_nodes: d.evaluated_nodes,
            feasible_nodes: d.feasible_nodes,
            allocation: d.allocation,
            volumes: d.volumes.iter().map(ClaimBinding::from).collect(),
            claims: d
                .claims
                .iter()
                .map(ResourceClaimReservation::from)
                .collect(),
            started_ns: d.started_ns,
            reused: d.reused,
            filter_seconds: d.filter_seconds,
            score_seconds: d.score_seconds,
            placement_seconds: d.placement_seconds,
        })
    }
}

pub(crate) fn decisions_to_py(
    py: Python<'_>,
    decisions: Vec<cycle::Decision>,
) -> PyResult<Bound<'_, PyList>> {
    let out = PyList::empty(py);
    for d in decisions {
        out.append(Decision::new(py, d)?)?;
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

impl From<EvictedPod> for Victim {
    fn from(v: EvictedPod) -> Self {
        Self {
            uid: v.uid,
            namespace: v.namespace,
            name: v.name,
            node: v.node,
            priority: v.priority,
            pod_group: v.pod_group,
        }
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

impl Preemption {
    pub(crate) fn new(py: Python<'_>, outcome: Outcome) -> PyResult<Self> {
        let victims = outcome
            .victims
            .into_iter()
            .map(|v| Py::new(py, Victim::from(v)))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(Self {
            nominations: outcome.nominations,
            victims,
            eligible: outcome.eligible,
            message: outcome.message,
        })
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Decision>()?;
    m.add_class::<Victim>()?;
    m.add_class::<Preemption>()
}
