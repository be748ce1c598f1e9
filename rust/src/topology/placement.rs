//! Choosing the NUMA zones (and PCIe switches) a pod's aligned resources come from.
//!
//! Rules, strictest first:
//! - kubelet `single-numa-node` on the node, or `podium.dev/numa: single` on the pod: every
//!   aligned resource in one zone, or the node is infeasible;
//! - kubelet `restricted`: exactly as many zones as the smallest set that could ever hold the
//!   request (kubelet admits only its "preferred" hints);
//! - `prefer`: the fewest zones, then the lowest inter-zone cost;
//! - `none`: fill the smallest free fragments first, wherever they are.
//!
//! Within the chosen zones GPUs go first (small fragments first), then NICs follow them
//! (round-robin over the GPU zones, on the same switch where the node reports switches), then
//! CPUs and memory, also towards the GPU zones.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::allocation::{Allocation, ZoneAllocation};
use super::infeasible::Infeasible;
use super::needs::{Grid, Need, Needs, Table, members};
use super::node::NodeTopology;
use super::nrt::MAX_ZONES;
use super::request::{NumaPolicy, PlacementRequest, ResourceRole};
use super::shares::{fill_shares, pick_switch};
use super::usage::ZoneUsage;
use super::zone_choice::choose_zones;
use super::zone_table::ZoneTable;

/// A placement decided for one node, in compact form (zone indices, no strings), cheap enough
/// to compute for every candidate node. Turn the winner into an [`Allocation`] with
/// [`Placement::to_allocation`].
#[derive(Debug, Clone)]
pub struct Placement<'r> {
    policy: NumaPolicy,
    needs: Vec<Need<'r>>,
    /// zones × needs: what the pod takes where.
    taken: Grid,
    /// Per zone, the index of the switch holding that zone's switch-level share; empty when
    /// the node reports no switches.
    switches: Vec<Option<usize>>,
    used: u32,
    cost: i64,
}

impl Placement<'_> {
    /// Everything aligned sits in one zone (or the pod needs nothing topology-managed).
    pub fn numa_aligned(&self) -> bool {
        self.used.count_ones() <= 1
    }

    /// Number of zones the pod uses.
    pub fn zone_count(&self) -> u32 {
        self.used.count_ones()
    }

    /// Inter-zone cost of the spread (0 for one zone).
    pub fn cost(&self) -> i64 {
        self.cost
    }

    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    /// What the pod takes of `resource` in zone `zone` (an index into the topology's zones).
    pub fn taken(&self, zone: usize, resource: &str) -> i64 {
        self.needs
            .iter()
            .position(|need| need.name == resource)
            .map_or(0, |k| self.taken.get(zone, k))
    }

    /// What the pod takes in zone `zone` of resources in `role`.
    pub fn taken_in_role(&self, zone: usize, role: ResourceRole) -> i64 {
        (0..self.needs.len())
            .filter(|&k| self.needs[k].role == role)
            .map(|k| self.taken.get(zone, k))
            .sum()
    }

    /// The switch (index into the zone's switches) chosen in zone `zone`, if any.
    pub fn switch(&self, zone: usize) -> Option<usize> {
        self.switches.get(zone).copied().flatten()
    }

    /// Zone indices the pod uses, ascending.
    pub fn zones(&self) -> impl Iterator<Item = usize> + '_ {
        members(self.used)
    }

    /// The allocation to record on the pod (`topology` must be the one placed on).
    pub fn to_allocation(&self, topology: &NodeTopology) -> Allocation {
        let zones = members(self.used)
            .map(|z| {
                let zone = &topology.zones[z];
                let resources: BTreeMap<String, i64> = self
                    .needs
                    .iter()
                    .enumerate()
                    .filter(|&(k, _)| self.taken.get(z, k) > 0)
                    .map(|(k, need)| (need.name.to_string(), self.taken.get(z, k)))
                    .collect();
                ZoneAllocation {
                    zone: zone.name.clone(),
                    switch: self.switch(z).map(|s| zone.switches[s].name.clone()),
                    resources,
                }
            })
            .collect();
        Allocation {
            policy: self.policy,
            zones,
            numa_aligned: self.numa_aligned(),
            cost: self.cost,
        }
    }
}

/// Places `request` on `topology`, counting `pending` (podium's allocations the NRT object does
/// not show yet) as used. Resources no zone of the node reports are left to node-level fit and
/// do not appear in the placement.
pub fn plan<'r>(
    topology: &NodeTopology,
    pending: &ZoneUsage,
    request: &'r PlacementRequest,
) -> Result<Placement<'r>, Infeasible> {
    plan_in(
        topology,
        &ZoneTable::new(topology, pending),
        pending,
        request,
    )
}

/// [`plan`] with the node's [`ZoneTable`] (built from `topology` and `pending`) at hand, as the
/// cache keeps it.
pub fn plan_in<'r>(
    topology: &NodeTopology,
    zone_table: &ZoneTable,
    pending: &ZoneUsage,
    request: &'r PlacementRequest,
) -> Result<Placement<'r>, Infeasible> {
    let needs = Needs::of(zone_table, request);
    if needs.items.is_empty() {
        return Ok(Placement {
            policy: request.policy,
            needs: needs.items,
            taken: Grid::zeros(0, 0),
            switches: Vec::new(),
            used: 0,
            cost: 0,
        });
    }
    if topology.zones.len() > MAX_ZONES {
        return Err(Infeasible {
            reason: Cow::Owned(format!("node(s) had more than {MAX_ZONES} NUMA zones")),
            resolvable: false,
        });
    }
    let table = Table::new(zone_table, &needs);
    let mask = choose_zones(topology, request, &needs, &table)?;
    let mut taken = Grid::zeros(table.zones, needs.items.len());
    fill_shares(&needs, &table, mask, &mut taken);
    let switches = if topology.has_switches() {
        (0..table.zones)
            .map(|z| {
                pick_switch(&topology.zones[z], &needs, &taken, z, |switch, name| {
                    pending.free_in_switch(switch, name)
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let used = (0..table.zones)
        .filter(|&z| (0..needs.items.len()).any(|k| taken.get(z, k) > 0))
        .fold(0u32, |used, z| used | 1 << z);
    Ok(Placement {
        policy: request.policy,
        cost: topology.distances.spread_cost(used),
        needs: needs.items,
        taken,
        switches,
        used,
    })
}

/// [`plan`], then the allocation to record on the pod.
pub fn place(
    topology: &NodeTopology,
    pending: &ZoneUsage,
    request: &PlacementRequest,
) -> Result<Allocation, Infeasible> {
    plan(topology, pending, request).map(|placement| placement.to_allocation(topology))
}

#[cfg(test)]
#[path = "placement_tests.rs"]
mod tests;
