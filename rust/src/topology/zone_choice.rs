//! Which zones (as a bitmask) a pod's aligned resources come from, under the strictest rule
//! that applies: the pod's or kubelet's single-NUMA demand, kubelet's `restricted` minimal
//! alignment, the pod's `prefer` (fewest zones, lowest cost) or `none` (all zones).

use super::infeasible::{
    Infeasible, insufficient_reason, manager_policy_reason, no_single_zone_reason,
};
use super::needs::{Grid, Needs, Table, all_zones, covers, members, single_zones};
use super::node::{ManagerPolicy, NodeTopology};
use super::request::{NumaPolicy, PlacementRequest};
use super::shares::{fill_shares, pick_switch, switch_level};

/// Most zones for which every zone subset is tried; larger nodes fall back to a greedy choice.
const EXHAUSTIVE_ZONE_LIMIT: usize = 10;

/// The zone set, as a bitmask, under the strictest rule that applies.
pub(super) fn choose_zones(
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
                request.single_zone_reason(no_single_zone_reason)
            } else {
                manager_policy_reason(topology.policy)
            };
            Infeasible {
                reason: reason.into(),
                resolvable,
            }
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
        return best(topology, needs, table, fitting).ok_or_else(|| Infeasible {
            reason: manager_policy_reason(topology.policy).into(),
            resolvable: true,
        });
    }
    if request.policy == NumaPolicy::None {
        return Ok(everything);
    }
    let size = smallest_cover(&table.free, needs).expect("all zones together cover the request");
    let fitting = subsets_that_fit(&table.free, needs, size);
    Ok(best(topology, needs, table, fitting).expect("a cover of this size exists"))
}

pub(super) fn insufficient(needs: &Needs<'_>, table: &Table) -> Infeasible {
    let everything = all_zones(table.zones);
    let short = needs
        .items
        .iter()
        .enumerate()
        .find(|&(k, need)| table.free.sum(everything, k) < need.amount)
        .map_or(needs.items[0].name, |(_, need)| need.name);
    Infeasible {
        reason: insufficient_reason(short).into(),
        resolvable: covers(&table.allocatable, everything, needs),
    }
}

/// Fewest zones that together could hold the request per `amounts`; `None` if even all cannot.
pub(super) fn smallest_cover(amounts: &Grid, needs: &Needs<'_>) -> Option<u32> {
    let zones = amounts.zones();
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

/// Zone sets of exactly `size` zones that hold the request per `amounts` (lazily: this runs
/// per node per pod).
pub(super) fn subsets_that_fit<'a>(
    amounts: &'a Grid,
    needs: &'a Needs<'_>,
    size: u32,
) -> impl Iterator<Item = u32> + 'a {
    let zones = amounts.zones();
    let singles = (size == 1).then(|| single_zones(zones));
    let exhaustive = (size > 1 && zones <= EXHAUSTIVE_ZONE_LIMIT)
        .then(|| (1..=all_zones(zones)).filter(move |mask| mask.count_ones() == size));
    let greedy = (size > 1 && zones > EXHAUSTIVE_ZONE_LIMIT)
        .then(|| greedy_cover(amounts, zones, needs))
        .filter(|mask| mask.count_ones() == size);
    singles
        .into_iter()
        .flatten()
        .chain(exhaustive.into_iter().flatten())
        .chain(greedy)
        .filter(move |&mask| covers(amounts, mask, needs))
}

/// For nodes with too many zones to try every subset: add zones by most free of the first
/// need until everything is covered.
pub(super) fn greedy_cover(amounts: &Grid, zones: usize, needs: &Needs<'_>) -> u32 {
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
pub(super) fn best(
    topology: &NodeTopology,
    needs: &Needs<'_>,
    table: &Table,
    candidates: impl Iterator<Item = u32>,
) -> Option<u32> {
    let switched = topology.has_switches();
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
pub(super) fn switch_misses(
    topology: &NodeTopology,
    needs: &Needs<'_>,
    table: &Table,
    mask: u32,
) -> usize {
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
