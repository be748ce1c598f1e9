//! The enums that cross the boundary, built with Python's `enum` module so they are real
//! `enum.IntEnum`/`enum.Enum` classes (iterable, named, hashable), with their members cached at
//! import so converting a result costs no Python call.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString};
use pyo3::{Borrowed, IntoPyObjectExt};

use super::errors::CoreError;
use crate::framework::code::Code;
use crate::state::event_type::EventType;
use crate::state::kind::Kind;

/// A Python enum mirroring a Rust one: members in the Rust enum's order.
struct EnumClass {
    name: &'static str,
    doc: &'static str,
    members: PyOnceLock<Vec<Py<PyAny>>>,
}

impl EnumClass {
    const fn new(name: &'static str, doc: &'static str) -> Self {
        Self {
            name,
            doc,
            members: PyOnceLock::new(),
        }
    }

    /// Builds the class (`base` is `IntEnum` or `Enum`), caches its members and adds it to `m`.
    fn register<'py>(
        &self,
        m: &Bound<'py, PyModule>,
        base: &str,
        members: Vec<(&'static str, Bound<'py, PyAny>)>,
    ) -> PyResult<()> {
        let py = m.py();
        let kwargs = PyDict::new(py);
        kwargs.set_item("module", "podium._core")?;
        kwargs.set_item("qualname", self.name)?;
        let values: Vec<Bound<'py, PyAny>> = members.iter().map(|(_, v)| v.clone()).collect();
        let cls = py
            .import("enum")?
            .getattr(base)?
            .call((self.name, members), Some(&kwargs))?;
        cls.setattr("__doc__", self.doc)?;
        let cached = values
            .into_iter()
            .map(|v| Ok(cls.call1((v,))?.unbind()))
            .collect::<PyResult<Vec<_>>>()?;
        let _ = self.members.set(py, cached);
        m.add(self.name, cls)
    }

    fn member(&self, py: Python<'_>, index: usize) -> PyResult<Py<PyAny>> {
        let member = self
            .members
            .get(py)
            .and_then(|members| members.get(index))
            .ok_or_else(|| {
                PyRuntimeError::new_err(format!("podium._core: no {} member {index}", self.name))
            })?;
        Ok(member.clone_ref(py))
    }

    /// The index of `obj` among the members (identity: members are singletons).
    fn index_of(&self, obj: Borrowed<'_, '_, PyAny>) -> Option<usize> {
        let members = self.members.get(obj.py())?;
        members.iter().position(|m| obj.is(m))
    }
}

static CODE: EnumClass = EnumClass::new(
    "Code",
    "Result of one pod's scheduling attempt, as kube-scheduler's framework.Code.",
);
static KIND: EnumClass = EnumClass::new("Kind", "Object kinds the cache holds.");
static EVENT_TYPE: EnumClass = EnumClass::new(
    "EventType",
    "A watch event's type, as the apiserver's watch.EventType.",
);

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

const KIND_MEMBERS: [(&str, Kind); 15] = [
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
    ("DEVICE_CLASS", Kind::DeviceClass),
    ("RESOURCE_SLICE", Kind::ResourceSlice),
    ("RESOURCE_CLAIM", Kind::ResourceClaim),
    ("ELASTIC_QUOTA", Kind::ElasticQuota),
    ("WORKLOAD_POD_GROUP", Kind::WorkloadPodGroup),
];

pub(crate) fn code(py: Python<'_>, code: Code) -> PyResult<Py<PyAny>> {
    CODE.member(py, code as usize)
}

pub(crate) fn kind(py: Python<'_>, kind: Kind) -> PyResult<Py<PyAny>> {
    KIND.member(py, kind as usize)
}

pub(crate) fn event_type(py: Python<'_>, event: EventType) -> PyResult<Py<PyAny>> {
    EVENT_TYPE.member(py, event as usize)
}

/// Methods take `kind: Kind`: only a member of `podium._core.Kind` converts.
impl<'a, 'py> FromPyObject<'a, 'py> for Kind {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        KIND.index_of(obj)
            .and_then(|i| Kind::ALL.get(i).copied())
            .ok_or_else(|| {
                CoreError::new_err(format!(
                    "unknown object kind {}: not a member of podium._core.Kind",
                    obj.repr()
                        .map_or_else(|_| "?".to_owned(), |r| r.to_string())
                ))
            })
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let ints = |members: &[(&'static str, usize)]| -> PyResult<Vec<_>> {
        members
            .iter()
            .map(|&(name, value)| Ok((name, value.into_bound_py_any(py)?)))
            .collect()
    };
    let codes: Vec<_> = CODE_MEMBERS.iter().map(|&(n, c)| (n, c as usize)).collect();
    CODE.register(m, "IntEnum", ints(&codes)?)?;
    let kinds: Vec<_> = KIND_MEMBERS.iter().map(|&(n, k)| (n, k as usize)).collect();
    KIND.register(m, "IntEnum", ints(&kinds)?)?;
    // Values are the wire's strings, so `EventType("ADDED")` works; members are not `str`s, so
    // comparing one with a string is a type error for mypy, not a silent False.
    let events = EventType::ALL
        .iter()
        .map(|e| (e.as_str(), PyString::new(py, e.as_str()).into_any()))
        .collect();
    EVENT_TYPE.register(m, "Enum", events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_in_value_order() {
        for (i, (_, code)) in CODE_MEMBERS.iter().enumerate() {
            assert_eq!(*code as usize, i);
        }
        for (i, (_, kind)) in KIND_MEMBERS.iter().enumerate() {
            assert_eq!(*kind as usize, i);
            assert_eq!(Kind::ALL[i], *kind);
        }
        for (i, event) in EventType::ALL.iter().enumerate() {
            assert_eq!(*event as usize, i);
        }
    }
}
