//! One node's NUMA answers per request shape, for as long as the node's NUMA state holds.
//!
//! A batch brings many pods with the same device request (a few job sizes and policies), and
//! between two placements on a node nothing about its zones changes. So the first pod of a
//! shape plans the node, and the others read the answer: feasibility for the filter, the
//! packing score for the score. The cache lives in the node's `NodeNuma` entry and is dropped
//! with it whenever the node's object or pending allocations change; snapshots share it while
//! they share the node.
//!
//! Compact on purpose: it is read for every candidate node of every device pod, so a lookup
//! should touch a cache line of keys and one answer, not walk a list of fat entries.

use std::borrow::Cow;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use lasso::Key;

use crate::intern::{Sym, resolve, sym};
use crate::topology::Infeasible;

/// Answers kept per node. Request shapes seen between two changes of a node stay few; beyond
/// this the oldest answer makes room.
const SLOTS: usize = 8;
/// A free slot's key (no real key is 0: shapes are interned symbols, stored plus one).
const FREE: u64 = 0;

/// Who asks (the NUMA args' id: weights and job sizes change the score) and what (the
/// request's shape, interned).
pub type FitKey = (u32, Sym);

fn packed((args, shape): FitKey) -> u64 {
    (u64::from(args) << 32) | (shape.into_usize() as u64 + 1)
}

/// What the node answered for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FitEntry {
    pub fit: Result<(), Infeasible>,
    /// The packing score of the placement (0 when it does not fit).
    pub score: i64,
}

// An answer in one word: the reason's symbol plus one (0: none) in the low 32 bits, then
// whether it fits, whether the refusal is resolvable, and the score (0..=100) on top.
const FITS: u64 = 1 << 32;
const RESOLVABLE: u64 = 1 << 33;
const SCORE_SHIFT: u32 = 48;

fn encode(entry: &FitEntry) -> u64 {
    let score = (entry.score.clamp(0, i64::from(u16::MAX)) as u64) << SCORE_SHIFT;
    match &entry.fit {
        Ok(()) => score | FITS | RESOLVABLE,
        Err(infeasible) => {
            let reason = sym(&infeasible.reason).into_usize() as u64 + 1;
            score | reason | if infeasible.resolvable { RESOLVABLE } else { 0 }
        }
    }
}

fn decode(word: u64) -> FitEntry {
    let fit = if word & FITS != 0 {
        Ok(())
    } else {
        let index = (word & u64::from(u32::MAX)) as usize;
        let reason = index
            .checked_sub(1)
            .and_then(Sym::try_from_usize)
            .map_or("", resolve);
        Err(Infeasible {
            reason: Cow::Borrowed(reason),
            resolvable: word & RESOLVABLE != 0,
        })
    };
    FitEntry {
        fit,
        score: (word >> SCORE_SHIFT) as i64,
    }
}

/// Reads take no lock: they run for every candidate node
/// of every device pod. Writes (a node's first answer for a shape) take one, so two writers
/// never interleave in a slot; a write empties the slot's key before changing its answer, and
/// a read checks the key again after reading the answer, so it never pairs a key with another
/// key's answer.
///
/// A key and its answer sit side by side, so a hit reads one cache line.
#[derive(Debug, Default)]
#[repr(C)]
pub struct FitCache {
    slots: [Slot; SLOTS],
    /// The slot the next new key takes once all are used.
    next: Mutex<usize>,
}

impl Clone for FitCache {
    fn clone(&self) -> Self {
        let copy = Self::default();
        for (to, from) in copy.slots.iter().zip(&self.slots) {
            to.key
                .store(from.key.load(Ordering::Acquire), Ordering::Relaxed);
            to.answer
                .store(from.answer.load(Ordering::Acquire), Ordering::Relaxed);
        }
        copy
    }
}

#[derive(Debug, Default)]
#[repr(C)]
struct Slot {
    key: AtomicU64,
    answer: AtomicU64,
}

impl FitCache {
    pub fn get(&self, key: FitKey) -> Option<FitEntry> {
        let key = packed(key);
        self.slots.iter().find_map(|slot| {
            if slot.key.load(Ordering::Acquire) != key {
                return None;
            }
            let answer = slot.answer.load(Ordering::Acquire);
            (slot.key.load(Ordering::Acquire) == key).then(|| decode(answer))
        })
    }

    /// Forgets every answer (the node changed).
    pub fn clear(&mut self) {
        for slot in &mut self.slots {
            *slot.key.get_mut() = FREE;
        }
        *self.next.get_mut().unwrap_or_else(|e| e.into_inner()) = 0;
    }

    /// Records `entry` for `key`, replacing an earlier one.
    pub fn put(&self, key: FitKey, entry: &FitEntry) {
        let key = packed(key);
        let answer = encode(entry);
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let slot = match (0..SLOTS).find(|&slot| {
            let k = self.slots[slot].key.load(Ordering::Relaxed);
            k == key || k == FREE
        }) {
            Some(slot) => slot,
            None => {
                let oldest = *next;
                *next = (oldest + 1) % SLOTS;
                oldest
            }
        };
        let slot = &self.slots[slot];
        slot.key.store(FREE, Ordering::Relaxed);
        slot.answer.store(answer, Ordering::Release);
        slot.key.store(key, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fits(score: i64) -> FitEntry {
        FitEntry { fit: Ok(()), score }
    }

    #[test]
    fn answers_per_key_and_stays_bounded() {
        let cache = FitCache::default();
        let shape = sym("single|nvidia.com/gpu=1");
        assert!(cache.get((1, shape)).is_none());
        cache.put((1, shape), &fits(10));
        cache.put((1, shape), &fits(70));
        assert_eq!(cache.get((1, shape)), Some(fits(70)));
        assert!(cache.get((2, shape)).is_none(), "another profile's args");
        for i in 0..SLOTS as u32 {
            cache.put((10 + i, shape), &fits(i64::from(i)));
        }
        assert!(cache.get((1, shape)).is_none(), "the oldest made room");
        assert_eq!(cache.get((10, shape)), Some(fits(0)));
        assert_eq!(cache.get((17, shape)), Some(fits(7)));
    }

    #[test]
    fn infeasible_answers_keep_their_reason() {
        let cache = FitCache::default();
        let shape = sym("single|nvidia.com/gpu=4");
        let built = FitEntry {
            fit: Err(Infeasible {
                reason: Cow::Owned("node(s) had insufficient x in NUMA zones".to_string()),
                resolvable: true,
            }),
            score: 0,
        };
        cache.put((3, shape), &built);
        assert_eq!(cache.get((3, shape)), Some(built));
        let unresolvable = FitEntry {
            fit: Err(Infeasible {
                reason: Cow::Borrowed("node(s) had no single NUMA node with 9 nvidia.com/gpu"),
                resolvable: false,
            }),
            score: 0,
        };
        cache.put((3, shape), &unresolvable);
        assert_eq!(cache.get((3, shape)), Some(unresolvable));
        cache.put((4, shape), &fits(100));
        assert_eq!(cache.get((4, shape)), Some(fits(100)));
    }
}
