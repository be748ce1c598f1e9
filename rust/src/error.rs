//! The core's one error type; `py::errors` maps it to Python exceptions in one place.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CoreError {
    /// Malformed input (object, field and value named in the message): `CoreError`.
    #[error("{0}")]
    Invalid(String),
    /// A malformed field found while decoding: its path from where decoding started ("" for the
    /// whole value) and what is wrong. Whoever knows the object names it (`in_object`, or a
    /// record's `FieldError`); raised as is, it is `CoreError` too.
    #[error("{path}: {message}")]
    Field { path: String, message: String },
    /// A plugin failed while deciding a pod (kube's `Status` with code `Error`): the pod's
    /// cycle ends in error with this message; never raised to Python.
    #[error("{0}")]
    Plugin(String),
    /// A bug in the core, such as a caught panic: `RuntimeError`.
    #[error("podium core internal error: {0}")]
    Internal(String),
}

pub type CoreResult<T> = Result<T, CoreError>;

impl CoreError {
    pub fn field(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Field {
            path: path.into(),
            message: message.into(),
        }
    }

    /// A field error's path under `parent` (`spec.x` under `object`: `object.spec.x`).
    #[must_use]
    pub fn under(self, parent: &str) -> Self {
        match self {
            Self::Field { path, message } => Self::Field {
                path: format!("{parent}.{path}"),
                message,
            },
            other => other,
        }
    }

    /// A field error named in its object: `<who>: <path>: <message>`.
    #[must_use]
    pub fn in_object(self, who: &str) -> Self {
        match self {
            Self::Field { path, message } => Self::Invalid(format!("{who}: {path}: {message}")),
            other => other,
        }
    }

    /// A field error's path ("" for any other error).
    pub fn path(&self) -> &str {
        match self {
            Self::Field { path, .. } => path,
            _ => "",
        }
    }

    /// The path and message of a field error (any other error: no path, its text).
    pub fn into_field(self) -> (String, String) {
        match self {
            Self::Field { path, message } => (path, message),
            other => (String::new(), other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_error_is_named_in_its_object() {
        let e = CoreError::field("spec.x", "bad").under("object");
        assert_eq!(e.to_string(), "object.spec.x: bad");
        assert_eq!(
            e.in_object("BOOKMARK event").to_string(),
            "BOOKMARK event: object.spec.x: bad"
        );
        let other = CoreError::Invalid("whole".into());
        assert_eq!(other.clone().in_object("Pod"), other);
        assert_eq!(other.into_field(), (String::new(), "whole".into()));
    }
}
