//! The pool view: which published devices count. Slices are grouped into pools (driver, pool
//! name); only a pool's newest generation counts, and only once all `resourceSliceCount` slices
//! of it are present. A pool with duplicate device names or a device drawing on a counter set
//! the pool does not publish is invalid and contributes nothing, as in kube.
//!
//! The inventory is kept in step with the slices as they are applied (kube-scheduler's
//! ResourceSlice tracker does the same from its informer's events): a slice's add, update or
//! delete re-reads its pool alone, and the nodes whose devices that pool holds. A full build
//! (`build`) is what the first decision after any slice change used to pay: every pool of the
//! cluster grouped, validated and indexed again.
//!
//! Devices get dense ids (`DevId`) so the allocator's per-node lists, the in-use counts and the
//! selector verdicts are arrays. An id never means another device in an inventory and the
//! copies it is kept in step from (its lineage: a device republished alike keeps its id; a
//! changed or new one gets a fresh id from the lineage's counter), so what plugins keep by id
//! holds across slice changes. Ids of devices gone leave holes, dropped by a rebuild (a new
//! lineage) once they outnumber the devices. The
//! search reads devices in kube's order (driver, pool, slice name, position) from the per-node
//! lists, which keep that order whatever the ids.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use smallvec::SmallVec;

use super::device::{Device, DeviceKey, NodeScope, UNIQUE_KIND};
use super::slice::Slice;
use crate::error::{CoreError, CoreResult};
use crate::intern::{Sym, resolve};
use crate::state::labels::Labels;

pub type DevId = u32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PoolId {
    pub driver: Sym,
    pub pool: Sym,
}

impl PoolId {
    fn of(s: &Slice) -> Self {
        Self {
            driver: s.driver,
            pool: s.pool,
        }
    }

