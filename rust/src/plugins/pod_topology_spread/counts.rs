//! Selected pods per domain of a spread constraint, counted once per batch and kept in step with
//! the batch's placements (kube's `PreFilterExtensions` AddPod / RemovePod, across the pods of a
//! batch rather than within one pod's cycle). The replicas of a spread workload share one
//! selector, so without this each of them walks every pod its selector picks again; with it the
//! second and later replicas read the counts and the least populated domain as they stand.
//!
//! A count depends on the constraint's namespace, selector (`matchLabelKeys` already merged in)
//! and topology key, and on which nodes count as its domains (`domains::Eligible`: the keys of
//! the pod's other constraints, the inclusion policies and the pod fields they read). The batch's
//! domain cache hands out one `Eligible` per such key, so the same `Arc` names the same nodes.
//!
//! PreScore's `kubernetes.io/hostname` constraints count on the node itself, whatever its labels
//! and the policies: those counts are kept by node name, per namespace and selector (`by_node`).

use std::sync::{Arc, Mutex, PoisonError};

use crate::framework::batch_state::FollowsPlacements;
use crate::intern::Sym;
use crate::plugins::pod_topology_spread::domains::{DomainCounts, Domains, Eligible};
use crate::state::label_selector::LabelSelector;
use crate::state::labels::Labels;
use crate::state::namespaces::Namespaces;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;

/// Beyond this many distinct counts in a batch, new ones are counted per pod: every placement
/// checks every entry.
const MAX_ENTRIES: usize = 64;

struct Entry {
    namespace: Sym,
    selector: LabelSelector,
    topology_key: Sym,
    eligible: Arc<Eligible>,
    counts: Arc<DomainCounts>,
    /// The least populated eligible domain's count, computed when first asked for after a change.
    least: Option<i64>,
}

impl Entry {
    fn is(&self, namespace: Sym, c: &LabelSelector, key: Sym, eligible: &Arc<Eligible>) -> bool {
        self.namespace == namespace
            && self.topology_key == key
            && Arc::ptr_eq(&self.eligible, eligible)
            && self.selector == *c
    }

    fn domains(&mut self) -> Domains {
        let domains = Domains {
            counts: self.counts.clone(),
            domains: self.eligible.domains,
            least: self.least,
        };
        let least = domains.min();
        self.least = Some(least);
        Domains {
            least: Some(least),
            ..domains
        }
    }
}

/// Selected pods per node name for one namespace and selector.
struct ByNode {
    namespace: Sym,
    selector: LabelSelector,
    counts: Arc<DomainCounts>,
}

#[derive(Default)]
struct Kept {
    entries: Vec<Entry>,
    by_node: Vec<ByNode>,
    /// The node name at each position of the batch's node list, for `by_node` (taken once: a
    /// batch's node lists, held or not, have the same nodes at the same positions).
    names: Vec<Option<Sym>>,
}

/// The batch's counts: one entry per (namespace, selector, topology key, eligible nodes), and
/// per node name one per (namespace, selector).
#[derive(Default)]
pub struct SpreadCounts(Mutex<Kept>);

impl SpreadCounts {
    /// The counts of the constraint with `selector` and `topology_key` over the `eligible` nodes
    /// for pods of `namespace`; counted by `count` the first time in the batch.
    pub fn get(
        &self,
        (namespace, selector, topology_key): (Sym, &LabelSelector, Sym),
        eligible: &Arc<Eligible>,
        count: impl FnOnce() -> DomainCounts,
    ) -> Domains {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let entries = &mut kept.entries;
        if let Some(entry) = entries
            .iter_mut()
            .find(|e| e.is(namespace, selector, topology_key, eligible))
        {
            return entry.domains();
        }
        let mut entry = Entry {
            namespace,
            selector: selector.clone(),
            topology_key,
            eligible: eligible.clone(),
            counts: Arc::new(count()),
            least: None,
        };
        let domains = entry.domains();
        if entries.len() < MAX_ENTRIES {
            entries.push(entry);
        }
        domains
    }

    /// The pods `selector` picks in `namespace` per node name of `nodes` (the cycle's node
    /// list); counted by `count` the first time in the batch, None when it cannot count them
    /// from the index (then nothing is kept).
    pub fn by_node(
        &self,
        (namespace, selector): (Sym, &LabelSelector),
        nodes: &[Arc<NodeInfo>],
        count: impl FnOnce() -> Option<DomainCounts>,
    ) -> Option<Arc<DomainCounts>> {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = kept
            .by_node
            .iter()
            .find(|e| e.namespace == namespace && e.selector == *selector)
        {
            return Some(entry.counts.clone());
        }
        let counts = Arc::new(count()?);
        if kept.by_node.len() < MAX_ENTRIES {
            if kept.names.is_empty() {
                kept.names = nodes
                    .iter()
                    .map(|n| n.node.as_ref().map(|r| r.name))
                    .collect();
            }
            kept.by_node.push(ByNode {
                namespace,
                selector: selector.clone(),
                counts: counts.clone(),
            });
        }
        Some(counts)
    }

