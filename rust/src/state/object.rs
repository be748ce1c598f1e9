//! Naming objects in errors, and decoding one object with the path of whatever was malformed.

use std::fmt;

use serde::Deserialize;

use crate::bounded;
use crate::error::{CoreError, CoreResult};

/// `Pod default/web-1`, `Node gpu-7`: how every error names its object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
}

impl ObjectRef {
    pub fn new(kind: &'static str, namespace: &str, name: &str) -> Self {
        Self {
            kind,
            namespace: namespace.to_owned(),
            name: if name.is_empty() {
                "<unnamed>".to_owned()
            } else {
                name.to_owned()
            },
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {}", self.kind, self.name)
        } else {
            write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// A malformed field: `<object>: <path>: <what>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub object: ObjectRef,
    pub path: String,
    pub message: String,
}

impl FieldError {
    /// `err` (a `CoreError::Field`, or any error as the whole object's) found in `object`.
    pub fn new(object: ObjectRef, err: CoreError) -> Self {
        let (path, message) = err.into_field();
        Self {
            object,
            path,
            message,
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.object, self.message)
        } else {
            write!(f, "{}: {}: {}", self.object, self.path, self.message)
        }
    }
}

/// The identity of an object whose body could not be decoded in full, read leniently so the
/// cache can still keep (and report) an invalid record for it.
#[derive(Debug, Clone, Default)]
pub struct LenientIdentity {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub resource_version: String,
    pub scheduler_name: String,
    pub node_name: Option<String>,
    pub terminal: bool,
}

impl LenientIdentity {
    pub fn read(bytes: &[u8]) -> Option<Self> {
        let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
        let s = |p: &str| {
            v.pointer(p)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        let phase = s("/status/phase");
        Some(Self {
            name: s("/metadata/name").unwrap_or_default(),
            namespace: s("/metadata/namespace").unwrap_or_default(),
            uid: s("/metadata/uid").unwrap_or_default(),
            resource_version: s("/metadata/resourceVersion").unwrap_or_default(),
            scheduler_name: s("/spec/schedulerName").unwrap_or_default(),
            node_name: s("/spec/nodeName").filter(|n| !n.is_empty()),
            terminal: matches!(phase.as_deref(), Some("Succeeded" | "Failed")),
        })
    }
}

/// A serde error at its JSON path, as a field error. The path holds map keys and serde quotes
/// the value it refuses: both anyone's text, so both are bounded.
fn field_error(path: &serde_path_to_error::Path, error: &impl fmt::Display) -> CoreError {
    let path = path.to_string();
    let path = if path == "." { String::new() } else { path };
    CoreError::field(
        bounded::message(&path).into_owned(),
        bounded::message(&error.to_string()).into_owned(),
    )
}

/// Decodes `bytes` as `T`; on failure a `CoreError::Field` with the JSON path of the bad field.
pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> CoreResult<T> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value =
        serde_path_to_error::deserialize(&mut de).map_err(|e| field_error(e.path(), e.inner()))?;
    de.end()
        .map_err(|e| CoreError::field("", bounded::message(&e.to_string()).into_owned()))?;
    Ok(value)
}

/// As `decode`, from a JSON value.
pub fn decode_value<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> CoreResult<T> {
    serde_path_to_error::deserialize(value).map_err(|e| field_error(e.path(), e.inner()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::wire::PodWire;

    #[test]
    fn decode_names_the_bad_field() {
        let body = br#"{"metadata":{"name":"p"},"spec":{"containers":[{"resources":{"requests":{"cpu":1}}}]}}"#;
        let Err(CoreError::Field { path, message: msg }) = decode::<PodWire<'_>>(body) else {
            panic!("a number where a string belongs must fail");
        };
        assert_eq!(path, "spec.containers[0].resources.requests.cpu");
        assert!(msg.contains("invalid type"), "{msg}");
    }

    #[test]
    fn lenient_identity_survives_bad_types() {
        let body = br#"{"metadata":{"name":"p","namespace":"ns","uid":"u1"},"spec":{"nodeName":"n1","priority":"high"}}"#;
        let id = LenientIdentity::read(body).expect("valid JSON");
        assert_eq!((id.name.as_str(), id.uid.as_str()), ("p", "u1"));
        assert_eq!(id.node_name.as_deref(), Some("n1"));
    }

    #[test]
    fn object_ref_display() {
        assert_eq!(
            ObjectRef::new("Pod", "default", "web-1").to_string(),
            "Pod default/web-1"
        );
        assert_eq!(
            ObjectRef::new("Node", "", "gpu-7").to_string(),
            "Node gpu-7"
        );
    }
}
