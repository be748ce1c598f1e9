//! `Snapshot.explain`/`explain_bound`/`evaluate`: a pod judged on nodes without placing it.

use std::collections::BTreeMap;

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::errors::without_gil;
use super::plugins::PyExtension;
use crate::evaluate;
use crate::explain::{self, Target};
use crate::framework::extension::Extension;
use crate::runtime::profile::Profile;
use crate::state::snapshot::Snapshot;

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

impl From<evaluate::NodeScores> for NodeScore {
    fn from(n: evaluate::NodeScores) -> Self {
        Self {
            node: n.node,
            total: n.total,
            plugins: n
                .plugins
                .into_iter()
                .map(|(p, s, w)| (p.to_owned(), s, w))
                .collect(),
        }
    }
}

#[pyclass(frozen, get_all, module = "podium._core")]
pub struct Evaluation {
    reasons: BTreeMap<String, Vec<String>>,
    filters: BTreeMap<String, Vec<String>>,
    scores: Vec<Py<NodeScore>>,
    score_error: Option<String>,
}

impl Evaluation {
    fn new(py: Python<'_>, result: evaluate::Evaluation) -> PyResult<Self> {
        let scores = result
            .scores
            .into_iter()
            .map(|n| Py::new(py, NodeScore::from(n)))
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
        Ok(Self {
            reasons,
            filters,
            scores,
            score_error: result.score_error,
        })
    }
}

/// Every node's reasons for `target` (empty: feasible).
pub(crate) fn explain(
    py: Python<'_>,
    snapshot: &Snapshot,
    target: Target<'_>,
    profile: &Profile,
) -> PyResult<BTreeMap<String, Vec<String>>> {
    without_gil(py, || explain::explain(snapshot, target, profile))
}

/// `Snapshot.evaluate`: `pod` is a uid (pending, or bound with `bound`) or a Pod object as
/// JSON bytes.
pub(crate) fn evaluate(
    py: Python<'_>,
    snapshot: &Snapshot,
    pod: &Bound<'_, PyAny>,
    profile: &Profile,
    nodes: Option<Vec<String>>,
    bound: bool,
    plugins: Option<Py<PyAny>>,
) -> PyResult<Evaluation> {
    let extension = PyExtension::from_arg(plugins);
    let extension = extension.as_ref().map(|e| e as &dyn Extension);
    let uid: String;
    let target = if let Ok(object) = pod.cast::<PyBytes>() {
        Target::Object(object.as_bytes())
    } else {
        uid = pod.extract()?;
        if bound {
            Target::Bound(&uid)
        } else {
            Target::Pending(&uid)
        }
    };
    let result = without_gil(py, || {
        evaluate::evaluate(snapshot, target, profile, nodes.as_deref(), extension)
    })?;
    Evaluation::new(py, result)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NodeScore>()?;
    m.add_class::<Evaluation>()
}