    fn count(&self, pod: &PodRecord, at: usize, node_labels: &Labels, delta: i64) {
        if pod.deleting {
            return;
        }
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let Kept {
            entries,
            by_node,
            names,
        } = &mut *kept;
        let name = names.get(at).copied().flatten();
        for e in by_node.iter_mut() {
            if let Some(name) = name
                && e.namespace == pod.namespace
                && e.selector.matches(&pod.labels)
            {
                bump(Arc::make_mut(&mut e.counts), name, delta);
            }
        }
        for e in entries.iter_mut() {
            if e.namespace != pod.namespace
                || !e.eligible.nodes.get(at).copied().unwrap_or(false)
                || !e.selector.matches(&pod.labels)
            {
                continue;
            }
            let Some(value) = node_labels.get(e.topology_key) else {
                continue;
            };
            // Copied only if a pod's cycle still holds the counts it read.
            bump(Arc::make_mut(&mut e.counts), value, delta);
            e.least = None;
        }
    }
}

fn bump(counts: &mut DomainCounts, key: Sym, delta: i64) {
    let n = counts.entry(key).or_default();
    *n += delta;
    // A domain without pods is absent, as a fresh count leaves it.
    if *n == 0 {
        counts.remove(&key);
    }
}

impl FollowsPlacements for SpreadCounts {
    fn add_pod(&self, pod: &PodRecord, _: &Namespaces, at: usize, node_labels: &Labels) {
        self.count(pod, at, node_labels, 1);
    }

    fn remove_pod(&self, pod: &PodRecord, _: &Namespaces, at: usize, node_labels: &Labels) {
        self.count(pod, at, node_labels, -1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::sym;
    use crate::testutil::{match_labels, pod};

    #[test]
    fn counted_once_then_kept_in_step() {
        let counts = SpreadCounts::default();
        let eligible = Arc::new(Eligible {
            nodes: vec![true, true, false],
            domains: 2,
        });
        let web = match_labels(&[("app", "web")]);
        let ns = pod("x").namespace;
        let key = (ns, &web, sym("zone"));
        let zone = |z: &str| Labels::from_pairs([("zone", z)]);
        let mut computed = 0;
        let mut first = || {
            computed += 1;
            let mut c = DomainCounts::default();
            c.insert(sym("a"), 2);
            c
        };
        let d = counts.get(key, &eligible, &mut first);
        assert_eq!((d.counts.len(), d.min()), (1, 0), "b has none");
        let mut p = pod("p");
        p.labels = Labels::from_pairs([("app", "web")]);
        counts.add_pod(&p, &Namespaces::default(), 1, &zone("b"));
        // Not counted: another app, a node that is no domain, a pod being deleted.
        counts.add_pod(&pod("other"), &Namespaces::default(), 1, &zone("b"));
        counts.add_pod(&p, &Namespaces::default(), 2, &zone("b"));
        let mut leaving = p.clone();
        leaving.deleting = true;
        counts.add_pod(&leaving, &Namespaces::default(), 1, &zone("b"));
        let d = counts.get(key, &eligible, || unreachable!());
        assert_eq!((d.counts.get(&sym("b")).copied(), d.min()), (Some(1), 1));
        counts.remove_pod(&p, &Namespaces::default(), 1, &zone("b"));
        let d = counts.get(key, &eligible, || unreachable!());
        assert_eq!((d.counts.get(&sym("b")), d.min()), (None, 0));
        // Other eligible nodes (another pod's node affinity) are counted apart.
        let other = Arc::new(Eligible {
            nodes: vec![true, false, false],
            domains: 1,
        });
        counts.get(key, &other, &mut first);
        assert_eq!(computed, 2);
    }

    #[test]
    fn counts_by_node_name_follow_placements() {
        let counts = SpreadCounts::default();
        let nodes: Vec<Arc<NodeInfo>> = ["a", "b"]
            .iter()
            .map(|n| Arc::new(crate::testutil::node(n, 1000, 1 << 30).build()))
            .collect();
        let web = match_labels(&[("app", "web")]);
        let key = (pod("x").namespace, &web);
        let first = counts.by_node(key, &nodes, || Some(DomainCounts::default()));
        assert_eq!(first.map(|c| c.len()), Some(0));
        let mut p = pod("p");
        p.labels = Labels::from_pairs([("app", "web")]);
        counts.add_pod(&p, &Namespaces::default(), 1, &Labels::default());
        counts.add_pod(&pod("other"), &Namespaces::default(), 0, &Labels::default());
        let kept = counts.by_node(key, &nodes, || unreachable!());
        assert_eq!(kept.map(|c| c.get(&sym("b")).copied()), Some(Some(1)));
        // Nothing to look pods up by: nothing kept for that selector.
        let any = LabelSelector::All(Box::default());
        assert!(counts.by_node((key.0, &any), &nodes, || None).is_none());
    }
}
