//! The result code of a plugin or of a pod's whole attempt (kube-scheduler's `framework.Code`),
//! mirrored by `podium._core.Code`.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    Success = 0,
    /// A bug or unexpected input: the attempt is retried with backoff.
    Error = 1,
    /// Could fit after something changes (e.g. pods finishing, preemption).
    Unschedulable = 2,
    /// Will not fit on that node whatever is preempted (wrong labels, taints, ...).
    UnschedulableAndUnresolvable = 3,
    Wait = 4,
    Skip = 5,
}
