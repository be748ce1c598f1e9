//! What plugins keep for a whole batch. kube keeps a plugin's per-pod state in CycleState; a
//! podium batch decides many pods on one snapshot, so counts and caches a plugin derives from
//! the nodes (spread's eligible domains, affinity terms' counts) are worth keeping across its
//! pods. One value per type, made on first use; the plugin that owns the type keeps it in step
//! with the batch's placements.

use std::any::{Any, TypeId};
use std::sync::{Arc, Mutex, PoisonError};

type Entry = (TypeId, Arc<dyn Any + Send + Sync>);

#[derive(Default)]
pub struct BatchState(Mutex<Vec<Entry>>);

impl BatchState {
    /// The batch's `T`, made with `T::default()` the first time it is asked for.
    pub fn get<T: Any + Default + Send + Sync>(&self) -> Arc<T> {
        let mut entries = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let id = TypeId::of::<T>();
        let entry = match entries.iter().position(|(t, _)| *t == id) {
            Some(i) => entries[i].1.clone(),
            None => {
                let value: Arc<dyn Any + Send + Sync> = Arc::new(T::default());
                entries.push((id, value.clone()));
                value
            }
        };
        // Entries are keyed by their own type: the downcast cannot fail.
        entry
            .downcast::<T>()
            .unwrap_or_else(|_| Arc::new(T::default()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn one_value_per_type_for_the_whole_batch() {
        let batch = BatchState::default();
        batch.get::<AtomicUsize>().fetch_add(2, Ordering::Relaxed);
        batch.get::<AtomicUsize>().fetch_add(3, Ordering::Relaxed);
        assert_eq!(batch.get::<AtomicUsize>().load(Ordering::Relaxed), 5);
        assert!(batch.get::<Vec<u8>>().is_empty());
    }
}
