//! What plugins keep for a whole batch. kube keeps a plugin's per-pod state in CycleState; a
//! podium batch decides many pods on one snapshot, so counts and caches a plugin derives from
//! the nodes (spread's eligible domains, affinity terms' counts) are worth keeping across its
//! pods. One value per type, made on first use; a value that counts placed pods follows the
//! batch's placements (`follow`): the cycle tells the batch state of each pod it places or
//! takes off a node (`add_pod`, `remove_pod`), and every such value hears of it.

use std::any::{Any, TypeId};
use std::sync::{Arc, Mutex, PoisonError};

use crate::state::labels::Labels;
use crate::state::namespaces::Namespaces;
use crate::state::pod::PodRecord;

/// A batch value kept in step with the batch's placements (kube's `AddPod` / `RemovePod`, for
/// what a plugin keeps across a batch).
pub trait FollowsPlacements: Send + Sync {
    /// `pod` now counts on the node at position `at` of the cycle's node list, labelled
    /// `node_labels`.
    fn add_pod(&self, pod: &PodRecord, namespaces: &Namespaces, at: usize, node_labels: &Labels);
    /// `pod` no longer counts on that node.
    fn remove_pod(&self, pod: &PodRecord, namespaces: &Namespaces, at: usize, node_labels: &Labels);
}

type Entry = (TypeId, Arc<dyn Any + Send + Sync>);

#[derive(Default)]
pub struct BatchState {
    entries: Mutex<Vec<Entry>>,
    followers: Mutex<Vec<Arc<dyn FollowsPlacements>>>,
}

impl BatchState {
    /// The batch's `T`, made with `T::default()` the first time it is asked for.
    pub fn get<T: Any + Default + Send + Sync>(&self) -> Arc<T> {
        self.get_or_make::<T>().0
    }

    /// As `get`, for a `T` kept in step with the batch's placements from when it is made.
    pub fn follow<T: FollowsPlacements + Any + Default>(&self) -> Arc<T> {
        let (value, made) = self.get_or_make::<T>();
        if made {
            self.followers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(value.clone());
        }
        value
    }

    /// `pod` placed on (or held on) the node at position `at` of the cycle's node list,
    /// labelled `node_labels`, for the values that follow.
    pub fn add_pod(
        &self,
        pod: &PodRecord,
        namespaces: &Namespaces,
        at: usize,
        node_labels: &Labels,
    ) {
        for follower in self.followers() {
            follower.add_pod(pod, namespaces, at, node_labels);
        }
    }

    /// `pod` taken off that node.
    pub fn remove_pod(
        &self,
        pod: &PodRecord,
        namespaces: &Namespaces,
        at: usize,
        node_labels: &Labels,
    ) {
        for follower in self.followers() {
            follower.remove_pod(pod, namespaces, at, node_labels);
        }
    }

    fn followers(&self) -> Vec<Arc<dyn FollowsPlacements>> {
        self.followers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The batch's `T`, and whether it was made just now.
    fn get_or_make<T: Any + Default + Send + Sync>(&self) -> (Arc<T>, bool) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let id = TypeId::of::<T>();
        let (entry, made) = match entries.iter().position(|(t, _)| *t == id) {
            Some(i) => (entries[i].1.clone(), false),
            None => {
                let value: Arc<dyn Any + Send + Sync> = Arc::new(T::default());
                entries.push((id, value.clone()));
                (value, true)
            }
        };
        // Entries are keyed by their own type: the downcast cannot fail.
        let value = entry
            .downcast::<T>()
            .unwrap_or_else(|_| Arc::new(T::default()));
        (value, made)
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
