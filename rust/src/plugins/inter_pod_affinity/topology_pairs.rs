//! Pod counts per topology domain — a (topology key, value) pair — as the inter-pod affinity
//! plugins keep them. Keys and values are interned, so a lookup hashes two integers.

use std::collections::HashMap;

use crate::intern::Sym;
use crate::state::labels::Labels;

#[derive(Debug, Clone, Default)]
pub struct PairCounts(HashMap<(Sym, Sym), i64, ahash::RandomState>);

impl PairCounts {
    /// Adds `n` to the node's domain for `key`; a node without the label has no domain.
    pub fn add(&mut self, key: Sym, node_labels: &Labels, n: i64) {
        if let Some(value) = node_labels.get(key) {
            *self.0.entry((key, value)).or_default() += n;
        }
    }

    pub fn get(&self, key: Sym, value: Sym) -> i64 {
        self.0.get(&(key, value)).copied().unwrap_or(0)
    }

    /// The count of the node's domain for `key`; None when the node lacks the label.
    pub fn for_node(&self, key: Sym, node_labels: &Labels) -> Option<i64> {
        node_labels.get(key).map(|v| self.get(key, v))
    }

    /// Adds `factor` times each of `other`'s counts.
    pub fn add_scaled(&mut self, other: &Self, factor: i64) {
        for (&pair, &n) in &other.0 {
            *self.0.entry(pair).or_default() += n * factor;
        }
    }

    pub fn merge(mut self, other: Self) -> Self {
        let (mut big, small) = if self.0.len() >= other.0.len() {
            (std::mem::take(&mut self.0), other.0)
        } else {
            (other.0, std::mem::take(&mut self.0))
        };
        for (k, v) in small {
            *big.entry(k).or_default() += v;
        }
        Self(big)
    }

    /// Any domain with a positive count? (kube checks `count > 0`, counts never go negative
    /// here, but a pair may exist with 0.)
    pub fn any_positive(&self) -> bool {
        self.0.values().any(|&v| v > 0)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The distinct topology keys, whatever their counts.
    pub fn all_keys(&self) -> Vec<Sym> {
        let mut keys: Vec<Sym> = self.0.keys().map(|(k, _)| *k).collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// The distinct topology keys with a positive count.
    pub fn keys(&self) -> Vec<Sym> {
        let mut keys: Vec<Sym> = self
            .0
            .iter()
            .filter(|(_, v)| **v > 0)
            .map(|((k, _), _)| *k)
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::sym;

    #[test]
    fn counts_by_domain_and_merges() {
        let zone = sym("zone");
        let a = Labels::from_pairs([("zone", "a")]);
        let mut left = PairCounts::default();
        left.add(zone, &a, 2);
        left.add(zone, &Labels::default(), 5);
        let mut right = PairCounts::default();
        right.add(zone, &a, 1);
        let merged = left.merge(right);
        assert_eq!(merged.for_node(zone, &a), Some(3));
        assert_eq!(merged.for_node(zone, &Labels::default()), None);
        assert_eq!(merged.keys(), vec![zone]);
        assert!(merged.any_positive());
    }
}
