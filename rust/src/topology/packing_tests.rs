use serde_json::json;

use super::super::node::NodeTopology;
use super::super::nrt::parse_node_resource_topology;
use super::super::placement::plan;
use super::super::request::{NumaPolicy, PlacementRequest, ResourceRole};
use super::super::test_support::{GPU, NIC, ZoneSpec, topology, used, zone};
use super::super::usage::ZoneUsage;
use super::super::zone_table::ZoneTable;
use super::*;

fn gpu_names() -> Vec<String> {
    vec![GPU.to_string()]
}

/// The packing module's `stranded_gpus`, from a topology and its pending usage.
fn stranded_gpus(node: &NodeTopology, pending: &ZoneUsage, names: &[String], sizes: &[i64]) -> i64 {
    let gpus: Vec<Sym> = names.iter().map(|n| crate::intern::sym(n)).collect();
    super::stranded_gpus(
        &ZoneTable::new(node, pending),
        &gpus,
        &Stranding::new(sizes),
    )
}

fn only(set: impl FnOnce(&mut PackingWeights)) -> PackingWeights {
    let mut weights = PackingWeights {
        node_fit: 0.0,
        zone_fit: 0.0,
        whole_node: 0.0,
        whole_zone: 0.0,
        stranding: 0.0,
        nic_affinity: 0.0,
        alignment: 0.0,
        gpu_node_avoidance: 0.0,
    };
    set(&mut weights);
    weights
}

fn score_with(
    node: &NodeTopology,
    request: &PlacementRequest,
    weights: &PackingWeights,
    sizes: &[i64],
) -> i64 {
    let pending = ZoneUsage::new();
    let placement = plan(node, &pending, request).expect("the test places feasible pods");
    let gpus = [crate::intern::sym(GPU)];
    let stranding = Stranding::new(sizes);
    let context = PackingContext {
        gpu_resources: &gpus,
        stranding: &stranding,
    };
    packing_score(
        node,
        &ZoneTable::new(node, &pending),
        &placement,
        weights,
        &context,
    )
}

fn score(node: &NodeTopology, request: &PlacementRequest) -> i64 {
    score_with(node, request, &PackingWeights::default(), &[1, 2, 4, 8])
}

fn gpus(count: i64) -> PlacementRequest {
    PlacementRequest::new(NumaPolicy::Single).with(GPU, count, ResourceRole::Gpu)
}

fn eight_gpu_node(used_per_zone: [i64; 2]) -> NodeTopology {
    topology(&[
        used(zone(4, 1), used_per_zone[0]),
        used(zone(4, 1), used_per_zone[1]),
    ])
}

#[test]
fn small_requests_pack_into_partly_used_nodes() {
    let whole = score(&eight_gpu_node([0, 0]), &gpus(1));
    let partial = score(&eight_gpu_node([2, 0]), &gpus(1));
    let nearly_full = score(&eight_gpu_node([3, 4]), &gpus(1));
    assert!(partial > whole, "partial {partial} vs whole {whole}");
    assert!(
        nearly_full > partial,
        "nearly full {nearly_full} vs partial {partial}"
    );
    assert_eq!(nearly_full, MAX_SCORE, "filling the last hole is perfect");
}

#[test]
fn whole_node_jobs_score_perfectly_on_whole_nodes() {
    let request = PlacementRequest::new(NumaPolicy::Prefer).with(GPU, 8, ResourceRole::Gpu);
    let weights = PackingWeights {
        alignment: 0.0,
        ..PackingWeights::default()
    };
    assert_eq!(
        score_with(&eight_gpu_node([0, 0]), &request, &weights, &[8]),
        MAX_SCORE
    );
}

#[test]
fn node_fit_is_best_fit_on_free_gpus() {
    let weights = only(|w| w.node_fit = 1.0);
    assert_eq!(
        score_with(&eight_gpu_node([0, 0]), &gpus(2), &weights, &[]),
        25
    );
    assert_eq!(
        score_with(&eight_gpu_node([2, 0]), &gpus(2), &weights, &[]),
        50
    );
    assert_eq!(
        score_with(&eight_gpu_node([2, 4]), &gpus(2), &weights, &[]),
        100
    );
}

#[test]
fn breaking_a_whole_node_or_zone_is_penalised() {
    let node_weights = only(|w| w.whole_node = 1.0);
    assert_eq!(
        score_with(&eight_gpu_node([0, 0]), &gpus(1), &node_weights, &[]),
        0
    );
    assert_eq!(
        score_with(&eight_gpu_node([0, 1]), &gpus(1), &node_weights, &[]),
        100
    );
    let zone_weights = only(|w| w.whole_zone = 1.0);
    // Placement best-fits into the used zone, so no zone breaks.
    assert_eq!(
        score_with(&eight_gpu_node([0, 1]), &gpus(1), &zone_weights, &[]),
        100
    );
    assert_eq!(
        score_with(&eight_gpu_node([0, 4]), &gpus(1), &zone_weights, &[]),
        0
    );
}

#[test]
fn zone_fit_prefers_fuller_zones() {
    let weights = only(|w| w.zone_fit = 1.0);
    assert_eq!(
        score_with(&eight_gpu_node([0, 4]), &gpus(2), &weights, &[]),
        50
    );
    assert_eq!(
        score_with(&eight_gpu_node([2, 4]), &gpus(2), &weights, &[]),
        100
    );
}

