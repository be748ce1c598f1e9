//! Fragmentation-aware bin-packing score for a pod's placement on a node (0..=100).
//!
//! The aim is to keep large jobs placeable: small GPU requests go where GPUs are already
//! partly used (best fit, by node and by zone), whole free nodes and zones stay whole as long
//! as a smaller fragment fits elsewhere, and free GPUs are not left in fragments that no
//! waiting job size can use ("stranded"). NICs should sit with the pod's GPUs. Pods without
//! GPUs keep away from GPU nodes' free capacity.
//!
//! Every term is in 0..=1 and the score is their weighted mean; terms that do not apply to the
//! pod (NIC affinity without NICs, stranding without known job sizes) are left out of the mean.

use serde::Deserialize;

use super::allocation::Allocation;
use super::error::TopologyError;
use super::node::{NodeTopology, Zone};
use super::request::{PlacementRequest, ResourceRole};
use super::usage::ZoneUsage;

/// Highest score, as kube-scheduler's MaxNodeScore.
pub const MAX_SCORE: i64 = 100;

/// Relative weights of the packing terms; the score plugin's args (`pluginConfig`), camelCase.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct PackingWeights {
    /// Fewer GPUs left free on the node after placement.
    pub node_fit: f64,
    /// Fewer GPUs left free in the zones the pod uses.
    pub zone_fit: f64,
    /// Not breaking into a node whose GPUs are all free (unless the pod takes all of them).
    pub whole_node: f64,
    /// Not breaking into zones whose GPUs are all free.
    pub whole_zone: f64,
    /// No more GPUs stranded (free but unusable by the waiting job sizes) than before.
    pub stranding: f64,
    /// NICs in the zones, and under the switches, of the pod's GPUs.
    pub nic_affinity: f64,
    /// The pod's aligned resources in one zone.
    pub alignment: f64,
    /// For pods without GPUs: nodes with fewer free GPUs.
    pub gpu_node_avoidance: f64,
}

impl Default for PackingWeights {
    fn default() -> Self {
        Self {
            node_fit: 4.0,
            zone_fit: 2.0,
            whole_node: 3.0,
            whole_zone: 1.0,
            stranding: 3.0,
            nic_affinity: 1.0,
            alignment: 2.0,
            gpu_node_avoidance: 1.0,
        }
    }
}

impl PackingWeights {
    /// Parses plugin args (a JSON object); unknown fields are errors naming them.
    pub fn from_json(args: &serde_json::Value) -> Result<Self, TopologyError> {
        let weights: Self = serde_json::from_value(args.clone())
            .map_err(|err| TopologyError::config("packingWeights", err))?;
        weights.validate()?;
        Ok(weights)
    }

    pub fn validate(&self) -> Result<(), TopologyError> {
        let named = self.named();
        for (name, weight) in named {
            if !weight.is_finite() || weight < 0.0 {
                return Err(TopologyError::config(
                    &format!("packingWeights.{name}"),
                    format!("must be a finite number >= 0, got {weight}"),
                ));
            }
        }
        if named.iter().all(|&(_, weight)| weight == 0.0) {
            return Err(TopologyError::config(
                "packingWeights",
                "all weights are zero",
            ));
        }
        Ok(())
    }

    fn named(&self) -> [(&'static str, f64); 8] {
        [
            ("nodeFit", self.node_fit),
            ("zoneFit", self.zone_fit),
            ("wholeNode", self.whole_node),
            ("wholeZone", self.whole_zone),
            ("stranding", self.stranding),
            ("nicAffinity", self.nic_affinity),
            ("alignment", self.alignment),
            ("gpuNodeAvoidance", self.gpu_node_avoidance),
        ]
    }
}

/// What the score needs beyond the node: which resources are GPUs, and the GPU counts of the
/// jobs waiting to be placed (empty: unknown, the stranding term is skipped).
#[derive(Debug, Clone, Copy)]
pub struct PackingContext<'a> {
    pub gpu_resources: &'a [String],
    pub waiting_sizes: &'a [i64],
}

