//! Pods per topology domain matching an affinity term, counted once per batch and kept in step
//! with the batch's placements. Pods of one workload carry the same preferred terms, and a term
//! selecting a large app would otherwise have every one of them walk all of that app's pods.

use std::sync::{Mutex, PoisonError};

use crate::framework::batch_state::FollowsPlacements;
use crate::plugins::inter_pod_affinity::topology_pairs::PairCounts;
use crate::state::labels::Labels;
use crate::state::namespaces::Namespaces;
use crate::state::pod::PodRecord;
use crate::state::pod_affinity::AffinityTerm;

/// Beyond this many distinct terms in a batch, new ones are counted per pod: every placement
/// updates every entry.
const MAX_TERMS: usize = 64;

#[derive(Debug, Default)]
pub struct TermCounts(Mutex<Vec<(AffinityTerm, PairCounts)>>);

impl TermCounts {
    /// Calls `f` with the counts of `term`, computed by `count` the first time.
    pub fn with(
        &self,
        term: &AffinityTerm,
        count: impl FnOnce() -> PairCounts,
        f: impl FnOnce(&PairCounts),
    ) {
        let mut entries = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, counts)) = entries.iter().find(|(t, _)| t == term) {
            f(counts);
            return;
        }
        let counts = count();
        f(&counts);
        if entries.len() < MAX_TERMS {
            entries.push((term.clone(), counts));
        }
    }

    fn count(&self, pod: &PodRecord, namespaces: &Namespaces, node_labels: &Labels, delta: i64) {
        let mut entries = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for (term, counts) in entries.iter_mut() {
            if term.matches(pod.namespace, &pod.labels, namespaces) {
                counts.add(term.topology_key, node_labels, delta);
            }
        }
    }
}

impl FollowsPlacements for TermCounts {
    /// Counts `pod`, just placed on a node with `node_labels`, for every term it matches.
    fn add_pod(&self, pod: &PodRecord, namespaces: &Namespaces, _: usize, node_labels: &Labels) {
        self.count(pod, namespaces, node_labels, 1);
    }

    /// Takes back an `add_pod` (a pod held on a node for the batch that no longer stands there).
    fn remove_pod(&self, pod: &PodRecord, namespaces: &Namespaces, _: usize, node_labels: &Labels) {
        self.count(pod, namespaces, node_labels, -1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::sym;
    use crate::testutil::{affinity_term, pod};

    #[test]
    fn counted_once_then_kept_in_step() {
        let cache = TermCounts::default();
        let term = affinity_term("zone", "app", "web");
        let zone_a = Labels::from_pairs([("zone", "a")]);
        let mut computed = 0;
        let mut seen = Vec::new();
        for _ in 0..2 {
            cache.with(
                &term,
                || {
                    computed += 1;
                    let mut c = PairCounts::default();
                    c.add(sym("zone"), &zone_a, 2);
                    c
                },
                |c| seen.push(c.get(sym("zone"), sym("a"))),
            );
        }
        let mut web = pod("w");
        web.labels = Labels::from_pairs([("app", "web")]);
        cache.add_pod(&web, &Namespaces::default(), 0, &zone_a);
        cache.add_pod(&pod("other"), &Namespaces::default(), 0, &zone_a);
        cache.with(
            &term,
            || unreachable!(),
            |c| seen.push(c.get(sym("zone"), sym("a"))),
        );
        assert_eq!((computed, seen), (1, vec![2, 2, 3]));
    }
}
