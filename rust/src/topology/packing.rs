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

use super::error::TopologyError;
use super::node::NodeTopology;
use super::nrt::MAX_ZONES;
use super::placement::Placement;
use super::request::ResourceRole;
use super::stranding::Stranding;
use super::zone_table::ZoneTable;
use crate::intern::Sym;

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
    pub gpu_resources: &'a [Sym],
    pub stranding: &'a Stranding,
}

/// Scores `placement` (from `placement::plan` on `topology`, whose figures `zones` holds).
pub fn packing_score(
    topology: &NodeTopology,
    zones: &ZoneTable,
    placement: &Placement<'_>,
    weights: &PackingWeights,
    context: &PackingContext<'_>,
) -> i64 {
    let gpus = GpuView::new(zones, context.gpu_resources, Some(placement));
    let total = gpus.total();
    let requested = gpus.taken_total();
    let mut mean = WeightedMean::default();
    if requested == 0 || total == 0 {
        mean.add(
            weights.gpu_node_avoidance,
            1.0 - ratio(gpus.free_total(), total),
        );
    } else {
        mean.add(
            weights.node_fit,
            1.0 - ratio(gpus.free_total() - requested, total),
        );
        let used = || (0..gpus.zones).filter(|&z| gpus.taken[z] > 0);
        let zone_left: i64 = used().map(|z| gpus.free_after(z)).sum();
        let zone_total: i64 = used().map(|z| gpus.allocatable[z]).sum();
        mean.add(weights.zone_fit, 1.0 - ratio(zone_left, zone_total));
        let breaks_node = gpus.free_total() == total && requested < total;
        mean.add(weights.whole_node, if breaks_node { 0.0 } else { 1.0 });
        let broken = used()
            .filter(|&z| gpus.free[z] == gpus.allocatable[z] && gpus.free_after(z) > 0)
            .count();
        mean.add(
            weights.whole_zone,
            1.0 - ratio(broken as i64, used().count() as i64),
        );
        if !context.stranding.is_empty() {
            let allocatable = &gpus.allocatable[..gpus.zones];
            let before = context
                .stranding
                .stranded(&gpus.free[..gpus.zones], allocatable);
            let mut after = [0i64; MAX_ZONES];
            for (z, slot) in after.iter_mut().enumerate().take(gpus.zones) {
                *slot = gpus.free_after(z);
            }
            let after = context
                .stranding
                .stranded(&after[..gpus.zones], allocatable);
            // Only new stranding counts against the node: GPUs already stranded there are no
            // reason to avoid it (filling such holes is what node fit rewards).
            mean.add(weights.stranding, 1.0 - ratio(after - before, total));
        }
        if let Some(affinity) = nic_affinity(topology, placement) {
            mean.add(weights.nic_affinity, affinity);
        }
    }
    if !placement.is_empty() {
        mean.add(weights.alignment, 1.0 / f64::from(placement.zone_count()));
    }
    (mean.value() * MAX_SCORE as f64)
        .round()
        .clamp(0.0, MAX_SCORE as f64) as i64
}

/// Free GPUs on the node (whose figures `zones` holds) that no job of the waiting sizes could
/// use: a job fits within one zone when it is no larger than a zone, and larger jobs may span
/// the node.
pub fn stranded_gpus(zones: &ZoneTable, gpu_resources: &[Sym], stranding: &Stranding) -> i64 {
    let gpus = GpuView::new(zones, gpu_resources, None);
    stranding.stranded(&gpus.free[..gpus.zones], &gpus.allocatable[..gpus.zones])
}

/// Share of the pod's NICs in zones holding its GPUs, averaged with the share of those zones
/// (among the ones with switches) where one switch holds the GPUs and NICs. `None` unless the
/// pod got both GPUs and NICs.
fn nic_affinity(topology: &NodeTopology, placement: &Placement<'_>) -> Option<f64> {
    let nics = |z: usize| placement.taken_in_role(z, ResourceRole::Nic);
    let has_gpu = |z: &usize| placement.taken_in_role(*z, ResourceRole::Gpu) > 0;
    let total: i64 = placement.zones().map(nics).sum();
    if total == 0 || !placement.zones().any(|z| has_gpu(&z)) {
        return None;
    }
    let near: i64 = placement.zones().filter(has_gpu).map(nics).sum();
    let mut switched = 0;
    let mut aligned = 0;
    for z in placement.zones().filter(has_gpu).filter(|&z| nics(z) > 0) {
        if !topology.zones[z].switches.is_empty() {
            switched += 1;
            aligned += i64::from(placement.switch(z).is_some());
        }
    }
    let switch_share = if switched == 0 {
        1.0
    } else {
        ratio(aligned, switched)
    };
    Some(0.5 * ratio(near, total) + 0.5 * switch_share)
}

/// The node's GPUs per zone: free now (after pending), allocatable, and what the placement
/// takes. Fixed arrays: this runs per node per pod.
struct GpuView {
    zones: usize,
    free: [i64; MAX_ZONES],
    allocatable: [i64; MAX_ZONES],
    taken: [i64; MAX_ZONES],
}

impl GpuView {
    fn new(zones: &ZoneTable, gpu_resources: &[Sym], placement: Option<&Placement<'_>>) -> Self {
        let mut view = Self {
            zones: zones.zones().min(MAX_ZONES),
            free: [0; MAX_ZONES],
            allocatable: [0; MAX_ZONES],
            taken: [0; MAX_ZONES],
        };
        zones.sum_into(gpu_resources, &mut view.free, &mut view.allocatable);
        if let Some(placement) = placement {
            for z in placement.zones().filter(|&z| z < MAX_ZONES) {
                view.taken[z] = placement.taken_in_role(z, ResourceRole::Gpu);
            }
        }
        view
    }

    fn total(&self) -> i64 {
        self.allocatable.iter().sum()
    }

    fn free_total(&self) -> i64 {
        self.free.iter().sum()
    }

    fn taken_total(&self) -> i64 {
        self.taken.iter().sum()
    }

    fn free_after(&self, zone: usize) -> i64 {
        (self.free[zone] - self.taken[zone]).max(0)
    }
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
