//! How a pod's needs split over the chosen zones, and which PCIe switch in a zone holds the
//! zone's share.

use super::needs::{Grid, Needs, Table, members};
use super::node::{Switch, Zone};
use super::nrt::MAX_ZONES;
use super::request::ResourceRole;

/// Zones of one placement, in a fixed buffer: placement runs per node per pod, so no heap.
pub(super) struct ZoneList {
    items: [usize; MAX_ZONES],
    len: usize,
}

impl ZoneList {
    pub(super) fn of(mask: u32) -> Self {
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

    pub(super) fn as_slice(&self) -> &[usize] {
        &self.items[..self.len]
    }

    pub(super) fn sort_by_key<K: Ord>(&mut self, key: impl FnMut(&usize) -> K) {
        self.items[..self.len].sort_by_key(key);
    }
}

/// Fills `taken` with what the pod takes per zone. The first need (GPUs when asked for)
/// leads, taking whole small fragments first so what is left stays in as few zones as
/// possible; NICs go round-robin over the leader's zones, so each GPU group gets a nearby NIC;
/// the rest fill the leader's zones first.
pub(super) fn fill_shares(needs: &Needs<'_>, table: &Table, mask: u32, taken: &mut Grid) {
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

pub(super) fn fill_in_order(
    taken: &mut Grid,
    free: &Grid,
    order: &[usize],
    k: usize,
    mut amount: i64,
) {
    for &z in order {
        let take = amount.min(free.get(z, k) - taken.get(z, k));
        if take > 0 {
            taken.add(z, k, take);
            amount -= take;
        }
    }
}

/// One unit at a time over `zones` while they have room.
pub(super) fn round_robin(
    taken: &mut Grid,
    free: &Grid,
    zones: &[usize],
    k: usize,
    mut amount: i64,
) {
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
pub(super) fn switch_level<'a>(
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
pub(super) fn pick_switch(
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
