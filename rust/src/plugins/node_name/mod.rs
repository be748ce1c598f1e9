//! NodeName: a pod that names its node (`spec.nodeName`) fits only there.

use crate::framework::cycle_state::PluginState;
use crate::framework::plugin::{Filter, Plugin};
use crate::framework::status::Status;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;

pub const NAME: &str = "NodeName";
pub const REASON: &str = "node(s) didn't match the requested node name";

pub struct NodeName;

impl Plugin for NodeName {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl Filter for NodeName {
    fn node_local(&self, _: &PodRecord) -> bool {
        true
    }

    fn reads_identity(&self) -> bool {
        false
    }

    fn filter(&self, _: Option<&PluginState>, pod: &PodRecord, node: &NodeInfo) -> Status {
        match (pod.node_name, &node.node) {
            (Some(wanted), Some(n)) if wanted != n.name => Status::unresolvable(REASON),
            _ => Status::success(),
        }
    }

    fn node_static(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::sym;
    use crate::testutil::{node, pod};

    #[test]
    fn only_the_named_node() {
        let mut p = pod("p");
        let n1 = node("n1", 1000, 1000).build();
        assert!(NodeName.filter(None, &p, &n1).is_success());
        p.node_name = Some(sym("n2"));
        assert_eq!(
            NodeName.filter(None, &p, &n1).reasons.to_vec(),
            vec![REASON]
        );
        assert!(
            NodeName
                .filter(None, &p, &node("n2", 1, 1).build())
                .is_success()
        );
    }
}
