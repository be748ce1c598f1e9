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
use super::node::{ManagerPolicy, NodeTopology};
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

/// Places `request` on `topology`, counting `pending` (podium's allocations the NRT object does
/// not show yet) as used. Resources no zone of the node reports are left to node-level fit and
/// do not appear in the allocation.
pub fn place(
    topology: &NodeTopology,
    pending: &ZoneUsage,
    request: &PlacementRequest,
) -> Result<Allocation, Infeasible> {
    let needs = Needs::of(topology, request);
    if needs.items.is_empty() {
        return Ok(Allocation {
            policy: request.policy,
            zones: Vec::new(),
            numa_aligned: true,
            cost: 0,
        });
    }
    let table = Table::new(topology, pending, &needs);
    let mask = choose_zones(topology, request, &needs, &table)?;
    Ok(split(
        topology,
        pending,
        request.policy,
        &needs,
        &table,
        mask,
    ))
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

/// Free and allocatable amounts per zone per need.
struct Table {
    free: Vec<Vec<i64>>,
    allocatable: Vec<Vec<i64>>,
}

impl Table {
    fn new(topology: &NodeTopology, pending: &ZoneUsage, needs: &Needs<'_>) -> Self {
        let free = topology
            .zones
            .iter()
            .map(|zone| {
                needs
                    .items
                    .iter()
                    .map(|n| pending.free_in_zone(zone, n.name))
                    .collect()
            })
            .collect();
        let allocatable = topology
            .zones
            .iter()
            .map(|zone| {
                needs
                    .items
                    .iter()
                    .map(|n| zone.resource(n.name).map_or(0, |r| r.allocatable.max(0)))
                    .collect()
            })
            .collect();
        Self { free, allocatable }
    }

    fn zones(&self) -> usize {
        self.free.len()
    }
}

/// Whether the zones in `mask` together hold every need, per `amounts` (free or allocatable).
fn covers(amounts: &[Vec<i64>], mask: u32, needs: &Needs<'_>) -> bool {
    needs.items.iter().enumerate().all(|(k, need)| {
        let total: i64 = members(mask, amounts.len()).map(|z| amounts[z][k]).sum();
        total >= need.amount
    })
}

fn members(mask: u32, zones: usize) -> impl Iterator<Item = usize> {
    (0..zones).filter(move |&z| mask & (1 << z) != 0)
}

fn all_zones(zones: usize) -> u32 {
    if zones >= 32 {
        u32::MAX
    } else {
        (1u32 << zones) - 1
    }
}

/// The zone set, as a bitmask, under the strictest rule that applies.
fn choose_zones(
    topology: &NodeTopology,
    request: &PlacementRequest,
    needs: &Needs<'_>,
    table: &Table,
) -> Result<u32, Infeasible> {
    let zones = table.zones();
    let node_single = topology.policy == ManagerPolicy::SingleNumaNode;
    if request.policy == NumaPolicy::Single || node_single {
        let fitting: Vec<u32> = (0..zones)
            .map(|z| 1u32 << z)
            .filter(|&m| covers(&table.free, m, needs))
            .collect();
        if fitting.is_empty() {
            let resolvable = (0..zones).any(|z| covers(&table.allocatable, 1 << z, needs));
            let reason = if request.policy == NumaPolicy::Single {
                no_single_zone_reason(request)
            } else {
                manager_policy_reason(topology.policy)
            };
            return Err(Infeasible { reason, resolvable });
        }
        return Ok(best(topology, needs, table, &fitting));
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
        if fitting.is_empty() {
            return Err(Infeasible {
                reason: manager_policy_reason(topology.policy),
                resolvable: true,
            });
        }
        return Ok(best(topology, needs, table, &fitting));
    }
    if request.policy == NumaPolicy::None {
        return Ok(everything);
    }
    let size = smallest_cover(&table.free, needs).expect("all zones together cover the request");
    Ok(best(
        topology,
        needs,
        table,
        &subsets_that_fit(&table.free, needs, size),
    ))
}

fn insufficient(needs: &Needs<'_>, table: &Table) -> Infeasible {
    let zones = table.zones();
    let total = |amounts: &[Vec<i64>], k: usize| -> i64 { (0..zones).map(|z| amounts[z][k]).sum() };
    let short = needs
        .items
        .iter()
        .enumerate()
        .find(|&(k, need)| total(&table.free, k) < need.amount)
        .map_or(needs.items[0].name, |(_, need)| need.name);
    let resolvable = needs
        .items
        .iter()
        .enumerate()
        .all(|(k, need)| total(&table.allocatable, k) >= need.amount);
    Infeasible {
        reason: insufficient_reason(short),
        resolvable,
    }
}

/// Fewest zones that together could hold the request per `amounts`; `None` if even all cannot.
fn smallest_cover(amounts: &[Vec<i64>], needs: &Needs<'_>) -> Option<u32> {
    let zones = amounts.len();
    if (0..zones).any(|z| covers(amounts, 1 << z, needs)) {
        return Some(1);
    }
    if zones > EXHAUSTIVE_ZONE_LIMIT {
        return covers(amounts, all_zones(zones), needs)
            .then(|| greedy_cover(amounts, needs).count_ones());
    }
    (1..=all_zones(zones))
        .filter(|&mask| covers(amounts, mask, needs))
        .map(u32::count_ones)
        .min()
}

/// Zone sets of exactly `size` zones that hold the request per `amounts`.
fn subsets_that_fit(amounts: &[Vec<i64>], needs: &Needs<'_>, size: u32) -> Vec<u32> {
    let zones = amounts.len();
    if size == 1 {
        return (0..zones)
            .map(|z| 1u32 << z)
            .filter(|&m| covers(amounts, m, needs))
            .collect();
    }
    if zones > EXHAUSTIVE_ZONE_LIMIT {
        let mask = greedy_cover(amounts, needs);
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
fn greedy_cover(amounts: &[Vec<i64>], needs: &Needs<'_>) -> u32 {
    let mut order: Vec<usize> = (0..amounts.len()).collect();
    order.sort_by_key(|&z| std::cmp::Reverse(amounts[z][0]));
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
/// (fewest units left free in the chosen zones, first need first), then the lowest zones.
fn best(topology: &NodeTopology, needs: &Needs<'_>, table: &Table, candidates: &[u32]) -> u32 {
    let zones = table.zones();
    candidates
        .iter()
        .copied()
        .min_by_key(|&mask| {
            let leftover: Vec<i64> = (0..needs.items.len())
                .map(|k| {
                    members(mask, zones).map(|z| table.free[z][k]).sum::<i64>()
                        - needs.items[k].amount
                })
                .collect();
            let unaligned = switch_misses(topology, needs, table, mask);
            (
                topology.distances.spread_cost(mask),
                unaligned,
                leftover,
                mask.reverse_bits(),
            )
        })
        .expect("candidates are never empty")
}

/// How many of the chosen zones would get switch-level devices no single switch can hold.
fn switch_misses(topology: &NodeTopology, needs: &Needs<'_>, table: &Table, mask: u32) -> usize {
    let shares = shares(needs, table, mask);
    members(mask, table.zones())
        .filter(|&z| {
            let zone = &topology.zones[z];
            !zone.switches.is_empty()
                && switch_level(zone, needs, &shares[z]).is_some()
                && pick_switch_free(zone, needs, &shares[z], |switch, name| {
                    switch.resource(name).map_or(0, |r| r.free())
                })
                .is_none()
        })
        .count()
}

/// Per zone per need, the amount the pod takes there. The first need (GPUs when asked for)
/// leads; the others follow it.
fn shares(needs: &Needs<'_>, table: &Table, mask: u32) -> Vec<Vec<i64>> {
    const LEADER: usize = 0;
    let zones = table.zones();
    let mut taken = vec![vec![0i64; needs.items.len()]; zones];
    let chosen: Vec<usize> = members(mask, zones).collect();
    fill_smallest_first(
        &mut taken,
        &table.free,
        &chosen,
        LEADER,
        needs.items[LEADER].amount,
    );
    let order = follower_order(&taken, LEADER, &chosen);
    let leaders: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&z| taken[z][LEADER] > 0)
        .collect();
    for (k, need) in needs.items.iter().enumerate().skip(1) {
        if need.role == ResourceRole::Nic {
            round_robin(&mut taken, &table.free, &order, &leaders, k, need.amount);
        } else {
            fill_in_order(&mut taken, &table.free, &order, k, need.amount);
        }
    }
    taken
}

/// Takes whole small fragments first, so what is left stays in as few zones as possible.
fn fill_smallest_first(
    taken: &mut [Vec<i64>],
    free: &[Vec<i64>],
    zones: &[usize],
    k: usize,
    amount: i64,
) {
    let mut order = zones.to_vec();
    order.sort_by_key(|&z| (free[z][k] == 0, free[z][k], z));
    fill_in_order(taken, free, &order, k, amount);
}

fn fill_in_order(
    taken: &mut [Vec<i64>],
    free: &[Vec<i64>],
    order: &[usize],
    k: usize,
    mut amount: i64,
) {
    for &z in order {
        let take = amount.min(free[z][k] - taken[z][k]);
        if take > 0 {
            taken[z][k] += take;
            amount -= take;
        }
    }
}

/// Zones holding most of the leading need first.
fn follower_order(taken: &[Vec<i64>], leader: usize, zones: &[usize]) -> Vec<usize> {
    let mut order = zones.to_vec();
    order.sort_by_key(|&z| (std::cmp::Reverse(taken[z][leader]), z));
    order
}

/// One unit at a time over the leading need's zones, so each GPU group gets a nearby NIC;
/// whatever they cannot hold goes to the other zones in `order`.
fn round_robin(
    taken: &mut [Vec<i64>],
    free: &[Vec<i64>],
    order: &[usize],
    leaders: &[usize],
    k: usize,
    mut amount: i64,
) {
    loop {
        let mut progressed = false;
        for &z in leaders {
            if amount > 0 && taken[z][k] < free[z][k] {
                taken[z][k] += 1;
                amount -= 1;
                progressed = true;
            }
        }
        if amount == 0 || !progressed {
            break;
        }
    }
    fill_in_order(taken, free, order, k, amount);
}

/// The resources of a zone's share that its switches report, with amounts; `None` when the
/// share holds nothing switch-level.
fn switch_level<'n>(
    zone: &super::node::Zone,
    needs: &'n Needs<'_>,
    share: &[i64],
) -> Option<Vec<(&'n str, i64)>> {
    let level: Vec<(&str, i64)> = needs
        .items
        .iter()
        .enumerate()
        .filter(|&(k, need)| {
            share[k] > 0
                && zone
                    .switches
                    .iter()
                    .any(|s| s.resource(need.name).is_some())
        })
        .map(|(k, need)| (need.name, share[k]))
        .collect();
    (!level.is_empty()).then_some(level)
}

/// The switch that holds all of a zone's switch-level share with the least left over.
fn pick_switch_free<'z>(
    zone: &'z super::node::Zone,
    needs: &Needs<'_>,
    share: &[i64],
    free: impl Fn(&super::node::Switch, &str) -> i64,
) -> Option<&'z super::node::Switch> {
    let level = switch_level(zone, needs, share)?;
    zone.switches
        .iter()
        .filter(|switch| {
            level
                .iter()
                .all(|&(name, amount)| free(switch, name) >= amount)
        })
        .min_by_key(|switch| {
            level
                .iter()
                .map(|&(name, amount)| free(switch, name) - amount)
                .sum::<i64>()
        })
}

fn split(
    topology: &NodeTopology,
    pending: &ZoneUsage,
    policy: NumaPolicy,
    needs: &Needs<'_>,
    table: &Table,
    mask: u32,
) -> Allocation {
    let shares = shares(needs, table, mask);
    let mut used = 0u32;
    let mut zones = Vec::new();
    for (z, share) in shares.iter().enumerate() {
        if share.iter().all(|&amount| amount == 0) {
            continue;
        }
        used |= 1 << z;
        let zone = &topology.zones[z];
        let switch = pick_switch_free(zone, needs, share, |switch, name| {
            pending.free_in_switch(switch, name)
        })
        .map(|switch| switch.name.clone());
        let resources: BTreeMap<String, i64> = needs
            .items
            .iter()
            .zip(share)
            .filter(|&(_, &amount)| amount > 0)
            .map(|(need, &amount)| (need.name.to_string(), amount))
            .collect();
        zones.push(ZoneAllocation {
            zone: zone.name.clone(),
            switch,
            resources,
        });
    }
    Allocation {
        policy,
        numa_aligned: zones.len() <= 1,
        cost: topology.distances.spread_cost(used),
        zones,
    }
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
