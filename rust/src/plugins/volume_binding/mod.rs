//! VolumeBinding: a pod's PersistentVolumeClaims decide which nodes it may run on.
//!
//! - A bound claim pins the pod to where its PV is reachable (the PV's `nodeAffinity`).
//! - An unbound `WaitForFirstConsumer` claim needs, on the node, either an available PV that
//!   fits it (class, access modes, size, node affinity; the smallest such PV is the one taken)
//!   or a class that provisions volumes there (`allowedTopologies`). A claim that already has
//!   `volume.kubernetes.io/selected-node` can only go to that node.
//! - An unbound claim of any other mode waits for the PV controller: no node will do.
//!
//! Claims of one pod never share a PV, and a PV a placement counts on is reserved (see
//! `state::volumes`) so the next pods of the batch do not count on it too.
//! Not modelled: PVC label selectors, volumeMode, CSIStorageCapacity, and the owner check on
//! ephemeral volumes' claims.

use crate::framework::code::Code;
use crate::framework::cycle_state::PluginState;
use crate::framework::plugin::{
    Filter, Plugin, PodContext, PreFilter, Prepared, Reserve, Reserved,
};
use crate::framework::status::{Reason, Status};
use crate::intern::resolve;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::volume_binder::{self, ClaimBinding, ClaimProblem, PodClaims};
use crate::state::volumes::Volumes;

pub const NAME: &str = "VolumeBinding";

pub const REASON_NODE_CONFLICT: &str = "node(s) didn't match PersistentVolume's node affinity";
pub const REASON_BIND_CONFLICT: &str = "node(s) didn't find available persistent volumes to bind";
pub const REASON_PV_NOT_EXIST: &str =
    "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";
pub const REASON_UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";

pub struct VolumeBinding;

impl VolumeBinding {
    /// Resolves the pod's claims, or the status every node fails with.
    fn claims(pod: &PodRecord, volumes: &Volumes) -> Result<Option<PodClaims>, Status> {
        volume_binder::pod_claims(pod, volumes).map_err(|problem| match problem {
            ClaimProblem::NotFound(claim) => Status::unresolvable(format!(
                "persistentvolumeclaim {:?} not found",
                resolve(claim)
            )),
            ClaimProblem::Deleting(claim) => Status::unresolvable(format!(
                "persistentvolumeclaim {:?} is being deleted",
                resolve(claim)
            )),
            ClaimProblem::Malformed(err) => Status::unresolvable(err.to_string()),
            ClaimProblem::VolumeNotFound => Status::unresolvable(REASON_PV_NOT_EXIST),
            // kube reports the lister's error: retried, not unresolvable.
            ClaimProblem::ClassNotFound(class) => Status::new(
                Code::Error,
                format!("storageclass.storage.k8s.io {:?} not found", resolve(class)),
            ),
            ClaimProblem::UnboundImmediate => Status::unresolvable(REASON_UNBOUND_IMMEDIATE),
        })
    }
}

/// What placing the pod on `info` does with its unbound claims, from this plugin's PreFilter
/// state (the pod's decision carries it to PreBind). Empty when nothing needs binding.
pub fn claim_bindings(state: &PluginState, info: &NodeInfo) -> Vec<ClaimBinding> {
    let (Some(claims), Some(node)) = (state.downcast_ref::<PodClaims>(), &info.node) else {
        return Vec::new();
    };
    if claims.unbound.is_empty() {
        return Vec::new();
    }
    claims.match_unbound(node).unwrap_or_default()
}

