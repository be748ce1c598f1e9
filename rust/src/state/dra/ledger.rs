//! What is allocated, against one inventory: the devices of every claim whose `status.allocation`
//! the informer has shown, plus the allocations podium assumed and has not written yet (kube's
//! in-flight claims; see `Dra::assume`), so no device is handed out twice. Dedicated use counts
//! per device, shared (consumable capacity) uses and the capacity they consume, and what
//! partitions draw from their pool's counters.

use std::collections::HashMap;
use std::sync::Arc;

use super::claim::AllocatedDevice;
use super::pools::{DevId, Inventory};
use crate::intern::Sym;

/// Devices per chunk of `Counts`. A copy touches every chunk's count (a cache miss each: at
/// 60,000 devices, 512 a chunk made an assumption cost ~240 of them, twice), a first write
/// copies one chunk (8 KiB here).
const CHUNK: usize = 4096;

/// A count per device, in chunks shared between copies until written: a batch assumes after
/// every placement, and each assumption takes a copy of the ledger (snapshots keep theirs), so
/// a copy must not cost the whole cluster's devices.
#[derive(Debug, Clone, Default)]
struct Counts {
    chunks: Vec<Arc<[u16; CHUNK]>>,
}

impl Counts {
    fn new(len: usize) -> Self {
        // One zeroed chunk shared by all: each is copied when first written.
        let zeros = Arc::new([0; CHUNK]);
        Self {
            chunks: vec![zeros; len.div_ceil(CHUNK)],
        }
    }

    fn get(&self, dev: DevId) -> u16 {
        let i = dev as usize;
        self.chunks[i / CHUNK][i % CHUNK]
    }

    fn get_mut(&mut self, dev: DevId) -> &mut u16 {
        let i = dev as usize;
        &mut Arc::make_mut(&mut self.chunks[i / CHUNK])[i % CHUNK]
    }
}

/// Devices the inventory lacks (a slice gone) are skipped.
#[derive(Debug, Clone, Default)]
pub struct InUse {
    dedicated: Counts,
    shared: Counts,
    /// (pool index, counter set, counter) → amount drawn.
    counters: HashMap<(u32, Sym, Sym), i64>,
    /// (device, capacity index) → amount consumed by shares.
    capacity: HashMap<(DevId, u16), i64>,
}

impl InUse {
    pub fn from_devices<'a>(
        inv: &Inventory,
        devices: impl IntoIterator<Item = &'a AllocatedDevice>,
    ) -> Self {
        let mut out = Self {
            dedicated: Counts::new(inv.id_bound()),
            shared: Counts::new(inv.id_bound()),
            ..Self::default()
        };
        for d in devices {
            out.add(inv, d);
        }
        out
    }

    fn any_use(&self, dev: DevId) -> bool {
        self.dedicated.get(dev) > 0 || self.shared.get(dev) > 0
    }

    fn draw_counters(&mut self, inv: &Inventory, dev: DevId, sign: i64) {
        let pool = inv.pool_of(dev);
        for u in &inv.device(dev).consumes_counters {
            for (c, v) in &u.counters {
                *self.counters.entry((pool, u.set, *c)).or_default() += sign * v;
            }
        }
    }

    pub fn add(&mut self, inv: &Inventory, d: &AllocatedDevice) {
        let Some(dev) = inv.id(&d.key) else { return };
        if d.admin_access {
            return;
        }
        // A partition draws from its counters once, however many shares it serves.
        if !self.any_use(dev) {
            self.draw_counters(inv, dev, 1);
        }
        if d.share_id.is_some() {
            *self.shared.get_mut(dev) += 1;
            let device = inv.device(dev);
            for (name, v) in &d.consumed {
                if let Some(i) = device
                    .capacity
                    .iter()
                    .position(|c| Some(c) == device.capacity_named(*name))
                {
                    *self.capacity.entry((dev, i as u16)).or_default() += v;
                }
            }
        } else {
            *self.dedicated.get_mut(dev) += 1;
        }
    }

    pub fn remove(&mut self, inv: &Inventory, d: &AllocatedDevice) {
        let Some(dev) = inv.id(&d.key) else { return };
        if d.admin_access {
            return;
        }
        if d.share_id.is_some() {
            let slot = self.shared.get_mut(dev);
            *slot = slot.saturating_sub(1);
            let device = inv.device(dev);
            for (name, v) in &d.consumed {
                if let Some(i) = device
                    .capacity
                    .iter()
                    .position(|c| Some(c) == device.capacity_named(*name))
                {
                    *self.capacity.entry((dev, i as u16)).or_default() -= v;
                }
            }
        } else {
            let slot = self.dedicated.get_mut(dev);
            *slot = slot.saturating_sub(1);
        }
        if !self.any_use(dev) {
            self.draw_counters(inv, dev, -1);
        }
    }

    /// Allocated to some claim without admin access and not as a share.
    pub fn dedicated(&self, dev: DevId) -> bool {
        self.dedicated.get(dev) > 0
    }

    /// Serving at least one share (consumable capacity).
    pub fn shared(&self, dev: DevId) -> bool {
        self.shared.get(dev) > 0
    }

    pub fn counter_drawn(&self, pool: u32, set: Sym, counter: Sym) -> i64 {
        self.counters
            .get(&(pool, set, counter))
            .copied()
            .unwrap_or(0)
    }

    pub fn capacity_consumed(&self, dev: DevId, index: usize) -> i64 {
        self.capacity
            .get(&(dev, index as u16))
            .copied()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::sym;
    use crate::state::dra::device::DeviceKey;
    use crate::state::dra::fixtures::gpu_node_slice;
    use crate::state::dra::slice::Slice;

    fn dev(n: &str) -> AllocatedDevice {
        AllocatedDevice {
            request: sym("gpu"),
            key: DeviceKey::new("gpu.example.com", "n0", n),
            admin_access: false,
            share_id: None,
            consumed: Box::default(),
        }
    }

    #[test]
    fn admin_access_does_not_use_the_device() {
        let s = Slice::decode(&gpu_node_slice("n0", 2, 1)).unwrap();
        let inv = Inventory::build([&s]);
        let mut d = dev("gpu-0");
        d.admin_access = true;
        let mut in_use = InUse::from_devices(&inv, [&d]);
        assert!(!in_use.dedicated(0));
        d.admin_access = false;
        in_use.add(&inv, &d);
        assert!(in_use.dedicated(0));
        in_use.remove(&inv, &d);
        assert!(!in_use.dedicated(0));
    }

    #[test]
    fn a_copy_keeps_what_it_saw() {
        // Enough devices for several chunks: the copy shares them until one side writes.
        let s = Slice::decode(&gpu_node_slice("n0", 2 * CHUNK + 100, 4)).unwrap();
        let inv = Inventory::build([&s]);
        let mut in_use = InUse::from_devices(&inv, [&dev("gpu-3")]);
        let copy = in_use.clone();
        let (d3, d1100) = (
            inv.id(&DeviceKey::new("gpu.example.com", "n0", "gpu-3"))
                .unwrap(),
            inv.id(&DeviceKey::new(
                "gpu.example.com",
                "n0",
                &format!("gpu-{}", CHUNK + 50),
            ))
            .unwrap(),
        );
        in_use.add(&inv, &dev(&format!("gpu-{}", CHUNK + 50)));
        in_use.remove(&inv, &dev("gpu-3"));
        assert!(in_use.dedicated(d1100) && !in_use.dedicated(d3));
        assert!(copy.dedicated(d3) && !copy.dedicated(d1100));
    }
}
