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
//! (`allocator::Found`), so a pod takes them for its own claims. After a slice change (same
//! classes, same lineage of device ids), the new cache carries over what still holds
//! (`successor`): the selector verdicts, the answers shared by layout, and the answers of every
//! node whose devices are the same ids as before; only the changed nodes are searched again. A node's record is made on
//! its first lookup, from what the inventory keeps of it (its devices and their layout, kept
//! in step with the slices): a new cache costs nothing up front.
//!
//! Nodes with the same device layout (devices alike in order: driver, attributes, capacities,
//! taints; only names differ; told by their kinds, `Device::kind`, given at decode; see
//! `pools::NodeDevices::layout`) share answers too: a search on one node, written by device
//! position, answers for every node of its layout whose devices are in use at the same
//! positions. A cluster of one or two machine types thus searches each (shape, in-use pattern)
//! once, not once a node: an empty cluster of 5,000 identical nodes searches a shape once.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use dashmap::DashMap;
use smallvec::SmallVec;

use super::allocator::{Chosen, Found, Outcome, PreparedPod, Unfit};
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

#[derive(Clone)]
struct Entry {
    shape: u32,
    fingerprint: Fingerprint,
    outcome: Outcome,
}

/// A node's devices, whether its answers may be kept, and those kept.
struct NodeCache {
    /// The inventory's list, shared.
    devs: Arc<[DevId]>,
    cacheable: bool,
    /// Nodes of one layout have alike devices in the same order (see `same_device`).
    layout: u32,
    entries: SmallVec<[Entry; 2]>,
}

/// Answers shared by the nodes of one layout kept at most (beyond, only per node).
const MAX_SHARED: usize = 1 << 16;

/// One device of a found allocation, by position: (request, position on the node, admin).
type PositionalPick = (Sym, u32, bool);

/// An answer by device position on the node, so it holds for every node of its layout.
#[derive(Clone)]
enum Positional {
    Found {
        picks: Box<[Box<[PositionalPick]>]>,
        broken_roots: u32,
        stranded: u32,
        score: i64,
    },
    Unfit(Unfit),
}

impl Positional {
    fn of(outcome: &Outcome, devs: &[DevId]) -> Option<Self> {
        Some(match outcome {
            Outcome::Unfit(u) => Self::Unfit(u.clone()),
            Outcome::Found(f) => Self::Found {
                picks: f
                    .picks
                    .iter()
                    .map(|claim| {
                        claim
                            .iter()
                            .map(|c| {
                                // Shares carry amounts per device: not on cacheable nodes.
                                if c.share.is_some() {
                                    return None;
                                }
                                let at = devs.iter().position(|&d| d == c.dev)?;
                                Some((c.request, u32::try_from(at).ok()?, c.admin))
                            })
                            .collect::<Option<Box<[_]>>>()
                    })
                    .collect::<Option<Box<[_]>>>()?,
                broken_roots: f.broken_roots,
                stranded: f.stranded,
                score: f.score,
            },
        })
    }

    fn on(&self, devs: &[DevId]) -> Option<Outcome> {
        Some(match self {
            Self::Unfit(u) => Outcome::Unfit(u.clone()),
            Self::Found {
                picks,
                broken_roots,
                stranded,
                score,
            } => Outcome::Found(Arc::new(Found {
                picks: picks
                    .iter()
                    .map(|claim| {
                        claim
                            .iter()
                            .map(|&(request, at, admin)| {
                                Some(Chosen {
                                    request,
                                    dev: *devs.get(at as usize)?,
                                    admin,
                                    share: None,
                                })
                            })
                            .collect::<Option<Box<[_]>>>()
                    })
                    .collect::<Option<Box<[_]>>>()?,
                broken_roots: *broken_roots,
                stranded: *stranded,
                score: *score,
            })),
        })
    }
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

/// Numbers the caches, so that pod keys of two inventories never meet.
static SERIAL: AtomicU32 = AtomicU32::new(0);

/// The selector verdicts and search answers of one inventory.
pub struct Caches {
    pub inv: Arc<Inventory>,
    pub matchers: Arc<Matchers>,
    /// No network-attached devices and no unusable pool: nodes may be cached.
    cacheable: bool,
    serial: u32,
    shapes: Mutex<HashMap<ShapeKey, u32>>,
    /// Pods' keys: the shapes of the claims they allocate on each kind of node, by id.
    pod_keys: Mutex<HashMap<Box<[u32]>, u32>>,
    /// Made on a node's first lookup: one lookup per node finds its devices and its answers.
    by_node: DashMap<Sym, NodeCache, ahash::RandomState>,
    /// Answers by (layout, shape, in-use pattern), for every node of the layout: they read no
    /// id, so they hold in every inventory under the same classes (shared with successors).
    shared: Arc<DashMap<(u32, u32, Fingerprint), Positional, ahash::RandomState>>,
}

impl Caches {
    pub fn new(inv: Arc<Inventory>) -> Self {
        let cacheable = !inv.has_shared() && !inv.any_unusable();
        let by_node = DashMap::with_capacity_and_hasher(
            if cacheable { inv.node_count() } else { 0 },
            ahash::RandomState::default(),
        );
        Self {
            inv,
            matchers: Arc::default(),
            cacheable,
            serial: SERIAL.fetch_add(1, Ordering::Relaxed),
            shapes: Mutex::default(),
            pod_keys: Mutex::default(),
            by_node,
            shared: Arc::default(),
        }
    }

