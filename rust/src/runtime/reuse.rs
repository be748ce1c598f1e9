//! What a batch learned deciding a pod, kept for the next pods of the same shape (kube's
//! opportunistic batching, done for more than one pod per node).
//!
//! kube-scheduler 1.35 reuses the ranked nodes of a pod for the next pod with the same
//! signature only when the node it chose can no longer take that pod, since it cannot rescore
//! that node. podium keeps every plugin's raw score per node, so it re-judges only the nodes
//! placed on since (filter and raw score, for the new pod) and normalizes again over the whole
//! list: when every plugin that runs for the pod is node-local (`Filter::node_local`,
//! `Score::node_local`), the choice is the one a full cycle over the same nodes makes.
//!
//! The list is the window of nodes the first pod examined (percentageOfNodesToScore); a full
//! cycle would move on to the next window, so a ranking serves at most `MAX_USES` pods before
//! the next pod of its shape examines a fresh window.
//!
//! A pod of that shape that fits no node leaves its refusal: placements only take room, so the
//! next pods of that shape in the batch fail the same way without examining every node again
//! (the diagnosis is computed once per shape, not once per pod of a deep queue).

use std::sync::Arc;

use crate::framework::status::Status;
use crate::runtime::scoring::Totals;
use crate::state::pod::PodRecord;
use crate::state::pod_shape::{same_but_identity, same_shape};

/// Each running plugin's `shape_key` for the pod a ranking or refusal was learned from, in
/// profile order (None: the plugin skipped the pod): a pod of the same shape is served only
/// when its keys are the same (what plugins read beyond the pod record, e.g. its claims).
pub type ShapeKeys = Box<[Option<u64>]>;

/// Pods a ranking serves before a full cycle looks at a fresh window of nodes.
pub const MAX_USES: u32 = 32;

/// Shapes remembered at once per batch (oldest forgotten first).
const MAX_SHAPES: usize = 8;

/// The nodes that passed a pod's filters, with each score plugin's raw score on them.
pub struct Ranking {
    /// The pod it was built for: its shape.
    pub pod: Arc<PodRecord>,
    /// The feasible nodes (positions in the batch's node list), in no particular order.
    pub nodes: Vec<usize>,
    /// The score plugins that ran (indices into the profile's scores).
    pub plugins: Vec<usize>,
    /// The filters' keys, then the score plugins' (of `plugins`).
    pub keys: ShapeKeys,
    pub score_keys: ShapeKeys,
    /// A row of `plugins.len()` raw scores per node of `nodes`.
    pub raw: Vec<i64>,
    /// The weighted totals of `raw` as the last pod served summed them (None until one was).
    pub totals: Option<Totals>,
    /// Nodes the first pod examined (the decision reports it).
    pub evaluated: usize,
    /// How many of the batch's placements it has seen: those after it are judged again.
    pub seen: usize,
    pub uses: u32,
    /// No plugin that ran read the pod's identity: it serves pods that differ in it too.
    pub loose: bool,
}

impl Ranking {
    /// Where `node` is in `nodes`.
    pub fn position(&self, node: usize) -> Option<usize> {
        self.nodes.iter().position(|&n| n == node)
    }

    /// The raw scores of the node at `k`.
    pub fn row_mut(&mut self, k: usize) -> &mut [i64] {
        let width = self.plugins.len();
        &mut self.raw[k * width..(k + 1) * width]
    }

    /// Drops the node at `k` (it no longer fits): the last node takes its place.
    pub fn remove(&mut self, k: usize) {
        let width = self.plugins.len();
        let last = self.nodes.len() - 1;
        self.nodes.swap_remove(k);
        if width > 0 {
            if k != last {
                let (head, tail) = self.raw.split_at_mut(last * width);
                head[k * width..(k + 1) * width].copy_from_slice(&tail[..width]);
            }
            self.raw.truncate(last * width);
        }
        if let Some(totals) = &mut self.totals {
            totals.remove(k);
        }
    }
}

/// A pod that fit no node: every node's failure, by node.
pub struct Refusal {
    /// The pod it was learned from: its shape.
    pub pod: Arc<PodRecord>,
    /// Each node's failure (positions in the batch's node list).
    pub failures: Vec<Status>,
    /// The filters' keys.
    pub keys: ShapeKeys,
    /// How many of the batch's placements it has seen: the nodes of those after it are judged
    /// again (they still fail, perhaps for more reasons).
    pub seen: usize,
    /// As `Ranking::loose`.
    pub loose: bool,
}

/// What `Reuse::take` hands out.
pub enum Kept {
    Ranking(Ranking),
    Refusal(Refusal),
}

/// What a batch keeps for the shapes it decided.
#[derive(Default)]
pub struct Reuse {
    rankings: Vec<Ranking>,
    refusals: Vec<Refusal>,
}

impl Reuse {
    /// Forgets everything (a placement changed more than its node).
    pub fn clear(&mut self) {
        self.rankings.clear();
        self.refusals.clear();
    }

