//! Python plugins behind the core's `Extension` hook, and what they see of a pod and a node.

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::error::{CoreError, CoreResult};
use crate::framework::extension::{Extension, Verdict};
use crate::intern;
use crate::state::labels::Labels;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::resources::Resources;

fn resource_map(resources: &Resources) -> HashMap<String, i64> {
    resources
        .entries()
        .filter(|&(_, v)| v != 0)
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

fn label_map(labels: &Labels) -> HashMap<String, String> {
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
pub(crate) struct PyExtension {
    judge: Py<PyAny>,
}

impl PyExtension {
    /// The extension for a `plugins=` argument, if one was given.
    pub(crate) fn from_arg(plugins: Option<Py<PyAny>>) -> Option<Self> {
        plugins.map(|judge| Self { judge })
    }

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
    ) -> CoreResult<Vec<Verdict>> {
        Python::attach(|py| {
            self.call(py, pod, feasible, totals)
                .map_err(|err| CoreError::Plugin(format!("plugins: {err}")))
        })
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PluginPod>()?;
    m.add_class::<PluginNode>()
}
