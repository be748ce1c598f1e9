//! The pool view: which published devices count. Slices are grouped into pools (driver, pool
//! name); only a pool's newest generation counts, and only once all `resourceSliceCount` slices
//! of it are present. A pool with duplicate device names or a device drawing on a counter set
//! the pool does not publish is invalid and contributes nothing, as in kube.
//!
//! Devices get dense ids (`DevId`) in kube's search order (driver, pool, slice name, position),
//! so the allocator's per-node lists, the in-use counts and the selector verdicts are arrays.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use smallvec::SmallVec;

use super::device::{Device, DeviceKey, NodeScope};
use super::slice::Slice;
use crate::error::{CoreError, CoreResult};
use crate::intern::Sym;
use crate::state::labels::Labels;

pub type DevId = u32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PoolId {
    pub driver: Sym,
    pub pool: Sym,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolState {
    Usable,
    /// Not all slices of the newest generation are there yet.
    Incomplete,
    Invalid(String),
}

#[derive(Debug, Clone)]
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

/// Every usable device in the cluster, indexed.
#[derive(Debug, Default)]
pub struct Inventory {
    pub devices: Vec<InvDevice>,
    pub pools: Vec<Pool>,
    by_key: ahash::AHashMap<DeviceKey, DevId>,
    /// Devices usable on exactly one node, by node, in search order.
    by_node: ahash::AHashMap<Sym, Vec<DevId>>,
    /// Devices with `allNodes` or a node selector, checked per node.
    shared: Vec<DevId>,
    /// Some pool is incomplete or invalid: per-node failures look for it (`unusable_pools_on`).
    any_unusable: bool,
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

impl Inventory {
    pub fn build<'a>(slices: impl IntoIterator<Item = &'a Slice>) -> Self {
        let mut grouped: BTreeMap<(&str, &str), Vec<&Slice>> = BTreeMap::new();
        for s in slices {
            grouped
                .entry((
                    crate::intern::resolve(s.driver),
                    crate::intern::resolve(s.pool),
                ))
                .or_default()
                .push(s);
        }
        let mut inv = Self::default();
        // Sized once: a cluster's worth of devices is tens of thousands.
        let devices: usize = grouped.values().flatten().map(|s| s.devices.len()).sum();
        inv.devices.reserve(devices);
        inv.by_key.reserve(devices);
        for (_, mut group) in grouped {
            let generation = group.iter().map(|s| s.generation).max().unwrap_or(0);
            group.retain(|s| s.generation == generation);
            group.sort_by(|a, b| a.name.cmp(&b.name));
            let first = group[0];
            let id = PoolId {
                driver: first.driver,
                pool: first.pool,
            };
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
            let pool_idx = inv.pools.len() as u32;
            if state == PoolState::Usable {
                // A run of devices of one node goes to its list at once (one lookup a slice,
                // not one a device).
                let mut run: Option<(Sym, SmallVec<[DevId; 16]>)> = None;
                for s in &group {
                    for (index, d) in s.devices.iter().enumerate() {
                        let dev = inv.devices.len() as DevId;
                        inv.by_key.insert(d.key, dev);
                        match &d.scope {
                            NodeScope::Node(n) => match &mut run {
                                Some((node, devs)) if node == n => devs.push(dev),
                                _ => {
                                    if let Some((node, devs)) = run.take() {
                                        inv.by_node.entry(node).or_default().extend(devs);
                                    }
                                    run = Some((*n, SmallVec::from_elem(dev, 1)));
                                }
                            },
                            NodeScope::All | NodeScope::Selector(_) => inv.shared.push(dev),
                            NodeScope::Nowhere => {}
                        }
                        inv.devices.push(InvDevice {
                            devices: s.devices.clone(),
                            index: index as u32,
                            pool: pool_idx,
                        });
                    }
                }
                if let Some((node, devs)) = run {
                    inv.by_node.entry(node).or_default().extend(devs);
                }
            }
            inv.any_unusable |= state != PoolState::Usable;
            inv.pools.push(Pool {
                id,
                generation,
                state,
                counters,
                scopes,
            });
        }
        inv
    }

    pub fn id(&self, key: &DeviceKey) -> Option<DevId> {
        self.by_key.get(key).copied()
    }

    pub fn device(&self, id: DevId) -> &Device {
        self.devices[id as usize].device()
    }

    /// The devices a node can use, in kube's search order (node-local pools first by driver
    /// and pool name, then network-attached ones that select the node).
    pub fn node_devices(&self, node: Sym, labels: &Labels) -> Vec<DevId> {
        let mut out: Vec<DevId> = self.by_node.get(&node).cloned().unwrap_or_default();
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
        self.by_node.get(&node).map_or(&[], Vec::as_slice)
    }

    /// The nodes with node-local devices, with them in search order.
    pub fn nodes(&self) -> impl Iterator<Item = (Sym, &[DevId])> {
        self.by_node.iter().map(|(n, d)| (*n, d.as_slice()))
    }

    /// How many nodes have node-local devices.
    pub fn node_count(&self) -> usize {
        self.by_node.len()
    }

    /// Some pool is incomplete or invalid.
    pub fn any_unusable(&self) -> bool {
        self.any_unusable
    }

    pub fn has_shared(&self) -> bool {
        !self.shared.is_empty()
    }

    /// Pools that concern `node` but are not usable (kube: `All` fails there, and a failed
    /// allocation there is reported as meeting invalid pools).
    pub fn unusable_pools_on(&self, node: Sym, labels: &Labels) -> impl Iterator<Item = &Pool> {
        // Every pool usable (the common case): no walk over all pools for each refused node.
        let pools = if self.any_unusable {
            &self.pools[..]
        } else {
            &[]
        };
        pools.iter().filter(move |p| {
            p.state != PoolState::Usable && p.scopes.iter().any(|s| s.matches(node, labels))
        })
    }

    pub fn len(&self) -> usize {
        self.devices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
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

    #[test]
    fn only_the_newest_complete_generation_counts() {
        let old = slice_with(1, 1, "s-old", &["a", "b"]);
        let new1 = slice_with(2, 2, "s-new-1", &["c"]);
        let inv = Inventory::build([&old, &new1]);
        assert!(
            inv.is_empty(),
            "generation 2 is incomplete, generation 1 obsolete"
        );
        assert_eq!(inv.pools[0].state, PoolState::Incomplete);
        assert_eq!(
            inv.unusable_pools_on(sym("n"), &Labels::default()).count(),
            1
        );
        let new2 = slice_with(2, 2, "s-new-2", &["d"]);
        let inv = Inventory::build([&new2, &old, &new1]);
        let names: Vec<_> = inv
            .devices
            .iter()
            .map(|d| crate::intern::resolve(d.device().key.device))
            .collect();
        assert_eq!(
            names,
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
        assert!(matches!(inv.pools[0].state, PoolState::Invalid(ref w) if w.contains("duplicate")));
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
    }
}
