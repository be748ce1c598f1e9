//! A seeded GPU job stream replayed against three node choosers: the packing score,
//! LeastAllocated (most free GPUs) and MostAllocated (fewest free GPUs), the baselines taking
//! zones the way kubelet would (first zone that fits). Deterministic: the figures depend only
//! on the seed, so the comparison is a repeatable check of the packing design, not a timing.
//!
//! On this stream (power-of-two sizes, 2 zones of 4 GPUs) packing places exactly as many
//! 8-GPU jobs as a GPU-only MostAllocated: best fit is what matters, and zone arrangements
//! with equal free counts turn out equally capable. Hence `>=` against MostAllocated.

use super::allocation::{Allocation, ZoneAllocation};
use super::node::NodeTopology;
use super::packing::{PackingContext, PackingWeights, packing_score};
use super::placement::plan;
use super::request::{NumaPolicy, PlacementRequest, ResourceRole};
use super::stranding::Stranding;
use super::test_support::{GPU, NIC, topology, zone};
use super::usage::ZoneUsage;
use super::zone_table::ZoneTable;
use crate::intern::sym;

const NODES: usize = 32;
const STEPS: usize = 1200;
/// Jobs arriving per step; with ~2.9 GPUs per job and ~50 steps per job this keeps the
/// cluster around 90% busy, where fragmentation decides whether 8-GPU jobs fit.
const ARRIVALS_PER_STEP: usize = 2;
const SIZES: [i64; 4] = [1, 2, 4, 8];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Chooser {
    Packing,
    LeastAllocated,
    MostAllocated,
}

/// Numerical Recipes' LCG: tiny, seeded, good enough to shuffle a job stream.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

struct Outcome {
    /// Per job size (index into SIZES): arrived, placed on arrival.
    by_size: [(u32, u32); 4],
    large_arrived: u32,
    large_placed: u32,
    placements: u32,
    aligned: u32,
    stranded_sum: i64,
}

fn request(size: i64) -> PlacementRequest {
    let policy = if size <= 4 {
        NumaPolicy::Single
    } else {
        NumaPolicy::Prefer
    };
    PlacementRequest::new(policy)
        .with(GPU, size, ResourceRole::Gpu)
        .with(NIC, (size / 4).max(1), ResourceRole::Nic)
}

/// What kubelet does for a pod kube-scheduler placed: the lowest-numbered zone that fits
/// (single-numa-node), or both zones for a whole-node job.
fn kubelet_first_fit(node: &NodeTopology, usage: &ZoneUsage, size: i64) -> Option<Allocation> {
    let nics = (size / 4).max(1);
    let fits = |z: &super::node::Zone, gpus: i64, nics: i64| {
        usage.free_in_zone(z, GPU) >= gpus && usage.free_in_zone(z, NIC) >= nics
    };
    let share = |z: &super::node::Zone, gpus: i64, nics: i64| ZoneAllocation {
        zone: z.name.clone(),
        switch: None,
        resources: [(GPU.to_string(), gpus), (NIC.to_string(), nics)].into(),
    };
    let zones = if size <= 4 {
        vec![share(
            node.zones.iter().find(|z| fits(z, size, nics))?,
            size,
            nics,
        )]
    } else {
        let half = size / 2;
        if !node.zones.iter().all(|z| fits(z, half, 1)) {
            return None;
        }
        node.zones.iter().map(|z| share(z, half, 1)).collect()
    };
    Some(Allocation {
        policy: NumaPolicy::Single,
        numa_aligned: zones.len() == 1,
        cost: 0,
        zones,
    })
}

fn free_gpus(node: &NodeTopology, usage: &ZoneUsage) -> i64 {
    node.zones
        .iter()
        .map(|zone| usage.free_in_zone(zone, GPU))
        .sum()
}

