//! Where each placed pod is, found by the labels a selector requires: the inter-pod affinity
//! and topology spread plugins look up the few pods a selector can match instead of walking all
//! of the cluster's pods for every pod they schedule (150,000 pods at 5,000 nodes).
//!
//! Three persistent maps, so a snapshot takes the index in O(1) and a batch's placements copy
//! only the paths they touch:
//! - placed pods by `(namespace, label key, label value)`;
//! - placed pods with inter-pod affinity terms, by the label their terms require of a pod they
//!   select (a term needing `app In (web)` can only select pods labelled `app=web`);
//! - per image name, how many nodes hold it (ImageLocality's spread).
//!
//! The index stores node slots, not labels: a node's labels are read when a query runs, so a
//! relabelled node needs no update here.

use std::sync::Arc;

use crate::intern::Sym;
use crate::state::label_selector::{LabelSelector, SelectorOp};
use crate::state::labels::Labels;
use crate::state::node::NodeRecord;
use crate::state::pod::PodRecord;
use crate::state::pod_affinity::AffinityTerm;

type Hasher = ahash::RandomState;
/// A persistent hash map with a fast hasher (keys are interned integers and uids).
type Map<K, V> = imbl::GenericHashMap<K, V, Hasher, imbl::shared_ptr::DefaultSharedPtr>;

/// A placed pod and the slot of its node.
#[derive(Debug, Clone)]
pub struct Placed {
    pub slot: usize,
    pub pod: Arc<PodRecord>,
}

/// Placed pods by uid.
pub type Pods = Map<Arc<str>, Placed>;

/// The label a selector looks pods up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup<'s> {
    /// A nil selector: it selects no pod.
    Nothing,
    /// Only pods with `key` set to one of these values can match.
    Label(Sym, &'s [Sym]),
    /// No `In` requirement (empty selector, `Exists`, `NotIn`...): any pod may match.
    Any,
}

/// The `In` requirement with the fewest values (the narrowest lookup).
pub fn lookup(selector: &LabelSelector) -> Lookup<'_> {
    match selector {
        LabelSelector::Nothing => Lookup::Nothing,
        LabelSelector::All(reqs) => reqs
            .iter()
            .filter_map(|r| match &r.op {
                SelectorOp::In(values) => Some((r.key, &values[..])),
                _ => None,
            })
            .min_by_key(|(_, values)| values.len())
            .map_or(Lookup::Any, |(k, vs)| Lookup::Label(k, vs)),
    }
}

/// The bucket of terms a pod with this label may be selected by; `None`: terms selecting
/// without an `In` requirement, which every pod must be checked against.
pub type TermBucket = Option<(Sym, Sym)>;

/// Was `term` filed under `bucket`? Each term is visited from one bucket only, so its match is
/// counted once.
pub fn filed_under(term: &AffinityTerm, bucket: TermBucket) -> bool {
    match (lookup(&term.selector), bucket) {
        (Lookup::Label(key, values), Some((k, v))) => key == k && values.contains(&v),
        (Lookup::Any, None) => true,
        _ => false,
    }
}

fn all_terms(pod: &PodRecord) -> impl Iterator<Item = &AffinityTerm> {
    pod.pod_affinity.iter().flat_map(|a| {
        a.required_affinity
            .iter()
            .chain(a.required_anti_affinity.iter())
            .chain(a.preferred_affinity.iter().map(|w| &w.term))
            .chain(a.preferred_anti_affinity.iter().map(|w| &w.term))
    })
}

