//! Why a pod's claims cannot be allocated, as typed outcomes: the filter turns them into
//! `FailedScheduling` reasons that name the claim and the request, in kube's wording where kube
//! has one.

use thiserror::Error;

/// Which selector list an expression came from: kube evaluates the class's first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectorSource {
    Class(String),
    Request,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CelFailure {
    /// The expression does not parse, or is too long.
    Compile,
    /// The expression's estimated cost is over the budget kube gives a selector.
    Cost,
    /// Evaluation failed on a device (missing attribute, wrong type, ...).
    Runtime,
    /// Evaluation yielded something other than a bool.
    NotBool,
}

impl CelFailure {
    fn phrase(self) -> &'static str {
        match self {
            Self::Compile => "CEL compile error",
            Self::Cost => "CEL cost limit exceeded",
            Self::Runtime => "CEL runtime error",
            Self::NotBool => "CEL result is not a bool",
        }
    }
}

/// A failure that is the pod's, not a node's: the same on every node, so the pod stays pending
/// with this reason (kube aborts the scheduling attempt on these).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ClaimError {
    #[error(
        "claim {claim}, request {request}: {} selector {expression:?}: {}: {detail}",
        source_phrase(origin), failure.phrase()
    )]
    Selector {
        claim: String,
        request: String,
        origin: SelectorSource,
        expression: String,
        failure: CelFailure,
        detail: String,
    },
    #[error("claim {claim}, request {request}: device class {class} does not exist")]
    ClassNotFound {
        claim: String,
        request: String,
        class: String,
    },
    #[error("claim {claim}, request {request}: {what} is not supported")]
    Unsupported {
        claim: String,
        request: String,
        what: String,
    },
    #[error("claim {claim}, request {request}: {why}")]
    InvalidRequest {
        claim: String,
        request: String,
        why: String,
    },
}

fn source_phrase(source: &SelectorSource) -> String {
    match source {
        SelectorSource::Class(c) => format!("device class {c}"),
        SelectorSource::Request => "request".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_errors_name_claim_request_and_expression() {
        let e = ClaimError::Selector {
            claim: "ns/train".into(),
            request: "gpu".into(),
            origin: SelectorSource::Request,
            expression: "device.attributes[\"x\"].model ==".into(),
            failure: CelFailure::Compile,
            detail: "unexpected end".into(),
        };
        let text = e.to_string();
        assert!(text.contains("claim ns/train"), "{text}");
        assert!(text.contains("request gpu"), "{text}");
        assert!(text.contains("model =="), "{text}");
        assert!(text.contains("CEL compile error"), "{text}");
        let class = ClaimError::Selector {
            claim: "ns/train".into(),
            request: "gpu".into(),
            origin: SelectorSource::Class("gpu.example.com".into()),
            expression: "true".into(),
            failure: CelFailure::Runtime,
            detail: "no such key".into(),
        };
        assert!(
            class
                .to_string()
                .contains("device class gpu.example.com selector")
        );
    }
}
