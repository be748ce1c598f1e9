//! A pod's topology-managed needs against a node's zones, as small matrices over zone bitmasks.

use super::request::{PlacementRequest, ResourceRole};
use super::zone_table::ZoneTable;

/// The request's resources that this node's topology manages, GPUs first.
pub(super) struct Needs<'r> {
    pub(super) items: Vec<Need<'r>>,
}

#[derive(Debug, Clone)]
pub(super) struct Need<'r> {
    pub(super) name: &'r str,
    pub(super) amount: i64,
    pub(super) role: ResourceRole,
    /// The resource's column in the node's [`ZoneTable`].
    pub(super) column: usize,
}

impl<'r> Needs<'r> {
    pub(super) fn of(zones: &ZoneTable, request: &'r PlacementRequest) -> Self {
        let mut items: Vec<Need<'r>> = request
            .resources
            .iter()
            .filter(|r| r.amount > 0)
            .filter_map(|r| {
                Some(Need {
                    name: &r.name,
                    amount: r.amount,
                    role: r.role,
                    column: zones.column(r.sym)?,
                })
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

/// Cells a grid keeps in place; larger grids (many zones or many aligned resources) go to the
/// heap. Placement builds several grids per node per pod, and most nodes have 2 zones and
/// most pods ask for GPUs and at most a NIC.
const INLINE_CELLS: usize = 16;

/// A zones × needs matrix of amounts.
#[derive(Debug, Clone)]
pub(super) struct Grid {
    pub(super) needs: usize,
    zones: usize,
    inline: [i64; INLINE_CELLS],
    heap: Vec<i64>,
}

impl Grid {
    pub(super) fn zeros(zones: usize, needs: usize) -> Self {
        let cells = zones * needs;
        Self {
            needs,
            zones,
            inline: [0; INLINE_CELLS],
            heap: if cells > INLINE_CELLS {
                vec![0; cells]
            } else {
                Vec::new()
            },
        }
    }

    pub(super) fn zones(&self) -> usize {
        self.zones
    }

    fn cells(&self) -> &[i64] {
        if self.heap.is_empty() {
            &self.inline[..self.zones * self.needs]
        } else {
            &self.heap
        }
    }

    fn cells_mut(&mut self) -> &mut [i64] {
        if self.heap.is_empty() {
            &mut self.inline[..self.zones * self.needs]
        } else {
            &mut self.heap
        }
    }

    pub(super) fn get(&self, zone: usize, need: usize) -> i64 {
        self.cells()[zone * self.needs + need]
    }

    pub(super) fn add(&mut self, zone: usize, need: usize, amount: i64) {
        let needs = self.needs;
        self.cells_mut()[zone * needs + need] += amount;
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
    pub(super) fn new(table: &ZoneTable, needs: &Needs<'_>) -> Self {
        let zones = table.zones();
        let mut free = Grid::zeros(zones, needs.len());
        let mut allocatable = Grid::zeros(zones, needs.len());
        for z in 0..zones {
            for (k, need) in needs.items.iter().enumerate() {
                free.add(z, k, table.free(z, need.column));
                allocatable.add(z, k, table.allocatable(z, need.column));
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