fn term_buckets(pod: &PodRecord) -> Vec<TermBucket> {
    let mut out: Vec<TermBucket> = Vec::new();
    for term in all_terms(pod) {
        match lookup(&term.selector) {
            Lookup::Nothing => {}
            Lookup::Any => out.push(None),
            Lookup::Label(k, values) => out.extend(values.iter().map(|&v| Some((k, v)))),
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[derive(Debug, Clone, Default)]
pub struct PodIndex {
    by_label: Map<(Sym, Sym, Sym), Pods>,
    by_term: Map<TermBucket, Pods>,
    images: Map<Sym, u32>,
}

fn insert<K: std::hash::Hash + Eq + Clone>(map: &mut Map<K, Pods>, key: K, placed: &Placed) {
    map.entry(key)
        .or_default()
        .insert(placed.pod.uid.clone(), placed.clone());
}

fn remove<K: std::hash::Hash + Eq + Clone>(map: &mut Map<K, Pods>, key: &K, uid: &str) {
    let empty = map.get_mut(key).is_some_and(|pods| {
        pods.remove(uid);
        pods.is_empty()
    });
    if empty {
        map.remove(key);
    }
}

impl PodIndex {
    /// Counts `pod` as placed on the node in `slot`.
    pub fn add(&mut self, slot: usize, pod: &Arc<PodRecord>) {
        let placed = Placed {
            slot,
            pod: pod.clone(),
        };
        for (k, v) in pod.labels.iter() {
            insert(&mut self.by_label, (pod.namespace, k, v), &placed);
        }
        for bucket in term_buckets(pod) {
            insert(&mut self.by_term, bucket, &placed);
        }
    }

    /// Forgets `pod` (a no-op when it was not placed).
    pub fn remove(&mut self, pod: &PodRecord) {
        for (k, v) in pod.labels.iter() {
            remove(&mut self.by_label, &(pod.namespace, k, v), &pod.uid);
        }
        for bucket in term_buckets(pod) {
            remove(&mut self.by_term, &bucket, &pod.uid);
        }
    }

    /// Keeps the image counts in step with a node replaced by `new` (None: deleted).
    pub fn replace_node(&mut self, old: Option<&NodeRecord>, new: Option<&NodeRecord>) {
        for (image, _) in old.iter().flat_map(|n| n.images.iter()) {
            let gone = self.images.get_mut(&image).is_some_and(|count| {
                *count = count.saturating_sub(1);
                *count == 0
            });
            if gone {
                self.images.remove(&image);
            }
        }
        for (image, _) in new.iter().flat_map(|n| n.images.iter()) {
            *self.images.entry(image).or_default() += 1;
        }
    }

    /// How many nodes hold `image`.
    pub fn nodes_with_image(&self, image: Sym) -> usize {
        self.images.get(&image).map_or(0, |&n| n as usize)
    }

    /// Does any placed pod carry inter-pod affinity terms?
    pub fn any_affinity_terms(&self) -> bool {
        !self.by_term.is_empty()
    }

    /// The placed pods in `namespaces` that may match `selector` (a superset: the caller
    /// matches each), or None when the selector requires no label to look up by.
    pub fn candidates(&self, namespaces: &[Sym], selector: &LabelSelector) -> Option<Vec<&Pods>> {
        match lookup(selector) {
            Lookup::Nothing => Some(Vec::new()),
            Lookup::Any => None,
            Lookup::Label(k, values) => {
                let mut keys: Vec<(Sym, Sym, Sym)> = namespaces
                    .iter()
                    .flat_map(|&ns| values.iter().map(move |&v| (ns, k, v)))
                    .collect();
                // `In (a, a)` or a namespace named twice must not count a pod twice.
                keys.sort_unstable();
                keys.dedup();
                Some(
                    keys.iter()
                        .filter_map(|key| self.by_label.get(key))
                        .collect(),
                )
            }
        }
    }

    /// The pods whose terms may select a pod with `labels`, with the bucket each came from
    /// (see `filed_under`).
    pub fn term_holders<'a>(
        &'a self,
        labels: &'a Labels,
    ) -> impl Iterator<Item = (TermBucket, &'a Pods)> + 'a {
        std::iter::once(None)
            .chain(labels.iter().map(Some))
            .filter_map(|bucket| self.by_term.get(&bucket).map(|pods| (bucket, pods)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::sym;
    use crate::state::pod_affinity::PodAffinity;
    use crate::testutil::{affinity_term, match_labels, pod};

    fn labelled(uid: &str, labels: &[(&str, &str)]) -> Arc<PodRecord> {
        let mut p = pod(uid);
        p.labels = Labels::from_pairs(labels.iter().copied());
        Arc::new(p)
    }

    fn uids(found: Option<Vec<&Pods>>) -> Vec<String> {
        let mut out: Vec<String> = found
            .expect("indexed")
            .into_iter()
            .flat_map(|pods| pods.keys().map(|k| k.to_string()))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn selectors_find_pods_by_their_narrowest_label() {
        let mut index = PodIndex::default();
        index.add(0, &labelled("a", &[("app", "web"), ("tier", "front")]));
        index.add(1, &labelled("b", &[("app", "db"), ("tier", "front")]));
        let ns = [sym("default")];
        assert_eq!(
            uids(index.candidates(&ns, &match_labels(&[("app", "web")]))),
            ["a"]
        );
        assert_eq!(
            uids(index.candidates(&ns, &match_labels(&[("tier", "front")]))),
            ["a", "b"]
        );
        assert_eq!(
            uids(index.candidates(&[sym("other")], &match_labels(&[("app", "web")]))),
            Vec::<String>::new(),
            "another namespace"
        );
        assert!(
            index
                .candidates(&ns, &LabelSelector::everything())
                .is_none()
        );
        assert_eq!(
            uids(index.candidates(&ns, &LabelSelector::Nothing)).len(),
            0
        );
        index.remove(&labelled("a", &[("app", "web"), ("tier", "front")]));
        assert_eq!(
            uids(index.candidates(&ns, &match_labels(&[("tier", "front")]))),
            ["b"]
        );
        assert!(
            index
                .by_label
                .get(&(ns[0], sym("app"), sym("web")))
                .is_none()
        );
    }

    #[test]
    fn terms_are_found_from_the_labels_they_select() {
        let mut holder = pod("holder");
        holder.pod_affinity = Some(Box::new(PodAffinity {
            required_anti_affinity: vec![affinity_term("zone", "app", "web")].into(),
            ..PodAffinity::default()
        }));
        let holder = Arc::new(holder);
        let mut index = PodIndex::default();
        assert!(!index.any_affinity_terms());
        index.add(3, &holder);
        assert!(index.any_affinity_terms());
        let web = Labels::from_pairs([("app", "web")]);
        let found: Vec<(TermBucket, usize)> = index
            .term_holders(&web)
            .map(|(b, pods)| (b, pods.len()))
            .collect();
        assert_eq!(found, [(Some((sym("app"), sym("web"))), 1)]);
        let term = &holder
            .pod_affinity
            .as_ref()
            .expect("terms")
            .required_anti_affinity[0];
        assert!(filed_under(term, found[0].0));
        assert!(!filed_under(term, None));
        assert_eq!(
            index
                .term_holders(&Labels::from_pairs([("app", "db")]))
                .count(),
            0
        );
        index.remove(&holder);
        assert!(!index.any_affinity_terms());
    }
}