    /// kube's order of pools: by driver name, then pool name.
    fn names(self) -> (&'static str, &'static str) {
        (resolve(self.driver), resolve(self.pool))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolState {
    Usable,
    /// Not all slices of the newest generation are there yet.
    Incomplete,
    Invalid(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    pub id: PoolId,
    pub generation: i64,
    pub state: PoolState,
    /// (counter set, counter) → total, from the pool's `sharedCounters`.
    pub counters: HashMap<(Sym, Sym), i64>,
    /// Scopes of the pool's slices, to tell which nodes an unusable pool concerns.
    pub scopes: Vec<NodeScope>,
}

/// A device of the inventory: its slice's devices (shared, not copied) and its position there.
#[derive(Debug, Clone)]
pub struct InvDevice {
    devices: Arc<[Device]>,
    index: u32,
    pub pool: u32,
}

impl InvDevice {
    pub fn device(&self) -> &Device {
        &self.devices[self.index as usize]
    }
}

/// A node's node-local devices, in search order, and what the fit cache reads of them.
#[derive(Debug, Clone)]
pub struct NodeDevices {
    pub devs: Arc<[DevId]>,
    /// Nodes whose devices are alike in order (`same_device`, told by their kinds) share a
    /// layout id, for good: answers found on one hold, by position, on the others.
    pub layout: u32,
    /// Dedicated devices only (no consumable capacity, no shared counters): the node's answers
    /// depend on nothing but its own devices' in-use flags.
    pub simple: bool,
}

/// What the inventory keeps of a pool to re-read it when one of its slices changes.
#[derive(Debug, Clone, Default)]
struct PoolSlot {
    idx: u32,
    /// Every slice of the pool (all generations), by name.
    slices: Vec<Arc<Slice>>,
    /// The pool's usable devices.
    devices: Vec<DevId>,
    /// Its node-local devices by node, each in search order.
    local: SmallVec<[(Sym, SmallVec<[DevId; 16]>); 1]>,
    /// Its network-attached devices (`allNodes`, a node selector), in search order.
    shared: Vec<DevId>,
}

/// Every usable device in the cluster, indexed.
#[derive(Debug, Clone)]
pub struct Inventory {
    /// The next fresh id, shared by the copies of one lineage, so that two copies kept in step
    /// apart never give one id to two devices.
    ids: Arc<AtomicU32>,
    /// By id; None: an id whose device is gone, or given out by another copy.
    devices: Vec<Option<InvDevice>>,
    live: usize,
    /// By pool index; None: a pool whose slices are all gone.
    pools: Vec<Option<Pool>>,
    by_key: ahash::AHashMap<DeviceKey, DevId>,
    /// Devices usable on exactly one node, by node, in search order.
    by_node: ahash::AHashMap<Sym, NodeDevices>,
    /// Devices with `allNodes` or a node selector, checked per node, in search order.
    shared: Arc<[DevId]>,
    /// Pools by kube's order (driver name, pool name), each kind apart: unusable ones (that
    /// per-node failures look for) and those with network-attached devices.
    unusable: BTreeMap<(&'static str, &'static str), u32>,
    with_shared: BTreeMap<(&'static str, &'static str), u32>,
    slots: ahash::AHashMap<PoolId, Arc<PoolSlot>>,
    /// The pools holding each node's node-local devices, in kube's order.
    node_pools: ahash::AHashMap<Sym, SmallVec<[u32; 2]>>,
}

impl Default for Inventory {
    fn default() -> Self {
        Self {
            ids: Arc::default(),
            devices: Vec::new(),
            live: 0,
            pools: Vec::new(),
            by_key: ahash::AHashMap::new(),
            by_node: ahash::AHashMap::new(),
            shared: Arc::from([]),
            unusable: BTreeMap::new(),
            with_shared: BTreeMap::new(),
            slots: ahash::AHashMap::new(),
            node_pools: ahash::AHashMap::new(),
        }
    }
}

fn validate(slices: &[&Slice]) -> CoreResult<HashMap<(Sym, Sym), i64>> {
    let mut counters = HashMap::new();
    for s in slices {
        for set in &s.counter_sets {
            if counters.keys().any(|(name, _)| *name == set.name) {
                return Err(CoreError::Invalid(format!(
                    "duplicate counter set name {}",
                    crate::intern::resolve(set.name)
                )));
            }
            for (c, v) in &set.counters {
                counters.insert((set.name, *c), *v);
            }
        }
    }
    // A pool is mostly a node's few devices: a short list on the stack, searched linearly,
    // costs less than a set per pool (ten thousand pools at 5,000 nodes).
    let total: usize = slices.iter().map(|s| s.devices.len()).sum();
    let mut small: SmallVec<[Sym; 32]> = SmallVec::new();
    let mut large: ahash::AHashSet<Sym> = ahash::AHashSet::new();
    if total > small.inline_size() {
        large.reserve(total);
    }
    for s in slices {
        for d in s.devices.iter() {
            let fresh = if total > small.inline_size() {
                large.insert(d.key.device)
            } else if small.contains(&d.key.device) {
                false
            } else {
                small.push(d.key.device);
                true
            };
            if !fresh {
                return Err(CoreError::Invalid(format!(
                    "duplicate device name {}",
                    crate::intern::resolve(d.key.device)
                )));
            }
            for u in &d.consumes_counters {
                for (c, _) in &u.counters {
                    if !counters.contains_key(&(u.set, *c)) {
                        return Err(CoreError::Invalid(format!(
                            "counter {} not found in counter set {}",
                            crate::intern::resolve(*c),
                            crate::intern::resolve(u.set)
                        )));
                    }
                }
            }
        }
    }
    Ok(counters)
}

/// Layout ids at most given to a list of kinds; beyond, and for a node with a device alike to
/// none, a node gets an id of its own.
const MAX_LAYOUTS: usize = 1 << 16;

/// The layout id of a node whose devices are of `kinds`, in order: one id per list, for the
/// life of the process (as device kinds are), so ids mean the same in every inventory.
fn layout_of(kinds: &[u32]) -> u32 {
    static LAYOUTS: LazyLock<Mutex<ahash::AHashMap<Box<[u32]>, u32>>> =
        LazyLock::new(Mutex::default);
    static NEXT: AtomicU32 = AtomicU32::new(1);
    if !kinds.contains(&UNIQUE_KIND) {
        let mut table = LAYOUTS.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&id) = table.get(kinds) {
            return id;
        }
        if table.len() < MAX_LAYOUTS {
            let id = NEXT.fetch_add(1, Ordering::Relaxed);
            table.insert(kinds.into(), id);
            return id;
        }
    }
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// What a change to pools leaves to redo: the per-node lists of these nodes, and the list of
/// network-attached devices.
#[derive(Default)]
struct Touched {
    nodes: Vec<Sym>,
    shared: bool,
}

impl Inventory {
    /// A fresh inventory of `slices` (tests, and a rebuild once ids of devices gone outnumber
    /// the devices).
    pub fn build<'a>(slices: impl IntoIterator<Item = &'a Slice>) -> Self {
        Self::build_shared(slices.into_iter().map(|s| Arc::new(s.clone())))
    }

    /// A fresh inventory: slices grouped into pools by their interned ids, pools read in
    /// kube's order.
    pub fn build_shared(slices: impl IntoIterator<Item = Arc<Slice>>) -> Self {
        let mut grouped: ahash::AHashMap<PoolId, Vec<Arc<Slice>>> = ahash::AHashMap::new();
        for s in slices {
            grouped.entry(PoolId::of(&s)).or_default().push(s);
        }
        // Names resolved once a pool, not once a comparison (the interner's lookups are what a
        // sort of ten thousand pools would spend its time on).
        let mut pools: Vec<(_, PoolId, Vec<Arc<Slice>>)> = grouped
            .into_iter()
            .map(|(id, slices)| (id.names(), id, slices))
            .collect();
        pools.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut inv = Self::default();
        // Sized once: a cluster's worth of devices is tens of thousands.
        let devices: usize = pools
            .iter()
            .flat_map(|(_, _, g)| g)
            .map(|s| s.devices.len())
            .sum();
        inv.devices.reserve(devices);
        inv.by_key.reserve(devices);
        inv.pools.reserve(pools.len());
        inv.slots.reserve(pools.len());
        // Mostly a pool or two a node.
        inv.by_node.reserve(pools.len() / 2);
        inv.node_pools.reserve(pools.len() / 2);
        let mut touched = Touched::default();
        for (_, id, mut slices) in pools {
            slices.sort_by(|a, b| a.name.cmp(&b.name));
            inv.set_pool(id, slices, &mut touched);
        }
        inv.settle(touched);
        inv
    }

    /// A slice added (`new`), updated (both, one name) or deleted (`old`): its pool is read
    /// again (both pools, when an update moves the slice), and the nodes that pool serves.
    pub fn replace_slice(&mut self, old: Option<&Arc<Slice>>, new: Option<&Arc<Slice>>) {
        let mut ids: SmallVec<[PoolId; 2]> = SmallVec::new();
        for s in old.into_iter().chain(new) {
            let id = PoolId::of(s);
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        let mut touched = Touched::default();
        for id in ids {
            let mut slices: Vec<Arc<Slice>> = self
                .slots
                .get(&id)
                .map(|s| s.slices.clone())
                .unwrap_or_default();
            slices.retain(|s| {
                old.is_none_or(|o| o.name != s.name) && new.is_none_or(|n| n.name != s.name)
            });
            if let Some(n) = new.filter(|n| PoolId::of(n) == id) {
                let at = slices.partition_point(|s| s.name < n.name);
                slices.insert(at, n.clone());
            }
            self.set_pool(id, slices, &mut touched);
        }
        self.settle(touched);
        let holes = self.devices.len() - self.live;
        let gone_pools = self.pools.len() - self.slots.len();
        if holes > self.live + 4096 || gone_pools > self.slots.len() + 1024 {
            let slices: Vec<Arc<Slice>> = self
                .slots
                .values()
                .flat_map(|s| s.slices.iter().cloned())
                .collect();
            *self = Self::build_shared(slices);
        }
    }

    /// Reads the pool `id` from its slices (`slices`, by name; none: the pool is gone).
    fn set_pool(&mut self, id: PoolId, slices: Vec<Arc<Slice>>, touched: &mut Touched) {
        let names = id.names();
        // What the pool held is given back; a device republished alike keeps its id.
        let mut held: ahash::AHashMap<DeviceKey, (DevId, InvDevice)> = ahash::AHashMap::new();
        let old = self.slots.remove(&id);
        let idx = match &old {
            Some(slot) => {
                for &dev in &slot.devices {
                    if let Some(d) = self.devices[dev as usize].take() {
                        self.by_key.remove(&d.device().key);
                        held.insert(d.device().key, (dev, d));
                        self.live -= 1;
                    }
                }
                touched.nodes.extend(slot.local.iter().map(|(n, _)| *n));
                touched.shared |= !slot.shared.is_empty();
                self.unusable.remove(&names);
                self.with_shared.remove(&names);
                slot.idx
            }
            None => {
                self.pools.push(None);
                (self.pools.len() - 1) as u32
            }
        };
        let was_on: SmallVec<[Sym; 2]> = old
            .iter()
            .flat_map(|s| s.local.iter().map(|(n, _)| *n))
            .collect();
        if slices.is_empty() {
            self.pools[idx as usize] = None;
            for n in was_on {
                self.leave(n, idx);
            }
            return;
        }
        let generation = slices.iter().map(|s| s.generation).max().unwrap_or(0);
        let group: SmallVec<[&Slice; 2]> = slices
            .iter()
            .filter(|s| s.generation == generation)
            .map(|s| &**s)
            .collect();
        let first = group[0];
        let scopes = group.iter().map(|s| s.scope.clone()).collect();
        let complete = i64::try_from(group.len()).ok() == Some(first.slice_count);
        let (state, counters) = if !complete {
            (PoolState::Incomplete, HashMap::new())
        } else {
            match validate(&group) {
                Ok(c) => (PoolState::Usable, c),
                Err(why) => (PoolState::Invalid(why.to_string()), HashMap::new()),
            }
        };
        let mut slot = PoolSlot {
            idx,
            devices: Vec::with_capacity(if state == PoolState::Usable {
                group.iter().map(|s| s.devices.len()).sum()
            } else {
                0
            }),
            ..PoolSlot::default()
        };
        if state == PoolState::Usable {
            for s in &group {
                for (index, d) in s.devices.iter().enumerate() {
                    let inv_device = InvDevice {
                        devices: s.devices.clone(),
                        index: index as u32,
                        pool: idx,
                    };
                    let dev = match held.remove(&d.key) {
                        Some((dev, was)) if was.device() == d => {
                            self.devices[dev as usize] = Some(inv_device);
                            dev
                        }
                        _ => {
                            let dev = self.ids.fetch_add(1, Ordering::Relaxed);
                            let at = dev as usize;
                            if self.devices.len() <= at {
                                self.devices.resize(at + 1, None);
                            }
                            self.devices[at] = Some(inv_device);
                            dev
                        }
                    };
                    self.live += 1;
                    self.by_key.insert(d.key, dev);
                    slot.devices.push(dev);
                    match &d.scope {
                        NodeScope::Node(n) => {
                            match slot.local.iter_mut().rev().find(|(m, _)| m == n) {
                                Some((_, devs)) => devs.push(dev),
                                None => slot.local.push((*n, SmallVec::from_elem(dev, 1))),
                            }
                        }
                        NodeScope::All | NodeScope::Selector(_) => slot.shared.push(dev),
                        NodeScope::Nowhere => {}
                    }
                }
            }
        }
        drop(group);
        if state != PoolState::Usable {
            self.unusable.insert(names, idx);
        }
        if !slot.shared.is_empty() {
            self.with_shared.insert(names, idx);
            touched.shared = true;
        }
        self.pools[idx as usize] = Some(Pool {
            id,
            generation,
            state,
            counters,
            scopes,
        });
        for n in was_on {
            if !slot.local.iter().any(|(m, _)| *m == n) {
                self.leave(n, idx);
            }
        }
        for (n, _) in &slot.local {
            touched.nodes.push(*n);
            let pools = self.node_pools.entry(*n).or_default();
            if !pools.contains(&idx) {
                let at = pools.partition_point(|&p| {
                    self.pools[p as usize]
                        .as_ref()
                        .is_some_and(|p| p.id.names() < names)
                });
                pools.insert(at, idx);
            }
        }
        slot.slices = slices;
        self.slots.insert(id, Arc::new(slot));
    }

    /// The pool `idx` no longer holds devices of `node`.
    fn leave(&mut self, node: Sym, idx: u32) {
        if let Some(pools) = self.node_pools.get_mut(&node) {
            pools.retain(|p| *p != idx);
            if pools.is_empty() {
                self.node_pools.remove(&node);
            }
        }
    }

    /// Redoes the lists a change to pools touched.
    fn settle(&mut self, mut touched: Touched) {
        touched.nodes.sort_unstable();
        touched.nodes.dedup();
        for node in touched.nodes {
            let mut devs: Vec<DevId> = Vec::new();
            for &p in self.node_pools.get(&node).into_iter().flatten() {
                let Some(pool) = &self.pools[p as usize] else {
                    continue;
                };
                if let Some((_, d)) = self.slots[&pool.id].local.iter().find(|(m, _)| *m == node) {
                    devs.extend_from_slice(d);
                }
            }
            if devs.is_empty() {
                self.by_node.remove(&node);
                continue;
            }
            let kinds: SmallVec<[u32; 16]> = devs.iter().map(|&d| self.device(d).kind).collect();
            let simple = devs.iter().all(|&d| {
                let d = self.device(d);
                !d.allow_multiple_allocations && d.consumes_counters.is_empty()
            });
            self.by_node.insert(
                node,
                NodeDevices {
                    devs: devs.into(),
                    layout: layout_of(&kinds),
                    simple,
                },
            );
        }
        if touched.shared {
            self.shared = self
                .with_shared
                .values()
                .filter_map(|&p| self.pools[p as usize].as_ref())
                .flat_map(|p| self.slots[&p.id].shared.iter().copied())
                .collect();
        }
    }

    pub fn id(&self, key: &DeviceKey) -> Option<DevId> {
        self.by_key.get(key).copied()
    }

    pub fn device(&self, id: DevId) -> &Device {
        self.inv_device(id).device()
    }

    fn inv_device(&self, id: DevId) -> &InvDevice {
        self.devices[id as usize]
            .as_ref()
            .expect("a device id of this inventory")
    }

    /// The index of the device's pool (`pool`).
    pub fn pool_of(&self, id: DevId) -> u32 {
        self.inv_device(id).pool
    }

    pub fn pool(&self, idx: u32) -> &Pool {
        self.pools[idx as usize]
            .as_ref()
            .expect("a pool index of this inventory")
    }

    /// Every pool, usable or not (in no particular order).
    pub fn pools(&self) -> impl Iterator<Item = &Pool> {
        self.pools.iter().flatten()
    }

    /// The usable devices, by id.
    pub fn devices(&self) -> impl Iterator<Item = &Device> {
        self.devices.iter().flatten().map(InvDevice::device)
    }

    /// Device ids are below this: what arrays by device id are sized to.
    pub fn id_bound(&self) -> usize {
        self.devices.len()
    }

    /// Whether an id means the same device in both (one is kept in step from the other, or
    /// both from a third): what is kept by id for one holds for the other's devices.
    pub fn same_lineage(&self, other: &Inventory) -> bool {
        Arc::ptr_eq(&self.ids, &other.ids)
    }

    /// The devices a node can use, in kube's search order (node-local pools first by driver
    /// and pool name, then network-attached ones that select the node).
    pub fn node_devices(&self, node: Sym, labels: &Labels) -> Vec<DevId> {
        let mut out: Vec<DevId> = self.local_devices(node).to_vec();
        out.extend(
            self.shared
                .iter()
                .copied()
                .filter(|d| self.device(*d).scope.matches(node, labels)),
        );
        out
    }

    /// The node-local list without allocating (the fast path when no shared devices exist).
    pub fn local_devices(&self, node: Sym) -> &[DevId] {
        self.by_node.get(&node).map_or(&[], |n| &n.devs[..])
    }

    /// The node's node-local devices and their layout.
    pub fn node(&self, node: Sym) -> Option<&NodeDevices> {
        self.by_node.get(&node)
    }

    /// How many nodes have node-local devices.
    pub fn node_count(&self) -> usize {
        self.by_node.len()
    }

    /// Some pool is incomplete or invalid.
    pub fn any_unusable(&self) -> bool {
        !self.unusable.is_empty()
    }

    pub fn has_shared(&self) -> bool {
        !self.shared.is_empty()
    }

    /// Pools that concern `node` but are not usable (kube: `All` fails there, and a failed
    /// allocation there is reported as meeting invalid pools), in kube's order.
    pub fn unusable_pools_on(&self, node: Sym, labels: &Labels) -> impl Iterator<Item = &Pool> {
        self.unusable
            .values()
            .map(|&p| self.pool(p))
            .filter(move |p| p.scopes.iter().any(|s| s.matches(node, labels)))
    }

    /// Usable devices.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }
}

/// What an inventory says, whatever its ids: each device by key, each node's list and layout,
/// the network-attached list, the pools in kube's order and the unusable ones.
#[cfg(test)]
#[derive(Debug, PartialEq)]
pub struct Canonical {
    devices: BTreeMap<DeviceKey, (Device, PoolId)>,
    nodes: BTreeMap<&'static str, (Vec<DeviceKey>, u32, bool)>,
    shared: Vec<DeviceKey>,
    pools: Vec<Pool>,
    unusable: Vec<PoolId>,
    len: usize,
}

#[cfg(test)]
impl Inventory {
    pub fn canonical(&self) -> Canonical {
        let key = |d: &DevId| self.device(*d).key;
        let mut pools: Vec<Pool> = self.pools().cloned().collect();
        pools.sort_by(|a, b| a.id.names().cmp(&b.id.names()));
        for (k, &id) in &self.by_key {
            assert_eq!(self.device(id).key, *k, "by_key points at its device");
        }
        Canonical {
            devices: self
                .by_key
                .iter()
                .map(|(k, &id)| {
                    (
                        *k,
                        (self.device(id).clone(), self.pool(self.pool_of(id)).id),
                    )
                })
                .collect(),
            nodes: self
                .by_node
                .iter()
                .map(|(n, d)| {
                    (
                        resolve(*n),
                        (d.devs.iter().map(key).collect(), d.layout, d.simple),
                    )
                })
                .collect(),
            shared: self.shared.iter().map(key).collect(),
            pools,
            unusable: self.unusable.values().map(|&p| self.pool(p).id).collect(),
            len: self.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::sym;
    use crate::state::dra::fixtures::gpu_node_slice;

    fn slice_with(pool_gen: i64, count: i64, name: &str, devices: &[&str]) -> Slice {
        let devs: Vec<String> = devices
            .iter()
            .map(|d| format!(r#"{{"name":"{d}"}}"#))
            .collect();
        Slice::decode(&format!(
            r#"{{"metadata":{{"name":"{name}"}},"spec":{{"driver":"d","pool":{{"name":"p","generation":{pool_gen},"resourceSliceCount":{count}}},
                "nodeName":"n","devices":[{}]}}}}"#,
            devs.join(",")
        ))
        .unwrap()
    }

    fn names(inv: &Inventory, node: &str) -> Vec<&'static str> {
        inv.local_devices(sym(node))
            .iter()
            .map(|&d| resolve(inv.device(d).key.device))
            .collect()
    }

    #[test]
    fn only_the_newest_complete_generation_counts() {
        let old = slice_with(1, 1, "s-old", &["a", "b"]);
        let new1 = slice_with(2, 2, "s-new-1", &["c"]);
        let inv = Inventory::build([&old, &new1]);
        assert!(
            inv.is_empty(),
            "generation 2 is incomplete, generation 1 obsolete"
        );
        assert_eq!(inv.pools().next().unwrap().state, PoolState::Incomplete);
        assert_eq!(
            inv.unusable_pools_on(sym("n"), &Labels::default()).count(),
            1
        );
        let new2 = slice_with(2, 2, "s-new-2", &["d"]);
        let inv = Inventory::build([&new2, &old, &new1]);
        assert_eq!(
            names(&inv, "n"),
            ["c", "d"],
            "slices in name order, old generation ignored"
        );
        assert_eq!(inv.local_devices(sym("n")), &[0, 1]);
    }

    #[test]
    fn duplicate_device_names_invalidate_the_pool() {
        let a = slice_with(1, 2, "s1", &["x"]);
        let b = slice_with(1, 2, "s2", &["x"]);
        let inv = Inventory::build([&a, &b]);
        assert!(inv.is_empty());
        assert!(
            matches!(inv.pools().next().unwrap().state, PoolState::Invalid(ref w) if w.contains("duplicate"))
        );
    }

    #[test]
    fn devices_are_found_by_node_and_key() {
        let s0 = Slice::decode(&gpu_node_slice("n0", 8, 4)).unwrap();
        let s1 = Slice::decode(&gpu_node_slice("n1", 8, 4)).unwrap();
        let inv = Inventory::build([&s1, &s0]);
        assert_eq!(inv.len(), 16);
        let key = DeviceKey::new("gpu.example.com", "n1", "gpu-3");
        let id = inv.id(&key).unwrap();
        assert_eq!(inv.device(id).key, key);
        assert!(inv.local_devices(sym("n1")).contains(&id));
        assert_eq!(inv.node_devices(sym("n0"), &Labels::default()).len(), 8);
        assert_eq!(
            inv.node(sym("n0")).unwrap().layout,
            inv.node(sym("n1")).unwrap().layout,
            "alike nodes share a layout"
        );
    }

    #[test]
    fn a_pool_republished_keeps_the_ids_of_its_devices_alike() {
        let mut inv = Inventory::default();
        let first = Arc::new(slice_with(1, 1, "s", &["a", "b"]));
        inv.replace_slice(None, Some(&first));
        let ids = inv.local_devices(sym("n")).to_vec();
        let next = Arc::new(slice_with(2, 1, "s", &["b", "c", "a"]));
        inv.replace_slice(Some(&first), Some(&next));
        assert_eq!(names(&inv, "n"), ["b", "c", "a"], "in the slice's order");
        let a = inv.id(&DeviceKey::new("d", "p", "a")).unwrap();
        let b = inv.id(&DeviceKey::new("d", "p", "b")).unwrap();
        assert_eq!((a, b), (ids[0], ids[1]), "a and b keep their ids");
        assert_eq!(inv.id_bound(), 3, "c is new");
        assert_eq!(inv.canonical(), Inventory::build([&*next]).canonical());
        inv.replace_slice(Some(&next), None);
        assert!(inv.is_empty() && inv.node(sym("n")).is_none() && inv.pools().next().is_none());
    }
}
