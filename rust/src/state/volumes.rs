//! PersistentVolumes, PersistentVolumeClaims and StorageClasses: what VolumeBinding reads.
//!
//! Only the fields that decide where a pod may run are kept. The maps are persistent, so a
//! snapshot shares them in O(1) and a change costs O(log n).
//!
//! podium does not bind volumes (no PV controller work). A free PV that a placement relies on
//! is *reserved* for that claim: by the snapshot for the rest of its batch, and by the
//! `ClusterState` while the pod that took it is assumed or bound and the PV shows no claimRef
//! yet, so two pods never count on the same free PV.

use std::sync::Arc;

use serde::Deserialize;

use crate::bounded::quoted;
use crate::error::{CoreError, CoreResult};
use crate::intern::{Sym, resolve, sym};
use crate::quantity;
use crate::state::node_selector::{NodeSelector, Operator, Requirement, Term};
use crate::state::object::{FieldError, ObjectRef, decode};
use crate::state::wire::{NodeSelectorWire, Str, StrMap};

/// The PVC annotation naming the node a WaitForFirstConsumer claim is provisioned for.
pub const SELECTED_NODE_ANNOTATION: &str = "volume.kubernetes.io/selected-node";
/// The legacy class annotation, read when `spec.storageClassName` is absent.
pub const BETA_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";
/// Set on a claim once the PV controller has finished binding it (with `spec.volumeName`).
pub const BIND_COMPLETED_ANNOTATION: &str = "pv.kubernetes.io/bind-completed";
/// The provisioner of classes whose volumes are created by hand (local PVs).
pub const NO_PROVISIONER: &str = "kubernetes.io/no-provisioner";

/// Access modes as bits, so "the PV offers every mode the claim asks" is one AND.
pub mod mode {
    pub const RWO: u8 = 1;
    pub const ROX: u8 = 2;
    pub const RWX: u8 = 4;
    pub const RWOP: u8 = 8;
}

fn mode_bit(text: &str) -> Option<u8> {
    match text {
        "ReadWriteOnce" => Some(mode::RWO),
        "ReadOnlyMany" => Some(mode::ROX),
        "ReadWriteMany" => Some(mode::RWX),
        "ReadWriteOncePod" => Some(mode::RWOP),
        _ => None,
    }
}

/// A claim's identity: namespace and name.
pub type ClaimKey = (Sym, Sym);

#[derive(Debug, Clone, PartialEq)]
pub struct PvRecord {
    pub name: Sym,
    /// `spec.capacity.storage` in bytes.
    pub capacity: i64,
    /// `spec.storageClassName` ("" for none).
    pub class: Sym,
    pub modes: u8,
    /// `spec.nodeAffinity.required`: None means any node.
    pub node_affinity: Option<NodeSelector>,
    /// `spec.claimRef`: the claim this PV is bound or pre-bound to.
    pub claim: Option<ClaimKey>,
    /// `spec.claimRef.uid` ("" when unset: pre-bound by name only, or reset by the PV
    /// controller).
    pub claim_uid: Box<str>,
    /// `metadata.resourceVersion` as a number (0 when absent), to tell an older cached copy
    /// from the object podium just wrote.
    pub resource_version: u64,
    /// `status.phase` is Released or Failed: a claim cannot take it.
    pub unusable: bool,
    pub deleting: bool,
    pub error: Option<Box<str>>,
}

