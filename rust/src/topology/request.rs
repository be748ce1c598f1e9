//! What a pod asks of a node's topology: the resources to align and the alignment policy.

use std::sync::OnceLock;

use super::error::TopologyError;
use crate::bounded::quoted;
use crate::intern::{Sym, resolve, sym};

/// Pod annotation selecting the alignment policy.
pub const NUMA_POLICY_ANNOTATION: &str = "podium.dev/numa";

/// How strictly a pod's aligned resources must share a NUMA zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NumaPolicy {
    /// Everything in one zone, as kubelet's single-numa-node policy demands.
    Single,
    /// The fewest zones, then the lowest inter-zone cost.
    #[default]
    Prefer,
    /// Anywhere with capacity; the zone split is still chosen and recorded.
    None,
}

impl NumaPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Single => "single",
            Self::Prefer => "prefer",
            Self::None => "none",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "single" => Self::Single,
            "prefer" => Self::Prefer,
            "none" => Self::None,
            _ => return None,
        })
    }

    /// The policy from the pod's `podium.dev/numa` annotation value (`None` when the pod has
    /// no such annotation), `default` when absent. `pod` is `namespace/name`.
    pub fn from_annotation(
        pod: &str,
        value: Option<&str>,
        default: Self,
    ) -> Result<Self, TopologyError> {
        match value {
            None => Ok(default),
            Some(text) => Self::parse(text).ok_or_else(|| {
                TopologyError::annotation(
                    pod,
                    NUMA_POLICY_ANNOTATION,
                    format!(
                        "unknown policy {} (expected single, prefer or none)",
                        quoted(text)
                    ),
                )
            }),
        }
    }
}

/// Why a resource is aligned, which decides how placement splits and orders it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceRole {
    /// Accelerators: placed first; everything else follows them.
    Gpu,
    /// Network devices (e.g. `rdma/hca`): follow the GPUs, down to the PCIe switch.
    Nic,
    /// Exclusive CPUs (Guaranteed pod, integer cpu), in millicores.
    Cpu,
    /// Memory and hugepages of a Guaranteed pod, in bytes.
    Memory,
    /// Any other device resource the node's topology reports per zone.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedResource {
    pub name: String,
    /// `name`, interned: nodes' zone tables are looked up by it.
    pub sym: Sym,
    pub amount: i64,
    pub role: ResourceRole,
}

/// A pod's topology request: the pod-level totals of the resources kubelet aligns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacementRequest {
    pub policy: NumaPolicy,
    pub resources: Vec<RequestedResource>,
    /// The reason nodes without one fitting zone give, rendered on first use: every such node
    /// of a cycle reports the same text.
    single_zone_reason: OnceLock<&'static str>,
    /// The policy and resources as one interned string, for caches keyed by request.
    shape: OnceLock<Sym>,
}

impl PlacementRequest {
    pub fn new(policy: NumaPolicy) -> Self {
        Self {
            policy,
            resources: Vec::new(),
            single_zone_reason: OnceLock::new(),
            shape: OnceLock::new(),
        }
    }

    /// Equal for equal requests (policy, and resources in order with their amounts and
    /// roles), different otherwise.
    pub fn shape(&self) -> Sym {
        *self.shape.get_or_init(|| {
            let mut text = self.policy.as_str().to_string();
            for r in &self.resources {
                text.push_str(&format!("|{}={}:{:?}", r.name, r.amount, r.role));
            }
            sym(&text)
        })
    }

    /// `render`'s text for this request, rendered (and interned) once.
    pub(super) fn single_zone_reason(&self, render: impl FnOnce(&Self) -> String) -> &'static str {
        self.single_zone_reason
            .get_or_init(|| resolve(sym(&render(self))))
    }

    /// Adds `amount` of `name` in `role`; zero amounts are dropped.
    pub fn with(mut self, name: &str, amount: i64, role: ResourceRole) -> Self {
        if amount > 0 {
            self.single_zone_reason = OnceLock::new();
            self.shape = OnceLock::new();
            self.resources.push(RequestedResource {
                name: name.to_string(),
                sym: sym(name),
                amount,
                role,
            });
        }
        self
    }

    /// Total of the requested resources in `role`.
    pub fn total(&self, role: ResourceRole) -> i64 {
        self.resources
            .iter()
            .filter(|r| r.role == role)
            .map(|r| r.amount)
            .sum()
    }

    pub fn amount(&self, name: &str) -> i64 {
        self.resources
            .iter()
            .filter(|r| r.name == name)
            .map(|r| r.amount)
            .sum()
    }
}

/// Which resource names are GPUs and NICs, and the policy for pods without the annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologyConfig {
    pub gpu_resources: Vec<String>,
    pub nic_resources: Vec<String>,
    pub default_policy: NumaPolicy,
}

