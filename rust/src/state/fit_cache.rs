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

use crate::intern::{Sym, resolve, sym};
use crate::topology::Infeasible;

/// Answers kept per node. Request shapes seen between two changes of a node stay few; beyond
/// this the oldest answer makes room.
const SLOTS: usize = 8;
/// A free slot's key (no real key is 0: shapes are interned symbols, never index 0 plus one).
const FREE: u64 = 0;

/// Who asks (the NUMA args' id: weights and job sizes change the score) and what (the
/// request's shape, interned).
pub type FitKey = (u32, Sym);

fn packed((args, shape): FitKey) -> u64 {
    // +1 keeps every real key away from FREE.
    (u64::from(args) << 32) | (lasso::Key::into_usize(shape) as u64 + 1)
}

/// What the node answered for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FitEntry {
    pub fit: Result<(), Infeasible>,
    /// The packing score of the placement (0 when it does not fit).
    pub score: i64,
}

#[derive(Debug, Clone, Copy)]
struct Answer {
    /// Empty when the request fits.
    reason: &'static str,
    fits: bool,
    resolvable: bool,
    score: i64,
}

#[derive(Debug)]
struct Slots {
    keys: [u64; SLOTS],
    answers: [Answer; SLOTS],
    /// The slot the next new key takes once all are used.
    next: usize,
}

#[derive(Debug)]
pub struct FitCache {
    slots: Mutex<Slots>,
}

impl Default for FitCache {
    fn default() -> Self {
        let empty = Answer {
            reason: "",
            fits: false,
            resolvable: false,
            score: 0,
        };
        Self {
            slots: Mutex::new(Slots {
                keys: [FREE; SLOTS],
                answers: [empty; SLOTS],
                next: 0,
            }),
        }
    }
}

impl FitCache {
    pub fn get(&self, key: FitKey) -> Option<FitEntry> {
        let key = packed(key);
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let slot = slots.keys.iter().position(|&k| k == key)?;
        let answer = slots.answers[slot];
        Some(FitEntry {
            fit: if answer.fits {
                Ok(())
            } else {
                Err(Infeasible {
                    reason: Cow::Borrowed(answer.reason),
                    resolvable: answer.resolvable,
                })
            },
            score: answer.score,
        })
    }

    /// Records `entry` for `key`, replacing an earlier one.
    pub fn put(&self, key: FitKey, entry: &FitEntry) {
        let key = packed(key);
        let answer = match &entry.fit {
            Ok(()) => Answer {
                reason: "",
                fits: true,
                resolvable: true,
                score: entry.score,
            },
            Err(infeasible) => Answer {
                // Built reasons are rare (most are shared already); interning keeps the slot
                // small and its reads free of allocation.
                reason: match &infeasible.reason {
                    Cow::Borrowed(text) => text,
                    Cow::Owned(text) => resolve(sym(text)),
                },
                fits: false,
                resolvable: infeasible.resolvable,
                score: entry.score,
            },
        };
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let slot = match slots.keys.iter().position(|&k| k == key || k == FREE) {
            Some(slot) => slot,
            None => {
                let oldest = slots.next;
                slots.next = (oldest + 1) % SLOTS;
                oldest
            }
        };
        slots.keys[slot] = key;
        slots.answers[slot] = answer;
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
    }
}
