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

use std::collections::BTreeMap;

use super::allocation::{Allocation, ZoneAllocation};
use super::node::{ManagerPolicy, NodeTopology, Switch, Zone};
use super::nrt::MAX_ZONES;
use super::request::{NumaPolicy, PlacementRequest, ResourceRole};
use super::usage::ZoneUsage;

/// Most zones for which every zone subset is tried; larger nodes fall back to a greedy choice.
const EXHAUSTIVE_ZONE_LIMIT: usize = 10;

/// Why a node cannot host the pod's aligned resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Infeasible {
    /// kube-style reason, the same for every node failing the same way, e.g.
    /// `node(s) had no single NUMA node with 4 nvidia.com/gpu and 1 rdma/hca`.
    pub reason: String,
    /// Whether the node could host the pod once pods on it finish (false: it never can, as for
    /// kube's UnschedulableAndUnresolvable).
    pub resolvable: bool,
}

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
    let needs = Needs::of(topology, request);
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
            reason: format!("node(s) had more than {MAX_ZONES} NUMA zones"),
            resolvable: false,
        });
    }
    let table = Table::new(topology, pending, &needs);
    let mask = choose_zones(topology, request, &needs, &table)?;
    let mut taken = Grid::zeros(table.zones, needs.items.len());
    fill_shares(&needs, &table, mask, &mut taken);
    let switches = if has_switches(topology) {
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

/// Reason when the pod's own `single` policy finds no zone.
pub fn no_single_zone_reason(request: &PlacementRequest) -> String {
    let described: Vec<String> = request
        .resources
        .iter()
        .map(|r| describe_amount(&r.name, r.amount))
        .collect();
    format!(
        "node(s) had no single NUMA node with {}",
        join_english(&described)
    )
}

/// Reason when kubelet's own policy on the node would reject the pod.
pub fn manager_policy_reason(policy: ManagerPolicy) -> String {
    format!(
        "node(s) had topology manager policy {} that cannot align the pod",
        policy.as_str()
    )
}

/// Reason when the zones together lack a resource (usually because of pending allocations).
pub fn insufficient_reason(resource: &str) -> String {
    format!("node(s) had insufficient {resource} in NUMA zones")
}

/// The request's resources that this node's topology manages, GPUs first.
struct Needs<'r> {
    items: Vec<Need<'r>>,
}

#[derive(Debug, Clone)]
struct Need<'r> {
    name: &'r str,
    amount: i64,
    role: ResourceRole,
}

