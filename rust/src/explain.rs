//! `explain`: why one pod does or does not fit each node, without placing it.
//!
//! Unlike a scheduling cycle, explain looks at every node (no `percentageOfNodesToScore`
//! sampling) and runs every enabled filter on each one instead of stopping at the first that
//! fails, so a node's answer lists all that is wrong with it. A node is feasible exactly when its
//! list is empty, which is what a scheduling cycle would conclude for it.
//!
//! Two ways to name the pod:
//! - [`Target::Pending`]: a pod waiting for podium in this snapshot, evaluated against the
//!   snapshot as it stands (placements made by earlier `schedule` calls on it included).
//! - [`Target::Bound`]: a pod counted on a node of the snapshot (bound by any scheduler, or
//!   assumed/placed by podium), evaluated as if it were pending: it is taken off its node first,
//!   so its own requests, ports and labels do not count against it, and its `spec.nodeName` is
//!   ignored (it records the binding, not a request the NodeName filter should enforce).
//!   Everything else in the snapshot stays as it is.

use std::collections::BTreeMap;
use std::sync::Arc;

use rayon::prelude::*;

use crate::error::{CoreError, CoreResult};
use crate::framework::cycle_state::PluginState;
use crate::framework::plugin::{PodContext, Prepared};
use crate::runtime::pre_filter_result;
use crate::runtime::profile::Profile;
use crate::state::dra::Dra;
use crate::state::namespaces::Namespaces;
use crate::state::node_info::NodeInfo;
use crate::state::pod::{PodRecord, parse_pod};
use crate::state::snapshot::Snapshot;
use crate::state::volumes::Volumes;

