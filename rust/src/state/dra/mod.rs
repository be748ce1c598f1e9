//! Dynamic Resource Allocation objects (`resource.k8s.io/v1`) as the cache holds them:
//! DeviceClasses, ResourceSlices and ResourceClaims, each decoded once into compact records
//! (`class`, `slice`, `claim`), plus the allocations podium assumed and has not seen written.
//! The inventory of usable devices (`pools`) and what is in use (`ledger`) are derived lazily
//! and shared by every snapshot until the objects they come from change.
//!
//! Persistent maps make a copy O(1): the snapshot takes one, as it does `Volumes`.

pub mod claim;
pub mod class;
pub mod device;
pub mod error;
pub mod fixtures;
pub mod ledger;
pub mod pod_claims;
pub mod pools;
pub mod slice;
pub mod wire;

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use serde::Deserialize;

use self::claim::{AllocatedDevice, Claim};
use self::class::DeviceClass;
use self::ledger::InUse;
use self::pools::Inventory;
use self::slice::Slice;
use crate::intern::{Sym, resolve, sym};
use crate::state::kind::Kind;

/// A claim by (namespace, name).
pub type ClaimKey = (Sym, Sym);

/// A claim as the cache holds it: decoded, or why it could not be (a pod using it stays
/// pending with that reason).
pub type ClaimEntry = Result<Arc<Claim>, Arc<str>>;

#[derive(Debug, Clone, Default)]
pub struct Dra {
    slices: imbl::OrdMap<Arc<str>, Arc<Slice>>,
    classes: imbl::HashMap<Sym, Arc<DeviceClass>>,
    claims: imbl::HashMap<ClaimKey, ClaimEntry>,
    /// Allocations decided by podium, not yet seen in the claims' status, by claim uid.
    assumed: imbl::HashMap<Arc<str>, Arc<[AllocatedDevice]>>,
    /// Derived from `slices`; reset when they change.
    inventory: Arc<OnceLock<Arc<Inventory>>>,
    /// Derived from `inventory`, the claims' allocations and `assumed`; reset when any changes.
    in_use: Arc<OnceLock<Arc<InUse>>>,
    /// Bumped whenever classes or slices change: plugins key their selector caches by it.
    epoch: u64,
}

#[derive(Deserialize, Default)]
struct MetaOnly {
    #[serde(default)]
    metadata: wire::MetaWire,
}

impl Dra {
    /// An empty set, for contexts that see no DRA objects (tests, single-pod tools).
    pub fn none() -> &'static Dra {
        static NONE: std::sync::LazyLock<Dra> = std::sync::LazyLock::new(Dra::default);
        &NONE
    }

    pub fn is_empty(&self) -> bool {
        self.slices.is_empty() && self.classes.is_empty() && self.claims.is_empty()
    }

    pub fn class(&self, name: Sym) -> Option<&Arc<DeviceClass>> {
        self.classes.get(&name)
    }

    pub fn classes(&self) -> impl Iterator<Item = &Arc<DeviceClass>> {
        self.classes.values()
    }

    pub fn claim(&self, namespace: Sym, name: Sym) -> Option<&ClaimEntry> {
        self.claims.get(&(namespace, name))
    }

    /// Changes with the classes and the slices (not with claims): what selector verdicts depend
    /// on.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn inventory(&self) -> Arc<Inventory> {
        self.inventory
            .get_or_init(|| Arc::new(Inventory::build(self.slices.values().map(|s| &**s))))
            .clone()
    }

    /// Every device allocated to a claim (written or assumed), against the current inventory.
    pub fn in_use(&self) -> Arc<InUse> {
        self.in_use
            .get_or_init(|| {
                let inv = self.inventory();
                let assumed_claims: HashSet<&str> = self.assumed.keys().map(|k| &**k).collect();
                let written = self
                    .claims
                    .values()
                    .filter_map(|c| c.as_ref().ok())
                    .filter(|c| !assumed_claims.contains(c.uid.as_str()))
                    .filter_map(|c| c.allocation.as_ref())
                    .flat_map(|a| a.devices.iter());
                let assumed = self.assumed.values().flat_map(|d| d.iter());
                Arc::new(InUse::from_devices(&inv, written.chain(assumed)))
            })
            .clone()
    }

    fn slices_changed(&mut self) {
        self.inventory = Arc::default();
        self.in_use = Arc::default();
        self.epoch += 1;
    }

    fn allocations_changed(&mut self) {
        self.in_use = Arc::default();
    }

    /// Reserve: the claim's devices count as allocated until the claim's status shows them or
    /// `forget` is called.
    pub fn assume(&mut self, claim_uid: &str, devices: Arc<[AllocatedDevice]>) {
        self.assumed.insert(Arc::from(claim_uid), devices);
        self.allocations_changed();
    }

    /// Unreserve (a failed binding), or the informer caught up.
    pub fn forget(&mut self, claim_uid: &str) {
        if self.assumed.remove(claim_uid).is_some() {
            self.allocations_changed();
        }
    }

    pub fn is_assumed(&self, claim_uid: &str) -> bool {
        self.assumed.contains_key(claim_uid)
    }
}

