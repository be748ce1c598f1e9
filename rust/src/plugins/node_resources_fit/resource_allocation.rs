//! What the resource scorers compare: a node's allocatable and what would be requested on it
//! with the pod added (kube's `calculateResourceAllocatableRequest`).

use crate::error::{CoreError, CoreResult};
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::resources::ResourceName;

/// (allocatable, requested including the pod); (0, 0) means "do not score this resource".
///
/// `use_requested` false reads the scoring defaults (100m / 200Mi for containers that omit
/// cpu or memory) for cpu and memory, as NodeResourcesFit scoring does.
pub fn allocatable_and_requested(
    node: &NodeInfo,
    pod: &PodRecord,
    resource: ResourceName,
    use_requested: bool,
) -> (i64, i64) {
    let Some(n) = &node.node else {
        return (0, 0);
    };
    let (node_requested, pod_requests) = if use_requested {
        (&node.requested, &pod.requests)
    } else {
        (&node.non_zero_requested, &pod.non_zero_requests)
    };
    let pod_request = pod_requests.get(resource);
    let alloc = &n.allocatable;
    match resource {
        ResourceName::Cpu => (
            alloc.milli_cpu,
            node_requested.milli_cpu.wrapping_add(pod_request),
        ),
        ResourceName::Memory => (
            alloc.memory,
            node_requested.memory.wrapping_add(pod_request),
        ),
        ResourceName::EphemeralStorage => (
            alloc.ephemeral_storage,
            node.requested.ephemeral_storage.wrapping_add(pod_request),
        ),
        // An extended resource the pod does not ask for is not scored.
        ResourceName::Scalar(_) if pod_request == 0 => (0, 0),
        ResourceName::Scalar(s) if alloc.has_scalar(s) => (
            alloc.scalar(s),
            node.requested.scalar(s).wrapping_add(pod_request),
        ),
        ResourceName::Scalar(_) | ResourceName::Pods => (0, 0),
    }
}

/// The weighted resources a scorer reads, from the profile's `[{name, weight}]`.
pub fn weighted_resources(
    list: Option<&[crate::framework::spec::ResourceWeight]>,
) -> CoreResult<Vec<(ResourceName, i64)>> {
    let Some(list) = list.filter(|l| !l.is_empty()) else {
        return Ok(vec![(ResourceName::Cpu, 1), (ResourceName::Memory, 1)]);
    };
    list.iter()
        .enumerate()
        .map(|(i, r)| {
            if r.name.is_empty() {
                return Err(CoreError::Invalid(format!(
                    "resources[{i}].name: must not be empty"
                )));
            }
            if !(1..=100).contains(&r.weight) {
                return Err(CoreError::Invalid(format!(
                    "resources[{i}].weight: {} is not in 1..100",
                    r.weight
                )));
            }
            Ok((ResourceName::parse(&r.name), r.weight))
        })
        .collect()
}