/// Scores `allocation` (from `placement::place` for `request` on `topology` with `pending`).
pub fn packing_score(
    topology: &NodeTopology,
    pending: &ZoneUsage,
    request: &PlacementRequest,
    allocation: &Allocation,
    weights: &PackingWeights,
    context: &PackingContext<'_>,
) -> i64 {
    let gpus = GpuView::new(topology, pending, context.gpu_resources, allocation);
    let requested = request.total(ResourceRole::Gpu).min(gpus.free_before());
    let mut mean = WeightedMean::default();
    if requested == 0 || gpus.total() == 0 {
        if gpus.total() > 0 {
            mean.add(
                weights.gpu_node_avoidance,
                1.0 - ratio(gpus.free_before(), gpus.total()),
            );
        } else {
            mean.add(weights.gpu_node_avoidance, 1.0);
        }
    } else {
        let total = gpus.total();
        let left = gpus.free_before() - requested;
        mean.add(weights.node_fit, 1.0 - ratio(left, total));
        let used = gpus.used_zones();
        let zone_left: i64 = used.iter().map(|&z| gpus.free_after(z)).sum();
        let zone_total: i64 = used.iter().map(|&z| gpus.allocatable[z]).sum();
        mean.add(weights.zone_fit, 1.0 - ratio(zone_left, zone_total));
        let breaks_node = gpus.free_before() == total && requested < total;
        mean.add(weights.whole_node, if breaks_node { 0.0 } else { 1.0 });
        let broken = used
            .iter()
            .filter(|&&z| gpus.free[z] == gpus.allocatable[z] && gpus.free_after(z) > 0)
            .count();
        mean.add(
            weights.whole_zone,
            1.0 - ratio(broken as i64, used.len() as i64),
        );
        if !context.waiting_sizes.is_empty() {
            let before = stranded(&gpus.free, &gpus.allocatable, context.waiting_sizes);
            let after_free: Vec<i64> = (0..gpus.free.len()).map(|z| gpus.free_after(z)).collect();
            let after = stranded(&after_free, &gpus.allocatable, context.waiting_sizes);
            // Only new stranding counts against the node: GPUs already stranded there are no
            // reason to avoid it (filling such holes is what node fit rewards).
            mean.add(weights.stranding, 1.0 - ratio(after - before, total));
        }
        if let Some(affinity) = nic_affinity(topology, request, allocation, context.gpu_resources) {
            mean.add(weights.nic_affinity, affinity);
        }
    }
    if !allocation.zones.is_empty() {
        mean.add(weights.alignment, 1.0 / allocation.zones.len() as f64);
    }
    (mean.value() * MAX_SCORE as f64)
        .round()
        .clamp(0.0, MAX_SCORE as f64) as i64
}

/// Free GPUs on the node that no job of the `waiting_sizes` could use: a job fits within one
/// zone when it is no larger than a zone, and larger jobs may span the node.
pub fn stranded_gpus(
    topology: &NodeTopology,
    pending: &ZoneUsage,
    gpu_resources: &[String],
    waiting_sizes: &[i64],
) -> i64 {
    let free: Vec<i64> = topology
        .zones
        .iter()
        .map(|zone| zone_gpus(zone, gpu_resources, |z, r| pending.free_in_zone(z, r)))
        .collect();
    let allocatable: Vec<i64> = topology
        .zones
        .iter()
        .map(|zone| {
            zone_gpus(zone, gpu_resources, |z, r| {
                z.resource(r).map_or(0, |x| x.allocatable.max(0))
            })
        })
        .collect();
    stranded(&free, &allocatable, waiting_sizes)
}

fn stranded(free: &[i64], allocatable: &[i64], sizes: &[i64]) -> i64 {
    let left: i64 = free.iter().sum();
    if sizes.is_empty() {
        return 0;
    }
    let largest_zone = allocatable.iter().copied().max().unwrap_or(0);
    let small: Vec<i64> = sizes
        .iter()
        .copied()
        .filter(|&s| s > 0 && s <= largest_zone)
        .collect();
    let large: Vec<i64> = sizes
        .iter()
        .copied()
        .filter(|&s| s > largest_zone)
        .collect();
    let by_zones: i64 = free.iter().map(|&f| fillable(f, &small)).sum();
    let spanning = fillable(left, &large);
    left - by_zones.max(spanning)
}

/// Most of `capacity` that jobs of the given sizes (any number of each) can fill.
fn fillable(capacity: i64, sizes: &[i64]) -> i64 {
    let Ok(capacity) = usize::try_from(capacity) else {
        return 0;
    };
    if sizes.is_empty() || capacity == 0 {
        return 0;
    }
    let mut reachable = vec![false; capacity + 1];
    reachable[0] = true;
    for amount in 1..=capacity {
        reachable[amount] = sizes
            .iter()
            .filter_map(|&s| usize::try_from(s).ok())
            .any(|s| s <= amount && reachable[amount - s]);
    }
    reachable.iter().rposition(|&r| r).unwrap_or(0) as i64
}