/// Applies one object of a DRA kind; returns (namespace, name, decode error). A malformed
/// class or slice is left out (its error reported); a malformed claim is kept as its error, so
/// pods using it say why they wait.
pub fn apply_object(
    dra: &mut Dra,
    kind: Kind,
    bytes: &[u8],
    deleted: bool,
    seen: Option<&mut HashSet<Box<str>>>,
) -> Result<(String, String, Option<String>), String> {
    let meta: MetaOnly =
        serde_json::from_slice(bytes).map_err(|e| format!("{}: {e}", kind.name()))?;
    let (namespace, name) = (meta.metadata.namespace, meta.metadata.name);
    if name.is_empty() {
        return Err(format!("{}: metadata.name is missing", kind.name()));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| format!("{}: {e}", kind.name()))?;
    let mut error = None;
    match kind {
        Kind::DeviceClass => {
            let key = sym(&name);
            if deleted {
                dra.classes.remove(&key);
            } else {
                match DeviceClass::decode(text) {
                    Ok(c) => {
                        dra.classes.insert(key, Arc::new(c));
                    }
                    Err(e) => {
                        dra.classes.remove(&key);
                        error = Some(e.to_string());
                    }
                }
            }
            dra.slices_changed();
        }
        Kind::ResourceSlice => {
            let key: Arc<str> = Arc::from(name.as_str());
            if deleted {
                dra.slices.remove(&key);
            } else {
                match Slice::decode(text) {
                    Ok(s) => {
                        dra.slices.insert(key, Arc::new(s));
                    }
                    Err(e) => {
                        dra.slices.remove(&key);
                        error = Some(e.to_string());
                    }
                }
            }
            dra.slices_changed();
        }
        Kind::ResourceClaim => {
            let key = (sym(&namespace), sym(&name));
            if deleted {
                if let Some(Ok(c)) = dra.claims.remove(&key) {
                    dra.assumed.remove(c.uid.as_str());
                }
            } else {
                match Claim::decode(text) {
                    Ok(c) => {
                        // The informer shows the allocation podium wrote: the assumption is done.
                        if c.allocation.is_some() {
                            dra.assumed.remove(c.uid.as_str());
                        }
                        dra.claims.insert(key, Ok(Arc::new(c)));
                    }
                    Err(e) => {
                        error = Some(e.to_string());
                        dra.claims.insert(key, Err(Arc::from(e.to_string())));
                    }
                }
            }
            dra.allocations_changed();
        }
        other => return Err(format!("{}: not a DRA kind", other.name())),
    }
    if let Some(seen) = seen {
        let key = if namespace.is_empty() {
            name.clone()
        } else {
            format!("{namespace}/{name}")
        };
        seen.insert(key.into());
    }
    Ok((namespace, name, error))
}

