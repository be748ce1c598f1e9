//! The core's errors as Python exceptions, and the one way work leaves the GIL.

use std::panic::{AssertUnwindSafe, catch_unwind};

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::error::{CoreError as Error, CoreResult};

pyo3::create_exception!(
    podium._core,
    CoreError,
    PyValueError,
    "Malformed input. The message names the object and the field path."
);

impl From<Error> for PyErr {
    fn from(err: Error) -> Self {
        match err {
            Error::Invalid(msg) => CoreError::new_err(msg),
            Error::Field { .. } => CoreError::new_err(err.to_string()),
            Error::Plugin(_) | Error::Internal(_) => PyRuntimeError::new_err(err.to_string()),
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
/// Every entry point that does real work goes through here, so a Rust panic never aborts the
/// scheduler.
pub(crate) fn without_gil<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> CoreResult<T> + Send,
{
    py.detach(|| catch_unwind(AssertUnwindSafe(work)))
        .map_err(|payload| Error::Internal(panic_message(&*payload)))?
        .map_err(PyErr::from)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("CoreError", m.py().get_type::<CoreError>())
}