    /// Is anything kept for `pod`'s shape, whatever the filters' keys?
    pub fn holds(&self, pod: &PodRecord) -> bool {
        let of = |learned: &PodRecord, loose: bool| {
            same_shape(learned, pod) || (loose && same_but_identity(learned, pod))
        };
        self.refusals.iter().any(|r| of(&r.pod, r.loose))
            || self.rankings.iter().any(|r| of(&r.pod, r.loose))
    }

    /// What is kept for `pod`'s shape and the filters' `keys` for it (a refusal first), taken
    /// out (put it back with `keep` or `refuse`), and whether the pod is of its very shape
    /// (else only `same_but_identity`: the caller checks that no plugin running for `pod`
    /// reads its identity).
    pub fn take(&mut self, pod: &PodRecord, keys: &ShapeKeys) -> Option<(Kept, bool)> {
        let refusals = find(&self.refusals, pod, |r| (&r.pod, &r.keys, r.loose), keys);
        if let Some((k, exact)) = refusals {
            return Some((Kept::Refusal(self.refusals.remove(k)), exact));
        }
        let (k, exact) = find(&self.rankings, pod, |r| (&r.pod, &r.keys, r.loose), keys)?;
        Some((Kept::Ranking(self.rankings.remove(k)), exact))
    }

    /// Keeps `ranking` for its shape, unless it is spent or empty.
    pub fn keep(&mut self, ranking: Ranking) {
        if ranking.uses >= MAX_USES || ranking.nodes.is_empty() {
            return;
        }
        self.forget(&ranking.pod, &ranking.keys);
        if self.rankings.len() >= MAX_SHAPES {
            self.rankings.remove(0);
        }
        self.rankings.push(ranking);
    }

    /// Keeps `refusal` for its shape.
    pub fn refuse(&mut self, refusal: Refusal) {
        self.forget(&refusal.pod, &refusal.keys);
        if self.refusals.len() >= MAX_SHAPES {
            self.refusals.remove(0);
        }
        self.refusals.push(refusal);
    }

    fn forget(&mut self, pod: &PodRecord, keys: &ShapeKeys) {
        self.rankings
            .retain(|r| !(same_shape(&r.pod, pod) && r.keys == *keys));
        self.refusals
            .retain(|r| !(same_shape(&r.pod, pod) && r.keys == *keys));
    }
}

/// Where in `kept` something serving `pod` with `keys` is: one of its very shape first, then a
/// loose one of its shape but for identity; and whether the match is exact.
fn find<T>(
    kept: &[T],
    pod: &PodRecord,
    of: impl Fn(&T) -> (&Arc<PodRecord>, &ShapeKeys, bool),
    keys: &ShapeKeys,
) -> Option<(usize, bool)> {
    let exact = kept.iter().position(|t| {
        let (learned, learned_keys) = (of(t).0, of(t).1);
        learned_keys == keys && same_shape(learned, pod)
    });
    if let Some(k) = exact {
        return Some((k, true));
    }
    kept.iter()
        .position(|t| {
            let (learned, learned_keys, loose) = of(t);
            loose && learned_keys == keys && same_but_identity(learned, pod)
        })
        .map(|k| (k, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranking(nodes: Vec<usize>, raw: Vec<i64>) -> Ranking {
        Ranking {
            pod: Arc::new(PodRecord::empty("a", "ns", "a")),
            nodes,
            plugins: vec![0, 1],
            keys: Box::new([]),
            score_keys: Box::new([]),
            raw,
            totals: None,
            evaluated: 3,
            seen: 0,
            uses: 0,
            loose: false,
        }
    }

    #[test]
    fn removing_a_node_keeps_rows_with_their_nodes() {
        let mut r = ranking(vec![7, 8, 9], vec![70, 71, 80, 81, 90, 91]);
        r.remove(0);
        assert_eq!(r.nodes, vec![9, 8]);
        assert_eq!(r.raw, vec![90, 91, 80, 81]);
        r.remove(1);
        assert_eq!(r.nodes, vec![9]);
        assert_eq!(r.raw, vec![90, 91]);
        assert_eq!(r.position(9), Some(0));
        r.row_mut(0)[1] = 5;
        assert_eq!(r.raw, vec![90, 5]);
    }

    #[test]
    fn a_spent_ranking_is_not_kept_and_a_refusal_replaces_a_ranking() {
        let mut reuse = Reuse::default();
        let mut spent = ranking(vec![1], vec![0, 0]);
        spent.uses = MAX_USES;
        reuse.keep(spent);
        let pod = PodRecord::empty("b", "ns", "b");
        let keys: ShapeKeys = Box::new([]);
        assert!(reuse.take(&pod, &keys).is_none());
        reuse.keep(ranking(vec![1], vec![0, 0]));
        reuse.refuse(Refusal {
            pod: Arc::new(PodRecord::empty("c", "ns", "c")),
            failures: vec![Status::unschedulable("Insufficient cpu")],
            keys: Box::new([]),
            seen: 0,
            loose: false,
        });
        let Some((Kept::Refusal(refusal), exact)) = reuse.take(&pod, &keys) else {
            panic!("the refusal replaced the ranking of its shape");
        };
        assert_eq!(refusal.failures.len(), 1);
        assert!(exact);
        assert!(reuse.take(&pod, &keys).is_none());
    }
}