/// Drops what a relist of `kind` did not see.
pub fn end_relist(dra: &mut Dra, kind: Kind, seen: &HashSet<Box<str>>) {
    match kind {
        Kind::DeviceClass => {
            dra.classes.retain(|k, _| seen.contains(resolve(*k)));
            dra.slices_changed();
        }
        Kind::ResourceSlice => {
            let gone: Vec<Arc<str>> = dra
                .slices
                .keys()
                .filter(|k| !seen.contains(&***k))
                .cloned()
                .collect();
            for k in gone {
                dra.slices.remove(&k);
            }
            dra.slices_changed();
        }
        Kind::ResourceClaim => {
            dra.claims.retain(|(ns, n), _| {
                seen.contains(format!("{}/{}", resolve(*ns), resolve(*n)).as_str())
            });
            dra.allocations_changed();
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::dra::device::DeviceKey;
    use crate::state::dra::fixtures::{
        aligned_claim, claim_json, gpu_and_nic_classes, gpu_node_slice,
    };

    fn apply(dra: &mut Dra, kind: Kind, json: &str, deleted: bool) -> Option<String> {
        apply_object(dra, kind, json.as_bytes(), deleted, None)
            .unwrap()
            .2
    }

    #[test]
    fn objects_build_the_inventory_and_allocations_count() {
        let mut dra = Dra::default();
        for c in gpu_and_nic_classes() {
            assert_eq!(apply(&mut dra, Kind::DeviceClass, &c, false), None);
        }
        assert_eq!(
            apply(
                &mut dra,
                Kind::ResourceSlice,
                &gpu_node_slice("n0", 8, 4),
                false
            ),
            None
        );
        assert_eq!(dra.inventory().len(), 8);
        let epoch = dra.epoch();
        let allocated = claim_json(
            "ns",
            "a",
            r#"[{"name":"gpu","exactly":{"deviceClassName":"gpu.example.com"}}]"#,
            "[]",
            r#"{"allocation":{"devices":{"results":[{"request":"gpu","driver":"gpu.example.com","pool":"n0","device":"gpu-0"}]}}}"#,
        );
        let snapshot = dra.clone();
        apply(&mut dra, Kind::ResourceClaim, &allocated, false);
        assert_eq!(dra.epoch(), epoch, "claims do not change selector verdicts");
        let inv = dra.inventory();
        let gpu0 = inv
            .id(&DeviceKey::new("gpu.example.com", "n0", "gpu-0"))
            .unwrap();
        assert!(dra.in_use().dedicated(gpu0));
        assert!(
            !snapshot.in_use().dedicated(gpu0),
            "a copy keeps what it saw"
        );
        apply(&mut dra, Kind::ResourceClaim, &allocated, true);
        assert!(!dra.in_use().dedicated(gpu0));
    }

    #[test]
    fn assumptions_end_when_the_allocation_is_written_or_forgotten() {
        let mut dra = Dra::default();
        apply(
            &mut dra,
            Kind::ResourceSlice,
            &gpu_node_slice("n0", 2, 1),
            false,
        );
        apply(
            &mut dra,
            Kind::ResourceClaim,
            &aligned_claim("ns", "c", 1),
            false,
        );
        let device = AllocatedDevice {
            request: sym("gpu"),
            key: DeviceKey::new("gpu.example.com", "n0", "gpu-1"),
            admin_access: false,
            share_id: None,
            consumed: Box::default(),
        };
        dra.assume("uid-ns-c", Arc::from(vec![device]));
        let gpu1 = dra
            .inventory()
            .id(&DeviceKey::new("gpu.example.com", "n0", "gpu-1"))
            .unwrap();
        assert!(dra.in_use().dedicated(gpu1));
        dra.forget("uid-ns-c");
        assert!(!dra.in_use().dedicated(gpu1));
    }

    #[test]
    fn malformed_claims_are_kept_with_their_reason_and_relists_drop_the_unseen() {
        let mut dra = Dra::default();
        let bad = claim_json("ns", "bad", r#"[{"name":"g"}]"#, "[]", "{}");
        let err = apply(&mut dra, Kind::ResourceClaim, &bad, false).unwrap();
        assert!(err.contains("exactly one of"), "{err}");
        assert!(matches!(dra.claim(sym("ns"), sym("bad")), Some(Err(_))));
        let mut seen = HashSet::new();
        apply_object(
            &mut dra,
            Kind::ResourceSlice,
            gpu_node_slice("n0", 2, 1).as_bytes(),
            false,
            Some(&mut seen),
        )
        .unwrap();
        apply(
            &mut dra,
            Kind::ResourceSlice,
            &gpu_node_slice("n1", 2, 1),
            false,
        );
        end_relist(&mut dra, Kind::ResourceSlice, &seen);
        assert_eq!(dra.inventory().len(), 2, "n1's slice was not relisted");
        end_relist(&mut dra, Kind::ResourceClaim, &HashSet::new());
        assert!(dra.claim(sym("ns"), sym("bad")).is_none());
    }

    #[test]
    fn the_cache_watches_the_dra_kinds() {
        use crate::state::cluster::ClusterState;
        let event = |t: &str, obj: &str| format!(r#"{{"type":"{t}","object":{obj}}}"#).into_bytes();
        let mut state = ClusterState::new(&["podium"]);
        let [gpu_class, _] = gpu_and_nic_classes();
        for (kind, obj) in [
            (Kind::DeviceClass, gpu_class),
            (Kind::ResourceSlice, gpu_node_slice("n0", 8, 4)),
            (Kind::ResourceClaim, aligned_claim("ns", "c", 2)),
        ] {
            let change = state.apply_event(kind, &event("ADDED", &obj)).unwrap();
            assert_eq!(change.error, None, "{kind:?}");
            assert_eq!(change.kind, Some(kind));
        }
        let snapshot = state.snapshot();
        let data = snapshot.lock();
        assert_eq!(data.dra.inventory().len(), 8);
        assert!(data.dra.class(sym("gpu.example.com")).is_some());
        assert!(matches!(data.dra.claim(sym("ns"), sym("c")), Some(Ok(_))));
        drop(data);
        state.begin_relist(Kind::ResourceSlice);
        state.end_relist(Kind::ResourceSlice);
        assert!(state.dra().inventory().is_empty());
    }
}
