//! The cluster's pod index as one cycle's plugins see it: positions in the cycle's node list,
//! and the state plugins keep for the whole batch.

use crate::framework::batch_state::BatchState;
use crate::state::pod_index::{Placed, PodIndex};

/// The index as one cycle sees it (slots mapped to positions in the cycle's node list), with
/// the values its batch computes once for all its pods.
pub struct IndexView<'a> {
    pub pods: &'a PodIndex,
    /// Per slot, the position of its node in the cycle's node list (`NO_NODE`: none).
    pub positions: &'a [u32],
    /// Real nodes in the cycle's node list.
    pub nodes: usize,
    /// What plugins keep for the whole batch (term counts, spread domains).
    pub batch: &'a BatchState,
}

pub const NO_NODE: u32 = u32::MAX;

impl IndexView<'_> {
    /// The position of the placed pod's node, if the cycle has that node.
    pub fn position(&self, placed: &Placed) -> Option<usize> {
        self.positions
            .get(placed.slot)
            .copied()
            .filter(|&p| p != NO_NODE)
            .map(|p| p as usize)
    }
}
