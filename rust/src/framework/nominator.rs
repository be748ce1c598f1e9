//! Nodes held for nominated pods: once a preemption has made room on a node for a pod, pods of
//! lower or equal priority are filtered as if the nominated pod already stood there, so they
//! cannot take the room while it waits for its next cycle (kube's nominated-pod filtering).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use crate::intern::Sym;
use crate::state::namespaces::Namespaces;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::priority::PriorityClasses;
use crate::state::snapshot::PendingPods;

/// Why a node that would take a pod but for the pods nominated to it (preemption's or a
/// whole-node reservation's) refuses it.
pub const HELD_FOR_NOMINATED_PODS: &str = "node(s) were reserved for nominated pods";

/// The pending pods with a nominated node, by the node's index in the cycle's node list.
#[derive(Default)]
pub struct Nominees {
    by_node: Vec<(usize, Vec<Arc<PodRecord>>)>,
    /// Each nominee's node index.
    node_of: HashMap<Arc<str>, usize>,
    /// The lowest priority among the nominees.
    lowest: i32,
}

impl Nominees {
    pub fn of(
        pending: &PendingPods,
        nodes: &[Arc<NodeInfo>],
        priorities: &PriorityClasses,
    ) -> Self {
        let mut nominated: HashMap<Sym, Vec<Arc<PodRecord>>> = HashMap::new();
        for pod in pending.values() {
            if let Some(node) = pod.nominated_node {
                nominated.entry(node).or_default().push(pod.clone());
            }
        }
        if nominated.is_empty() {
            return Self::default();
        }
        let mut by_node: Vec<(usize, Vec<Arc<PodRecord>>)> = nodes
            .iter()
            .enumerate()
            .filter_map(|(i, info)| {
                let name = info.node.as_ref()?.name;
                nominated.remove(&name).map(|pods| (i, pods))
            })
            .collect();
        for (_, pods) in &mut by_node {
            // Highest priority first: a pod sees a prefix of each list.
            pods.sort_by_key(|p| std::cmp::Reverse(priorities.of(p)));
        }
        let node_of = by_node
            .iter()
            .flat_map(|(i, pods)| pods.iter().map(move |p| (p.uid.clone(), *i)))
            .collect();
        let lowest = by_node
            .iter()
            .flat_map(|(_, pods)| pods.iter().map(|p| priorities.of(p)))
            .min()
            .unwrap_or(i32::MAX);
        Self {
            by_node,
            node_of,
            lowest,
        }
    }

