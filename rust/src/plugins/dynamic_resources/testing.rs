//! JSON builders for tests and the benchmark: what a GPU driver and an RDMA NIC driver publish
//! (8 GPUs and 4 NICs a node, two GPUs and one NIC per PCIe root), their classes, and claims.
//! They go through the real decoders, so tests exercise the wire format too.

use std::collections::HashMap;
use std::sync::Arc;

use super::allocator::{Fit, Options, PreparedPod, Verdict, allocate, prepare};
use super::claim::Claim;
use super::class::DeviceClass;
use super::error::ClaimError;
use super::ledger::{InUse, Ledger};
use super::matcher::Matchers;
use super::pools::Inventory;
use super::slice::Slice;
use crate::intern::{Sym, sym};
use crate::state::labels::Labels;

/// GPUs `gpu-0..n` of driver `gpu.example.com` on `node`, spread evenly over `roots` PCIe roots
/// (`pci-0..`), in pool `node`.
pub fn gpu_node_slice(node: &str, gpus: usize, roots: usize) -> String {
    let per_root = gpus.div_ceil(roots.max(1)).max(1);
    let devices: Vec<String> = (0..gpus)
        .map(|i| {
            let root = i / per_root;
            format!(
                r#"{{"name":"gpu-{i}","attributes":{{
                    "model":{{"string":"h100"}},"index":{{"int":{i}}},"driverVersion":{{"version":"1.2.3"}},
                    "dra.example.com/numa":{{"int":{numa}}},
                    "resource.kubernetes.io/pcieRoot":{{"string":"pci-{root}"}}}},
                  "capacity":{{"memory":{{"value":"80Gi"}}}}}}"#,
                numa = root * 2 / roots.max(1),
            )
        })
        .collect();
    format!(
        r#"{{"metadata":{{"name":"{node}-gpu"}},"spec":{{"driver":"gpu.example.com",
            "pool":{{"name":"{node}","generation":1,"resourceSliceCount":1}},
            "nodeName":"{node}","devices":[{}]}}}}"#,
        devices.join(",")
    )
}

/// NICs `nic-0..n` of driver `nic.example.com` on `node`, one per PCIe root `pci-j`.
pub fn nic_node_slice(node: &str, nics: usize) -> String {
    let devices: Vec<String> = (0..nics)
        .map(|j| {
            format!(
                r#"{{"name":"nic-{j}","attributes":{{"rdma":{{"bool":true}},
                    "dra.example.com/numa":{{"int":{numa}}},
                    "resource.kubernetes.io/pcieRoot":{{"string":"pci-{j}"}}}},
                  "capacity":{{"bandwidth":{{"value":"400G"}}}}}}"#,
                numa = j * 2 / nics.max(1),
            )
        })
        .collect();
    format!(
        r#"{{"metadata":{{"name":"{node}-nic"}},"spec":{{"driver":"nic.example.com",
            "pool":{{"name":"{node}","generation":1,"resourceSliceCount":1}},
            "nodeName":"{node}","devices":[{}]}}}}"#,
        devices.join(",")
    )
}

pub fn class_json(name: &str, expression: &str) -> String {
    let expr = serde_json::to_string(expression).expect("a string serializes");
    format!(
        r#"{{"metadata":{{"name":"{name}"}},"spec":{{"selectors":[{{"cel":{{"expression":{expr}}}}}]}}}}"#
    )
}

/// The two classes the drivers above come with.
pub fn gpu_and_nic_classes() -> [String; 2] {
    [
        class_json("gpu.example.com", "device.driver == 'gpu.example.com'"),
        class_json("nic.example.com", "device.driver == 'nic.example.com'"),
    ]
}

pub fn claim_json(ns: &str, name: &str, requests: &str, constraints: &str, status: &str) -> String {
    format!(
        r#"{{"metadata":{{"namespace":"{ns}","name":"{name}","uid":"uid-{ns}-{name}"}},
            "spec":{{"devices":{{"requests":{requests},"constraints":{constraints}}}}},
            "status":{status}}}"#
    )
}

/// `gpus` GPUs and one RDMA NIC, all on one PCIe root.
pub fn aligned_claim(ns: &str, name: &str, gpus: u32) -> String {
    claim_json(
        ns,
        name,
        &format!(
            r#"[{{"name":"gpu","exactly":{{"deviceClassName":"gpu.example.com","count":{gpus}}}}},
                {{"name":"nic","exactly":{{"deviceClassName":"nic.example.com",
                   "selectors":[{{"cel":{{"expression":"device.attributes['nic.example.com'].rdma"}}}}]}}}}]"#
        ),
        r#"[{"matchAttribute":"resource.kubernetes.io/pcieRoot"}]"#,
        "{}",
    )
}

/// A small cluster to allocate in: decoded slices and classes, the ledger and what it uses.
pub struct World {
    pub inv: Inventory,
    pub classes: HashMap<Sym, Arc<DeviceClass>>,
    pub matchers: Matchers,
    pub ledger: Ledger,
    pub in_use: InUse,
    pub opts: Options,
}

impl World {
    pub fn new(slices: &[String], classes: &[String]) -> Self {
        let slices: Vec<Slice> = slices
            .iter()
            .map(|s| Slice::decode(s).expect("test slices decode"))
            .collect();
        let inv = Inventory::build(&slices);
        let classes = classes
            .iter()
            .map(|c| {
                let c = DeviceClass::decode(c).expect("test classes decode");
                (c.name, Arc::new(c))
            })
            .collect();
        let ledger = Ledger::default();
        let in_use = InUse::build(&inv, &ledger);
        Self {
            inv,
            classes,
            matchers: Matchers::default(),
            ledger,
            in_use,
            opts: Options::default(),
        }
    }

    /// `nodes` nodes named `node-i` with 8 GPUs and 4 NICs each, and their two classes.
    pub fn gpu_cluster(nodes: usize) -> Self {
        let mut slices = Vec::with_capacity(nodes * 2);
        for i in 0..nodes {
            slices.push(gpu_node_slice(&format!("node-{i}"), 8, 4));
            slices.push(nic_node_slice(&format!("node-{i}"), 4));
        }
        Self::new(&slices, &gpu_and_nic_classes())
    }

    pub fn prepare(&self, claims: &[Arc<Claim>]) -> Result<PreparedPod, ClaimError> {
        prepare(claims, &self.classes, &self.matchers, &self.inv)
    }

    pub fn allocate(&self, pod: &PreparedPod, node: &str) -> Result<Verdict, ClaimError> {
        allocate(
            pod,
            &self.inv,
            &self.in_use,
            sym(node),
            &Labels::default(),
            &self.opts,
        )
    }

    /// Assumes a fit's allocations, as Reserve does.
    pub fn assume(&mut self, fit: &Fit) {
        for c in &fit.claims {
            for d in &c.devices {
                self.in_use.add(&self.inv, d);
            }
            self.ledger
                .assume(&c.claim_uid, Arc::from(c.devices.clone()));
        }
    }

    /// Undoes `assume` (a failed binding).
    pub fn forget(&mut self, fit: &Fit) {
        for c in &fit.claims {
            if let Some(devices) = self.ledger.forget(&c.claim_uid) {
                for d in devices.iter() {
                    self.in_use.remove(&self.inv, d);
                }
            }
        }
    }
}

pub fn claim(json: &str) -> Arc<Claim> {
    Arc::new(Claim::decode(json).expect("test claims decode"))
}
