//! How many feasible nodes a cycle looks for before it stops filtering, and where it starts.
//!
//! kube-scheduler does not filter every node of a large cluster: it stops once it has found
//! `percentageOfNodesToScore` percent of them feasible (adaptive when 0: 50% minus 1% per 125
//! nodes, at least 5%), never fewer than 100, and it starts each cycle where the previous one
//! stopped so every node gets its turn.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Below this, every node is filtered (`minFeasibleNodesToFind`).
pub const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// The adaptive percentage never drops below this (`minFeasibleNodesPercentageToFind`).
pub const MIN_FEASIBLE_NODES_PERCENTAGE: usize = 5;
/// The adaptive rule's starting percentage, minus one per this many nodes.
const ADAPTIVE_BASE_PERCENTAGE: usize = 50;
const ADAPTIVE_NODES_PER_PERCENT: usize = 125;

/// `numFeasibleNodesToFind`: `percentage` 0 means adaptive.
pub fn feasible_nodes_to_find(percentage: usize, all_nodes: usize) -> usize {
    if all_nodes < MIN_FEASIBLE_NODES_TO_FIND || percentage >= 100 {
        return all_nodes;
    }
    let percentage = if percentage == 0 {
        ADAPTIVE_BASE_PERCENTAGE
            .saturating_sub(all_nodes / ADAPTIVE_NODES_PER_PERCENT)
            .max(MIN_FEASIBLE_NODES_PERCENTAGE)
    } else {
        percentage
    };
    (all_nodes * percentage / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// Where the next cycle starts in the node list (kube's `nextStartNodeIndex`).
#[derive(Debug, Default)]
pub struct StartIndex(AtomicUsize);

impl StartIndex {
    pub fn get(&self, nodes: usize) -> usize {
        if nodes == 0 {
            0
        } else {
            self.0.load(Ordering::Relaxed) % nodes
        }
    }

    pub fn advance(&self, from: usize, processed: usize, nodes: usize) {
        if nodes > 0 {
            self.0.store((from + processed) % nodes, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptive_rule_matches_kube() {
        assert_eq!(feasible_nodes_to_find(0, 50), 50);
        assert_eq!(feasible_nodes_to_find(0, 99), 99);
        // 50 - 1000/125 = 42%.
        assert_eq!(feasible_nodes_to_find(0, 1000), 420);
        // 50 - 5000/125 = 10%.
        assert_eq!(feasible_nodes_to_find(0, 5000), 500);
        // 50 - 20000/125 < 5: 5%.
        assert_eq!(feasible_nodes_to_find(0, 20000), 1000);
        // 49% of 150 is 73: the floor of 100 applies.
        assert_eq!(feasible_nodes_to_find(0, 150), 100);
    }

    #[test]
    fn explicit_percentage_and_floor() {
        assert_eq!(feasible_nodes_to_find(100, 5000), 5000);
        assert_eq!(feasible_nodes_to_find(30, 5000), 1500);
        assert_eq!(feasible_nodes_to_find(1, 5000), 100);
    }

    #[test]
    fn start_index_rotates() {
        let s = StartIndex::default();
        assert_eq!(s.get(10), 0);
        s.advance(0, 7, 10);
        assert_eq!(s.get(10), 7);
        s.advance(7, 5, 10);
        assert_eq!(s.get(10), 2);
        assert_eq!(s.get(0), 0);
    }
}
