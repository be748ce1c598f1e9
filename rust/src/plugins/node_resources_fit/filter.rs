//! NodeResourcesFit (filter): the pod's requests must fit in what the node has left, for cpu,
//! memory, ephemeral storage, every extended resource it asks for, and the pod count.
//!
//! An extended resource a DeviceClass serves (DRAExtendedResource) is left to DynamicResources
//! on a node that has none of it in its allocatable (no device plugin): DRA devices serve it
//! there (kube's `shouldDelegateResourceToDRA`).

use crate::framework::code::Code;
use crate::framework::cycle_state::PluginState;
use crate::framework::plugin::{Filter, Plugin, PodContext, PreFilter, Prepared};
use crate::framework::reasons;
use crate::framework::status::{Reasons, Status};
use crate::intern::{Sym, resolve};
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;

pub const NAME: &str = "NodeResourcesFit";
pub const REASON_TOO_MANY_PODS: &str = "Too many pods";
pub const REASON_CPU: &str = "Insufficient cpu";
pub const REASON_MEMORY: &str = "Insufficient memory";
pub const REASON_EPHEMERAL_STORAGE: &str = "Insufficient ephemeral-storage";

/// `Insufficient <resource>` for extended resources.
pub fn reason_insufficient(resource: Sym) -> &'static str {
    reasons::cached(NAME, resource, None, || {
        format!("Insufficient {}", resolve(resource))
    })
}

pub struct NodeResourcesFit;

/// PreFilter's state: the extended resources the pod asks that a DeviceClass serves.
struct DraBacked(Box<[Sym]>);

fn dra_backed(state: Option<&PluginState>) -> &[Sym] {
    state
        .and_then(|s| s.downcast_ref::<DraBacked>())
        .map_or(&[], |b| &b.0)
}

/// Is `resource` served by DRA on the node rather than counted against its allocatable?
fn delegated(backed: &[Sym], resource: Sym, allocatable: i64) -> bool {
    allocatable <= 0 && backed.contains(&resource)
}

/// Why a pod does not fit a node: every reason (empty when it fits), and whether one of them
/// is a request larger than the node's whole allocatable, which no eviction can cure.
#[derive(Default)]
pub struct Shortfall {
    pub reasons: Reasons,
    pub unresolvable: bool,
}

impl Shortfall {
    fn short(&mut self, reason: &'static str, want: i64, alloc: i64, used: i64) {
        if want > 0 && want > alloc.saturating_sub(used) {
            self.reasons.push(reason.into());
            self.unresolvable |= want > alloc;
        }
    }
}

/// What keeps `pod` off `node`; `backed`: the extended resources DeviceClasses serve, which
/// DRA serves where the node has none.
pub fn insufficient(pod: &PodRecord, node: &NodeInfo, backed: &[Sym]) -> Shortfall {
    let mut out = Shortfall::default();
    let Some(n) = &node.node else {
        return out;
    };
    let pods = i64::try_from(node.pod_count()).unwrap_or(i64::MAX);
    if pods.saturating_add(1) > n.allowed_pods {
        out.reasons.push(REASON_TOO_MANY_PODS.into());
    }
    let want = &pod.requests;
    if want.is_zero() {
        return out;
    }
    let alloc = &n.allocatable;
    let used = &node.requested;
    out.short(REASON_CPU, want.milli_cpu, alloc.milli_cpu, used.milli_cpu);
    out.short(REASON_MEMORY, want.memory, alloc.memory, used.memory);
    out.short(
        REASON_EPHEMERAL_STORAGE,
        want.ephemeral_storage,
        alloc.ephemeral_storage,
        used.ephemeral_storage,
    );
    for &(name, amount) in &want.scalar {
        let has = alloc.scalar(name);
        if !delegated(backed, name, has) {
            out.short(reason_insufficient(name), amount, has, used.scalar(name));
        }
    }
    out
}

impl Plugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl PreFilter for NodeResourcesFit {
    fn pre_filter(&self, ctx: &PodContext<'_>) -> Prepared {
        let backed = ctx.dra.dra_backed(ctx.pod);
        if backed.is_empty() {
            return Prepared::Run(None);
        }
        let backed: Box<[Sym]> = backed.into_iter().map(|(r, _)| r).collect();
        Prepared::Run(Some(Box::new(DraBacked(backed))))
    }
}

impl Filter for NodeResourcesFit {
    fn node_local(&self, _: &PodRecord) -> bool {
        true
    }

    fn reads_identity(&self) -> bool {
        false
    }

