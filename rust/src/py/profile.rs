//! `Profile`: a scheduling profile, built once from the spec `podium.config.Profile.core_spec()`
//! writes (the `ProfileSpec` TypedDict of `_core.pyi`), validated once, in Rust, with every bad
//! field named by its path.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::runtime::profile::Profile;

#[pyclass(name = "Profile", frozen, module = "podium._core")]
pub struct PyProfile {
    pub(crate) inner: Profile,
}

#[pymethods]
impl PyProfile {
    #[new]
    fn new(spec: &Bound<'_, PyDict>) -> PyResult<Self> {
        let value = json_value(spec.as_any(), "")?;
        Ok(Self {
            inner: Profile::from_value(value)?,
        })
    }

    #[getter]
    fn scheduler_name(&self) -> &str {
        &self.inner.scheduler_name
    }
}

/// The spec's Python values as JSON: dicts with string keys, lists and tuples, strings, bools,
/// integers, floats and None; anything else is a `TypeError` naming where it stands.
fn json_value(obj: &Bound<'_, PyAny>, path: &str) -> PyResult<serde_json::Value> {
    use serde_json::Value;
    if obj.is_none() {
        return Ok(Value::Null);
    }
    // bool before int: Python's bool is an int.
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(i) = obj.cast::<PyInt>() {
        return match i.extract::<i64>() {
            Ok(n) => Ok(Value::from(n)),
            Err(_) => Err(PyTypeError::new_err(format!(
                "Profile: {path}: integer out of range"
            ))),
        };
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Ok(serde_json::Number::from_f64(f.value()).map_or(Value::Null, Value::Number));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_str()?.to_owned()));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut map = serde_json::Map::with_capacity(d.len());
        for (k, v) in d.iter() {
            let key = k.cast::<PyString>().map_err(|_| {
                PyTypeError::new_err(format!("Profile: {path}: keys must be strings"))
            })?;
            let key = key.to_str()?.to_owned();
            let inner = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            map.insert(key, json_value(&v, &inner)?);
        }
        return Ok(Value::Object(map));
    }
    let items: Vec<Bound<'_, PyAny>> = if let Ok(l) = obj.cast::<PyList>() {
        l.iter().collect()
    } else if let Ok(t) = obj.cast::<PyTuple>() {
        t.iter().collect()
    } else {
        return Err(PyTypeError::new_err(format!(
            "Profile: {path}: unexpected {}",
            obj.get_type().name()?
        )));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, v)| json_value(v, &format!("{path}[{i}]")))
        .collect::<PyResult<Vec<Value>>>()
        .map(Value::Array)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyProfile>()
}