    /// The cache for `inv`, a slice change after `self`'s inventory under the same classes:
    /// what holds is carried (see the module's comment), the rest starts empty.
    pub fn successor(&self, inv: Arc<Inventory>) -> Self {
        if !self.inv.same_lineage(&inv) {
            return Self::new(inv);
        }
        let mut next = Self::new(inv);
        next.matchers = Arc::new(self.matchers.carried(&next.inv));
        if !(self.cacheable && next.cacheable) {
            return next;
        }
        next.shapes = Mutex::new(
            self.shapes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        );
        next.shared = self.shared.clone();
        for kept in self.by_node.iter() {
            let Some(devices) = next.inv.node(*kept.key()) else {
                continue;
            };
            // The same ids: the same devices, answers and all.
            if devices.devs[..] == kept.devs[..] {
                next.by_node.insert(
                    *kept.key(),
                    NodeCache {
                        devs: devices.devs.clone(),
                        cacheable: kept.cacheable,
                        layout: kept.layout,
                        entries: kept.entries.clone(),
                    },
                );
            }
        }
        next
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

    /// A key for a pod whose claims to allocate are of `shapes` (one per kind of node, see
    /// `plugin::Variant`), equal for two pods exactly when their shapes are: their verdicts
    /// and scores on a node are the same. None when a shape is unknown.
    pub fn pod_key(&self, shapes: impl Iterator<Item = Option<u32>>) -> Option<u64> {
        let shapes: Box<[u32]> = shapes.collect::<Option<_>>()?;
        let mut keys = self.pod_keys.lock().unwrap_or_else(|p| p.into_inner());
        let id = match keys.get(&shapes) {
            Some(&id) => id,
            None if keys.len() >= MAX_SHAPES => return None,
            None => {
                let id = u32::try_from(keys.len()).ok()?;
                keys.insert(shapes, id);
                id
            }
        };
        Some(u64::from(self.serial) << 32 | u64::from(id))
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
        if !self.cacheable {
            return Err(None);
        }
        let cache = match self.by_node.get(&node) {
            Some(cache) => cache,
            None => {
                let Some(devices) = self.inv.node(node) else {
                    return Err(None);
                };
                self.by_node
                    .entry(node)
                    .or_insert_with(|| NodeCache {
                        devs: devices.devs.clone(),
                        cacheable: devices.simple,
                        layout: devices.layout,
                        entries: SmallVec::new(),
                    })
                    .downgrade()
            }
        };
        if !cache.cacheable {
            return Err(None);
        }
        let fingerprint = cache.fingerprint(in_use);
        if let Some(e) = cache
            .entries
            .iter()
            .find(|e| e.shape == shape && e.fingerprint == fingerprint)
        {
            return Ok(e.outcome.clone());
        }
        let key = (cache.layout, shape, fingerprint);
        let Some(outcome) = self.shared.get(&key).and_then(|p| p.on(&cache.devs)) else {
            return Err(Some(key.2));
        };
        drop(cache);
        // Kept for the node too: its next lookup is the short one.
        self.put_own(node, shape, key.2, outcome.clone());
        Ok(outcome)
    }

    /// Keeps an answer for the node, and by position for the other nodes of its layout.
    pub fn put(&self, node: Sym, shape: u32, fingerprint: Fingerprint, outcome: Outcome) {
        let shared = self.by_node.get(&node).and_then(|cache| {
            let positional = Positional::of(&outcome, &cache.devs)?;
            Some(((cache.layout, shape, fingerprint.clone()), positional))
        });
        if let Some((key, positional)) = shared
            && self.shared.len() < MAX_SHARED
        {
            self.shared.insert(key, positional);
        }
        self.put_own(node, shape, fingerprint, outcome);
    }

    /// Keeps an answer; one per shape and node (the node's older state is not kept).
    fn put_own(&self, node: Sym, shape: u32, fingerprint: Fingerprint, outcome: Outcome) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::sym;
    use crate::plugins::dynamic_resources::allocator::search_unallocated;
    use crate::plugins::dynamic_resources::testing::{World, claim};
    use crate::state::dra::fixtures::{
        aligned_claim, gpu_and_nic_classes, gpu_node_slice, nic_node_slice,
    };
    use crate::state::dra::slice::Slice;
    use crate::state::labels::Labels;

    #[test]
    fn nodes_of_one_layout_share_answers_by_device_position() {
        let mut slices = Vec::new();
        for (n, roots) in [("a", 4), ("b", 4), ("c", 2)] {
            slices.push(gpu_node_slice(n, 8, roots));
            slices.push(nic_node_slice(n, roots));
        }
        let w = World::new(&slices, &gpu_and_nic_classes());
        let caches = Caches::new(w.inv.clone());
        let pod = w.prepare(&[claim(&aligned_claim("ns", "x", 2))]).unwrap();
        let shape = caches.shape(&pod).unwrap();
        let labels = Labels::default();
        let fresh = |node: &str| {
            search_unallocated(&pod, &w.inv, &w.in_use, sym(node), &labels, &w.opts).unwrap()
        };
        let Err(Some(fp)) = caches.get(&w.in_use, sym("a"), shape) else {
            panic!("nothing kept yet");
        };
        caches.put(sym("a"), shape, fp, fresh("a"));
        // b is laid out as a: answered from a's search, with b's own devices.
        let on_b = caches
            .get(&w.in_use, sym("b"), shape)
            .expect("shared with a");
        assert_eq!(on_b, fresh("b"));
        assert_ne!(on_b, fresh("a"), "b's devices, not a's");
        // c has two PCIe roots: its own layout, searched apart.
        assert!(caches.get(&w.in_use, sym("c"), shape).is_err());
    }

    #[test]
    fn after_a_slice_change_only_the_changed_nodes_are_searched_again() {
        let mut slices = Vec::new();
        for n in ["a", "b", "c"] {
            slices.push(gpu_node_slice(n, 8, 4));
            slices.push(nic_node_slice(n, 4));
        }
        let w = World::new(&slices, &gpu_and_nic_classes());
        let caches = Caches::new(w.inv.clone());
        let pod = w.prepare(&[claim(&aligned_claim("ns", "x", 2))]).unwrap();
        let shape = caches.shape(&pod).unwrap();
        let labels = Labels::default();
        let Err(Some(fp)) = caches.get(&w.in_use, sym("a"), shape) else {
            panic!("nothing kept yet");
        };
        let outcome =
            search_unallocated(&pod, &w.inv, &w.in_use, sym("a"), &labels, &w.opts).unwrap();
        caches.put(sym("a"), shape, fp, outcome);
        assert!(
            caches.get(&w.in_use, sym("b"), shape).is_ok(),
            "b is laid out as a"
        );
        // b's GPUs are published again on two PCIe roots: another layout.
        let slice = |json: &str| Arc::new(Slice::decode(json).unwrap());
        let mut inv = (*w.inv).clone();
        inv.replace_slice(
            Some(&slice(&gpu_node_slice("b", 8, 4))),
            Some(&slice(&gpu_node_slice("b", 8, 2))),
        );
        let inv = Arc::new(inv);
        let in_use = InUse::from_devices(&inv, []);
        let next = caches.successor(inv.clone());
        let fresh = |node: &str| {
            search_unallocated(&pod, &inv, &in_use, sym(node), &labels, &w.opts).unwrap()
        };
        // a's answer is carried, c's comes from a's by layout, b is searched again.
        let Ok(on_a) = next.get(&in_use, sym("a"), shape) else {
            panic!("a's answer is carried");
        };
        assert_eq!(on_a, fresh("a"));
        assert!(next.by_node.contains_key(&sym("a")) && !next.by_node.contains_key(&sym("c")));
        assert_eq!(next.get(&in_use, sym("c"), shape).ok(), Some(fresh("c")));
        assert!(next.get(&in_use, sym("b"), shape).is_err(), "b changed");
        // Another lineage (a rebuild): nothing is carried.
        let decoded: Vec<Slice> = slices.iter().map(|s| Slice::decode(s).unwrap()).collect();
        let rebuilt = Arc::new(Inventory::build(&decoded));
        let other = caches.successor(rebuilt.clone());
        let in_use = InUse::from_devices(&rebuilt, []);
        assert!(other.get(&in_use, sym("a"), shape).is_err());
    }
}
