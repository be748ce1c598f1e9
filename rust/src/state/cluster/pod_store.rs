//! The store of Pods: every pod, podium's or not, counted where it runs; podium's pending ones
//! also in the pending set (`ClusterState::upsert_pod`, `delete_pod`).

use std::sync::Arc;

use crate::error::CoreResult;
use crate::intern::resolve;
use crate::state::cluster::{ChangeOutcome, ClusterState};
use crate::state::pod::{PodRecord, parse_pod};

use super::store::{Seen, Store};

pub(super) struct PodStore;

impl Store for PodStore {
    type Object = PodRecord;

    fn decode(bytes: &[u8], _deleted: bool, out: &mut ChangeOutcome) -> CoreResult<PodRecord> {
        let pod = parse_pod(bytes)?;
        out.namespace = pod.namespace().to_owned();
        out.name = pod.name.to_string();
        out.uid = pod.uid.to_string();
        out.resource_version = pod.resource_version.to_string();
        out.scheduler_name = resolve(pod.scheduler_name).to_owned();
        out.node_name = pod.node_name.map(|n| resolve(n).to_owned());
        out.priority = pod.priority;
        out.created = pod.created;
        out.terminal = pod.terminal;
        out.gated = pod.gated;
        out.pod_group = pod.pod_group.map(|g| resolve(g).to_owned());
        out.error = pod.error.as_deref().map(str::to_owned);
        Ok(pod)
    }

    fn key(pod: &PodRecord) -> Option<Box<str>> {
        Some((*pod.uid).into())
    }

    fn upsert(state: &mut ClusterState, pod: PodRecord) -> bool {
        state.upsert_pod(pod)
    }

    fn delete(state: &mut ClusterState, pod: PodRecord) {
        state.delete_pod(&pod.uid);
    }

    fn end_relist(state: &mut ClusterState, seen: &Seen) -> Vec<String> {
        let gone: Vec<Arc<str>> = state
            .pods
            .keys()
            .filter(|uid| !seen.contains(&***uid))
            .cloned()
            .collect();
        let mut vanished = Vec::new();
        for uid in gone {
            if state.pending.contains_key(&uid) {
                vanished.push(uid.to_string());
            }
            state.delete_pod(&uid);
        }
        vanished
    }
}
