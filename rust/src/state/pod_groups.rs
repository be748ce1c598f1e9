//! The PodGroups the cache holds, and which pods belong to each: few objects, looked up by
//! (namespace, name); the member index spares a scan of every pod when a group's status is due.
//!
//! Both PodGroup APIs (scheduler-plugins' and the Workload API's) name gangs in one space per
//! namespace: a pod says only a group's name. When both APIs define one name, podium cannot tell
//! their pods apart, so the group it schedules by is invalid (its members wait and say why)
//! until one of the two is renamed or deleted; the other then counts again.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::intern::Sym;
use crate::state::pod_group::{GroupApi, PodGroupRecord};
use crate::state::workload_group::DisruptionMode;

pub type GroupKey = (Sym, Sym);

#[derive(Default)]
pub struct PodGroups {
    /// The group podium schedules by, per (namespace, name).
    records: HashMap<GroupKey, Arc<PodGroupRecord>>,
    /// Each API's object as listed, so deleting one of two same-named groups restores the other.
    by_api: HashMap<(GroupKey, GroupApi), Arc<PodGroupRecord>>,
    members: HashMap<GroupKey, HashSet<Arc<str>>>,
    /// The groups whose members are disrupted one by one (the Workload API's
    /// `disruptionMode: Single`, its default), shared with snapshots.
    singly: Arc<HashSet<GroupKey>>,
    /// The Workload API groups' `spec.priority` (set by the Priority admission from their
    /// `priorityClassName`), shared with snapshots.
    priorities: Arc<HashMap<GroupKey, i32>>,
}

impl PodGroups {
    pub fn get(&self, key: GroupKey) -> Option<&Arc<PodGroupRecord>> {
        self.records.get(&key)
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<PodGroupRecord>> {
        self.records.values()
    }

    /// The keys of the groups `api` defines.
    pub fn keys(&self, api: GroupApi) -> impl Iterator<Item = GroupKey> + '_ {
        self.by_api
            .keys()
            .filter(move |(_, a)| *a == api)
            .map(|(key, _)| *key)
    }

    pub fn set(&mut self, record: PodGroupRecord) {
        let key = (record.namespace, record.name);
        self.by_api.insert((key, record.api()), Arc::new(record));
        self.refresh(key);
    }

    pub fn remove(&mut self, key: GroupKey, api: GroupApi) {
        self.by_api.remove(&(key, api));
        self.refresh(key);
    }

    /// The groups whose members preemption takes one by one: the Workload API's
    /// `disruptionMode: Single`. scheduler-plugins' PodGroups say nothing of it: their members
    /// go together, as podium always did.
    pub fn disrupted_singly(&self) -> Arc<HashSet<GroupKey>> {
        self.singly.clone()
    }

    /// Each Workload API group's `spec.priority`: its members' priority in preemption, as
    /// kube-scheduler 1.37 takes it (`GetPodPriority`).
    pub fn priorities(&self) -> Arc<HashMap<GroupKey, i32>> {
        self.priorities.clone()
    }

    fn refresh(&mut self, key: GroupKey) {
        self.refresh_record(key);
        let priority = self
            .records
            .get(&key)
            .and_then(|g| g.workload.as_ref())
            .and_then(|w| w.priority);
        if priority != self.priorities.get(&key).copied() {
            let priorities = Arc::make_mut(&mut self.priorities);
            match priority {
                Some(p) => priorities.insert(key, p),
                None => priorities.remove(&key),
            };
        }
        let single = self.records.get(&key).is_some_and(|g| {
            g.workload
                .as_ref()
                .is_some_and(|w| w.disruption == DisruptionMode::Single)
        });
        if single != self.singly.contains(&key) {
            let singly = Arc::make_mut(&mut self.singly);
            if single {
                singly.insert(key);
            } else {
                singly.remove(&key);
            }
        }
    }

    fn refresh_record(&mut self, key: GroupKey) {
        let plugins = self.by_api.get(&(key, GroupApi::SchedulerPlugins));
        let workload = self.by_api.get(&(key, GroupApi::Workload));
        let effective = match (plugins, workload) {
            (Some(one), None) | (None, Some(one)) => one.clone(),
            (Some(_), Some(workload)) => {
                let mut both = PodGroupRecord::clone(workload);
                both.error = Some(
                    format!(
                        "{}: defined by both {} and {}; podium cannot tell their pods apart, \
                         rename or delete one",
                        both.object(),
                        GroupApi::Workload.api_version(),
                        GroupApi::SchedulerPlugins.api_version()
                    )
                    .into(),
                );
                Arc::new(both)
            }
            (None, None) => {
                self.records.remove(&key);
                return;
            }
        };
        self.records.insert(key, effective);
    }

