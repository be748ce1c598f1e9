//! The NUMA plugins' settings (NodeResourceTopologyMatch and NUMAPacking read the same
//! `podium` args) and the node view both read: below the filter and the fits it caches.

use serde::Deserialize;

use crate::error::{CoreError, CoreResult};
use crate::framework::spec::ProfileSpec;
use crate::intern::{Sym, sym};
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::topology::NodeView;
use crate::topology::{
    NumaPolicy, PackingContext, PackingWeights, PlacementRequest, ResourceRole, Stranding,
    TopologyConfig,
};

/// Job sizes (GPUs) assumed to be waiting when the args name none.
pub const DEFAULT_WAITING_SIZES: [i64; 4] = [1, 2, 4, 8];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NumaWire {
    gpu_resources: Option<Vec<String>>,
    nic_resources: Option<Vec<String>>,
    weights: Option<serde_json::Value>,
    waiting_sizes: Option<Vec<i64>>,
}

/// The NUMA plugins' settings, from the profile spec's `podium` object:
/// `numaDefaultPolicy` and `numa: {gpuResources, nicResources, weights, waitingSizes}`.
#[derive(Debug, Clone)]
pub struct NumaArgs {
    pub config: TopologyConfig,
    pub weights: PackingWeights,
    pub waiting_sizes: Vec<i64>,
    /// `config.gpu_resources`, interned: zone tables are read by symbol.
    pub gpu_syms: Vec<Sym>,
    /// What `waiting_sizes` can fill, worked out once for every node and pod.
    pub stranding: Stranding,
    /// Tells these args apart in nodes' caches of answers (weights and sizes change scores);
    /// equal for equal args, so the filter's answers serve the score of the same profile.
    pub id: u32,
}

impl NumaArgs {
    pub fn from_spec(spec: &ProfileSpec) -> CoreResult<Self> {
        let mut config = TopologyConfig {
            gpu_resources: vec!["nvidia.com/gpu".into()],
            nic_resources: vec!["rdma/hca".into(), "nvidia.com/hostdev".into()],
            default_policy: NumaPolicy::Prefer,
        };
        if let Some(policy) = &spec.podium.numa_default_policy {
            config.default_policy = NumaPolicy::parse(policy).ok_or_else(|| {
                CoreError::Invalid(format!("podium.numaDefaultPolicy: unknown policy {policy:?} (expected single, prefer or none)"))
            })?;
        }
        let wire: NumaWire = match &spec.podium.numa {
            None => NumaWire {
                gpu_resources: None,
                nic_resources: None,
                weights: None,
                waiting_sizes: None,
            },
            Some(value) => serde_json::from_value(value.clone())
                .map_err(|err| CoreError::Invalid(format!("podium.numa: {err}")))?,
        };
        if let Some(gpus) = wire.gpu_resources {
            config.gpu_resources = gpus;
        }
        if let Some(nics) = wire.nic_resources {
            config.nic_resources = nics;
        }
        let weights = match &wire.weights {
            Some(value) => {
                PackingWeights::from_json(value).map_err(|e| CoreError::Invalid(e.to_string()))?
            }
            None => PackingWeights::default(),
        };
        let waiting_sizes = wire
            .waiting_sizes
            .unwrap_or_else(|| DEFAULT_WAITING_SIZES.to_vec());
        if let Some(bad) = waiting_sizes.iter().find(|&&s| s <= 0) {
            return Err(CoreError::Invalid(format!(
                "podium.numa.waitingSizes: {bad} is not a positive GPU count"
            )));
        }
        let id = sym(&format!("{config:?}|{weights:?}|{waiting_sizes:?}"));
        Ok(Self {
            id: lasso::Key::into_usize(id) as u32,
            gpu_syms: config.gpu_resources.iter().map(|g| sym(g)).collect(),
            stranding: Stranding::new(&waiting_sizes),
            config,
            weights,
            waiting_sizes,
        })
    }

    /// What the packing score needs beyond the node.
    pub fn packing_context(&self) -> PackingContext<'_> {
        PackingContext {
            gpu_resources: &self.gpu_syms,
            stranding: &self.stranding,
        }
    }

    /// The names a node without an NRT object must report as its single zone.
    pub fn device_resources(&self) -> Vec<&str> {
        self.config
            .gpu_resources
            .iter()
            .chain(&self.config.nic_resources)
            .map(String::as_str)
            .collect()
    }

    /// The pod's NUMA request: `Ok(None)` when it asks for no GPU or NIC, `Err` (naming the
    /// pod and the annotation) when its policy annotation is unknown.
    pub fn request(&self, pod: &PodRecord) -> CoreResult<Option<PlacementRequest>> {
        let requests: Vec<(&str, i64)> = self
            .config
            .gpu_resources
            .iter()
            .chain(&self.config.nic_resources)
            .map(|name| {
                (
                    name.as_str(),
                    pod.requests
                        .get(crate::state::resources::ResourceName::parse(name)),
                )
            })
            .filter(|&(_, amount)| amount > 0)
            .collect();
        if requests.is_empty() {
            return Ok(None);
        }
        let who = format!("{}/{}", pod.namespace(), pod.name);
        let policy = NumaPolicy::from_annotation(
            &who,
            pod.numa_policy.as_deref(),
            self.config.default_policy,
        )
        .map_err(|e| CoreError::Invalid(e.to_string()))?;
        // Only devices: exclusive CPUs and memory need the pod's QoS class, which the cache
        // does not keep, and kubelet aligns devices for every pod.
        let request = self.config.request(policy, &requests, false);
        let aligned = request.total(ResourceRole::Gpu) + request.total(ResourceRole::Nic);
        Ok((aligned > 0).then_some(request))
    }
}

/// Keeps `NodeView` in this module's vocabulary for the score plugin.
/// (The device names are only needed for a node without an NRT object: no list is built for
/// the others, as this runs for every node a device pod is filtered or scored on.)
pub fn view<'a>(args: &NumaArgs, node: &'a NodeInfo) -> NodeView<'a> {
    if node.numa.nrt.is_some() {
        return node.numa.view(node.node.as_deref(), &node.requested, &[]);
    }
    node.numa.view(
        node.node.as_deref(),
        &node.requested,
        &args.device_resources(),
    )
}