#[test]
fn stranding_penalises_new_unusable_fragments() {
    let weights = only(|w| w.stranding = 1.0);
    // Waiting jobs need 2 or 4 GPUs. Node A has one zone with 3 free, one GPU of which is
    // stranded; taking one leaves 2, which a job can use. Node B has a whole free zone: taking
    // one GPU leaves 3 there and strands one of the node's 8.
    let node_a = topology(&[used(zone(4, 1), 1), used(zone(4, 1), 4)]);
    let node_b = topology(&[used(zone(4, 1), 4), zone(4, 1)]);
    assert_eq!(score_with(&node_a, &gpus(1), &weights, &[2, 4]), 100);
    assert_eq!(score_with(&node_b, &gpus(1), &weights, &[2, 4]), 88);
    // Two GPUs from B's free zone leave a usable pair: nothing new stranded.
    assert_eq!(score_with(&node_b, &gpus(2), &weights, &[2, 4]), 100);
    // With no job sizes known the term drops out, leaving nothing to score.
    assert_eq!(score_with(&node_b, &gpus(1), &weights, &[]), 0);
}

#[test]
fn stranded_gpus_counts_fragments_no_waiting_job_can_use() {
    let names = gpu_names();
    let pending = ZoneUsage::new();
    let node = topology(&[used(zone(4, 1), 1), used(zone(4, 1), 2)]);
    assert_eq!(stranded_gpus(&node, &pending, &names, &[4]), 5);
    assert_eq!(stranded_gpus(&node, &pending, &names, &[2, 4]), 1);
    assert_eq!(stranded_gpus(&node, &pending, &names, &[1]), 0);
    // 8-GPU jobs span zones: a whole free node strands nothing, a half-used one all it has.
    assert_eq!(
        stranded_gpus(&eight_gpu_node([0, 0]), &pending, &names, &[8]),
        0
    );
    assert_eq!(
        stranded_gpus(&eight_gpu_node([4, 0]), &pending, &names, &[8]),
        4
    );
    let mut burst = ZoneUsage::new();
    burst.add_amount("node-1", GPU, 4);
    assert_eq!(
        stranded_gpus(&eight_gpu_node([0, 0]), &burst, &names, &[8]),
        4,
        "pending counts"
    );
}

#[test]
fn nics_score_best_next_to_their_gpus_and_switch() {
    let weights = only(|w| w.nic_affinity = 1.0);
    let request = PlacementRequest::new(NumaPolicy::Prefer)
        .with(GPU, 2, ResourceRole::Gpu)
        .with(NIC, 1, ResourceRole::Nic);
    assert_eq!(
        score_with(&eight_gpu_node([0, 0]), &request, &weights, &[]),
        100
    );
    // The GPU zone has no NIC: the NIC lands elsewhere.
    let split = topology(&[
        ZoneSpec {
            nics: 0,
            ..zone(4, 0)
        },
        zone(0, 1),
    ]);
    assert_eq!(score_with(&split, &request, &weights, &[]), 50);
    // Two switches, neither holding 2 free GPUs and a NIC: zone aligned, switch not.
    let object = json!({
        "metadata": {"name": "n"},
        "zones": [
            {"name": "node-0", "type": "Node"},
            {"name": "pci-0", "type": "PCIeSwitch", "parent": "node-0", "resources": [
                {"name": GPU, "capacity": 2, "allocatable": 2, "available": 1},
                {"name": NIC, "capacity": 1, "allocatable": 1, "available": 1}]},
            {"name": "pci-1", "type": "PCIeSwitch", "parent": "node-0", "resources": [
                {"name": GPU, "capacity": 2, "allocatable": 2, "available": 1}]},
        ],
    });
    let switched = parse_node_resource_topology(&object).unwrap();
    assert_eq!(score_with(&switched, &request, &weights, &[]), 50);
}

#[test]
fn alignment_rewards_one_zone() {
    let weights = only(|w| w.alignment = 1.0);
    let spread = PlacementRequest::new(NumaPolicy::Prefer).with(GPU, 6, ResourceRole::Gpu);
    assert_eq!(
        score_with(&eight_gpu_node([0, 0]), &spread, &weights, &[]),
        50
    );
    assert_eq!(
        score_with(&eight_gpu_node([0, 0]), &gpus(4), &weights, &[]),
        100
    );
}

#[test]
fn pods_without_gpus_keep_off_free_gpus() {
    let request = PlacementRequest::new(NumaPolicy::Prefer).with("cpu", 4000, ResourceRole::Cpu);
    let idle = score(&eight_gpu_node([0, 0]), &request);
    let busy = score(&eight_gpu_node([4, 4]), &request);
    let cpu_only = score(&topology(&[zone(0, 0)]), &request);
    assert!(busy > idle, "busy {busy} vs idle {idle}");
    assert_eq!(cpu_only, MAX_SCORE);
}

#[test]
fn weights_parse_from_plugin_args_and_validate() {
    let weights = PackingWeights::from_json(&json!({"nodeFit": 5, "stranding": 0.5})).unwrap();
    assert_eq!(weights.node_fit, 5.0);
    assert_eq!(weights.stranding, 0.5);
    assert_eq!(weights.zone_fit, PackingWeights::default().zone_fit);
    let unknown = PackingWeights::from_json(&json!({"nodeFitt": 1})).unwrap_err();
    assert!(
        unknown
            .message()
            .starts_with("topology config: packingWeights: unknown field `nodeFitt`"),
        "{unknown}"
    );
    let negative = PackingWeights::from_json(&json!({"zoneFit": -1})).unwrap_err();
    assert_eq!(
        negative.message(),
        "topology config: packingWeights.zoneFit: must be a finite number >= 0, got -1"
    );
    let zero = only(|_| {}).validate().unwrap_err();
    assert_eq!(
        zero.message(),
        "topology config: packingWeights: all weights are zero"
    );
}
