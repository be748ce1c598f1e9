//! CapacityScheduling (scheduler-plugins' name): ElasticQuota admission at PreFilter. A pod whose
//! namespace has a quota passes only within the quota's `max` and, beyond its `min`, within what
//! the other quotas leave unused (`state/quota.rs`). Node-independent, so it never runs per
//! node. The use it compares is the cache's (bound and assumed pods) plus the batch's own
//! placements, kept in step by the cycle, plus the nominated pods of the pod's priority or above
//! (`Nominees::quotas_for`).

use crate::framework::cycle_state::PluginState;
use crate::framework::plugin::{Filter, Plugin, PodContext, PreFilter, Prepared};
use crate::framework::status::Status;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::quota::{QuotaVerdict, Quotas};
use crate::state::resources::ResourceName;

pub const NAME: &str = "CapacityScheduling";

pub struct CapacityScheduling;

/// An amount as a quantity: cpu in cores (`500m`, `2`), the rest as counted.
fn amount(resource: ResourceName, value: i64) -> String {
    if resource != ResourceName::Cpu {
        return value.to_string();
    }
    if value % 1000 == 0 {
        (value / 1000).to_string()
    } else {
        format!("{value}m")
    }
}

/// Why the pod's quota refuses it, or None.
pub fn refusal(quotas: &Quotas, pod: &PodRecord) -> Option<String> {
    let quota = quotas.of(pod.namespace)?;
    let name = quota.display_name();
    match quotas.admits(pod.namespace, &pod.requests) {
        QuotaVerdict::Admit => None,
        QuotaVerdict::OverMax(at, r, used, want, max) => Some(format!(
            "quota {}: would exceed max {} ({}/{} used, {} requested)",
            quotas
                .of(at)
                .map_or_else(|| name.clone(), |q| q.display_name()),
            r.as_str(),
            amount(r, used),
            amount(r, max),
            amount(r, want)
        )),
        QuotaVerdict::NothingToBorrow(r, used, want, mins) => Some(format!(
            "quota {name}: would borrow {} beyond what other quotas leave unused ({}/{} of all quotas' min used, {} requested)",
            r.as_str(),
            amount(r, used),
            amount(r, mins),
            amount(r, want)
        )),
    }
}

impl Plugin for CapacityScheduling {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl PreFilter for CapacityScheduling {
    fn pre_filter(&self, ctx: &PodContext<'_>) -> Prepared {
        match refusal(&ctx.namespaces.quotas, ctx.pod) {
            // Unschedulable, as CapacityScheduling: freeing quota (reclaim) can help.
            Some(why) => Prepared::Reject(Status::unschedulable(why)),
            None => Prepared::Skip,
        }
    }
}

/// Registered at Filter as the registry requires; PreFilter decides everything.
impl Filter for CapacityScheduling {
    fn node_local(&self, _: &PodRecord) -> bool {
        true
    }

    fn reads_identity(&self) -> bool {
        false
    }

    fn filter(&self, _: Option<&PluginState>, _: &PodRecord, _: &NodeInfo) -> Status {
        Status::success()
    }
}
