//! A plugin's verdict on one pod (and one node): a code and kube-style reasons.

use std::borrow::Cow;

use smallvec::{SmallVec, smallvec};

use crate::framework::code::Code;

/// Reasons are static strings in the common case; a few (resource names, taints) are built.
pub type Reason = Cow<'static, str>;

/// A status's reasons: nearly always one, kept inline because a pod's cycle makes a status for
/// each node that refuses it (thousands per pod on a large cluster).
pub type Reasons = SmallVec<[Reason; 1]>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub code: Code,
    pub reasons: Reasons,
}

impl Status {
    pub const fn success() -> Self {
        Self {
            code: Code::Success,
            reasons: SmallVec::new_const(),
        }
    }

    pub fn new(code: Code, reason: impl Into<Reason>) -> Self {
        Self {
            code,
            reasons: smallvec![reason.into()],
        }
    }

    pub fn unschedulable(reason: impl Into<Reason>) -> Self {
        Self::new(Code::Unschedulable, reason)
    }

    pub fn unresolvable(reason: impl Into<Reason>) -> Self {
        Self::new(Code::UnschedulableAndUnresolvable, reason)
    }

    pub fn is_success(&self) -> bool {
        self.code == Code::Success
    }
}
