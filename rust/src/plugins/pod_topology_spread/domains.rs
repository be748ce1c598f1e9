//! Topology spread's eligible nodes and domains, computed once per batch and shared by the
//! batch's pods. Which nodes count for a constraint depends on node labels and taints (fixed
//! within a batch) and on the few pod fields the inclusion policies read, so pods of one
//! workload share one entry instead of each walking every node.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;

use crate::framework::batch_cache::BatchCache;

use crate::intern::Sym;
use crate::plugins::pod_topology_spread::constraints;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::spread::{SpreadConstraint, has_all_keys};

/// The nodes counting for one constraint of one kind of pod.
#[derive(Debug)]
pub struct Eligible {
    /// Per position in the cycle's node list.
    pub nodes: Vec<bool>,
    /// Distinct values of the constraint's topology key over those nodes.
    pub domains: usize,
}

pub type DomainCache = BatchCache<Eligible>;

/// Everything eligibility depends on besides the nodes: the constraints' keys (a node must
/// carry all of them), the policies, and the pod fields the policies read.
fn cache_key(pod: &PodRecord, all: &[SpreadConstraint], c: &SpreadConstraint) -> String {
    let keys: Vec<Sym> = all.iter().map(|c| c.topology_key).collect();
    let mut key = format!(
        "{keys:?}|{:?}|{}|{}",
        c.topology_key, c.honor_node_affinity, c.honor_node_taints
    );
    if c.honor_node_affinity {
        let _ = write!(key, "|{:?}|{:?}", pod.node_selector, pod.required_affinity);
    }
    if c.honor_node_taints {
        let _ = write!(key, "|{:?}", pod.tolerations);
    }
    key
}

/// The nodes of `nodes` that count for constraint `c` of `pod`, whose constraints of the same
/// kind are `all`; computed once per batch.
pub fn eligible(
    cache: &DomainCache,
    pod: &PodRecord,
    nodes: &[Arc<NodeInfo>],
    all: &[SpreadConstraint],
    c: &SpreadConstraint,
) -> Arc<Eligible> {
    cache.get_or(cache_key(pod, all, c), || compute(pod, nodes, all, c))
}

fn compute(
    pod: &PodRecord,
    nodes: &[Arc<NodeInfo>],
    all: &[SpreadConstraint],
    c: &SpreadConstraint,
) -> Eligible {
    let mut values: HashSet<Sym, ahash::RandomState> = HashSet::default();
    let eligible = nodes
        .iter()
        .map(|info| {
            let Some(node) = &info.node else {
                return false;
            };
            if !has_all_keys(&node.labels, all) || !constraints::includes(c, pod, info) {
                return false;
            }
            if let Some(v) = node.labels.get(c.topology_key) {
                values.insert(v);
            }
            true
        })
        .collect();
    Eligible {
        nodes: eligible,
        domains: values.len(),
    }
}

/// Selected pods per topology domain.
pub type DomainCounts = HashMap<Sym, i64, ahash::RandomState>;

/// The selected pods per eligible domain of one constraint.
pub struct Domains {
    /// Pods per domain; an eligible domain missing here has none.
    pub counts: Arc<DomainCounts>,
    /// How many eligible domains there are.
    pub domains: usize,
    /// `min()`, when already known (kept with the batch's counts).
    pub least: Option<i64>,
}

impl Domains {
    /// The count of the least populated eligible domain (i64::MAX when there is none).
    pub fn min(&self) -> i64 {
        self.least
            .unwrap_or_else(|| least(&self.counts, self.domains))
    }
}

pub(crate) fn least(counts: &DomainCounts, domains: usize) -> i64 {
    if domains == 0 {
        i64::MAX
    } else if counts.len() < domains {
        0
    } else {
        counts.values().copied().min().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::labels::Labels;
    use crate::testutil::{node, pod, zone_spread};

    fn zone_node(name: &str, zone: Option<&str>, pool: &str) -> Arc<NodeInfo> {
        let mut n = node(name, 1000, 1 << 30);
        let mut labels = vec![("pool", pool)];
        if let Some(z) = zone {
            labels.push(("zone", z));
        }
        n.record.labels = Labels::from_pairs(labels);
        Arc::new(n.build())
    }

    #[test]
    fn eligibility_follows_keys_and_node_affinity_and_is_shared() {
        let nodes = vec![
            zone_node("a", Some("z1"), "gpu"),
            zone_node("b", Some("z2"), "cpu"),
            zone_node("c", None, "cpu"),
            zone_node("d", Some("z2"), "gpu"),
        ];
        let c = zone_spread(1);
        let all = [c.clone()];
        let cache = DomainCache::default();
        let any = pod("p");
        let e = eligible(&cache, &any, &nodes, &all, &c);
        assert_eq!(
            (e.nodes.as_slice(), e.domains),
            (&[true, true, false, true][..], 2)
        );
        let mut gpu = pod("q");
        gpu.node_selector = Labels::from_pairs([("pool", "gpu")]);
        let e = eligible(&cache, &gpu, &nodes, &all, &c);
        assert_eq!(
            (e.nodes.as_slice(), e.domains),
            (&[true, false, false, true][..], 2)
        );
        let twin = pod("r");
        assert!(Arc::ptr_eq(
            &eligible(&cache, &twin, &nodes, &all, &c),
            &eligible(&cache, &any, &nodes, &all, &c)
        ));
        assert_eq!(cache.len(), 2);
    }
}
