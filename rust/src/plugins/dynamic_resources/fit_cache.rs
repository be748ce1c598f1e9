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
use crate::state::dra::pools::{Inventory, PoolState};

/// Answers kept per node: a few shapes of claims at once.
const PER_NODE: usize = 8;

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

/// The selector verdicts and search answers of one inventory.
pub struct Caches {
    pub inv: Arc<Inventory>,
    pub matchers: Arc<Matchers>,
    /// No network-attached devices and no unusable pool: nodes may be cached.
    cacheable: bool,
    shapes: Mutex<HashMap<ShapeKey, u32>>,
    by_node: DashMap<Sym, SmallVec<[Entry; 2]>, ahash::RandomState>,
}

impl Caches {
    pub fn new(inv: Arc<Inventory>) -> Self {
        let cacheable =
            !inv.has_shared() && inv.pools.iter().all(|p| p.state == PoolState::Usable);
        Self {
            inv,
            matchers: Arc::default(),
            cacheable,
            shapes: Mutex::default(),
            by_node: DashMap::default(),
        }
    }

    /// The shape id of the pod's claims to allocate; `None` when nothing may be cached.
    pub fn shape(&self, pod: &PreparedPod) -> Option<u32> {
        if !self.cacheable || pod.to_allocate.is_empty() {
            return None;
        }
        let key = ShapeKey(pod.to_allocate.iter().map(|c| c.claim.clone()).collect());
        let mut shapes = self.shapes.lock().unwrap_or_else(|p| p.into_inner());
        let next = u32::try_from(shapes.len()).ok()?;
        Some(*shapes.entry(key).or_insert(next))
    }

    /// The node's in-use flags, if its answer depends on nothing else.
    pub fn fingerprint(&self, in_use: &InUse, node: Sym) -> Option<Fingerprint> {
        let devs = self.inv.local_devices(node);
        let mut out: Fingerprint = SmallVec::from_elem(0, devs.len().div_ceil(32));
        for (i, &dev) in devs.iter().enumerate() {
            let d = self.inv.device(dev);
            if d.allow_multiple_allocations || !d.consumes_counters.is_empty() {
                return None;
            }
            let bits = u64::from(in_use.dedicated(dev)) | (u64::from(in_use.shared(dev)) << 1);
            out[i / 32] |= bits << (2 * (i % 32));
        }
        Some(out)
    }

    pub fn get(&self, node: Sym, shape: u32, fingerprint: &Fingerprint) -> Option<Outcome> {
        let entries = self.by_node.get(&node)?;
        entries
            .iter()
            .find(|e| e.shape == shape && e.fingerprint == *fingerprint)
            .map(|e| e.outcome.clone())
    }

    /// Keeps an answer; one per shape and node (the node's older state is gone for good).
    pub fn put(&self, node: Sym, shape: u32, fingerprint: Fingerprint, outcome: Outcome) {
        let mut entries = self.by_node.entry(node).or_default();
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
