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
            images: crate::state::node_images::NodeImages::default(),
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

/// A label selector `matchLabels: {pairs}`.
pub fn match_labels(pairs: &[(&str, &str)]) -> crate::state::label_selector::LabelSelector {
    use crate::state::label_selector::{LabelSelector, SelectorOp, SelectorRequirement};
    LabelSelector::All(
        pairs
            .iter()
            .map(|&(k, v)| SelectorRequirement {
                key: sym(k),
                op: SelectorOp::In(Box::new([sym(v)])),
            })
            .collect(),
    )
}

/// A pod affinity term over `topology_key` selecting `label=value` in namespace `default`.
pub fn affinity_term(
    topology_key: &str,
    label: &str,
    value: &str,
) -> crate::state::pod_affinity::AffinityTerm {
    crate::state::pod_affinity::AffinityTerm {
        selector: match_labels(&[(label, value)]),
        namespaces: Box::new([sym("default")]),
        namespace_selector: None,
        topology_key: sym(topology_key),
    }
}

/// A plugin context over `nodes` with these namespaces and no volumes.
pub fn context<'a>(
    pod: &'a PodRecord,
    nodes: &'a [Arc<NodeInfo>],
    namespaces: &'a crate::state::namespaces::Namespaces,
) -> crate::framework::plugin::PodContext<'a> {
    static NO_VOLUMES: std::sync::LazyLock<crate::state::volumes::Volumes> =
        std::sync::LazyLock::new(Default::default);
    crate::framework::plugin::PodContext {
        pod,
        nodes,
        namespaces,
        volumes: &NO_VOLUMES,
        dra: crate::state::dra::Dra::none(),
        index: None,
    }
}

/// A DoNotSchedule spread constraint on `zone` over pods labelled `app=web`.
pub fn zone_spread(max_skew: i32) -> crate::state::spread::SpreadConstraint {
    crate::state::spread::SpreadConstraint {
        max_skew,
        topology_key: sym("zone"),
        when_unsatisfiable: crate::state::spread::WhenUnsatisfiable::DoNotSchedule,
        selector: match_labels(&[("app", "web")]),
        min_domains: 1,
        honor_node_affinity: true,
        honor_node_taints: false,
    }
}

/// A small deterministic generator (xorshift) for randomized tests: the seed is all a failure
/// needs to replay.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}
