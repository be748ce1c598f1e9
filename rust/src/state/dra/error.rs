//! A malformed DRA object the decoders refuse, naming the object and the field.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{kind} {name}: {field}: {why}")]
pub struct DecodeError {
    pub kind: &'static str,
    pub name: String,
    pub field: String,
    pub why: String,
}

impl From<DecodeError> for crate::error::CoreError {
    fn from(e: DecodeError) -> Self {
        Self::Invalid(e.to_string())
    }
}
