//! Builders for unit tests of plugins and the scheduling cycle.

use std::sync::Arc;

use crate::intern::sym;
use crate::state::labels::Labels;
use crate::state::node::NodeRecord;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::resources::Resources;

pub struct NodeBuilder {
    pub record: NodeRecord,
}

impl NodeBuilder {
    pub fn build(&self) -> NodeInfo {
        NodeInfo::new(Arc::new(self.record.clone()))
    }
}

/// A node with this much cpu (millicores) and memory (bytes), room for 110 pods.
pub fn node(name: &str, milli_cpu: i64, memory: i64) -> NodeBuilder {
    NodeBuilder {
        record: NodeRecord {
            name: sym(name),
            uid: format!("uid-{name}").into(),
            resource_version: "1".into(),
            labels: Labels::default(),
            unschedulable: false,
            taints: Box::default(),
            allocatable: Resources {
                milli_cpu,
                memory,
                ..Resources::default()
            },
            allowed_pods: 110,
            error: None,
        },
    }
}

/// A pending podium pod in namespace `default`, uid = name, requesting nothing.
pub fn pod(name: &str) -> PodRecord {
    let mut p = PodRecord::empty(name, "default", name);
    p.scheduler_name = sym("podium");
    p
}

/// Sets requests (and the same non-zero requests) on a pod.
pub fn with_requests(mut p: PodRecord, milli_cpu: i64, memory: i64) -> PodRecord {
    p.requests.milli_cpu = milli_cpu;
    p.requests.memory = memory;
    p.non_zero_requests = p.requests.clone();
    p
}