impl<'r> Needs<'r> {
    fn of(topology: &NodeTopology, request: &'r PlacementRequest) -> Self {
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

    fn len(&self) -> usize {
        self.items.len()
    }
}

fn role_rank(role: ResourceRole) -> u8 {
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
struct Grid {
    needs: usize,
    cells: Vec<i64>,
}

impl Grid {
    fn zeros(zones: usize, needs: usize) -> Self {
        Self {
            needs,
            cells: vec![0; zones * needs],
        }
    }

    fn get(&self, zone: usize, need: usize) -> i64 {
        self.cells[zone * self.needs + need]
    }

    fn add(&mut self, zone: usize, need: usize, amount: i64) {
        self.cells[zone * self.needs + need] += amount;
    }

    fn sum(&self, mask: u32, need: usize) -> i64 {
        members(mask).map(|z| self.get(z, need)).sum()
    }
}

/// Free and allocatable amounts per zone per need.
struct Table {
    zones: usize,
    free: Grid,
    allocatable: Grid,
}

impl Table {
    fn new(topology: &NodeTopology, pending: &ZoneUsage, needs: &Needs<'_>) -> Self {
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
fn covers(amounts: &Grid, mask: u32, needs: &Needs<'_>) -> bool {
    needs
        .items
        .iter()
        .enumerate()
        .all(|(k, need)| amounts.sum(mask, k) >= need.amount)
}

/// Zone indices in `mask`, ascending.
fn members(mut mask: u32) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (mask != 0).then(|| {
            let zone = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            zone
        })
    })
}

fn all_zones(zones: usize) -> u32 {
    if zones >= 32 {
        u32::MAX
    } else {
        (1u32 << zones) - 1
    }
}

fn single_zones(zones: usize) -> impl Iterator<Item = u32> {
    (0..zones).map(|z| 1u32 << z)
}

fn has_switches(topology: &NodeTopology) -> bool {
    topology.zones.iter().any(|zone| !zone.switches.is_empty())
}

/// The zone set, as a bitmask, under the strictest rule that applies.
fn choose_zones(
    topology: &NodeTopology,
    request: &PlacementRequest,
    needs: &Needs<'_>,
    table: &Table,
) -> Result<u32, Infeasible> {
    let zones = table.zones;
    let node_single = topology.policy == ManagerPolicy::SingleNumaNode;
    if request.policy == NumaPolicy::Single || node_single {
        let fitting = single_zones(zones).filter(|&m| covers(&table.free, m, needs));
        return best(topology, needs, table, fitting).ok_or_else(|| {
            let resolvable = single_zones(zones).any(|m| covers(&table.allocatable, m, needs));
            let reason = if request.policy == NumaPolicy::Single {
                no_single_zone_reason(request)
            } else {
                manager_policy_reason(topology.policy)
            };
            Infeasible { reason, resolvable }
        });
    }
    let everything = all_zones(zones);
    if !covers(&table.free, everything, needs) {
        return Err(insufficient(needs, table));
    }
    if topology.policy == ManagerPolicy::Restricted {
        let Some(size) = smallest_cover(&table.allocatable, needs) else {
            return Err(insufficient(needs, table));
        };
        let fitting = subsets_that_fit(&table.free, needs, size);
        return best(topology, needs, table, fitting.into_iter()).ok_or_else(|| Infeasible {
            reason: manager_policy_reason(topology.policy),
            resolvable: true,
        });
    }
    if request.policy == NumaPolicy::None {
        return Ok(everything);
    }
    let size = smallest_cover(&table.free, needs).expect("all zones together cover the request");
    let fitting = subsets_that_fit(&table.free, needs, size);
    Ok(best(topology, needs, table, fitting.into_iter()).expect("a cover of this size exists"))
}

fn insufficient(needs: &Needs<'_>, table: &Table) -> Infeasible {
    let everything = all_zones(table.zones);
    let short = needs
        .items
        .iter()
        .enumerate()
        .find(|&(k, need)| table.free.sum(everything, k) < need.amount)
        .map_or(needs.items[0].name, |(_, need)| need.name);
    Infeasible {
        reason: insufficient_reason(short),
        resolvable: covers(&table.allocatable, everything, needs),
    }
}

/// Fewest zones that together could hold the request per `amounts`; `None` if even all cannot.
fn smallest_cover(amounts: &Grid, needs: &Needs<'_>) -> Option<u32> {
    let zones = amounts.cells.len() / amounts.needs;
    if single_zones(zones).any(|m| covers(amounts, m, needs)) {
        return Some(1);
    }
    if zones > EXHAUSTIVE_ZONE_LIMIT {
        return covers(amounts, all_zones(zones), needs)
            .then(|| greedy_cover(amounts, zones, needs).count_ones());
    }
    (1..=all_zones(zones))
        .filter(|&mask| covers(amounts, mask, needs))
        .map(u32::count_ones)
        .min()
}

/// Zone sets of exactly `size` zones that hold the request per `amounts`.
fn subsets_that_fit(amounts: &Grid, needs: &Needs<'_>, size: u32) -> Vec<u32> {
    let zones = amounts.cells.len() / amounts.needs;
    if size == 1 {
        return single_zones(zones)
            .filter(|&m| covers(amounts, m, needs))
            .collect();
    }
    if zones > EXHAUSTIVE_ZONE_LIMIT {
        let mask = greedy_cover(amounts, zones, needs);
        return if mask.count_ones() == size && covers(amounts, mask, needs) {
            vec![mask]
        } else {
            Vec::new()
        };
    }
    (1..=all_zones(zones))
        .filter(|&mask| mask.count_ones() == size && covers(amounts, mask, needs))
        .collect()
}

/// For nodes with too many zones to try every subset: add zones by most free of the first
/// need until everything is covered.
fn greedy_cover(amounts: &Grid, zones: usize, needs: &Needs<'_>) -> u32 {
    let mut order: Vec<usize> = (0..zones).collect();
    order.sort_by_key(|&z| std::cmp::Reverse(amounts.get(z, 0)));
    let mut mask = 0;
    for z in order {
        mask |= 1 << z;
        if covers(amounts, mask, needs) {
            break;
        }
    }
    mask
}

/// Among zone sets of equal size: lowest cost, then switch-aligned, then the tightest fit
/// (fewest units of the first need left free in the chosen zones, then of the others), then
/// the lowest zones.
fn best(
    topology: &NodeTopology,
    needs: &Needs<'_>,
    table: &Table,
    candidates: impl Iterator<Item = u32>,
) -> Option<u32> {
    let switched = has_switches(topology);
    candidates.min_by_key(|&mask| {
        let leftover = |k: usize| table.free.sum(mask, k) - needs.items[k].amount;
        let others: i64 = (1..needs.len()).map(leftover).sum();
        let misses = if switched {
            switch_misses(topology, needs, table, mask)
        } else {
            0
        };
        (
            topology.distances.spread_cost(mask),
            misses,
            leftover(0),
            others,
            mask.reverse_bits(),
        )
    })
}

/// How many of the chosen zones would get switch-level devices no single switch can hold.
fn switch_misses(topology: &NodeTopology, needs: &Needs<'_>, table: &Table, mask: u32) -> usize {
    let mut taken = Grid::zeros(table.zones, needs.len());
    fill_shares(needs, table, mask, &mut taken);
    members(mask)
        .filter(|&z| {
            let zone = &topology.zones[z];
            switch_level(zone, needs, &taken, z).next().is_some()
                && pick_switch(zone, needs, &taken, z, |switch, name| {
                    switch.resource(name).map_or(0, |r| r.free())
                })
                .is_none()
        })
        .count()
}

/// Zones of one placement, in a fixed buffer: placement runs per node per pod, so no heap.
struct ZoneList {
    items: [usize; MAX_ZONES],
    len: usize,
}

impl ZoneList {
    fn of(mask: u32) -> Self {
        let mut list = Self {
            items: [0; MAX_ZONES],
            len: 0,
        };
        for z in members(mask) {
            list.items[list.len] = z;
            list.len += 1;
        }
        list
    }

