//! A pod's topology-managed needs against a node's zones, as small matrices over zone bitmasks.

use super::node::NodeTopology;
use super::request::{PlacementRequest, ResourceRole};
use super::usage::ZoneUsage;

/// The request's resources that this node's topology manages, GPUs first.
pub(super) struct Needs<'r> {
    pub(super) items: Vec<Need<'r>>,
}

#[derive(Debug, Clone)]
pub(super) struct Need<'r> {
    pub(super) name: &'r str,
    pub(super) amount: i64,
    pub(super) role: ResourceRole,
}

impl<'r> Needs<'r> {
    pub(super) fn of(topology: &NodeTopology, request: &'r PlacementRequest) -> Self {
        let mut items: Vec<Need<'r>> = request
            .resources
            .iter()
            .filter(|r| r.amount > 0 && topology.reports(&r.name))
            .map(|r| Need {
                name: &r.name,
                amount: r.amount,
                role: r.role,
            })
            .collect();
        items.sort_by_key(|need| role_rank(need.role));
        Self { items }
    }

    pub(super) fn len(&self) -> usize {
        self.items.len()
    }
}

pub(super) fn role_rank(role: ResourceRole) -> u8 {
    match role {
        ResourceRole::Gpu => 0,
        ResourceRole::Nic => 1,
        ResourceRole::Cpu => 2,
        ResourceRole::Memory => 3,
        ResourceRole::Other => 4,
    }
}

/// A zones × needs matrix of amounts.
#[derive(Debug, Clone)]
pub(super) struct Grid {
    pub(super) needs: usize,
    pub(super) cells: Vec<i64>,
}

impl Grid {
    pub(super) fn zeros(zones: usize, needs: usize) -> Self {
        Self {
            needs,
            cells: vec![0; zones * needs],
        }
    }

    pub(super) fn get(&self, zone: usize, need: usize) -> i64 {
        self.cells[zone * self.needs + need]
    }

    pub(super) fn add(&mut self, zone: usize, need: usize, amount: i64) {
        self.cells[zone * self.needs + need] += amount;
    }

    pub(super) fn sum(&self, mask: u32, need: usize) -> i64 {
        members(mask).map(|z| self.get(z, need)).sum()
    }
}

/// Free and allocatable amounts per zone per need.
pub(super) struct Table {
    pub(super) zones: usize,
    pub(super) free: Grid,
    pub(super) allocatable: Grid,
}

impl Table {
    pub(super) fn new(topology: &NodeTopology, pending: &ZoneUsage, needs: &Needs<'_>) -> Self {
        let zones = topology.zones.len();
        let mut free = Grid::zeros(zones, needs.len());
        let mut allocatable = Grid::zeros(zones, needs.len());
        for (z, zone) in topology.zones.iter().enumerate() {
            for (k, need) in needs.items.iter().enumerate() {
                if let Some(resource) = zone.resource(need.name) {
                    free.add(
                        z,
                        k,
                        (resource.free() - pending.get(&zone.name, need.name)).max(0),
                    );
                    allocatable.add(z, k, resource.allocatable.max(0));
                }
            }
        }
        Self {
            zones,
            free,
            allocatable,
        }
    }
}

/// Whether the zones in `mask` together hold every need, per `amounts` (free or allocatable).
pub(super) fn covers(amounts: &Grid, mask: u32, needs: &Needs<'_>) -> bool {
    needs
        .items
        .iter()
        .enumerate()
        .all(|(k, need)| amounts.sum(mask, k) >= need.amount)
}

/// Zone indices in `mask`, ascending.
pub(super) fn members(mut mask: u32) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (mask != 0).then(|| {
            let zone = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            zone
        })
    })
}

pub(super) fn all_zones(zones: usize) -> u32 {
    if zones >= 32 {
        u32::MAX
    } else {
        (1u32 << zones) - 1
    }
}

pub(super) fn single_zones(zones: usize) -> impl Iterator<Item = u32> {
    (0..zones).map(|z| 1u32 << z)
}
