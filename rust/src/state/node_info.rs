//! A node with everything placed on it: the unit every filter and score reads.

use std::sync::Arc;

use crate::state::node::NodeRecord;
use crate::state::pod::{HostPort, PodRecord};
use crate::state::resources::Resources;
use crate::state::topology::NodeNuma;

/// Immutable once shared: updates clone it (`Arc::make_mut`), so snapshots keep their version.
#[derive(Debug, Clone, Default)]
pub struct NodeInfo {
    /// None while pods name a node the cache has not seen (or no longer has).
    pub node: Option<Arc<NodeRecord>>,
    /// Every pod counted here (bound, or assumed by podium), with its labels for affinity.
    pub pods: Vec<Arc<PodRecord>>,
    pub requested: Resources,
    /// Requests with kube's scoring defaults for containers that omit cpu or memory.
    pub non_zero_requested: Resources,
    /// Host ports in use (a multiset: one entry per pod port).
    pub used_ports: Vec<HostPort>,
    /// The pods of `pods` with inter-pod affinity terms (kube's `PodsWithAffinity`): the
    /// only ones whose terms the incoming pod must be checked against.
    pub affinity_pods: Vec<Arc<PodRecord>>,
    /// NUMA topology and podium's allocations not yet in it.
    pub numa: NodeNuma,
}

impl NodeInfo {
    pub fn new(node: Arc<NodeRecord>) -> Self {
        Self {
            node: Some(node),
            ..Self::default()
        }
    }

    /// This node with every pod gone, its NUMA topology kept (all of it free): what a node
    /// held for a whole-node pod must take once it drains.
    #[must_use]
    pub fn emptied(&self) -> Self {
        Self {
            node: self.node.clone(),
            numa: self.numa.emptied(),
            ..Self::default()
        }
    }

    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }

    pub fn add_pod(&mut self, pod: Arc<PodRecord>) {
        self.requested.add(&pod.requests);
        self.non_zero_requested.add(&pod.non_zero_requests);
        self.used_ports.extend(pod.host_ports.iter().copied());
        if pod.pod_affinity.is_some() {
            self.affinity_pods.push(pod.clone());
        }
        self.pods.push(pod);
    }

    /// Places a decided pod here: its NUMA `allocation` (the annotation the core wrote, if it
    /// chose zones) counts on the node's ledger, and the pod on the node.
    pub fn place(&mut self, pod: Arc<PodRecord>, allocation: Option<&str>) {
        if let Some(allocation) = allocation {
            self.numa.reserve(&pod.uid, allocation);
        }
        self.add_pod(pod);
    }

    /// A preemption trial evicts the pod with this uid: gone from the node, its devices free
    /// in their NUMA zones too. False if it was not here.
    pub fn evict(&mut self, uid: &str) -> bool {
        let Some(pod) = self.pods.iter().find(|p| &*p.uid == uid).cloned() else {
            return false;
        };
        self.remove_pod(uid);
        self.numa.release(uid, pod.allocation.as_deref());
        true
    }

    /// Undoes `evict`.
    pub fn readmit(&mut self, pod: Arc<PodRecord>) {
        self.numa.restore(&pod.uid);
        self.add_pod(pod);
    }

    /// Removes the pod with this uid; false if it was not here.
    pub fn remove_pod(&mut self, uid: &str) -> bool {
        let Some(i) = self.pods.iter().position(|p| &*p.uid == uid) else {
            return false;
        };
        let pod = self.pods.swap_remove(i);
        if pod.pod_affinity.is_some()
            && let Some(j) = self.affinity_pods.iter().position(|p| p.uid == pod.uid)
        {
            self.affinity_pods.swap_remove(j);
        }
        self.requested.sub(&pod.requests);
        self.non_zero_requested.sub(&pod.non_zero_requests);
        for port in pod.host_ports.iter() {
            if let Some(j) = self.used_ports.iter().position(|p| p == port) {
                self.used_ports.swap_remove(j);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_and_remove_are_symmetric() {
        let mut info = NodeInfo::default();
        let mut pod = PodRecord::empty("u1", "ns", "p");
        pod.requests.milli_cpu = 250;
        pod.non_zero_requests.milli_cpu = 250;
        pod.host_ports = vec![HostPort {
            ip: None,
            protocol: crate::state::pod::Protocol::Tcp,
            port: 80,
        }]
        .into_boxed_slice();
        info.add_pod(Arc::new(pod));
        assert_eq!(
            (
                info.requested.milli_cpu,
                info.used_ports.len(),
                info.pod_count()
            ),
            (250, 1, 1)
        );
        assert!(!info.remove_pod("other"));
        assert!(info.remove_pod("u1"));
        assert_eq!(
            (
                info.requested.milli_cpu,
                info.used_ports.len(),
                info.pod_count()
            ),
            (0, 0, 0)
        );
    }
}
