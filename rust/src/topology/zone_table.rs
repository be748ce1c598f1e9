//! A node's zones as plain numbers: free and allocatable per zone per resource, resources
//! named by interned symbols.
//!
//! Placement and packing run for every candidate node of every device pod. Reading the NRT
//! object there means string compares per zone per resource, and the pending ledger's maps
//! by zone and resource name on top. A node's figures only change when its object or its
//! ledger does, so the cache builds this table once per change and every pod in between reads
//! integers.

use super::node::NodeTopology;
use super::usage::ZoneUsage;
use crate::intern::{Sym, sym};

/// Free (NRT `available` minus podium's pending allocations, never below 0) and allocatable
/// amounts, zones × resources, for every resource any zone of the node reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneTable {
    zones: usize,
    resources: Vec<Sym>,
    free: Vec<i64>,
    allocatable: Vec<i64>,
}

impl ZoneTable {
    pub fn new(topology: &NodeTopology, pending: &ZoneUsage) -> Self {
        let zones = topology.zones.len();
        let mut names: Vec<&str> = Vec::new();
        for zone in &topology.zones {
            for resource in &zone.resources {
                if !names.contains(&resource.name.as_str()) {
                    names.push(&resource.name);
                }
            }
        }
        let mut free = vec![0; zones * names.len()];
        let mut allocatable = vec![0; zones * names.len()];
        for (z, zone) in topology.zones.iter().enumerate() {
            for (r, name) in names.iter().enumerate() {
                if let Some(resource) = zone.resource(name) {
                    let cell = z * names.len() + r;
                    free[cell] = (resource.free() - pending.get(&zone.name, name)).max(0);
                    allocatable[cell] = resource.allocatable.max(0);
                }
            }
        }
        Self {
            zones,
            resources: names.iter().map(|name| sym(name)).collect(),
            free,
            allocatable,
        }
    }

    pub fn zones(&self) -> usize {
        self.zones
    }

    /// The column of `resource`; `None` when no zone reports it (it is then left to node-level
    /// fit).
    pub fn column(&self, resource: Sym) -> Option<usize> {
        self.resources.iter().position(|&r| r == resource)
    }

    pub fn free(&self, zone: usize, column: usize) -> i64 {
        self.free[zone * self.resources.len() + column]
    }

    pub fn allocatable(&self, zone: usize, column: usize) -> i64 {
        self.allocatable[zone * self.resources.len() + column]
    }

    /// Free and allocatable per zone, summed over `resources` (e.g. every GPU resource name),
    /// into `free` and `allocatable` (one slot per zone; extra slots are left alone).
    pub fn sum_into(&self, resources: &[Sym], free: &mut [i64], allocatable: &mut [i64]) {
        for &resource in resources {
            let Some(column) = self.column(resource) else {
                continue;
            };
            for z in 0..self.zones.min(free.len()).min(allocatable.len()) {
                free[z] += self.free(z, column);
                allocatable[z] += self.allocatable(z, column);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::allocation::{Allocation, ZoneAllocation};
    use super::super::request::NumaPolicy;
    use super::super::test_support::{GPU, NIC, topology, used, zone};
    use super::*;

    #[test]
    fn free_counts_pending_and_unreported_resources_have_no_column() {
        let node = topology(&[used(zone(4, 2), 1), zone(4, 2)]);
        let mut pending = ZoneUsage::new();
        pending.add(&Allocation {
            policy: NumaPolicy::Single,
            zones: vec![ZoneAllocation {
                zone: "node-1".into(),
                switch: None,
                resources: [(GPU.to_string(), 3)].into(),
            }],
            numa_aligned: true,
            cost: 0,
        });
        let table = ZoneTable::new(&node, &pending);
        let gpu = table.column(sym(GPU)).expect("reported");
        assert_eq!((table.free(0, gpu), table.free(1, gpu)), (3, 1));
        assert_eq!(
            (table.allocatable(0, gpu), table.allocatable(1, gpu)),
            (4, 4)
        );
        let nic = table.column(sym(NIC)).expect("reported");
        assert_eq!(table.free(1, nic), 2);
        assert_eq!(table.column(sym("example.com/none")), None);
        let (mut free, mut allocatable) = ([0; 3], [0; 3]);
        table.sum_into(
            &[sym(GPU), sym("example.com/none")],
            &mut free,
            &mut allocatable,
        );
        assert_eq!((free, allocatable), ([3, 1, 0], [4, 4, 0]));
    }

    #[test]
    fn pending_beyond_the_object_leaves_nothing_not_less() {
        let node = topology(&[used(zone(4, 0), 3)]);
        let mut pending = ZoneUsage::new();
        pending.add_amount("node-0", GPU, 5);
        let table = ZoneTable::new(&node, &pending);
        assert_eq!(table.free(0, table.column(sym(GPU)).unwrap()), 0);
    }
}