    fn as_slice(&self) -> &[usize] {
        &self.items[..self.len]
    }

    fn sort_by_key<K: Ord>(&mut self, key: impl FnMut(&usize) -> K) {
        self.items[..self.len].sort_by_key(key);
    }
}

/// Fills `taken` with what the pod takes per zone. The first need (GPUs when asked for)
/// leads, taking whole small fragments first so what is left stays in as few zones as
/// possible; NICs go round-robin over the leader's zones, so each GPU group gets a nearby NIC;
/// the rest fill the leader's zones first.
fn fill_shares(needs: &Needs<'_>, table: &Table, mask: u32, taken: &mut Grid) {
    const LEADER: usize = 0;
    let mut by_free = ZoneList::of(mask);
    by_free.sort_by_key(|&z| (table.free.get(z, LEADER) == 0, table.free.get(z, LEADER), z));
    fill_in_order(
        taken,
        &table.free,
        by_free.as_slice(),
        LEADER,
        needs.items[LEADER].amount,
    );
    let mut order = ZoneList::of(mask);
    order.sort_by_key(|&z| (std::cmp::Reverse(taken.get(z, LEADER)), z));
    let leaders = order
        .as_slice()
        .iter()
        .take_while(|&&z| taken.get(z, LEADER) > 0)
        .count();
    for (k, need) in needs.items.iter().enumerate().skip(1) {
        if need.role == ResourceRole::Nic {
            round_robin(
                taken,
                &table.free,
                &order.as_slice()[..leaders],
                k,
                need.amount,
            );
        }
        let remaining = need.amount - taken.sum(mask, k);
        fill_in_order(taken, &table.free, order.as_slice(), k, remaining);
    }
}

fn fill_in_order(taken: &mut Grid, free: &Grid, order: &[usize], k: usize, mut amount: i64) {
    for &z in order {
        let take = amount.min(free.get(z, k) - taken.get(z, k));
        if take > 0 {
            taken.add(z, k, take);
            amount -= take;
        }
    }
}

/// One unit at a time over `zones` while they have room.
fn round_robin(taken: &mut Grid, free: &Grid, zones: &[usize], k: usize, mut amount: i64) {
    while amount > 0 {
        let mut progressed = false;
        for &z in zones {
            if amount > 0 && taken.get(z, k) < free.get(z, k) {
                taken.add(z, k, 1);
                amount -= 1;
                progressed = true;
            }
        }
        if !progressed {
            break;
        }
    }
}

/// (need index, amount) of zone `z`'s share that its switches report.
fn switch_level<'a>(
    zone: &'a Zone,
    needs: &'a Needs<'_>,
    taken: &'a Grid,
    z: usize,
) -> impl Iterator<Item = (usize, i64)> + 'a {
    needs
        .items
        .iter()
        .enumerate()
        .filter(move |&(k, need)| {
            taken.get(z, k) > 0
                && zone
                    .switches
                    .iter()
                    .any(|s| s.resource(need.name).is_some())
        })
        .map(move |(k, _)| (k, taken.get(z, k)))
}

/// The switch (index) that holds all of zone `z`'s switch-level share with the least left
/// over; `None` when no switch can, or the share holds nothing switch-level.
fn pick_switch(
    zone: &Zone,
    needs: &Needs<'_>,
    taken: &Grid,
    z: usize,
    free: impl Fn(&Switch, &str) -> i64,
) -> Option<usize> {
    switch_level(zone, needs, taken, z).next()?;
    let spare = |switch: &Switch| -> Option<i64> {
        switch_level(zone, needs, taken, z)
            .map(|(k, amount)| {
                let left = free(switch, needs.items[k].name) - amount;
                (left >= 0).then_some(left)
            })
            .sum()
    };
    zone.switches
        .iter()
        .enumerate()
        .filter_map(|(s, switch)| spare(switch).map(|left| (left, s)))
        .min()
        .map(|(_, s)| s)
}

/// `4 nvidia.com/gpu`, `8 cpu` (whole cores), `16Gi memory`.
fn describe_amount(name: &str, amount: i64) -> String {
    if name == "cpu" {
        return if amount % 1000 == 0 {
            format!("{} cpu", amount / 1000)
        } else {
            format!("{amount}m cpu")
        };
    }
    if name == "memory" || name.starts_with("hugepages-") {
        for (suffix, shift) in [("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)] {
            if amount != 0 && amount % (1i64 << shift) == 0 {
                return format!("{}{suffix} {name}", amount >> shift);
            }
        }
    }
    format!("{amount} {name}")
}

fn join_english(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
#[path = "placement_tests.rs"]
mod tests;
