//! Plugins outside the core (the Python plugin API): after the core's filters and scores, they
//! judge only the nodes the core kept, each one rejected or given extra points that are added to
//! the core's weighted total.

use crate::error::CoreResult;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;

/// An outside plugin set's verdict on one feasible node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Feasible; these points (already weighted) are added to the core's total.
    Score(i64),
    /// Filtered out, for this reason (counted in the pod's failure message like a filter's).
    Reject(String),
}

pub trait Extension: Sync {
    /// One verdict per node of `feasible` (same order); `totals` are the core's weighted scores.
    /// Err: the plugins failed; the pod's cycle is an error with this message.
    fn judge(
        &self,
        pod: &PodRecord,
        feasible: &[&NodeInfo],
        totals: &[i64],
    ) -> CoreResult<Vec<Verdict>>;
}
