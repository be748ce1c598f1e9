//! NodeResourcesFit: requests against allocatable (filter), the scoring strategies (score), and
//! the resource scorer BalancedAllocation shares (kube's `resourceAllocationScorer`).

pub mod filter;
pub mod resource_allocation;
pub mod score;