impl PvRecord {
    pub fn fits_node(&self, node_name: Sym, labels: &crate::state::labels::Labels) -> bool {
        self.node_affinity
            .as_ref()
            .is_none_or(|s| s.matches(node_name, labels))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PvcRecord {
    pub namespace: Sym,
    pub name: Sym,
    pub uid: Box<str>,
    /// `metadata.resourceVersion` as a number (0 when absent).
    pub resource_version: u64,
    /// `spec.volumeName`: the PV the claim is bound to.
    pub volume_name: Option<Sym>,
    /// `spec.storageClassName` (or the beta annotation); "" for none.
    pub class: Sym,
    /// `spec.resources.requests.storage` in bytes.
    pub request: i64,
    pub modes: u8,
    pub selected_node: Option<Sym>,
    /// `pv.kubernetes.io/bind-completed` is set.
    pub bind_completed: bool,
    pub deleting: bool,
    pub error: Option<Box<str>>,
}

impl PvcRecord {
    /// kube's isPVCFullyBound: bound to a PV and the PV controller is done with it.
    pub fn fully_bound(&self) -> bool {
        self.volume_name.is_some() && self.bind_completed
    }

    pub fn key(&self) -> ClaimKey {
        (self.namespace, self.name)
    }

    pub fn object(&self) -> ObjectRef {
        ObjectRef::new(
            "PersistentVolumeClaim",
            resolve(self.namespace),
            resolve(self.name),
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClassRecord {
    pub name: Sym,
    pub wait_for_first_consumer: bool,
    pub provisioner: Sym,
    /// `allowedTopologies`: None means any node.
    pub allowed_topologies: Option<NodeSelector>,
}

impl ClassRecord {
    /// Whether the class can create a volume for a claim (rather than only hand-made PVs).
    pub fn provisions(&self) -> bool {
        resolve(self.provisioner) != NO_PROVISIONER
    }
}

#[derive(Debug, Clone, Default)]
pub struct Volumes {
    /// Ordered, so matching is deterministic.
    pub pvs: imbl::OrdMap<Sym, Arc<PvRecord>>,
    pub pvcs: imbl::HashMap<ClaimKey, Arc<PvcRecord>>,
    pub classes: imbl::HashMap<Sym, Arc<ClassRecord>>,
    /// Free PVs a placement counts on, with the claim that took them.
    pub reserved: imbl::HashMap<Sym, ClaimKey>,
    /// The PVs each pod (by uid) reserved, to release them with the pod.
    pub reserved_by: imbl::HashMap<Arc<str>, Vec<Sym>>,
}

impl Volumes {
    pub fn pvc(&self, namespace: Sym, name: Sym) -> Option<&Arc<PvcRecord>> {
        self.pvcs.get(&(namespace, name))
    }

    /// Whether `pv` may be taken by `claim` now (kube's FindMatchingVolume, minus the node).
    pub fn is_free_for(&self, pv: &PvRecord, claim: &PvcRecord) -> bool {
        if pv.deleting || pv.unusable || pv.error.is_some() {
            return false;
        }
        match pv.claim {
            Some(key) if key != claim.key() => return false,
            _ => {}
        }
        if self
            .reserved
            .get(&pv.name)
            .is_some_and(|&k| k != claim.key())
        {
            return false;
        }
        pv.class == claim.class
            && pv.modes & claim.modes == claim.modes
            && pv.capacity >= claim.request
    }

    /// Records that pod `uid` counts on `pvs` for `claims` (same order).
    pub fn reserve(&mut self, uid: &Arc<str>, taken: &[(Sym, ClaimKey)]) {
        if taken.is_empty() {
            return;
        }
        for &(pv, claim) in taken {
            self.reserved.insert(pv, claim);
        }
        self.reserved_by
            .insert(uid.clone(), taken.iter().map(|&(pv, _)| pv).collect());
    }

    /// Drops pod `uid`'s reservations; true if it had any.
    pub fn release(&mut self, uid: &str) -> bool {
        let Some(pvs) = self.reserved_by.remove(uid) else {
            return false;
        };
        for pv in pvs {
            self.reserved.remove(&pv);
        }
        true
    }

    /// Keeps a PV (a malformed one with its error: never matched); returns it as kept.
    pub fn upsert_pv(&mut self, pv: PvRecord) -> Arc<PvRecord> {
        let pv = Arc::new(pv);
        // A claimRef settles the PV: no reservation needed any more.
        if pv.claim.is_some() {
            self.reserved.remove(&pv.name);
        }
        self.pvs.insert(pv.name, pv.clone());
        pv
    }

    pub fn delete_pv(&mut self, name: Sym) {
        self.pvs.remove(&name);
        self.reserved.remove(&name);
    }

    /// Keeps a claim (a malformed one with its error: its pods fail with it).
    pub fn upsert_pvc(&mut self, pvc: PvcRecord) {
        self.pvcs.insert(pvc.key(), Arc::new(pvc));
    }

    pub fn delete_pvc(&mut self, key: ClaimKey) {
        self.pvcs.remove(&key);
    }

    pub fn upsert_class(&mut self, class: ClassRecord) {
        self.classes.insert(class.name, Arc::new(class));
    }

    pub fn delete_class(&mut self, name: Sym) {
        self.classes.remove(&name);
    }

    /// Keeps only the named objects of `kind` (the end of a relist).
    pub fn retain_pvs(&mut self, keep: impl Fn(&str) -> bool) {
        let gone: Vec<Sym> = self
            .pvs
            .keys()
            .filter(|n| !keep(resolve(**n)))
            .copied()
            .collect();
        for name in gone {
            self.delete_pv(name);
        }
    }

    pub fn retain_pvcs(&mut self, keep: impl Fn(&str) -> bool) {
        let gone: Vec<ClaimKey> = self
            .pvcs
            .keys()
            .filter(|(ns, n)| !keep(&relist_key(*ns, *n)))
            .copied()
            .collect();
        for key in gone {
            self.pvcs.remove(&key);
        }
    }

    pub fn retain_classes(&mut self, keep: impl Fn(&str) -> bool) {
        let gone: Vec<Sym> = self
            .classes
            .keys()
            .filter(|n| !keep(resolve(**n)))
            .copied()
            .collect();
        for name in gone {
            self.classes.remove(&name);
        }
    }
}

/// The key a relist records for a namespaced object.
pub fn relist_key(namespace: Sym, name: Sym) -> String {
    format!("{}/{}", resolve(namespace), resolve(name))
}

// ---------------------------------------------------------------------------------------------
// Parsing

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetaWire<'a> {
    #[serde(borrow)]
    name: Option<Str<'a>>,
    #[serde(borrow)]
    namespace: Option<Str<'a>>,
    #[serde(borrow)]
    uid: Option<Str<'a>>,
    #[serde(borrow)]
    resource_version: Option<Str<'a>>,
    #[serde(borrow)]
    annotations: Option<StrMap<'a>>,
    deletion_timestamp: Option<serde::de::IgnoredAny>,
}

impl MetaWire<'_> {
    fn resource_version(&self) -> u64 {
        self.resource_version
            .as_deref()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

#[derive(Deserialize)]
struct PhaseWire<'a> {
    #[serde(borrow)]
    phase: Option<Str<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PvWire<'a> {
    #[serde(borrow)]
    metadata: MetaWire<'a>,
    #[serde(borrow)]
    spec: Option<PvSpecWire<'a>>,
    #[serde(borrow)]
    status: Option<PhaseWire<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PvSpecWire<'a> {
    #[serde(borrow)]
    capacity: Option<StrMap<'a>>,
    #[serde(borrow)]
    storage_class_name: Option<Str<'a>>,
    #[serde(borrow)]
    access_modes: Option<Vec<Str<'a>>>,
    #[serde(borrow)]
    node_affinity: Option<VolumeNodeAffinityWire<'a>>,
    #[serde(borrow)]
    claim_ref: Option<ClaimRefWire<'a>>,
}

#[derive(Deserialize)]
struct VolumeNodeAffinityWire<'a> {
    #[serde(borrow)]
    required: Option<NodeSelectorWire<'a>>,
}

#[derive(Deserialize)]
struct ClaimRefWire<'a> {
    #[serde(borrow)]
    namespace: Option<Str<'a>>,
    #[serde(borrow)]
    name: Option<Str<'a>>,
    #[serde(borrow)]
    uid: Option<Str<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PvcWire<'a> {
    #[serde(borrow)]
    metadata: MetaWire<'a>,
    #[serde(borrow)]
    spec: Option<PvcSpecWire<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PvcSpecWire<'a> {
    #[serde(borrow)]
    volume_name: Option<Str<'a>>,
    #[serde(borrow)]
    storage_class_name: Option<Str<'a>>,
    #[serde(borrow)]
    access_modes: Option<Vec<Str<'a>>>,
    #[serde(borrow)]
    resources: Option<PvcResourcesWire<'a>>,
}

#[derive(Deserialize)]
struct PvcResourcesWire<'a> {
    #[serde(borrow)]
    requests: Option<StrMap<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClassWire<'a> {
    #[serde(borrow)]
    metadata: MetaWire<'a>,
    #[serde(borrow)]
    provisioner: Option<Str<'a>>,
    #[serde(borrow)]
    volume_binding_mode: Option<Str<'a>>,
    #[serde(borrow)]
    allowed_topologies: Option<Vec<TopologyTermWire<'a>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TopologyTermWire<'a> {
    #[serde(borrow)]
    match_label_expressions: Option<Vec<TopologyRequirementWire<'a>>>,
}

#[derive(Deserialize)]
struct TopologyRequirementWire<'a> {
    #[serde(borrow)]
    key: Str<'a>,
    #[serde(borrow)]
    values: Option<Vec<Str<'a>>>,
}

struct Errors {
    object: ObjectRef,
    list: Vec<FieldError>,
}

impl Errors {
    fn push(&mut self, path: &str, message: String) {
        self.list.push(FieldError {
            object: self.object.clone(),
            path: path.to_owned(),
            message,
        });
    }

