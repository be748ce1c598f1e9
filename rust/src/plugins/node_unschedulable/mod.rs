//! NodeUnschedulable: cordoned nodes (`spec.unschedulable`) take only pods that tolerate the
//! `node.kubernetes.io/unschedulable:NoSchedule` taint.

use std::sync::LazyLock;

use crate::framework::cycle_state::PluginState;
use crate::framework::plugin::{Filter, Plugin};
use crate::framework::status::Status;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::taints::{Taint, TaintEffect, tolerated};

pub const NAME: &str = "NodeUnschedulable";
pub const REASON_UNSCHEDULABLE: &str = "node(s) were unschedulable";
pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

static UNSCHEDULABLE_TAINT: LazyLock<Taint> =
    LazyLock::new(|| Taint::new(TAINT_UNSCHEDULABLE, "", TaintEffect::NoSchedule));

pub struct NodeUnschedulable;

impl Plugin for NodeUnschedulable {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl Filter for NodeUnschedulable {
    fn node_local(&self, _: &PodRecord) -> bool {
        true
    }

    fn reads_identity(&self) -> bool {
        false
    }

    fn filter(&self, _: Option<&PluginState>, pod: &PodRecord, node: &NodeInfo) -> Status {
        let Some(n) = &node.node else {
            return Status::unresolvable(REASON_UNSCHEDULABLE);
        };
        if n.unschedulable && !tolerated(&pod.tolerations, &UNSCHEDULABLE_TAINT) {
            return Status::unresolvable(REASON_UNSCHEDULABLE);
        }
        Status::success()
    }

    fn node_static(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::code::Code;
    use crate::state::taints::Toleration;
    use crate::testutil::{node, pod};

    #[test]
    fn cordoned_nodes_need_the_toleration() {
        let mut n = node("n1", 4000, 1 << 30);
        let p = pod("p");
        assert!(NodeUnschedulable.filter(None, &p, &n.build()).is_success());
        n.record.unschedulable = true;
        let st = NodeUnschedulable.filter(None, &p, &n.build());
        assert_eq!(st.code, Code::UnschedulableAndUnresolvable);
        assert_eq!(st.reasons.to_vec(), vec![REASON_UNSCHEDULABLE]);
        let mut tolerant = pod("t");
        tolerant.tolerations = vec![Toleration::new(
            TAINT_UNSCHEDULABLE,
            "Exists",
            "",
            "NoSchedule",
        )]
        .into();
        assert!(
            NodeUnschedulable
                .filter(None, &tolerant, &n.build())
                .is_success()
        );
    }
}