    /// Every nominee with its node index.
    pub fn all(&self) -> impl Iterator<Item = (usize, &Arc<PodRecord>)> + '_ {
        self.by_node
            .iter()
            .flat_map(|(i, pods)| pods.iter().map(move |p| (*i, p)))
    }

    /// The node index `uid` is nominated to, if it is a nominee.
    pub fn node_of(&self, uid: &str) -> Option<usize> {
        self.node_of.get(uid).copied()
    }

    /// `nodes` with every nominee counted on its node: what `held_for` gives a pod that
    /// `sees_all` (built once per batch instead of once per pod).
    pub fn held_all(&self, nodes: &[Arc<NodeInfo>]) -> Vec<Arc<NodeInfo>> {
        let mut view = nodes.to_vec();
        for (i, pod) in self.all() {
            Arc::make_mut(&mut view[i]).add_pod(pod.clone());
        }
        view
    }

    /// Is every nominee but `pod` itself held against it: it is of no higher priority than
    /// the lowest of them? Then its view is `held_all`'s, less itself when it is a nominee.
    pub fn sees_all(&self, pod: &PodRecord, priorities: &PriorityClasses) -> bool {
        priorities.of(pod) <= self.lowest
    }

    pub fn is_empty(&self) -> bool {
        self.by_node.is_empty()
    }

    /// `nodes` as `pod` must see them: the nominated pods of at least its priority (itself
    /// excluded, and those placed since the cycle began) count on their nodes. Borrowed as is
    /// when nothing is held against it.
    pub fn held_for<'a>(
        &self,
        pod: &PodRecord,
        nodes: &'a [Arc<NodeInfo>],
        pending: &PendingPods,
        priorities: &PriorityClasses,
    ) -> Cow<'a, [Arc<NodeInfo>]> {
        let own = |other: &PodRecord| other.uid == pod.uid;
        self.held_against(priorities.of(pod), own, (nodes, pending), priorities)
    }

    /// `namespaces` as `pod` must see them at CapacityScheduling: the nominated pods of at least
    /// its priority (itself excluded, and those placed since the cycle began, which their quota
    /// counts already) use their quotas, as scheduler-plugins' CapacityScheduling counts
    /// nominated pods at PreFilter, so a pod cannot take the quota a preemption freed for a
    /// nominee of its priority or above. Borrowed as is when nothing is held against it.
    pub fn quotas_for<'a>(
        &self,
        pod: &PodRecord,
        namespaces: &'a Namespaces,
        pending: &PendingPods,
        priorities: &PriorityClasses,
    ) -> Cow<'a, Namespaces> {
        let own = |other: &PodRecord| other.uid == pod.uid;
        let held = (priorities.of(pod), &own as &dyn Fn(&PodRecord) -> bool);
        self.quotas_against(held, namespaces, pending, priorities)
    }

    /// `quotas_for` for pods of `priority`, the nominees `own` says are theirs excluded (a
    /// gang's members): the nominees `held_pods` gives use their quotas.
    pub fn quotas_against<'a>(
        &self,
        (priority, own): (i32, &dyn Fn(&PodRecord) -> bool),
        namespaces: &'a Namespaces,
        pending: &PendingPods,
        priorities: &PriorityClasses,
    ) -> Cow<'a, Namespaces> {
        if namespaces.quotas.is_empty() || self.by_node.is_empty() {
            return Cow::Borrowed(namespaces);
        }
        let mut held: Option<Namespaces> = None;
        for (_, other) in self.held_pods(priority, own, pending, priorities) {
            if namespaces.quotas.of(other.namespace).is_none() {
                continue;
            }
            held.get_or_insert_with(|| namespaces.clone())
                .quotas
                .add(other.namespace, &other.requests);
        }
        held.map_or(Cow::Borrowed(namespaces), Cow::Owned)
    }

    /// `nodes` as pods of `priority` must see them, the nominees `own` says are theirs excluded
    /// (a pod itself, a gang's members, placed with the pods they are held for): `held_for`'s
    /// view for several pods at once.
    pub fn held_against<'a>(
        &self,
        priority: i32,
        own: impl Fn(&PodRecord) -> bool,
        (nodes, pending): (&'a [Arc<NodeInfo>], &PendingPods),
        priorities: &PriorityClasses,
    ) -> Cow<'a, [Arc<NodeInfo>]> {
        let mut view: Option<Vec<Arc<NodeInfo>>> = None;
        for (i, other) in self.held_pods(priority, &own, pending, priorities) {
            let view = view.get_or_insert_with(|| nodes.to_vec());
            Arc::make_mut(&mut view[i]).add_pod(other.clone());
        }
        view.map_or(Cow::Borrowed(nodes), Cow::Owned)
    }

    /// The nominees `held_against` counts on their nodes, with each one's node index.
    pub fn held_pods<'s>(
        &'s self,
        priority: i32,
        own: &'s dyn Fn(&PodRecord) -> bool,
        pending: &'s PendingPods,
        priorities: &'s PriorityClasses,
    ) -> impl Iterator<Item = (usize, &'s Arc<PodRecord>)> + 's {
        self.by_node.iter().flat_map(move |(i, held)| {
            held.iter()
                // Highest priority first: the rest are below `priority` too.
                .take_while(move |other| priorities.of(other) >= priority)
                .filter(move |other| !own(other) && pending.contains_key(&*other.uid))
                .map(move |other| (*i, other))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::sym;
    use crate::testutil::{node, pod, with_requests};

    #[test]
    fn a_nominated_pod_holds_its_node_against_lower_priorities_only() {
        let nodes: Vec<Arc<NodeInfo>> = vec![
            Arc::new(node("a", 4000, 1 << 30).build()),
            Arc::new(node("b", 4000, 1 << 30).build()),
        ];
        let mut high = with_requests(pod("high"), 3000, 0);
        high.priority = 100;
        high.priority_set = true;
        high.nominated_node = Some(sym("b"));
        let mut pending = PendingPods::new();
        pending.insert(high.uid.clone(), Arc::new(high.clone()));
        let classes = PriorityClasses::default();
        let nominees = Nominees::of(&pending, &nodes, &classes);
        assert!(!nominees.is_empty());

        let low = with_requests(pod("low"), 2000, 0);
        let view = nominees.held_for(&low, &nodes, &pending, &classes);
        assert_eq!(
            view[1].requested.milli_cpu, 3000,
            "held for the nominated pod"
        );
        assert_eq!(view[0].requested.milli_cpu, 0);
        assert_eq!(
            nodes[1].requested.milli_cpu, 0,
            "the cycle's nodes are untouched"
        );

        let mut higher = low.clone();
        higher.priority = 200;
        higher.priority_set = true;
        let view = nominees.held_for(&higher, &nodes, &pending, &classes);
        assert!(
            matches!(view, Cow::Borrowed(_)),
            "a higher priority pod may take it"
        );
        let view = nominees.held_for(&high, &nodes, &pending, &classes);
        assert!(matches!(view, Cow::Borrowed(_)), "not held against itself");

        pending.remove(&*high.uid);
        let view = nominees.held_for(&low, &nodes, &pending, &classes);
        assert!(
            matches!(view, Cow::Borrowed(_)),
            "placed meanwhile: no longer held"
        );
    }
}
