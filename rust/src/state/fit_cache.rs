//! One node's NUMA answers per request shape, for as long as the node's NUMA state holds.
//!
//! A batch brings many pods with the same device request (a few job sizes and policies), and
//! between two placements on a node nothing about its zones changes. So the first pod of a
//! shape plans the node, and the others read the answer: feasibility for the filter, the
//! packing score for the score. The cache lives in the node's `NodeNuma` entry and is dropped
//! with it whenever the node's object or pending allocations change; snapshots share it while
//! they share the node.

use std::sync::Mutex;

use crate::intern::Sym;
use crate::topology::Infeasible;

/// Answers kept per node, in place (no pointer to chase: this is read for every node of every
/// device pod). Request shapes seen between two changes of a node stay few; beyond this the
/// oldest answer makes room.
const SLOTS: usize = 8;

/// Who asks (a profile's NUMA args, by id: weights and job sizes change the score) and what
/// (the request's shape, interned).
pub type FitKey = (u64, Sym);

/// What the node answered for one key.
#[derive(Debug, Clone)]
pub struct FitEntry {
    pub fit: Result<(), Infeasible>,
    /// The packing score, once a score phase has asked for it.
    pub score: Option<i64>,
}

#[derive(Debug, Default)]
pub struct FitCache {
    slots: Mutex<Slots>,
}

#[derive(Debug, Default)]
struct Slots {
    entries: [Option<(FitKey, FitEntry)>; SLOTS],
    /// The slot the next new key takes once all are used.
    next: usize,
}

impl FitCache {
    pub fn get(&self, key: FitKey) -> Option<FitEntry> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots
            .entries
            .iter()
            .map_while(Option::as_ref)
            .find(|(k, _)| *k == key)
            .map(|(_, e)| e.clone())
    }

    /// Records `entry` for `key`, replacing an earlier one.
    pub fn put(&self, key: FitKey, entry: FitEntry) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let slot = slots
            .entries
            .iter()
            .position(|slot| slot.as_ref().is_none_or(|(k, _)| *k == key));
        let slot = slot.unwrap_or_else(|| {
            let oldest = slots.next;
            slots.next = (oldest + 1) % SLOTS;
            oldest
        });
        slots.entries[slot] = Some((key, entry));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::sym;

    #[test]
    fn answers_per_key_and_stays_bounded() {
        let cache = FitCache::default();
        let shape = sym("single|nvidia.com/gpu=1");
        assert!(cache.get((1, shape)).is_none());
        cache.put(
            (1, shape),
            FitEntry {
                fit: Ok(()),
                score: None,
            },
        );
        cache.put(
            (1, shape),
            FitEntry {
                fit: Ok(()),
                score: Some(70),
            },
        );
        assert_eq!(cache.get((1, shape)).and_then(|e| e.score), Some(70));
        assert!(cache.get((2, shape)).is_none(), "another profile's args");
        for i in 0..SLOTS as u64 {
            cache.put(
                (10 + i, shape),
                FitEntry {
                    fit: Ok(()),
                    score: Some(i as i64),
                },
            );
        }
        assert!(cache.get((1, shape)).is_none(), "the oldest made room");
        assert_eq!(cache.get((10, shape)).and_then(|e| e.score), Some(0));
        assert_eq!(cache.get((17, shape)).and_then(|e| e.score), Some(7));
    }
}
