//! NodeResourceTopologyMatch: the pod's NUMA placement must fit the node's zones (filter), and
//! the per-pod placements it computes, which NUMAPacking scores.

pub mod args;
pub mod filter;
pub mod numa_fits;
