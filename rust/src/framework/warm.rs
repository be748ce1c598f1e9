//! Loads what filters and scores read of a run of nodes, before they run. Node data sits behind
//! pointers scattered over the heap (a `NodeInfo`, its `NodeRecord`, their label, taint and
//! image arrays), and a filter chain visiting one node at a time takes each cache miss in turn:
//! at 5,000 nodes that, not the filters' arithmetic, was most of a decision. The loads here are
//! independent from one node to the next, so the CPU overlaps their misses.

use std::hint::black_box;

use lasso::Key;

use crate::state::node_info::NodeInfo;

/// Before the filters: what they read of each node.
pub fn warm<'a>(nodes: impl Iterator<Item = &'a NodeInfo>) {
    black_box(nodes.fold(0, |sum: usize, info| sum.wrapping_add(node_lines(info))));
}

/// Before the scores: what the filters read, and the node's image names and sizes
/// (ImageLocality's search; no filter reads them, so `warm` leaves them out).
pub fn warm_for_scores<'a>(nodes: impl Iterator<Item = &'a NodeInfo>) {
    black_box(nodes.fold(0, |sum: usize, info| {
        let images = info.node.as_ref().map_or(0, |n| n.images.touch());
        sum.wrapping_add(node_lines(info)).wrapping_add(images)
    }));
}

fn node_lines(info: &NodeInfo) -> usize {
    let mut sum = info.pods.len();
    if let Some(n) = &info.node {
        sum = sum
            .wrapping_add(usize::from(n.unschedulable))
            .wrapping_add(
                n.allocatable
                    .scalar
                    .first()
                    .map_or(0, |(k, _)| k.into_usize()),
            )
            .wrapping_add(n.taints.first().map_or(0, |t| t.key.into_usize()))
            // The label array itself (spread and affinity read a node's domains there).
            .wrapping_add(n.labels.iter().next().map_or(0, |(k, _)| k.into_usize()));
    }
    sum
}
