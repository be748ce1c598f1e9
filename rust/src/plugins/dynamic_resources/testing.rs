//! A small cluster to allocate in, for tests and the benchmark: decoded slices and classes,
//! the ledger and what it uses, with Reserve's assume and Unreserve's forget.

use std::collections::HashMap;
use std::sync::Arc;

use super::allocator::{Fit, Options, PreparedPod, Verdict, allocate, prepare};
use super::error::ClaimError;
use super::matcher::Matchers;
use crate::intern::{Sym, sym};
use crate::state::dra::claim::AllocatedDevice;
use crate::state::dra::claim::Claim;
use crate::state::dra::class::DeviceClass;
use crate::state::dra::fixtures::{gpu_and_nic_classes, gpu_node_slice, nic_node_slice};
use crate::state::dra::ledger::InUse;
use crate::state::dra::pools::Inventory;
use crate::state::dra::slice::Slice;
use crate::state::labels::Labels;

/// A small cluster to allocate in: decoded slices and classes, the ledger and what it uses.
pub struct World {
    pub inv: Arc<Inventory>,
    pub classes: HashMap<Sym, Arc<DeviceClass>>,
    pub matchers: Matchers,
    /// Devices assumed, by claim uid.
    pub assumed: HashMap<String, Vec<AllocatedDevice>>,
    pub in_use: InUse,
    pub opts: Options,
}

impl World {
    pub fn new(slices: &[String], classes: &[String]) -> Self {
        let slices: Vec<Slice> = slices
            .iter()
            .map(|s| Slice::decode(s).expect("test slices decode"))
            .collect();
        let inv = Arc::new(Inventory::build(&slices));
        let classes = classes
            .iter()
            .map(|c| {
                let c = DeviceClass::decode(c).expect("test classes decode");
                (c.name, Arc::new(c))
            })
            .collect();
        let in_use = InUse::from_devices(&inv, []);
        Self {
            inv,
            classes,
            matchers: Matchers::default(),
            assumed: HashMap::new(),
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
        self.allocate_on(pod, sym(node))
    }

    pub fn allocate_on(&self, pod: &PreparedPod, node: Sym) -> Result<Verdict, ClaimError> {
        static NO_LABELS: std::sync::LazyLock<Labels> = std::sync::LazyLock::new(Labels::default);
        allocate(pod, &self.inv, &self.in_use, node, &NO_LABELS, &self.opts)
    }

    /// Assumes a fit's allocations, as Reserve does.
    pub fn assume(&mut self, fit: &Fit) {
        for c in &fit.claims {
            for d in &c.devices {
                self.in_use.add(&self.inv, d);
            }
            self.assumed.insert(c.claim_uid.clone(), c.devices.clone());
        }
    }

    /// Undoes `assume` (a failed binding).
    pub fn forget(&mut self, fit: &Fit) {
        for c in &fit.claims {
            if let Some(devices) = self.assumed.remove(&c.claim_uid) {
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