/// Which pod to explain, and how to find it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// A pending pod of this snapshot, by uid.
    Pending(&'a str),
    /// A pod counted on a node of this snapshot, by uid, re-evaluated as if pending.
    Bound(&'a str),
    /// A Pod object (JSON) from outside the snapshot, such as the one kube-scheduler sends an
    /// extender; evaluated as given (a malformed object is an error, not a reason per node).
    Object(&'a [u8]),
}

/// Node name → the reasons it fails the pod (empty: feasible), sorted by node name.
pub type Explanation = BTreeMap<String, Vec<String>>;

/// Nodes per parallel task: below this, splitting costs more than it saves.
const MIN_NODES_PER_TASK: usize = 64;

/// What a target is judged with: the pod and a consistent copy of what the filters read.
pub struct Resolved {
    pub pod: Arc<PodRecord>,
    pub nodes: Vec<Arc<NodeInfo>>,
    pub namespaces: Namespaces,
    pub volumes: Volumes,
    pub dra: Dra,
}

/// Finds `target` in `snapshot` (or decodes it) and copies out what judging it needs.
pub fn resolve(snapshot: &Snapshot, target: Target<'_>) -> CoreResult<Resolved> {
    let data = snapshot.lock();
    let mut nodes: Vec<Arc<NodeInfo>> = data.real_nodes().into_iter().map(|(_, n)| n).collect();
    let pod = match target {
        Target::Pending(uid) => data.pending.get(uid).cloned().ok_or_else(|| {
            CoreError::Invalid(format!(
                "explain: pod uid {uid:?} is not pending in this snapshot \
                 (bound, assumed, gated, finished, another scheduler's, or unknown; \
                 explain_bound checks a pod that is on a node)"
            ))
        })?,
        Target::Bound(uid) => take_off_node(&mut nodes, uid)?,
        Target::Object(bytes) => Arc::new(decode_object(bytes)?),
    };
    let mut volumes = data.volumes.clone();
    // As if pending: the PVs the pod reserved are free again for it.
    if let Target::Bound(uid) = target {
        volumes.release(uid);
    }
    Ok(Resolved {
        pod,
        nodes,
        namespaces: data.namespaces.clone(),
        volumes,
        dra: data.dra.clone(),
    })
}

/// A Pod object from outside the cache; malformed input is the caller's error.
fn decode_object(bytes: &[u8]) -> CoreResult<PodRecord> {
    let mut pod = parse_pod(bytes)?;
    if let Some(err) = &pod.error {
        return Err(CoreError::Invalid(err.to_string()));
    }
    // The pod asks where it may go: a nodeName it may carry is not a request to enforce.
    pod.node_name = None;
    Ok(pod)
}

pub fn explain(
    snapshot: &Snapshot,
    target: Target<'_>,
    profile: &Profile,
) -> CoreResult<Explanation> {
    let r = resolve(snapshot, target)?;
    Ok(profile
        .pool
        .install(|| explain_pod_with(profile, &r.nodes, &r.namespaces, &r.volumes, &r.dra, &r.pod)))
}

/// Removes the pod `uid` from the node it counts on (in a private copy of that node) and
/// returns it.
fn take_off_node(nodes: &mut [Arc<NodeInfo>], uid: &str) -> CoreResult<Arc<PodRecord>> {
    for info in nodes.iter_mut() {
        if let Some(pod) = info.pods.iter().find(|p| &*p.uid == uid) {
            let mut pod = PodRecord::clone(pod);
            pod.node_name = None;
            Arc::make_mut(info).remove_pod(uid);
            return Ok(Arc::new(pod));
        }
    }
    Err(CoreError::Invalid(format!(
        "explain_bound: pod uid {uid:?} is not on any node of this snapshot \
         (pending, finished, on a node the cache does not have, or unknown)"
    )))
}

/// The per-node reasons for `pod` on `nodes`, with the namespaces' labels (pod affinity's
/// namespaceSelector), the volume state (VolumeBinding) and the DRA objects (DynamicResources).
pub fn explain_pod_with(
    profile: &Profile,
    nodes: &[Arc<NodeInfo>],
    namespaces: &Namespaces,
    volumes: &Volumes,
    dra: &Dra,
    pod: &PodRecord,
) -> Explanation {
    let everywhere = |reasons: Vec<String>| -> Explanation {
        nodes
            .iter()
            .filter_map(|n| n.node.as_ref())
            .map(|n| (n.name().to_owned(), reasons.clone()))
            .collect()
    };
    // A malformed pod fails everywhere with its own message, as a cycle would fail it.
    if let Some(err) = &pod.error {
        return everywhere(vec![err.to_string()]);
    }
    let ctx = PodContext {
        pod,
        nodes,
        namespaces,
        volumes,
        dra,
        index: None,
    };
    let prepared = pre_filter_all(profile, &ctx);
    reasons_on(profile, &prepared, pod, nodes)
}

/// Every filter's PreFilter outcome for one pod.
pub struct PreFiltered {
    /// Per filter: `Some(state)` to run its per-node step, `None` to skip it.
    pub states: Vec<Option<Option<PluginState>>>,
    /// PreFilter rejections (filter, reason): they hold for every node.
    pub rejected: Vec<Failure>,
}

/// One reason a node fails the pod, with the filter that gave it ("Node" for a malformed node,
/// "Pod" for a malformed pod).
pub type Failure = (&'static str, String);

pub fn pre_filter_all(profile: &Profile, ctx: &PodContext<'_>) -> PreFiltered {
    let mut states: Vec<Option<Option<PluginState>>> = Vec::with_capacity(profile.filters.len());
    let mut rejected: Vec<Failure> = Vec::new();
    for plugin in &profile.filters {
        match plugin.pre_filter(ctx) {
            Prepared::Run(state) => states.push(Some(state)),
            Prepared::Skip => states.push(None),
            // A PreFilter rejection holds for every node; the other plugins still speak.
            Prepared::Reject(status) => {
                rejected.extend(
                    status
                        .reasons
                        .iter()
                        .map(|r| (plugin.name(), r.to_string())),
                );
                states.push(None);
            }
        }
    }
    PreFiltered { states, rejected }
}

/// The reasons each of `examined` fails the pod, every enabled filter run on every node.
pub fn reasons_on(
    profile: &Profile,
    prepared: &PreFiltered,
    pod: &PodRecord,
    examined: &[Arc<NodeInfo>],
) -> Explanation {
    failures_on(profile, prepared, pod, examined)
        .into_iter()
        .map(|(node, failures)| (node, failures.into_iter().map(|(_, r)| r).collect()))
        .collect()
}

/// As `reasons_on`, each reason with the filter that gave it.
pub fn failures_on(
    profile: &Profile,
    prepared: &PreFiltered,
    pod: &PodRecord,
    examined: &[Arc<NodeInfo>],
) -> BTreeMap<String, Vec<Failure>> {
    examined
        .par_iter()
        .with_min_len(MIN_NODES_PER_TASK)
        .filter_map(|info| {
            let node = info.node.as_ref()?;
            // A malformed node is infeasible for its own reason; its fields cannot be trusted.
            if let Some(err) = &node.error {
                return Some((node.name().to_owned(), vec![("Node", err.to_string())]));
            }
            let mut failures = prepared.rejected.clone();
            // Left out by a PreFilter's node names: that plugin's reason is kube's for such a
            // node, the other filters still speak.
            let left_out = pre_filter_result::outside(profile, &prepared.states, info);
            if let Some((plugin, status)) = &left_out {
                failures.extend(status.reasons.iter().map(|r| (*plugin, r.to_string())));
            }
            for (plugin, state) in profile.filters.iter().zip(&prepared.states) {
                let Some(state) = state else { continue };
                if left_out
                    .as_ref()
                    .is_some_and(|(by, _)| *by == plugin.name())
                {
                    continue;
                }
                let status = plugin.filter(state.as_ref(), pod, info);
                if !status.is_success() {
                    failures.extend(
                        status
                            .reasons
                            .iter()
                            .map(|r| (plugin.name(), r.to_string())),
                    );
                }
            }
            Some((node.name().to_owned(), failures))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::cluster::ClusterState;
    use crate::state::kind::Kind;

    fn profile() -> Profile {
        Profile::from_json(
            br#"{"schedulerName":"podium","parallelism":2,
                "filters":["NodeUnschedulable","NodeName","TaintToleration","NodeAffinity","NodePorts","NodeResourcesFit"]}"#,
        )
        .expect("valid profile")
    }

    fn node(name: &str, cpu: &str, extra: &str) -> Vec<u8> {
        format!(
            r#"{{"type":"ADDED","object":{{"metadata":{{"name":"{name}","uid":"uid-{name}","resourceVersion":"1","labels":{{"zone":"{name}"}}}},
                "spec":{{{extra}}},
                "status":{{"allocatable":{{"cpu":"{cpu}","memory":"8Gi","pods":"110"}}}}}}}}"#
        )
        .into_bytes()
    }

    fn pod(uid: &str, node: Option<&str>, sched: &str, cpu: &str, extra: &str) -> Vec<u8> {
        let node = node.map_or(String::new(), |n| format!(r#""nodeName":"{n}","#));
        format!(
            r#"{{"type":"ADDED","object":{{"metadata":{{"name":"p-{uid}","namespace":"ns","uid":"{uid}","resourceVersion":"2"}},
                "spec":{{{node}{extra}"schedulerName":"{sched}","containers":[{{"resources":{{"requests":{{"cpu":"{cpu}"}}}}}}]}},
                "status":{{"phase":"Pending"}}}}}}"#
        )
        .into_bytes()
    }

    fn cluster() -> ClusterState {
        let mut s = ClusterState::new(&["podium"]);
        s.apply_event(Kind::Node, &node("a", "2", "")).unwrap();
        s.apply_event(Kind::Node, &node("b", "4", "")).unwrap();
        s.apply_event(Kind::Node, &node("c", "8", r#""unschedulable":true"#))
            .unwrap();
        s
    }

    #[test]
    fn every_node_every_failing_filter() {
        let mut s = cluster();
        s.apply_event(Kind::Pod, &pod("p", None, "podium", "3", ""))
            .unwrap();
        let out = explain(&s.snapshot(), Target::Pending("p"), &profile()).unwrap();
        assert_eq!(out["a"], vec!["Insufficient cpu".to_owned()]);
        assert!(out["b"].is_empty());
        assert_eq!(
            out["c"],
            vec!["node(s) were unschedulable".to_owned()],
            "fits by cpu, fails only NodeUnschedulable"
        );
        s.apply_event(Kind::Pod, &pod("big", None, "podium", "16", ""))
            .unwrap();
        let out = explain(&s.snapshot(), Target::Pending("big"), &profile()).unwrap();
        assert_eq!(
            out["c"],
            vec![
                "node(s) were unschedulable".to_owned(),
                "Insufficient cpu".to_owned()
            ],
            "all failing filters, not just the first"
        );
    }

    #[test]
    fn explain_places_nothing() {
        let mut s = cluster();
        s.apply_event(Kind::Pod, &pod("p", None, "podium", "2", ""))
            .unwrap();
        let snap = s.snapshot();
        let first = explain(&snap, Target::Pending("p"), &profile()).unwrap();
        let again = explain(&snap, Target::Pending("p"), &profile()).unwrap();
        assert_eq!(first, again);
        assert!(first["a"].is_empty() && first["b"].is_empty());
    }

    #[test]
    fn bound_pod_is_checked_without_itself() {
        let mut s = cluster();
        // Takes all of a's cpu: with itself counted it would not fit a again.
        s.apply_event(
            Kind::Pod,
            &pod("k", Some("a"), "default-scheduler", "2", ""),
        )
        .unwrap();
        s.apply_event(
            Kind::Pod,
            &pod("o", Some("b"), "default-scheduler", "3", ""),
        )
        .unwrap();
        let snap = s.snapshot();
        let out = explain(&snap, Target::Bound("k"), &profile()).unwrap();
        assert!(out["a"].is_empty(), "{out:?}");
        assert_eq!(
            out["b"],
            vec!["Insufficient cpu".to_owned()],
            "others still count; nodeName is not held against other nodes"
        );
        // The snapshot itself still counts the pod.
        let again = explain(&snap, Target::Bound("o"), &profile()).unwrap();
        assert_eq!(again["a"], vec!["Insufficient cpu".to_owned()]);
    }

    #[test]
    fn unknown_or_wrong_state_is_a_clear_error() {
        let mut s = cluster();
        s.apply_event(
            Kind::Pod,
            &pod("k", Some("a"), "default-scheduler", "1", ""),
        )
        .unwrap();
        s.apply_event(Kind::Pod, &pod("p", None, "podium", "1", ""))
            .unwrap();
        let snap = s.snapshot();
        let err = explain(&snap, Target::Pending("k"), &profile()).unwrap_err();
        assert!(err.to_string().contains("\"k\" is not pending"), "{err}");
        let err = explain(&snap, Target::Bound("p"), &profile()).unwrap_err();
        assert!(
            err.to_string().contains("\"p\" is not on any node"),
            "{err}"
        );
        assert!(explain(&snap, Target::Pending("nope"), &profile()).is_err());
    }

    #[test]
    fn malformed_pod_fails_everywhere_with_its_message() {
        let mut s = cluster();
        s.apply_event(Kind::Pod, &pod("bad", None, "podium", "1x", ""))
            .unwrap();
        let out = explain(&s.snapshot(), Target::Pending("bad"), &profile()).unwrap();
        assert_eq!(out.len(), 3);
        assert!(
            out.values()
                .all(|r| r.len() == 1 && r[0].contains("spec.containers[0].resources.requests.cpu")),
            "{out:?}"
        );
    }
}
