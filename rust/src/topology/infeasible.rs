//! Why a node cannot host a pod's aligned resources, worded as kube words reasons.

use std::borrow::Cow;

use super::node::ManagerPolicy;
use super::request::PlacementRequest;

/// Why a node cannot host the pod's aligned resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Infeasible {
    /// kube-style reason, the same for every node failing the same way, e.g.
    /// `node(s) had no single NUMA node with 4 nvidia.com/gpu and 1 rdma/hca`. Shared, not
    /// built per node: a pod may be infeasible on thousands of nodes.
    pub reason: Cow<'static, str>,
    /// Whether the node could host the pod once pods on it finish (false: it never can, as for
    /// kube's UnschedulableAndUnresolvable).
    pub resolvable: bool,
}

/// Reason when the pod's own `single` policy finds no zone.
pub fn no_single_zone_reason(request: &PlacementRequest) -> String {
    let described: Vec<String> = request
        .resources
        .iter()
        .map(|r| describe_amount(&r.name, r.amount))
        .collect();
    format!(
        "node(s) had no single NUMA node with {}",
        join_english(&described)
    )
}

/// Reason when kubelet's own policy on the node would reject the pod.
pub fn manager_policy_reason(policy: ManagerPolicy) -> &'static str {
    match policy {
        ManagerPolicy::None => "node(s) had topology manager policy none that cannot align the pod",
        ManagerPolicy::BestEffort => {
            "node(s) had topology manager policy best-effort that cannot align the pod"
        }
        ManagerPolicy::Restricted => {
            "node(s) had topology manager policy restricted that cannot align the pod"
        }
        ManagerPolicy::SingleNumaNode => {
            "node(s) had topology manager policy single-numa-node that cannot align the pod"
        }
    }
}

/// Reason when the zones together lack a resource (usually because of pending allocations).
pub fn insufficient_reason(resource: &str) -> String {
    format!("node(s) had insufficient {resource} in NUMA zones")
}

/// `4 nvidia.com/gpu`, `8 cpu` (whole cores), `16Gi memory`.
fn describe_amount(name: &str, amount: i64) -> String {
    if name == "cpu" {
        return if amount % 1000 == 0 {
            format!("{} cpu", amount / 1000)
        } else {
            format!("{amount}m cpu")
        };
    }
    if name == "memory" || name.starts_with("hugepages-") {
        for (suffix, shift) in [("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)] {
            if amount != 0 && amount % (1i64 << shift) == 0 {
                return format!("{}{suffix} {name}", amount >> shift);
            }
        }
    }
    format!("{amount} {name}")
}

fn join_english(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}
