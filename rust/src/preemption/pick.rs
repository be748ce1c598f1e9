//! Choosing among the nodes where preemption would work, by kube-scheduler's criteria in
//! order: fewest PodDisruptionBudget violations, lowest highest-victim priority, smallest sum
//! of victim priorities, fewest victims, and the latest start among the highest-priority
//! victims (disturb what has run the shortest). Remaining ties go to the first node examined.

use std::cmp::Ordering;

use crate::preemption::victims::Candidate;

/// The best candidate's index in `candidates`, or None when there are none.
pub fn best(candidates: &[Candidate]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, candidate) in candidates.iter().enumerate() {
        if candidate.victims.is_empty() {
            // Nothing needs to go: nothing can beat it.
            return Some(i);
        }
        match best {
            Some(b) if compare(candidate, &candidates[b]) != Ordering::Less => {}
            _ => best = Some(i),
        }
    }
    best
}

/// `Less` when `a` is the better choice.
fn compare(a: &Candidate, b: &Candidate) -> Ordering {
    a.pdb_violations
        .cmp(&b.pdb_violations)
        .then(a.highest_priority.cmp(&b.highest_priority))
        .then(a.priority_sum.cmp(&b.priority_sum))
        .then(a.victims.len().cmp(&b.victims.len()))
        // Later is better, so b before a.
        .then(
            b.earliest_start_of_highest
                .total_cmp(&a.earliest_start_of_highest),
        )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::preemption::victims::Victim;
    use crate::state::pod::PodRecord;

    fn candidate(node: usize, priorities: &[i32], violations: usize, start: f64) -> Candidate {
        let victims = priorities
            .iter()
            .map(|&p| {
                let mut pod = PodRecord::empty("v", "ns", "v");
                pod.priority = p;
                pod.started = start;
                Victim {
                    node,
                    priority: p,
                    pod: Arc::new(pod),
                }
            })
            .collect();
        Candidate::new(node, victims, violations)
    }

    #[test]
    fn kube_order_of_criteria() {
        // Fewer PDB violations beat everything else.
        let c = [candidate(0, &[1], 1, 0.0), candidate(1, &[50, 50], 0, 0.0)];
        assert_eq!(best(&c), Some(1));
        // Then the lowest highest priority.
        let c = [
            candidate(0, &[10, 10, 10], 0, 0.0),
            candidate(1, &[20], 0, 0.0),
        ];
        assert_eq!(best(&c), Some(0));
        // Then the smallest sum.
        let c = [
            candidate(0, &[10, 10], 0, 0.0),
            candidate(1, &[10, 1], 0, 0.0),
        ];
        assert_eq!(best(&c), Some(1));
        // Then the fewest victims (negative priorities make the sums comparable).
        let c = [candidate(0, &[-5, -5], 0, 0.0), candidate(1, &[-5], 0, 0.0)];
        assert_eq!(best(&c), Some(1));
        // Then the most recently started.
        let c = [candidate(0, &[10], 0, 100.0), candidate(1, &[10], 0, 200.0)];
        assert_eq!(best(&c), Some(1));
        // Then the first.
        let c = [candidate(0, &[10], 0, 5.0), candidate(1, &[10], 0, 5.0)];
        assert_eq!(best(&c), Some(0));
        // No victims at all wins at once.
        let c = [candidate(0, &[1], 0, 0.0), candidate(1, &[], 0, 0.0)];
        assert_eq!(best(&c), Some(1));
        assert_eq!(best(&[]), None);
    }
}
