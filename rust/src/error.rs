//! The core's one error type; `py::errors` maps it to Python exceptions in one place.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CoreError {
    /// Malformed input (object, field and value named in the message): `CoreError`.
    #[error("{0}")]
    Invalid(String),
    /// A plugin failed while deciding a pod (kube's `Status` with code `Error`): the pod's
    /// cycle ends in error with this message; never raised to Python.
    #[error("{0}")]
    Plugin(String),
    /// A bug in the core, such as a caught panic: `RuntimeError`.
    #[error("podium core internal error: {0}")]
    Internal(String),
}

pub type CoreResult<T> = Result<T, CoreError>;