impl Default for TopologyConfig {
    fn default() -> Self {
        Self {
            gpu_resources: vec!["nvidia.com/gpu".into(), "amd.com/gpu".into()],
            nic_resources: vec!["rdma/hca".into(), "rdma/hca_shared_devices_a".into()],
            default_policy: NumaPolicy::Prefer,
        }
    }
}

impl TopologyConfig {
    /// Builds a pod's request from its effective resource requests (the kube way: max of init
    /// containers and sum of app containers, plus overhead; cpu in millicores, memory in bytes).
    ///
    /// `guaranteed` is the pod's QoS class being Guaranteed: only then does kubelet pin CPUs
    /// (when the cpu request is whole cores) and memory to NUMA zones. Devices are aligned for
    /// every pod.
    pub fn request(
        &self,
        policy: NumaPolicy,
        requests: &[(&str, i64)],
        guaranteed: bool,
    ) -> PlacementRequest {
        let mut request = PlacementRequest::new(policy);
        for &(name, amount) in requests {
            let role = if self.gpu_resources.iter().any(|gpu| gpu == name) {
                ResourceRole::Gpu
            } else if self.nic_resources.iter().any(|nic| nic == name) {
                ResourceRole::Nic
            } else if name == "cpu" {
                if !guaranteed || amount % 1000 != 0 {
                    continue;
                }
                ResourceRole::Cpu
            } else if name == "memory" || name.starts_with("hugepages-") {
                if !guaranteed {
                    continue;
                }
                ResourceRole::Memory
            } else if name == "ephemeral-storage" || name == "pods" || !name.contains('/') {
                continue;
            } else {
                ResourceRole::Other
            };
            request = request.with(name, amount, role);
        }
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_pod_requests() {
        let config = TopologyConfig::default();
        let requests = [
            ("cpu", 8000),
            ("memory", 1 << 30),
            ("nvidia.com/gpu", 4),
            ("rdma/hca", 1),
            ("example.com/fpga", 2),
            ("ephemeral-storage", 10),
        ];
        let guaranteed = config.request(NumaPolicy::Single, &requests, true);
        let roles: Vec<_> = guaranteed
            .resources
            .iter()
            .map(|r| (r.name.as_str(), r.role))
            .collect();
        assert_eq!(
            roles,
            [
                ("cpu", ResourceRole::Cpu),
                ("memory", ResourceRole::Memory),
                ("nvidia.com/gpu", ResourceRole::Gpu),
                ("rdma/hca", ResourceRole::Nic),
                ("example.com/fpga", ResourceRole::Other),
            ]
        );
        let burstable = config.request(NumaPolicy::Single, &requests, false);
        assert_eq!(burstable.total(ResourceRole::Cpu), 0);
        assert_eq!(burstable.total(ResourceRole::Memory), 0);
        assert_eq!(burstable.total(ResourceRole::Gpu), 4);
        let fractional = config.request(NumaPolicy::Single, &[("cpu", 1500)], true);
        assert!(
            fractional.resources.is_empty(),
            "fractional cpu is shared, not pinned"
        );
    }

    #[test]
    fn shapes_tell_requests_apart() {
        let gpus =
            |policy, n| PlacementRequest::new(policy).with("nvidia.com/gpu", n, ResourceRole::Gpu);
        assert_eq!(
            gpus(NumaPolicy::Single, 2).shape(),
            gpus(NumaPolicy::Single, 2).shape()
        );
        assert_ne!(
            gpus(NumaPolicy::Single, 2).shape(),
            gpus(NumaPolicy::Single, 1).shape()
        );
        assert_ne!(
            gpus(NumaPolicy::Single, 2).shape(),
            gpus(NumaPolicy::Prefer, 2).shape()
        );
        let request = gpus(NumaPolicy::Single, 2);
        let before = request.shape();
        assert_ne!(
            request.with("rdma/hca", 1, ResourceRole::Nic).shape(),
            before
        );
    }

    #[test]
    fn parses_the_policy_annotation() {
        assert_eq!(
            NumaPolicy::from_annotation("ns/p", None, NumaPolicy::None),
            Ok(NumaPolicy::None)
        );
        assert_eq!(
            NumaPolicy::from_annotation("ns/p", Some("single"), NumaPolicy::None),
            Ok(NumaPolicy::Single)
        );
        let err =
            NumaPolicy::from_annotation("ns/p", Some("strict"), NumaPolicy::None).unwrap_err();
        assert_eq!(
            err.message(),
            "Pod ns/p: annotation podium.dev/numa: unknown policy \"strict\" (expected single, prefer or none)"
        );
    }

    #[test]
    fn a_huge_policy_value_is_quoted_bounded() {
        let huge = "s".repeat(250 * 1024);
        let err = NumaPolicy::from_annotation("ns/p", Some(&huge), NumaPolicy::None).unwrap_err();
        assert!(err.message().len() < 400, "{} bytes", err.message().len());
        assert!(
            err.message()
                .ends_with("…\" (256000 bytes) (expected single, prefer or none)"),
            "{}",
            err.message()
        );
    }
}
