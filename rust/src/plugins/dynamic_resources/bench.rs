//! The allocator alone, without the scheduling cycle (`podium bench core`'s `dra_*` workloads
//! measure the cycle, with the cross-pod answers of `fit_cache`): nodes with 8 GPUs and 4
//! RDMA NICs (two GPUs and one NIC per PCIe root), pods with one claim each asking 1, 2, 4 or
//! 8 GPUs and one NIC: aligned on the PCIe root for 1 and 2 GPUs, on the NUMA node for 4, and
//! on the node for 8 (no root or NUMA node has 8 GPUs). Each decision is what a scheduling
//! cycle does with DRA: prepare the claims, allocate on nodes in turn until kube's number of
//! feasible nodes is found (`percentageOfNodesToScore` adaptive), keep the best score, assume.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::allocator::Verdict;
use super::testing::{World, claim};
use crate::state::dra::fixtures::claim_json;

#[derive(Debug, Clone)]
pub struct Report {
    pub nodes: usize,
    pub pods: usize,
    pub placed: usize,
    pub unschedulable: usize,
    pub setup: Duration,
    pub elapsed: Duration,
}

impl Report {
    pub fn decisions_per_second(&self) -> f64 {
        self.pods as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// kube's `numFeasibleNodesToFind` with the default adaptive percentage.
pub fn feasible_nodes_to_find(nodes: usize) -> usize {
    if nodes < 100 {
        return nodes;
    }
    let percentage = (50 - nodes as i64 / 125).max(5) as usize;
    (nodes * percentage / 100).max(100)
}

fn claim_for(i: usize, gpus: u32) -> String {
    let align = match gpus {
        1 | 2 => r#"[{"matchAttribute":"resource.kubernetes.io/pcieRoot"}]"#,
        4 => r#"[{"matchAttribute":"dra.example.com/numa"}]"#,
        _ => "[]",
    };
    claim_json(
        "bench",
        &format!("c{i}"),
        &format!(
            r#"[{{"name":"gpu","exactly":{{"deviceClassName":"gpu.example.com","count":{gpus}}}}},
                {{"name":"nic","exactly":{{"deviceClassName":"nic.example.com"}}}}]"#
        ),
        align,
        "{}",
    )
}

pub fn run(nodes: usize, pods: usize) -> Report {
    let t0 = Instant::now();
    let mut w = World::gpu_cluster(nodes);
    let setup = t0.elapsed();
    let to_find = feasible_nodes_to_find(nodes);
    let sizes = [1u32, 2, 4, 8];
    let names: Vec<crate::intern::Sym> = (0..nodes)
        .map(|n| crate::intern::sym(&format!("node-{n}")))
        .collect();
    let mut start = 0usize;
    let mut placed = 0;
    let t1 = Instant::now();
    for i in 0..pods {
        let c = claim(&claim_for(i, sizes[i % sizes.len()]));
        let pod = w
            .prepare(&[Arc::clone(&c)])
            .expect("the bench's claims are valid");
        let mut best: Option<(i64, super::allocator::Fit)> = None;
        let mut found = 0;
        for k in 0..nodes {
            let n = (start + k) % nodes;
            if let Ok(Verdict::Fit(f)) = w.allocate_on(&pod, names[n]) {
                found += 1;
                if best.as_ref().is_none_or(|(s, _)| f.score > *s) {
                    best = Some((f.score, f));
                }
                if found >= to_find {
                    start = (n + 1) % nodes;
                    break;
                }
            }
        }
        if let Some((_, f)) = best {
            w.assume(&f);
            placed += 1;
        }
    }
    Report {
        nodes,
        pods,
        placed,
        unschedulable: pods - placed,
        setup,
        elapsed: t1.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_run_places_pods() {
        let r = run(20, 40);
        assert_eq!(r.pods, 40);
        assert!(r.placed > 30, "{r:?}");
    }

    /// `cargo test --release --lib dra_bench -- --ignored --nocapture` prints the figures.
    #[test]
    #[ignore]
    fn dra_bench() {
        for (nodes, pods) in [(1000, 2000), (5000, 4000)] {
            let r = run(nodes, pods);
            println!(
                "DRA core bench: {} nodes (8 GPU + 4 NIC), {} pods (1/2/4/8 GPUs + aligned NIC): \
                 {:.0} decisions/s, {} placed, {} unschedulable, setup {:?}, decisions {:?}",
                r.nodes,
                r.pods,
                r.decisions_per_second(),
                r.placed,
                r.unschedulable,
                r.setup,
                r.elapsed
            );
        }
    }
}