    fn filter(&self, state: Option<&PluginState>, pod: &PodRecord, node: &NodeInfo) -> Status {
        let Shortfall {
            reasons,
            unresolvable,
        } = insufficient(pod, node, dra_backed(state));
        if reasons.is_empty() {
            Status::success()
        } else {
            // kube 1.37: a request above the node's allocatable no preemption can make room
            // for, so preemption skips the node ("not helpful") instead of trying victims.
            let code = if unresolvable {
                Code::UnschedulableAndUnresolvable
            } else {
                Code::Unschedulable
            };
            Status { code, reasons }
        }
    }

    /// An extended resource the node has none of can never fit, whatever leaves the node.
    fn refuses_statically(
        &self,
        state: Option<&PluginState>,
        pod: &PodRecord,
        node: &NodeInfo,
    ) -> bool {
        let backed = dra_backed(state);
        node.node.as_ref().is_some_and(|n| {
            pod.requests.scalar.iter().any(|&(name, amount)| {
                let has = n.allocatable.scalar(name);
                amount > 0 && has <= 0 && !delegated(backed, name, has)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::status::Reason;
    use crate::intern::sym;
    use crate::state::resources::ResourceName;
    use crate::testutil::{node, pod};
    use std::sync::Arc;

    #[test]
    fn reports_every_short_resource() {
        let gpu = sym("nvidia.com/gpu");
        let mut n = node("n1", 4000, 8 << 30);
        n.record.allocatable.set(ResourceName::Scalar(gpu), 8);
        let mut info = n.build();
        let mut used = pod("used");
        used.requests.milli_cpu = 3000;
        used.requests.set(ResourceName::Scalar(gpu), 6);
        info.add_pod(Arc::new(used));

        let mut p = pod("p");
        p.requests.milli_cpu = 1000;
        p.requests.memory = 1 << 30;
        p.requests.set(ResourceName::Scalar(gpu), 2);
        assert!(
            NodeResourcesFit.filter(None, &p, &info).is_success(),
            "exactly fits"
        );

        p.requests.milli_cpu = 1001;
        p.requests.set(ResourceName::Scalar(gpu), 3);
        let st = NodeResourcesFit.filter(None, &p, &info);
        assert_eq!(
            st.code,
            Code::Unschedulable,
            "evicting the pod that uses them would make room"
        );
        assert_eq!(st.reasons.len(), 2);

        // Above the node's whole allocatable: no eviction helps (kube 1.37's Unresolvable).
        p.requests.memory = 9 << 30;
        p.requests
            .set(ResourceName::Scalar(sym("example.com/fpga")), 1);
        let st = NodeResourcesFit.filter(None, &p, &info);
        assert_eq!(st.code, Code::UnschedulableAndUnresolvable);
        assert_eq!(
            st.reasons
                .iter()
                .map(|r| r.as_ref())
                .collect::<Vec<_>>()
                .len(),
            4
        );
        assert!(st.reasons.contains(&Reason::from("Insufficient cpu")));
        assert!(st.reasons.contains(&Reason::from("Insufficient memory")));
        assert!(
            st.reasons
                .contains(&Reason::from("Insufficient nvidia.com/gpu"))
        );
        assert!(
            st.reasons
                .contains(&Reason::from("Insufficient example.com/fpga"))
        );
    }

    #[test]
    fn one_request_above_allocatable_makes_the_node_unresolvable() {
        let gpu = sym("nvidia.com/gpu");
        let mut n = node("n1", 64_000, 512 << 30);
        n.record.allocatable.set(ResourceName::Scalar(gpu), 8);
        let info = n.build();
        let mut p = pod("p");
        p.requests.milli_cpu = 64_000;
        p.requests.set(ResourceName::Scalar(gpu), 16);
        let st = NodeResourcesFit.filter(None, &p, &info);
        assert_eq!(st.code, Code::UnschedulableAndUnresolvable);
        assert_eq!(st.reasons.to_vec(), vec!["Insufficient nvidia.com/gpu"]);
        p.requests.set(ResourceName::Scalar(gpu), 8);
        assert!(NodeResourcesFit.filter(None, &p, &info).is_success());
    }

    #[test]
    fn pod_count_limit_applies_even_to_empty_pods() {
        let mut n = node("n1", 4000, 1 << 30);
        n.record.allowed_pods = 1;
        let mut info = n.build();
        let p = pod("p");
        assert!(NodeResourcesFit.filter(None, &p, &info).is_success());
        info.add_pod(Arc::new(pod("other")));
        assert_eq!(
            NodeResourcesFit.filter(None, &p, &info).reasons.to_vec(),
            vec![REASON_TOO_MANY_PODS]
        );
    }
}
