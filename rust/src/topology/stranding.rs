//! Stranded GPUs: free, but in fragments no waiting job size can fill.
//!
//! Which totals jobs of the given sizes can fill exactly does not depend on the node, only on
//! the sizes and on which of them fit in one zone, so it is worked out once per profile (a
//! bitset of reachable totals per zone size) and a node's stranding is then a few bit
//! operations per zone instead of a knapsack per zone per candidate node.

/// Totals above this are clamped: GPU counts per zone and per node are far below it.
const LIMIT: usize = 127;
/// Zone sizes (largest allocatable GPUs in one zone of a node) with precomputed bitsets;
/// larger zones are worked out on demand.
const PRECOMPUTED_ZONE_SIZES: usize = 32;

/// The job sizes to keep room for, and what they can fill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stranding {
    sizes: Vec<i64>,
    /// Per zone size `l`: totals reachable by jobs of at most `l` GPUs (which fit in one zone)
    /// and by jobs of more than `l` (which span zones).
    masks: Vec<(u128, u128)>,
}

impl Stranding {
    /// `sizes`: GPU counts of the waiting jobs; empty means unknown (nothing counts as
    /// stranded).
    pub fn new(sizes: &[i64]) -> Self {
        let mut sizes: Vec<i64> = sizes.iter().copied().filter(|&s| s > 0).collect();
        sizes.sort_unstable();
        sizes.dedup();
        let masks = (0..=PRECOMPUTED_ZONE_SIZES as i64)
            .map(|largest_zone| masks_for(&sizes, largest_zone))
            .collect();
        Self { sizes, masks }
    }

    pub fn is_empty(&self) -> bool {
        self.sizes.is_empty()
    }

    /// Free GPUs that no waiting job could use, given the free GPUs per zone and the
    /// allocatable GPUs per zone: a job no larger than the largest zone must fit in one zone;
    /// larger jobs may span the node.
    pub fn stranded(&self, free: &[i64], allocatable: &[i64]) -> i64 {
        if self.sizes.is_empty() {
            return 0;
        }
        let left: i64 = free.iter().sum();
        let largest_zone = allocatable.iter().copied().max().unwrap_or(0).max(0);
        let (small, spanning) = match self.masks.get(largest_zone as usize) {
            Some(&masks) => masks,
            None => masks_for(&self.sizes, largest_zone),
        };
        let by_zones: i64 = free.iter().map(|&f| highest_within(small, f)).sum();
        left - by_zones.max(highest_within(spanning, left))
    }
}

/// Reachable totals (bit `t` set: some multiset of the sizes sums to `t`) of the sizes up to
/// `largest_zone`, and of the sizes above it.
fn masks_for(sizes: &[i64], largest_zone: i64) -> (u128, u128) {
    let reachable = |admit: &dyn Fn(i64) -> bool| {
        let admitted: Vec<usize> = sizes
            .iter()
            .filter(|&&s| admit(s))
            .map(|&s| s as usize)
            .filter(|&s| s <= LIMIT)
            .collect();
        let mut bits: u128 = 1;
        for total in 1..=LIMIT {
            if admitted
                .iter()
                .any(|&s| s <= total && bits & (1 << (total - s)) != 0)
            {
                bits |= 1 << total;
            }
        }
        bits
    };
    (
        reachable(&|s| s <= largest_zone),
        reachable(&|s| s > largest_zone),
    )
}

/// The largest reachable total in `mask` that is at most `capacity`.
fn highest_within(mask: u128, capacity: i64) -> i64 {
    let capacity = capacity.clamp(0, LIMIT as i64) as u32;
    let within = if capacity >= 127 {
        mask
    } else {
        mask & ((1u128 << (capacity + 1)) - 1)
    };
    i64::from(127 - within.leading_zeros() as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain knapsack the masks replace.
    fn fillable(capacity: i64, sizes: &[i64]) -> i64 {
        (0..=capacity)
            .rev()
            .find(|&t| {
                let mut reach = vec![false; t as usize + 1];
                reach[0] = true;
                for x in 1..=t as usize {
                    reach[x] = sizes
                        .iter()
                        .any(|&s| s as usize <= x && reach[x - s as usize]);
                }
                reach[t as usize]
            })
            .unwrap_or(0)
    }

    #[test]
    fn masks_agree_with_the_knapsack() {
        for sizes in [&[1, 2, 4, 8][..], &[4, 8], &[3], &[2, 4], &[8], &[5, 7]] {
            let stranding = Stranding::new(sizes);
            // 40: beyond the precomputed zone sizes.
            for zone in [1i64, 4, 6, 40] {
                let step = if zone > 8 { 7 } else { 1 };
                for a in (0..=zone).step_by(step) {
                    for b in (0..=zone).step_by(step) {
                        let small: Vec<i64> =
                            sizes.iter().copied().filter(|&s| s <= zone).collect();
                        let big: Vec<i64> = sizes.iter().copied().filter(|&s| s > zone).collect();
                        let left = a + b;
                        let want = left
                            - (fillable(a, &small) + fillable(b, &small)).max(fillable(left, &big));
                        assert_eq!(
                            stranding.stranded(&[a, b], &[zone, zone]),
                            want,
                            "sizes {sizes:?} zone {zone} free {a}+{b}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn unknown_sizes_strand_nothing() {
        assert!(Stranding::new(&[]).is_empty());
        assert_eq!(Stranding::new(&[]).stranded(&[3, 1], &[4, 4]), 0);
        assert_eq!(Stranding::new(&[0, -2]).stranded(&[3, 1], &[4, 4]), 0);
    }
}