    fn joined(&self) -> Option<Box<str>> {
        crate::state::node::join_errors(&self.list)
    }
}

fn modes(list: Option<&Vec<Str<'_>>>, path: &str, errors: &mut Errors) -> u8 {
    let mut bits = 0;
    for (i, m) in list.into_iter().flatten().enumerate() {
        match mode_bit(m) {
            Some(b) => bits |= b,
            None => errors.push(
                &format!("{path}[{i}]"),
                format!("unknown access mode {}", quoted(m)),
            ),
        }
    }
    bits
}

fn storage(map: Option<&StrMap<'_>>, path: &str, errors: &mut Errors) -> i64 {
    match map.and_then(|m| m.get("storage")) {
        Some(text) => quantity::parse_value(text).unwrap_or_else(|e| {
            errors.push(&format!("{path}.storage"), e.to_string());
            0
        }),
        None => 0,
    }
}

fn name_of(meta: &MetaWire<'_>, kind: &str) -> CoreResult<Sym> {
    match meta.name.as_deref() {
        Some(n) if !n.is_empty() => Ok(sym(n)),
        _ => Err(CoreError::Invalid(format!(
            "{kind}: metadata.name: missing"
        ))),
    }
}

fn decode_named<'a, T: Deserialize<'a>>(bytes: &'a [u8], kind: &'static str) -> CoreResult<T> {
    decode(bytes).map_err(|e| {
        let id = crate::state::object::LenientIdentity::read(bytes).unwrap_or_default();
        CoreError::Invalid(
            FieldError::new(ObjectRef::new(kind, &id.namespace, &id.name), e).to_string(),
        )
    })
}

pub fn parse_pv(bytes: &[u8]) -> CoreResult<PvRecord> {
    let wire: PvWire<'_> = decode_named(bytes, "PersistentVolume")?;
    let name = name_of(&wire.metadata, "PersistentVolume")?;
    let mut errors = Errors {
        object: ObjectRef::new("PersistentVolume", "", resolve(name)),
        list: Vec::new(),
    };
    let spec = wire.spec.as_ref();
    let phase = wire.status.as_ref().and_then(|s| s.phase.as_deref());
    let record = PvRecord {
        name,
        capacity: storage(
            spec.and_then(|s| s.capacity.as_ref()),
            "spec.capacity",
            &mut errors,
        ),
        class: sym(spec
            .and_then(|s| s.storage_class_name.as_deref())
            .unwrap_or("")),
        modes: modes(
            spec.and_then(|s| s.access_modes.as_ref()),
            "spec.accessModes",
            &mut errors,
        ),
        node_affinity: spec
            .and_then(|s| s.node_affinity.as_ref())
            .and_then(|a| a.required.as_ref())
            .map(|r| NodeSelector {
                terms: r
                    .node_selector_terms
                    .iter()
                    .flatten()
                    .map(crate::state::node_selector::term_from_wire)
                    .collect(),
            }),
        claim: spec.and_then(|s| s.claim_ref.as_ref()).and_then(|c| {
            let name = c.name.as_deref().filter(|n| !n.is_empty())?;
            Some((sym(c.namespace.as_deref().unwrap_or("")), sym(name)))
        }),
        claim_uid: spec
            .and_then(|s| s.claim_ref.as_ref())
            .and_then(|c| c.uid.as_deref())
            .unwrap_or("")
            .into(),
        resource_version: wire.metadata.resource_version(),
        unusable: matches!(phase, Some("Released" | "Failed")),
        deleting: wire.metadata.deletion_timestamp.is_some(),
        error: None,
    };
    Ok(PvRecord {
        error: errors.joined(),
        ..record
    })
}

pub fn parse_pvc(bytes: &[u8]) -> CoreResult<PvcRecord> {
    let wire: PvcWire<'_> = decode_named(bytes, "PersistentVolumeClaim")?;
    let name = name_of(&wire.metadata, "PersistentVolumeClaim")?;
    let namespace = sym(wire.metadata.namespace.as_deref().unwrap_or(""));
    let mut errors = Errors {
        object: ObjectRef::new("PersistentVolumeClaim", resolve(namespace), resolve(name)),
        list: Vec::new(),
    };
    let spec = wire.spec.as_ref();
    let annotations = wire.metadata.annotations.as_ref();
    let class = spec
        .and_then(|s| s.storage_class_name.as_deref())
        .or_else(|| annotations.and_then(|a| a.get(BETA_CLASS_ANNOTATION).map(|v| &**v)))
        .unwrap_or("");
    let record = PvcRecord {
        namespace,
        name,
        uid: wire.metadata.uid.as_deref().unwrap_or("").into(),
        resource_version: wire.metadata.resource_version(),
        volume_name: spec
            .and_then(|s| s.volume_name.as_deref())
            .filter(|v| !v.is_empty())
            .map(sym),
        class: sym(class),
        request: storage(
            spec.and_then(|s| s.resources.as_ref())
                .and_then(|r| r.requests.as_ref()),
            "spec.resources.requests",
            &mut errors,
        ),
        modes: modes(
            spec.and_then(|s| s.access_modes.as_ref()),
            "spec.accessModes",
            &mut errors,
        ),
        selected_node: annotations
            .and_then(|a| a.get(SELECTED_NODE_ANNOTATION))
            .filter(|v| !v.is_empty())
            .map(|v| sym(v)),
        bind_completed: annotations.is_some_and(|a| a.contains_key(BIND_COMPLETED_ANNOTATION)),
        deleting: wire.metadata.deletion_timestamp.is_some(),
        error: None,
    };
    Ok(PvcRecord {
        error: errors.joined(),
        ..record
    })
}

pub fn parse_class(bytes: &[u8]) -> CoreResult<ClassRecord> {
    let wire: ClassWire<'_> = decode_named(bytes, "StorageClass")?;
    let name = name_of(&wire.metadata, "StorageClass")?;
    let allowed_topologies = wire
        .allowed_topologies
        .as_ref()
        .filter(|t| !t.is_empty())
        .map(|terms| NodeSelector {
            terms: terms
                .iter()
                .map(|t| Term {
                    expressions: t
                        .match_label_expressions
                        .iter()
                        .flatten()
                        .map(|r| {
                            let values: Vec<&str> =
                                r.values.iter().flatten().map(|v| &**v).collect();
                            Requirement {
                                key: sym(&r.key),
                                op: Operator::parse("In", &values),
                            }
                        })
                        .collect(),
                    fields: Box::default(),
                })
                .collect(),
        });
    Ok(ClassRecord {
        name,
        // kube's default mode is Immediate.
        wait_for_first_consumer: wire.volume_binding_mode.as_deref()
            == Some("WaitForFirstConsumer"),
        provisioner: sym(wire.provisioner.as_deref().unwrap_or("")),
        allowed_topologies,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::state::labels::Labels;

    pub(crate) fn local_pv(name: &str, node: &str, size: &str, class: &str) -> String {
        format!(
            r#"{{"metadata":{{"name":"{name}"}},"spec":{{"capacity":{{"storage":"{size}"}},
              "storageClassName":"{class}","accessModes":["ReadWriteOnce"],
              "nodeAffinity":{{"required":{{"nodeSelectorTerms":[{{"matchExpressions":[
                {{"key":"kubernetes.io/hostname","operator":"In","values":["{node}"]}}]}}]}}}}}},
              "status":{{"phase":"Available"}}}}"#
        )
    }

    pub(crate) fn pvc(name: &str, size: &str, class: &str, extra_spec: &str) -> String {
        format!(
            r#"{{"metadata":{{"name":"{name}","namespace":"ns"}},"spec":{{{extra_spec}
              "storageClassName":"{class}","accessModes":["ReadWriteOnce"],
              "resources":{{"requests":{{"storage":"{size}"}}}}}}}}"#
        )
    }

    pub(crate) fn class(name: &str, mode: &str, provisioner: &str) -> String {
        format!(
            r#"{{"metadata":{{"name":"{name}"}},"provisioner":"{provisioner}","volumeBindingMode":"{mode}"}}"#
        )
    }

    #[test]
    fn parses_local_pv() {
        let pv = parse_pv(local_pv("pv1", "n1", "10Gi", "local").as_bytes()).unwrap();
        assert_eq!(pv.capacity, 10 << 30);
        assert_eq!(resolve(pv.class), "local");
        assert_eq!(pv.modes, mode::RWO);
        let host = Labels::from_pairs([("kubernetes.io/hostname", "n1")]);
        let other = Labels::from_pairs([("kubernetes.io/hostname", "n2")]);
        assert!(pv.fits_node(sym("n1"), &host));
        assert!(!pv.fits_node(sym("n2"), &other));
        assert!(pv.error.is_none() && pv.claim.is_none() && !pv.unusable);
    }

    #[test]
    fn parses_claims_and_classes() {
        let c = parse_pvc(
            r#"{"metadata":{"name":"data","namespace":"ns","annotations":{
                "volume.kubernetes.io/selected-node":"n3",
                "volume.beta.kubernetes.io/storage-class":"old"}},
               "spec":{"volumeName":"","accessModes":["ReadWriteOnce","ReadOnlyMany"],
                       "resources":{"requests":{"storage":"1G"}}}}"#
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(
            (resolve(c.class), c.request, c.modes, c.volume_name),
            ("old", 1_000_000_000, mode::RWO | mode::ROX, None)
        );
        assert_eq!(c.selected_node, Some(sym("n3")));
        let sc = parse_class(class("fast", "WaitForFirstConsumer", "ebs.csi.aws.com").as_bytes())
            .unwrap();
        assert!(sc.wait_for_first_consumer && sc.provisions());
        let sc = parse_class(
            br#"{"metadata":{"name":"x"},"provisioner":"kubernetes.io/no-provisioner"}"#,
        )
        .unwrap();
        assert!(!sc.wait_for_first_consumer && !sc.provisions());
    }

    #[test]
    fn bad_fields_are_named() {
        let pv = parse_pv(local_pv("pv1", "n1", "10Qi", "local").as_bytes()).unwrap();
        let err = pv.error.expect("bad quantity");
        assert!(
            err.contains("PersistentVolume pv1") && err.contains("spec.capacity.storage"),
            "{err}"
        );
        let c = parse_pvc(
            pvc("c", "1Gi", "x", "")
                .replace("ReadWriteOnce", "Sometimes")
                .as_bytes(),
        )
        .unwrap();
        assert!(c.error.unwrap().contains("spec.accessModes[0]"));
        let err =
            parse_pvc(br#"{"metadata":{"name":"c","namespace":"ns"},"spec":{"accessModes":3}}"#)
                .unwrap_err()
                .to_string();
        assert!(
            err.contains("PersistentVolumeClaim ns/c") && err.contains("spec.accessModes"),
            "{err}"
        );
        assert!(
            parse_class(br#"{"metadata":{}}"#)
                .unwrap_err()
                .to_string()
                .contains("metadata.name")
        );
    }

    #[test]
    fn free_reserved_and_prebound() {
        let mut v = Volumes::default();
        let pv = v.upsert_pv(parse_pv(local_pv("pv1", "n1", "10Gi", "local").as_bytes()).unwrap());
        let small = parse_pvc(pvc("a", "5Gi", "local", "").as_bytes()).unwrap();
        let big = parse_pvc(pvc("b", "20Gi", "local", "").as_bytes()).unwrap();
        let other_class = parse_pvc(pvc("c", "1Gi", "fast", "").as_bytes()).unwrap();
        assert!(v.is_free_for(&pv, &small));
        assert!(!v.is_free_for(&pv, &big));
        assert!(!v.is_free_for(&pv, &other_class));
        let uid: Arc<str> = "pod-1".into();
        v.reserve(&uid, &[(pv.name, big.key())]);
        assert!(!v.is_free_for(&pv, &small), "reserved for another claim");
        assert!(v.release("pod-1"));
        assert!(v.is_free_for(&pv, &small));
        let prebound = local_pv("pv2", "n1", "10Gi", "local").replace(
            r#""storageClassName""#,
            r#""claimRef":{"namespace":"ns","name":"x"},"storageClassName""#,
        );
        let pv2 = v.upsert_pv(parse_pv(prebound.as_bytes()).unwrap());
        assert!(!v.is_free_for(&pv2, &small), "pre-bound to another claim");
    }
}
