//! `Snapshot`: the immutable view of the cluster one cycle decides on.

use std::collections::BTreeMap;

use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::PyList;

use super::decisions::{Preemption, decisions_to_py};
use super::errors::without_gil;
use super::evaluate::{self, Evaluation};
use super::plugins::PyExtension;
use super::pod_group::PodGroup;
use super::profile::PyProfile;
use crate::explain::Target;
use crate::framework::extension::Extension;
use crate::state::pod_group::PodGroupRecord;
use crate::state::snapshot::Snapshot;
use crate::{cycle, gang, intern, preemption, reservation};

#[pyclass(name = "Snapshot", frozen, module = "podium._core")]
pub struct PySnapshot {
    inner: Snapshot,
}

impl PySnapshot {
    pub(crate) fn new(inner: Snapshot) -> Self {
        Self { inner }
    }
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
        // Borrowed, not copied: the uids are only looked up.
        uids: Vec<PyBackedStr>,
        profile: &Bound<'py, PyProfile>,
        plugins: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let profile = &profile.get().inner;
        let extension = PyExtension::from_arg(plugins);
        let decisions = without_gil(py, || {
            let extension = extension.as_ref().map(|e| e as &dyn Extension);
            Ok(cycle::schedule_batch(
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
        let extension = PyExtension::from_arg(plugins);
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

    /// `schedule_gang` for each `(uids, group, job_groups)` in order, the GIL released once:
    /// each gang sees those before it placed.
    #[pyo3(signature = (gangs, profile, plugins = None))]
    fn schedule_gangs<'py>(
        &self,
        py: Python<'py>,
        gangs: Vec<(Vec<String>, Bound<'py, PodGroup>, Vec<String>)>,
        profile: &Bound<'py, PyProfile>,
        plugins: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let profile = &profile.get().inner;
        let asked: Vec<(&[String], &PodGroupRecord, Vec<intern::Sym>)> = gangs
            .iter()
            .map(|(uids, group, job)| {
                let job = job.iter().map(|g| intern::sym(g)).collect();
                (uids.as_slice(), &*group.get().inner, job)
            })
            .collect();
        let extension = PyExtension::from_arg(plugins);
        let decided = without_gil(py, || {
            Ok(asked
                .iter()
                .map(|(uids, group, job)| {
                    let gang = gang::Gang {
                        group,
                        job_groups: job,
                        extension: extension.as_ref().map(|e| e as &dyn Extension),
                    };
                    gang::schedule_gang(&self.inner, uids, profile, &gang)
                })
                .collect::<Vec<_>>())
        })?;
        let out = PyList::empty(py);
        for decisions in decided {
            out.append(decisions_to_py(py, decisions)?)?;
        }
        Ok(out)
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

    #[pyo3(signature = (uids, profile, group = None, *, unresolvable = false))]
    fn preempt(
        &self,
        py: Python<'_>,
        uids: Vec<String>,
        profile: &Bound<'_, PyProfile>,
        group: Option<&Bound<'_, PodGroup>>,
        unresolvable: bool,
    ) -> PyResult<Preemption> {
        let profile = &profile.get().inner;
        let group = group.map(|g| g.get().inner.clone());
        let outcome = without_gil(py, || {
            Ok(match (unresolvable, uids.as_slice(), &group) {
                (true, [uid], None) => preemption::preempt_unresolvable(&self.inner, uid),
                _ => preemption::preempt(&self.inner, &uids, profile, group.as_deref()),
            })
        })?;
        Preemption::new(py, outcome)
    }

    fn explain(
        &self,
        py: Python<'_>,
        uid: &str,
        profile: &Bound<'_, PyProfile>,
    ) -> PyResult<BTreeMap<String, Vec<String>>> {
        let profile = &profile.get().inner;
        evaluate::explain(py, &self.inner, Target::Pending(uid), profile)
    }

    fn explain_bound(
        &self,
        py: Python<'_>,
        uid: &str,
        profile: &Bound<'_, PyProfile>,
    ) -> PyResult<BTreeMap<String, Vec<String>>> {
        let profile = &profile.get().inner;
        evaluate::explain(py, &self.inner, Target::Bound(uid), profile)
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
        evaluate::evaluate(py, &self.inner, pod, profile, nodes, bound, plugins)
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySnapshot>()
}
