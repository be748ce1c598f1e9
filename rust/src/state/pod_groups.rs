//! The PodGroups the cache holds, and which pods belong to each: few objects, looked up by
//! (namespace, name); the member index spares a scan of every pod when a group's status is due.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::intern::Sym;
use crate::state::pod_group::PodGroupRecord;

pub type GroupKey = (Sym, Sym);

#[derive(Default)]
pub struct PodGroups {
    records: HashMap<GroupKey, Arc<PodGroupRecord>>,
    members: HashMap<GroupKey, HashSet<Arc<str>>>,
}

impl PodGroups {
    pub fn get(&self, key: GroupKey) -> Option<&Arc<PodGroupRecord>> {
        self.records.get(&key)
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<PodGroupRecord>> {
        self.records.values()
    }

    pub fn keys(&self) -> impl Iterator<Item = GroupKey> + '_ {
        self.records.keys().copied()
    }

    pub fn set(&mut self, record: PodGroupRecord) {
        self.records
            .insert((record.namespace, record.name), Arc::new(record));
    }

    pub fn remove(&mut self, key: GroupKey) {
        self.records.remove(&key);
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
}
