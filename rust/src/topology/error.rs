//! The one error type of the topology module: always names the object and the field.

use std::fmt;

/// Malformed topology input (an NRT object, a pod annotation, plugin args).
///
/// The message is complete and user-facing, in the crate's usual form
/// `Kind name: field.path: what is wrong`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologyError {
    message: String,
}

impl TopologyError {
    /// An error in a `NodeResourceTopology` object.
    pub fn nrt(object: &str, field: &str, detail: impl fmt::Display) -> Self {
        Self {
            message: format!("NodeResourceTopology {object}: {field}: {detail}"),
        }
    }

    /// An error in one of a pod's annotations (`pod` is `namespace/name`).
    pub fn annotation(pod: &str, annotation: &str, detail: impl fmt::Display) -> Self {
        Self {
            message: format!("Pod {pod}: annotation {annotation}: {detail}"),
        }
    }

    /// An error in the topology plugin's configuration (`field` is the args path).
    pub fn config(field: &str, detail: impl fmt::Display) -> Self {
        Self {
            message: format!("topology config: {field}: {detail}"),
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for TopologyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TopologyError {}
