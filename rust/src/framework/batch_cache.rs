//! Values computed once per batch and shared by the batch's pods. Nodes keep their labels,
//! taints and images for the whole batch (placements only add pods), so what a pod's cycle
//! derives from those and from a few of its own fields holds for every pod of the batch with the
//! same fields: pods of one workload compute it once. The key spells those fields out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Debug)]
pub struct BatchCache<V>(Mutex<HashMap<String, Arc<V>>>);

impl<V> Default for BatchCache<V> {
    fn default() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
}

impl<V> BatchCache<V> {
    /// The value for `key`, computed by `compute` the first time.
    pub fn get_or(&self, key: String, compute: impl FnOnce() -> V) -> Arc<V> {
        let mut cache = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .entry(key)
            .or_insert_with(|| Arc::new(compute()))
            .clone()
    }

    /// A cache holding `values` already (kept from an earlier batch whose values still hold).
    pub fn with(values: HashMap<String, Arc<V>>) -> Self {
        Self(Mutex::new(values))
    }

    /// Every value computed, by key.
    pub fn into_values(self) -> HashMap<String, Arc<V>> {
        self.0.into_inner().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computes_once_per_key() {
        let cache: BatchCache<usize> = BatchCache::default();
        let mut runs = 0;
        let a = cache.get_or("a".into(), || {
            runs += 1;
            1
        });
        let again = cache.get_or("a".into(), || unreachable!());
        let b = cache.get_or("b".into(), || 2);
        assert_eq!((*a, *again, *b, runs, cache.len()), (1, 1, 2, 1, 2));
        assert!(Arc::ptr_eq(&a, &again));
    }
}