impl Plugin for VolumeBinding {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl PreFilter for VolumeBinding {
    fn pre_filter(&self, ctx: &PodContext<'_>) -> Prepared {
        match Self::claims(ctx.pod, ctx.volumes) {
            Ok(None) => Prepared::Skip,
            Ok(Some(claims)) => Prepared::Run(Some(Box::new(claims))),
            Err(status) => Prepared::Reject(status),
        }
    }
}

impl Reserve for VolumeBinding {
    fn reserve(
        &self,
        state: Option<&PluginState>,
        _pod: &PodRecord,
        node: &NodeInfo,
        reserved: &mut Reserved,
    ) {
        if let Some(state) = state {
            reserved.volumes = claim_bindings(state, node);
        }
    }
}

impl Filter for VolumeBinding {
    fn filter(&self, state: Option<&PluginState>, _pod: &PodRecord, info: &NodeInfo) -> Status {
        let Some(claims) = state.and_then(|s| s.downcast_ref::<PodClaims>()) else {
            return Status::success();
        };
        let Some(node) = &info.node else {
            return Status::success();
        };
        let mut reasons: Vec<Reason> = Vec::new();
        if !claims.bound_fit(node) {
            reasons.push(REASON_NODE_CONFLICT.into());
        }
        if !claims.unbound.is_empty() && claims.match_unbound(node).is_none() {
            reasons.push(REASON_BIND_CONFLICT.into());
        }
        if reasons.is_empty() {
            Status::success()
        } else {
            Status {
                code: Code::UnschedulableAndUnresolvable,
                reasons: reasons.into(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::sym;
    use crate::state::labels::Labels;
    use crate::state::volumes::tests::{class, local_pv, pvc};
    use crate::state::volumes::{parse_class, parse_pv, parse_pvc};
    use crate::testutil::{node, pod};
    use std::sync::Arc;

    fn volumes(pvs: &[String], pvcs: &[String], classes: &[String]) -> Volumes {
        let mut v = Volumes::default();
        for p in pvs {
            v.upsert_pv(parse_pv(p.as_bytes()).unwrap());
        }
        for c in pvcs {
            v.upsert_pvc(parse_pvc(c.as_bytes()).unwrap());
        }
        for c in classes {
            v.upsert_class(parse_class(c.as_bytes()).unwrap());
        }
        v
    }

    fn host(name: &str) -> NodeInfo {
        let mut n = node(name, 4000, 1 << 34);
        n.record.labels = Labels::from_pairs([("kubernetes.io/hostname", name)]);
        n.build()
    }

    fn with_claims(names: &[&str]) -> PodRecord {
        let mut p = pod("p");
        p.namespace = sym("ns");
        p.claims = names.iter().map(|n| sym(n)).collect();
        p
    }

    /// Runs PreFilter and Filter on each node: the reasons per node, or the PreFilter status.
    fn run(v: &Volumes, p: &PodRecord, nodes: &[&str]) -> Result<Vec<Vec<String>>, Status> {
        let infos: Vec<Arc<NodeInfo>> = nodes.iter().map(|n| Arc::new(host(n))).collect();
        let ns = crate::state::namespaces::Namespaces::default();
        let ctx = PodContext {
            pod: p,
            nodes: &infos,
            namespaces: &ns,
            volumes: v,
            dra: crate::state::dra::Dra::none(),
            index: None,
        };
        let state = match VolumeBinding.pre_filter(&ctx) {
            Prepared::Run(s) => s,
            Prepared::Skip => None,
            Prepared::Reject(status) => return Err(status),
        };
        Ok(infos
            .iter()
            .map(|i| {
                VolumeBinding
                    .filter(state.as_ref(), p, i)
                    .reasons
                    .iter()
                    .map(|r| r.to_string())
                    .collect()
            })
            .collect())
    }

    const WFFC: &str = "WaitForFirstConsumer";

    #[test]
    fn pods_without_claims_are_skipped() {
        let out = run(&Volumes::default(), &pod("p"), &["n1"]).unwrap();
        assert_eq!(out, vec![Vec::<String>::new()]);
    }

    #[test]
    fn bound_claim_pins_the_pod_to_its_pv() {
        let v = volumes(
            &[local_pv("pv1", "n2", "10Gi", "local")],
            &[pvc("data", "5Gi", "local", r#""volumeName":"pv1","#)],
            &[],
        );
        let out = run(&v, &with_claims(&["data"]), &["n1", "n2"]).unwrap();
        assert_eq!(out[0], vec![REASON_NODE_CONFLICT]);
        assert!(out[1].is_empty());
        let gone = volumes(
            &[],
            &[pvc("data", "5Gi", "local", r#""volumeName":"pv9","#)],
            &[],
        );
        let err = run(&gone, &with_claims(&["data"]), &["n1"]).unwrap_err();
        assert_eq!(err.reasons.to_vec(), vec![REASON_PV_NOT_EXIST]);
    }

    #[test]
    fn missing_deleting_and_immediate_claims() {
        let err = run(&Volumes::default(), &with_claims(&["x"]), &["n1"]).unwrap_err();
        assert_eq!(
            (err.code, err.reasons[0].as_ref()),
            (
                Code::UnschedulableAndUnresolvable,
                "persistentvolumeclaim \"x\" not found"
            )
        );
        let v = volumes(
            &[local_pv("pv1", "n1", "10Gi", "std")],
            &[pvc("data", "5Gi", "std", "")],
            &[class("std", "Immediate", "kubernetes.io/no-provisioner")],
        );
        let err = run(&v, &with_claims(&["data"]), &["n1"]).unwrap_err();
        assert_eq!(err.reasons.to_vec(), vec![REASON_UNBOUND_IMMEDIATE]);
        let no_class = volumes(&[], &[pvc("data", "5Gi", "gone", "")], &[]);
        let err = run(&no_class, &with_claims(&["data"]), &["n1"]).unwrap_err();
        assert_eq!(err.code, Code::Error);
        assert!(err.reasons[0].contains("\"gone\" not found"));
        let deleting = pvc("data", "5Gi", "local", "").replace(
            r#""namespace":"ns""#,
            r#""namespace":"ns","deletionTimestamp":"2024-01-01T00:00:00Z""#,
        );
        let v = volumes(&[], &[deleting], &[]);
        let err = run(&v, &with_claims(&["data"]), &["n1"]).unwrap_err();
        assert!(err.reasons[0].contains("is being deleted"));
    }

    #[test]
    fn wait_for_first_consumer_needs_a_matching_local_pv() {
        let v = volumes(
            &[
                local_pv("small", "n1", "1Gi", "local"),
                local_pv("other-class", "n2", "100Gi", "fast"),
                local_pv("fits", "n3", "10Gi", "local"),
            ],
            &[pvc("data", "5Gi", "local", "")],
            &[class("local", WFFC, "kubernetes.io/no-provisioner")],
        );
        let out = run(&v, &with_claims(&["data"]), &["n1", "n2", "n3"]).unwrap();
        assert_eq!(out[0], vec![REASON_BIND_CONFLICT], "too small");
        assert_eq!(out[1], vec![REASON_BIND_CONFLICT], "wrong class");
        assert!(out[2].is_empty());
    }

    #[test]
    fn dynamic_provisioning_fits_where_the_class_allows() {
        let zoned = class("csi", WFFC, "ebs.csi.aws.com").replace(
            r#""provisioner""#,
            r#""allowedTopologies":[{"matchLabelExpressions":[{"key":"kubernetes.io/hostname","values":["n2"]}]}],"provisioner""#,
        );
        let v = volumes(&[], &[pvc("data", "5Gi", "csi", "")], &[zoned]);
        let out = run(&v, &with_claims(&["data"]), &["n1", "n2"]).unwrap();
        assert_eq!(out[0], vec![REASON_BIND_CONFLICT]);
        assert!(out[1].is_empty());
    }

    #[test]
    fn selected_node_pins_an_unbound_claim() {
        let annotated = pvc("data", "5Gi", "csi", "").replace(
            r#""namespace":"ns""#,
            r#""namespace":"ns","annotations":{"volume.kubernetes.io/selected-node":"n2"}"#,
        );
        let v = volumes(&[], &[annotated], &[class("csi", WFFC, "ebs.csi.aws.com")]);
        let out = run(&v, &with_claims(&["data"]), &["n1", "n2"]).unwrap();
        assert_eq!(out[0], vec![REASON_BIND_CONFLICT]);
        assert!(out[1].is_empty());
    }

    #[test]
    fn claim_bindings_name_the_pv_or_the_provisioning() {
        let v = volumes(
            &[local_pv("fits", "n1", "10Gi", "local")],
            &[pvc("a", "5Gi", "local", ""), pvc("b", "5Gi", "csi", "")],
            &[
                class("local", WFFC, "kubernetes.io/no-provisioner"),
                class("csi", WFFC, "ebs.csi.aws.com"),
            ],
        );
        let p = with_claims(&["a", "b"]);
        let infos = [Arc::new(host("n1"))];
        let ns = crate::state::namespaces::Namespaces::default();
        let ctx = PodContext {
            pod: &p,
            nodes: &infos,
            namespaces: &ns,
            volumes: &v,
            dra: crate::state::dra::Dra::none(),
            index: None,
        };
        let Prepared::Run(Some(state)) = VolumeBinding.pre_filter(&ctx) else {
            panic!("the pod has unbound claims");
        };
        assert_eq!(
            claim_bindings(&state, &infos[0]),
            vec![
                ClaimBinding {
                    claim: (sym("ns"), sym("a")),
                    volume: Some(sym("fits")),
                },
                ClaimBinding {
                    claim: (sym("ns"), sym("b")),
                    volume: None,
                },
            ]
        );
        assert_eq!(
            ClaimBinding::taken(&claim_bindings(&state, &infos[0])),
            vec![(sym("fits"), (sym("ns"), sym("a")))]
        );
    }

    #[test]
    fn claims_of_one_pod_do_not_share_a_pv_and_reservations_hold() {
        let mut v = volumes(
            &[local_pv("only", "n1", "10Gi", "local")],
            &[pvc("a", "1Gi", "local", ""), pvc("b", "1Gi", "local", "")],
            &[class("local", WFFC, "kubernetes.io/no-provisioner")],
        );
        let out = run(&v, &with_claims(&["a", "b"]), &["n1"]).unwrap();
        assert_eq!(out[0], vec![REASON_BIND_CONFLICT], "two claims, one PV");
        let first = with_claims(&["a"]);
        let n1 = host("n1");
        let taken = volume_binder::volumes_taken(&v, &first, n1.node.as_ref().unwrap());
        assert_eq!(taken, vec![(sym("only"), (sym("ns"), sym("a")))]);
        v.reserve(&first.uid, &taken);
        let out = run(&v, &with_claims(&["b"]), &["n1"]).unwrap();
        assert_eq!(out[0], vec![REASON_BIND_CONFLICT], "reserved for a");
        assert!(run(&v, &with_claims(&["a"]), &["n1"]).unwrap()[0].is_empty());
    }
}