/// Share of the pod's NICs in zones holding its GPUs, averaged with the share of its zones
/// (among those with switches) where one switch holds the GPUs and NICs. `None` without both.
fn nic_affinity(
    topology: &NodeTopology,
    request: &PlacementRequest,
    allocation: &Allocation,
    gpu_resources: &[String],
) -> Option<f64> {
    let nic_names: Vec<&str> = request
        .resources
        .iter()
        .filter(|r| r.role == ResourceRole::Nic)
        .map(|r| r.name.as_str())
        .collect();
    let has_gpu = |zone: &super::allocation::ZoneAllocation| {
        gpu_resources
            .iter()
            .any(|g| zone.resources.get(g).is_some_and(|&a| a > 0))
    };
    let nics_in = |zone: &super::allocation::ZoneAllocation| -> i64 {
        nic_names
            .iter()
            .filter_map(|n| zone.resources.get(*n))
            .sum()
    };
    let nics: i64 = allocation.zones.iter().map(nics_in).sum();
    if nics == 0 || !allocation.zones.iter().any(has_gpu) {
        return None;
    }
    let near: i64 = allocation
        .zones
        .iter()
        .filter(|z| has_gpu(z))
        .map(nics_in)
        .sum();
    let switched: Vec<_> = allocation
        .zones
        .iter()
        .filter(|z| has_gpu(z) && nics_in(z) > 0)
        .filter(|z| {
            topology
                .zone_index(&z.zone)
                .is_some_and(|i| !topology.zones[i].switches.is_empty())
        })
        .collect();
    let switch_share = if switched.is_empty() {
        1.0
    } else {
        ratio(
            switched.iter().filter(|z| z.switch.is_some()).count() as i64,
            switched.len() as i64,
        )
    };
    Some(0.5 * ratio(near, nics) + 0.5 * switch_share)
}

/// The node's GPUs per zone: free now (after pending) and allocatable, and what the
/// allocation takes.
struct GpuView {
    free: Vec<i64>,
    allocatable: Vec<i64>,
    taken: Vec<i64>,
}

impl GpuView {
    fn new(
        topology: &NodeTopology,
        pending: &ZoneUsage,
        gpu_resources: &[String],
        allocation: &Allocation,
    ) -> Self {
        let free = topology
            .zones
            .iter()
            .map(|zone| zone_gpus(zone, gpu_resources, |z, r| pending.free_in_zone(z, r)))
            .collect();
        let allocatable = topology
            .zones
            .iter()
            .map(|zone| {
                zone_gpus(zone, gpu_resources, |z, r| {
                    z.resource(r).map_or(0, |x| x.allocatable.max(0))
                })
            })
            .collect();
        let taken = topology
            .zones
            .iter()
            .map(|zone| {
                gpu_resources
                    .iter()
                    .map(|g| allocation.amount(&zone.name, g))
                    .sum()
            })
            .collect();
        Self {
            free,
            allocatable,
            taken,
        }
    }

    fn total(&self) -> i64 {
        self.allocatable.iter().sum()
    }

    fn free_before(&self) -> i64 {
        self.free.iter().sum()
    }

    fn free_after(&self, zone: usize) -> i64 {
        (self.free[zone] - self.taken[zone]).max(0)
    }

    fn used_zones(&self) -> Vec<usize> {
        (0..self.taken.len())
            .filter(|&z| self.taken[z] > 0)
            .collect()
    }
}

fn zone_gpus(zone: &Zone, gpu_resources: &[String], amount: impl Fn(&Zone, &str) -> i64) -> i64 {
    gpu_resources.iter().map(|g| amount(zone, g)).sum()
}

fn ratio(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        0.0
    } else {
        (part as f64 / whole as f64).clamp(0.0, 1.0)
    }
}

#[derive(Default)]
struct WeightedMean {
    sum: f64,
    weight: f64,
}

impl WeightedMean {
    fn add(&mut self, weight: f64, value: f64) {
        self.sum += weight * value;
        self.weight += weight;
    }

    fn value(&self) -> f64 {
        if self.weight == 0.0 {
            0.0
        } else {
            self.sum / self.weight
        }
    }
}

#[cfg(test)]
#[path = "packing_tests.rs"]
mod tests;
