//! TaintToleration: NoSchedule/NoExecute taints the pod does not tolerate (filter), and
//! PreferNoSchedule ones counted against the node (score).

pub mod filter;
pub mod score;
