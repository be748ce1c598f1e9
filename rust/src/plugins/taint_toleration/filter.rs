//! TaintToleration (filter): the pod must tolerate every NoSchedule and NoExecute taint.

use crate::framework::cycle_state::PluginState;
use crate::framework::plugin::{Filter, Plugin};
use crate::framework::status::Status;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::taints::{TaintEffect, tolerated};

pub const NAME: &str = "TaintToleration";

/// kube-scheduler 1.36's words. The taint is not named: a taint's key and value are anyone's
/// text, and one reason per distinct taint made the message as long as the cluster's taints.
pub const REASON_UNTOLERATED: &str = "node(s) had untolerated taint(s)";

pub struct TaintToleration;

impl Plugin for TaintToleration {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl Filter for TaintToleration {
    fn node_local(&self, _: &PodRecord) -> bool {
        true
    }

    fn reads_identity(&self) -> bool {
        false
    }

    fn filter(&self, _: Option<&PluginState>, pod: &PodRecord, node: &NodeInfo) -> Status {
        let Some(n) = &node.node else {
            return Status::success();
        };
        let untolerated = n.taints.iter().any(|t| {
            matches!(t.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute)
                && !tolerated(&pod.tolerations, t)
        });
        if untolerated {
            Status::unresolvable(REASON_UNTOLERATED)
        } else {
            Status::success()
        }
    }

    fn node_static(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::code::Code;
    use crate::state::taints::{Taint, Toleration};
    use crate::testutil::{node, pod};

    #[test]
    fn any_untolerated_hard_taint_refuses_without_naming_it() {
        let mut n = node("n1", 1000, 1000);
        n.record.taints = vec![
            Taint::new("soft", "x", TaintEffect::PreferNoSchedule),
            Taint::new("gpu", "true", TaintEffect::NoSchedule),
            Taint::new("evict", "", TaintEffect::NoExecute),
        ]
        .into();
        let info = n.build();
        let mut p = pod("p");
        let st = TaintToleration.filter(None, &p, &info);
        assert_eq!(st.code, Code::UnschedulableAndUnresolvable);
        assert_eq!(st.reasons.to_vec(), vec![REASON_UNTOLERATED]);
        p.tolerations = vec![Toleration::new("gpu", "Equal", "true", "NoSchedule")].into();
        assert_eq!(
            TaintToleration.filter(None, &p, &info).reasons.to_vec(),
            vec![REASON_UNTOLERATED]
        );
        p.tolerations = vec![Toleration::new("", "Exists", "", "")].into();
        assert!(TaintToleration.filter(None, &p, &info).is_success());
    }
}
