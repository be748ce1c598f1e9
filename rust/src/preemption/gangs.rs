//! Which placed pods belong together: a pod of group `g` (the `scheduling.x-k8s.io/pod-group`
//! label, or the Workload API's `spec.schedulingGroup`) is one of gang `g` of its namespace. A
//! victim takes every placed member of its gang with it (kube's preemption unit of a PodGroup
//! with `disruptionMode: All`), unless its group is disrupted one by one (the Workload API's
//! `disruptionMode: Single`, its default): then it goes alone, as kube-scheduler 1.37 takes it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::intern::Sym;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::pod_groups::GroupKey;

/// A placed gang member: its node (index in the cycle's node list) and record.
#[derive(Debug, Clone)]
pub struct Member {
    pub node: usize,
    pub pod: Arc<PodRecord>,
}

/// The placed members of every gang, by (namespace, group name).
#[derive(Debug, Default)]
pub struct Gangs(HashMap<(Sym, Sym), Vec<Member>>);

impl Gangs {
    /// The placed members of each gang on `nodes`, but those of the groups `singly` (disrupted
    /// one by one): each of those is its own unit.
    pub fn of(nodes: &[Arc<NodeInfo>], singly: &HashSet<GroupKey>) -> Self {
        let mut gangs: HashMap<(Sym, Sym), Vec<Member>> = HashMap::new();
        for (i, info) in nodes.iter().enumerate() {
            for pod in &info.pods {
                if let Some(group) = pod.pod_group
                    && !singly.contains(&(pod.namespace, group))
                {
                    gangs
                        .entry((pod.namespace, group))
                        .or_default()
                        .push(Member {
                            node: i,
                            pod: pod.clone(),
                        });
                }
            }
        }
        Self(gangs)
    }

    /// Every placed member of `pod`'s gang (itself included), or None for a pod in no gang.
    pub fn of_pod(&self, pod: &PodRecord) -> Option<&[Member]> {
        let group = pod.pod_group?;
        self.0.get(&(pod.namespace, group)).map(Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::sym;
    use crate::testutil::{node, pod};

    #[test]
    fn members_across_nodes_by_namespace_and_group() {
        let member = |name: &str, ns: &str, group: &str| {
            let mut p = pod(name);
            p.namespace = sym(ns);
            p.pod_group = Some(sym(group));
            Arc::new(p)
        };
        let mut a = node("a", 1000, 1 << 30).build();
        let mut b = node("b", 1000, 1 << 30).build();
        a.add_pod(member("g-0", "ns", "g"));
        b.add_pod(member("g-1", "ns", "g"));
        b.add_pod(member("other-ns", "ns2", "g"));
        b.add_pod(Arc::new(pod("loner")));
        let gangs = Gangs::of(&[Arc::new(a), Arc::new(b)], &HashSet::new());
        let g = gangs.of_pod(&member("x", "ns", "g")).expect("gang");
        let placed: Vec<(usize, &str)> = g.iter().map(|m| (m.node, &*m.pod.name)).collect();
        assert_eq!(placed, vec![(0, "g-0"), (1, "g-1")]);
        assert_eq!(
            gangs.of_pod(&member("y", "ns2", "g")).map(<[_]>::len),
            Some(1)
        );
        assert!(gangs.of_pod(&pod("loner")).is_none());
    }

    #[test]
    fn members_of_a_group_disrupted_singly_go_alone() {
        let mut p = pod("g-0");
        p.pod_group = Some(sym("g"));
        let p = Arc::new(p);
        let mut a = node("a", 1000, 1 << 30).build();
        a.add_pod(p.clone());
        let singly = HashSet::from([(p.namespace, sym("g"))]);
        assert!(Gangs::of(&[Arc::new(a)], &singly).of_pod(&p).is_none());
    }
}
