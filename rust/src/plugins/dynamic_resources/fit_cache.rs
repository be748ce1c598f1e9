//! What the search found per node, kept across pods while the node's devices stand as they
//! were: most pods of a batch read like an earlier one (claims from one template), and most
//! nodes are unchanged since it was decided (a placement changes one node). kube-scheduler
//! searches every node for every pod; podium searches a node again only when a claim took or
//! freed one of its devices, or for a new shape of claims.
//!
//! A node is cached only when its answer depends on nothing but its own devices' in-use flags:
//! its devices are node-local and dedicated (no consumable capacity, no shared counters), and
//! every pool of the inventory is usable (no `All` request meets a pool being updated, no
//! failure is reported as invalid pools). Elsewhere the search runs every time, as before.
//!
//! One cache per inventory (a new slice or class makes a new one); its answers name no claim
//! (`allocator::Found`), so a pod takes them for its own claims.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use dashmap::DashMap;
use smallvec::SmallVec;

use super::allocator::{Outcome, PreparedPod};
use super::matcher::Matchers;
use crate::intern::Sym;
use crate::state::dra::claim::Claim;
use crate::state::dra::ledger::InUse;
use crate::state::dra::pools::{DevId, Inventory};

/// Answers kept per node: a few shapes of claims at once.
const PER_NODE: usize = 8;
/// Shapes given an id per inventory; claims of a shape beyond are searched every time (ids are
/// never reused while answers under them may be kept).
const MAX_SHAPES: usize = 4096;

/// The in-use flags of a node's devices, two bits a device, in the node's device order.
pub type Fingerprint = SmallVec<[u64; 2]>;

/// The claims a pod allocates, as far as the search reads them: their requests and
/// constraints in order (not their names, uids or status).
#[derive(Clone)]
struct ShapeKey(Box<[Arc<Claim>]>);

impl PartialEq for ShapeKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(other.0.iter())
                .all(|(a, b)| a.requests == b.requests && a.constraints == b.constraints)
    }
}

impl Eq for ShapeKey {}

impl Hash for ShapeKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.len().hash(state);
        for c in self.0.iter() {
            c.requests.hash(state);
            c.constraints.hash(state);
        }
    }
}

struct Entry {
    shape: u32,
    fingerprint: Fingerprint,
    outcome: Outcome,
}

/// A node's devices, whether its answers may be kept, and those kept.
struct NodeCache {
    devs: Box<[DevId]>,
    cacheable: bool,
    entries: SmallVec<[Entry; 2]>,
}

impl NodeCache {
    fn fingerprint(&self, in_use: &InUse) -> Fingerprint {
        let mut out: Fingerprint = SmallVec::from_elem(0, self.devs.len().div_ceil(32));
        for (i, &dev) in self.devs.iter().enumerate() {
            let bits = u64::from(in_use.dedicated(dev)) | (u64::from(in_use.shared(dev)) << 1);
            out[i / 32] |= bits << (2 * (i % 32));
        }
        out
    }
}

/// The selector verdicts and search answers of one inventory.
pub struct Caches {
    pub inv: Arc<Inventory>,
    pub matchers: Arc<Matchers>,
    /// No network-attached devices and no unusable pool: nodes may be cached.
    cacheable: bool,
    shapes: Mutex<HashMap<ShapeKey, u32>>,
    /// Built with the inventory: one lookup per node finds its devices and its answers.
    by_node: DashMap<Sym, NodeCache, ahash::RandomState>,
}

impl Caches {
    pub fn new(inv: Arc<Inventory>) -> Self {
        let cacheable = !inv.has_shared() && !inv.any_unusable();
        let by_node = DashMap::default();
        if cacheable {
            for (node, devs) in inv.nodes() {
                let simple = devs.iter().all(|&d| {
                    let d = inv.device(d);
                    !d.allow_multiple_allocations && d.consumes_counters.is_empty()
                });
                by_node.insert(
                    node,
                    NodeCache {
                        devs: devs.into(),
                        cacheable: simple,
                        entries: SmallVec::new(),
                    },
                );
            }
        }
        Self {
            inv,
            matchers: Arc::default(),
            cacheable,
            shapes: Mutex::default(),
            by_node,
        }
    }

    /// The shape id of the pod's claims to allocate; `None` when nothing may be cached.
    pub fn shape(&self, pod: &PreparedPod) -> Option<u32> {
        if !self.cacheable || pod.to_allocate.is_empty() {
            return None;
        }
        let key = ShapeKey(pod.to_allocate.iter().map(|c| c.claim.clone()).collect());
        let mut shapes = self.shapes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&id) = shapes.get(&key) {
            return Some(id);
        }
        if shapes.len() >= MAX_SHAPES {
            return None;
        }
        let id = u32::try_from(shapes.len()).ok()?;
        shapes.insert(key, id);
        Some(id)
    }

    /// The answer kept for the node and shape while the node's devices stand as they were;
    /// else `Err` with the node's fingerprint to `put` the new answer under, or `Err(None)`
    /// when the node's answers are not kept.
    pub fn get(
        &self,
        in_use: &InUse,
        node: Sym,
        shape: u32,
    ) -> Result<Outcome, Option<Fingerprint>> {
        let Some(cache) = self.by_node.get(&node) else {
            return Err(None);
        };
        if !cache.cacheable {
            return Err(None);
        }
        let fingerprint = cache.fingerprint(in_use);
        cache
            .entries
            .iter()
            .find(|e| e.shape == shape && e.fingerprint == fingerprint)
            .map(|e| e.outcome.clone())
            .ok_or(Some(fingerprint))
    }

    /// Keeps an answer; one per shape and node (the node's older state is not kept).
    pub fn put(&self, node: Sym, shape: u32, fingerprint: Fingerprint, outcome: Outcome) {
        let Some(mut cache) = self.by_node.get_mut(&node) else {
            return;
        };
        let entries = &mut cache.entries;
        if let Some(e) = entries.iter_mut().find(|e| e.shape == shape) {
            e.fingerprint = fingerprint;
            e.outcome = outcome;
            return;
        }
        if entries.len() >= PER_NODE {
            entries.remove(0);
        }
        entries.push(Entry {
            shape,
            fingerprint,
            outcome,
        });
    }
}