    /// Pod uids labelled with the group (whether or not the group object exists).
    pub fn members(&self, key: GroupKey) -> impl Iterator<Item = &Arc<str>> {
        self.members.get(&key).into_iter().flatten()
    }

    /// Moves `uid` from the group it was in to the one it is in now.
    pub fn track(&mut self, uid: &Arc<str>, was: Option<GroupKey>, now: Option<GroupKey>) {
        if was == now {
            return;
        }
        if let Some(key) = was
            && let Some(set) = self.members.get_mut(&key)
        {
            set.remove(uid);
            if set.is_empty() {
                self.members.remove(&key);
            }
        }
        if let Some(key) = now {
            self.members.entry(key).or_default().insert(uid.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::sym;

    #[test]
    fn members_follow_their_label() {
        let mut groups = PodGroups::default();
        let uid: Arc<str> = "u1".into();
        let (a, b) = ((sym("ns"), sym("a")), (sym("ns"), sym("b")));
        groups.track(&uid, None, Some(a));
        assert_eq!(groups.members(a).count(), 1);
        groups.track(&uid, Some(a), Some(b));
        assert_eq!(
            (groups.members(a).count(), groups.members(b).count()),
            (0, 1)
        );
        groups.track(&uid, Some(b), None);
        assert_eq!(groups.members(b).count(), 0);
    }

    #[test]
    fn a_name_both_apis_define_is_invalid_until_one_goes() {
        use crate::state::pod_group::parse_pod_group;
        use crate::state::workload_pod_group::parse_workload_pod_group;
        let mut groups = PodGroups::default();
        let key = (sym("ns"), sym("g"));
        let plugins = parse_pod_group(
            br#"{"metadata":{"name":"g","namespace":"ns"},"spec":{"minMember":2}}"#,
        )
        .expect("a PodGroup");
        let workload = parse_workload_pod_group(
            br#"{"metadata":{"name":"g","namespace":"ns"},
                "spec":{"schedulingPolicy":{"gang":{"minCount":3}}}}"#,
        )
        .expect("a PodGroup");
        groups.set(plugins);
        assert_eq!(groups.get(key).map(|g| g.min_member), Some(2));
        groups.set(workload);
        let both = groups.get(key).expect("kept");
        let err = both.error.as_deref().expect("conflict");
        assert!(
            err.contains("defined by both scheduling.k8s.io/v1beta1"),
            "{err}"
        );
        groups.remove(key, GroupApi::SchedulerPlugins);
        let only = groups.get(key).expect("the Workload API's");
        assert_eq!((only.min_member, only.error.is_none()), (3, true));
        assert_eq!(groups.keys(GroupApi::Workload).count(), 1);
        assert_eq!(groups.keys(GroupApi::SchedulerPlugins).count(), 0);
        groups.remove(key, GroupApi::Workload);
        assert!(groups.get(key).is_none());
    }

    #[test]
    fn workload_groups_are_disrupted_singly_unless_they_say_all() {
        use crate::state::pod_group::parse_pod_group;
        use crate::state::workload_pod_group::parse_workload_pod_group;
        let workload = |name: &str, mode: &str| {
            let json = format!(
                r#"{{"metadata":{{"name":"{name}","namespace":"ns"}},
                    "spec":{{"schedulingPolicy":{{"gang":{{"minCount":2}}}}{mode}}}}}"#
            );
            parse_workload_pod_group(json.as_bytes()).expect("a PodGroup")
        };
        let mut groups = PodGroups::default();
        groups.set(workload("default", ""));
        groups.set(workload("all", r#","disruptionMode":{"all":{}}"#));
        groups.set(
            parse_pod_group(
                br#"{"metadata":{"name":"plugins","namespace":"ns"},"spec":{"minMember":2}}"#,
            )
            .expect("a PodGroup"),
        );
        let singly = groups.disrupted_singly();
        assert_eq!(*singly, HashSet::from([(sym("ns"), sym("default"))]));
        groups.remove((sym("ns"), sym("default")), GroupApi::Workload);
        assert!(groups.disrupted_singly().is_empty());
        assert_eq!(singly.len(), 1, "a snapshot keeps what it was given");
    }
}