fn run(chooser: Chooser, seed: u64) -> Outcome {
    let node = topology(&[zone(4, 1), zone(4, 1)]);
    let gpu_names = [sym(GPU)];
    let weights = PackingWeights::default();
    let stranding = Stranding::new(&SIZES);
    let large = Stranding::new(&SIZES[3..]);
    let context = PackingContext {
        gpu_resources: &gpu_names,
        stranding: &stranding,
    };
    let mut usage: Vec<ZoneUsage> = vec![ZoneUsage::new(); NODES];
    let mut running: Vec<(usize, usize, Allocation)> = Vec::new();
    let mut rng = Lcg(seed);
    let mut outcome = Outcome {
        by_size: [(0, 0); 4],
        large_arrived: 0,
        large_placed: 0,
        placements: 0,
        aligned: 0,
        stranded_sum: 0,
    };
    for step in 0..STEPS {
        running.retain(|(end, n, allocation)| {
            if *end == step {
                usage[*n].subtract(allocation);
                return false;
            }
            true
        });
        for _ in 0..ARRIVALS_PER_STEP {
            let size = match rng.below(100) {
                0..=39 => 1,
                40..=64 => 2,
                65..=84 => 4,
                _ => 8,
            };
            let pod = request(size);
            let mut best: Option<(i64, usize, Allocation)> = None;
            for (n, node_usage) in usage.iter().enumerate() {
                let scored = match chooser {
                    Chooser::Packing => plan(&node, node_usage, &pod).ok().map(|placement| {
                        let score = packing_score(
                            &node,
                            &ZoneTable::new(&node, node_usage),
                            &placement,
                            &weights,
                            &context,
                        );
                        (score, placement.to_allocation(&node))
                    }),
                    Chooser::LeastAllocated => kubelet_first_fit(&node, node_usage, size)
                        .map(|allocation| (free_gpus(&node, node_usage), allocation)),
                    Chooser::MostAllocated => kubelet_first_fit(&node, node_usage, size)
                        .map(|allocation| (-free_gpus(&node, node_usage), allocation)),
                };
                let Some((key, allocation)) = scored else {
                    continue;
                };
                if best.as_ref().is_none_or(|(k, _, _)| key > *k) {
                    best = Some((key, n, allocation));
                }
            }
            let slot = SIZES
                .iter()
                .position(|&s| s == size)
                .expect("size from SIZES");
            outcome.by_size[slot].0 += 1;
            if size == 8 {
                outcome.large_arrived += 1;
            }
            if let Some((_, n, allocation)) = best {
                usage[n].add(&allocation);
                outcome.by_size[slot].1 += 1;
                outcome.placements += 1;
                outcome.aligned += u32::from(allocation.numa_aligned);
                outcome.large_placed += u32::from(size == 8);
                let duration = 20 + rng.below(60) as usize;
                running.push((step + duration, n, allocation));
            }
        }
        if step % 10 == 0 {
            outcome.stranded_sum += usage
                .iter()
                .map(|u| {
                    super::packing::stranded_gpus(&ZoneTable::new(&node, u), &gpu_names, &large)
                })
                .sum::<i64>();
        }
    }
    outcome
}

#[test]
fn packing_places_more_whole_node_jobs_than_both_baselines() {
    for seed in [1, 42] {
        let packing = run(Chooser::Packing, seed);
        let least = run(Chooser::LeastAllocated, seed);
        let most = run(Chooser::MostAllocated, seed);
        let share = |o: &Outcome| f64::from(o.large_placed) / f64::from(o.large_arrived);
        eprintln!(
            "seed {seed}: 8-GPU placed packing {:.3} least {:.3} most {:.3}; stranded packing {} least {} most {}",
            share(&packing),
            share(&least),
            share(&most),
            packing.stranded_sum,
            least.stranded_sum,
            most.stranded_sum
        );
        eprintln!(
            "  by size packing {:?} least {:?} most {:?}",
            packing.by_size, least.by_size, most.by_size
        );
        assert!(
            packing.large_placed > least.large_placed,
            "seed {seed}: packing vs LeastAllocated"
        );
        assert!(
            packing.large_placed >= most.large_placed,
            "seed {seed}: packing vs MostAllocated"
        );
        assert!(
            packing.stranded_sum < least.stranded_sum,
            "seed {seed}: stranding vs LeastAllocated"
        );
    }
}

#[test]
fn single_policy_placements_are_always_aligned() {
    let outcome = run(Chooser::Packing, 3);
    assert!(outcome.placements > 0);
    // Every job up to 4 GPUs is `single`; 8-GPU jobs span the two zones by construction.
    let large = outcome.large_placed;
    assert_eq!(outcome.aligned, outcome.placements - large);
}
