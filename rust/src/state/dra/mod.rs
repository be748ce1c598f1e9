//! Dynamic Resource Allocation objects (`resource.k8s.io/v1`) as the cache holds them:
//! DeviceClasses, ResourceSlices and ResourceClaims, each decoded once into compact records
//! (`class`, `slice`, `claim`), plus the allocations podium assumed and has not seen written.
//! The inventory of usable devices (`pools`) is kept in step with the slices as they are
//! applied; what is in use (`ledger`) is derived lazily and kept in step with claims. Both are
//! shared by every snapshot until the objects they come from change.
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

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde::Deserialize;

use self::claim::{Claim, ClaimAllocation, ClaimReservation};
use self::class::DeviceClass;
use self::ledger::InUse;
use self::pools::Inventory;
use self::slice::Slice;
use crate::error::{CoreError, CoreResult};
use crate::intern::{Sym, resolve, sym};
use crate::state::kind::Kind;
use crate::state::pod::PodRecord;
use crate::state::resources::{DEVICE_CLASS_PREFIX, is_dra_extended_resource_name};

/// A claim by (namespace, name).
pub type ClaimKey = (Sym, Sym);

/// A claim as the cache holds it: decoded, or why it could not be (a pod using it stays
/// pending with that reason); the error is shared, as the claim is, by every snapshot.
pub type ClaimEntry = Result<Arc<Claim>, Arc<CoreError>>;

#[derive(Debug, Clone, Default)]
pub struct Dra {
    slices: imbl::OrdMap<Arc<str>, Arc<Slice>>,
    classes: imbl::HashMap<Sym, Arc<DeviceClass>>,
    claims: imbl::HashMap<ClaimKey, ClaimEntry>,
    /// Allocations decided by podium, not yet seen in the claims' status, by claim uid. While
    /// one stands, `claims` shows the claim as allocated (kube's assume cache), so a pod sharing
    /// the claim follows it to its node instead of allocating it again.
    assumed: imbl::HashMap<Arc<str>, Assumed>,
    /// Kept in step with `slices` as each is applied (a copy when a snapshot or a plugin
    /// holds the current one).
    inventory: Arc<Inventory>,
    /// While the first list of slices is applied (the informer's initial list): the inventory
    /// is built once at its end rather than kept in step slice by slice, and on demand from
    /// the slices seen so far if asked meanwhile.
    listing: Option<Arc<OnceLock<Arc<Inventory>>>>,
    /// Derived from `inventory`, the claims' allocations and `assumed`; reset when any changes.
    in_use: Arc<OnceLock<Arc<InUse>>>,
    /// Derived from `classes`: which class serves each extended resource name; reset when
    /// they change.
    extended: Arc<OnceLock<Arc<ExtendedResources>>>,
    /// Derived from `claims`: the claim made for each pod's extended resources, by pod uid;
    /// reset when claims change.
    extended_claims: Arc<OnceLock<Arc<ExtendedClaims>>>,
    /// Bumped whenever classes or slices change: plugins key their selector caches by it.
    epoch: u64,
    /// Bumped whenever classes change: what a class selector's verdicts read beyond devices.
    class_epoch: u64,
}

/// Pod uid -> the claim made for its extended resources.
type ExtendedClaims = HashMap<Arc<str>, ClaimKey>;

/// Extended resource name -> the DeviceClass whose devices serve it (kube's
/// `ExtendedResourceCache`): each class's implicit name, and its `spec.extendedResourceName`;
/// when several classes name the same resource, the newest serves it (the lower name on a tie),
/// so a migration from one class to another takes effect as the new class is created.
#[derive(Debug, Default)]
pub struct ExtendedResources {
    by_resource: HashMap<Sym, Sym>,
}

impl ExtendedResources {
    fn build<'c>(classes: impl Iterator<Item = &'c Arc<DeviceClass>>) -> Self {
        let mut by_resource: HashMap<Sym, Sym> = HashMap::new();
        let mut explicit: HashMap<Sym, &DeviceClass> = HashMap::new();
        for class in classes {
            by_resource.insert(
                sym(&format!("{DEVICE_CLASS_PREFIX}{}", resolve(class.name))),
                class.name,
            );
            let Some(resource) = class.extended_resource_name else {
                continue;
            };
            let better = explicit.get(&resource).is_none_or(|held| {
                class.created > held.created
                    || (class.created == held.created && resolve(class.name) < resolve(held.name))
            });
            if better {
                explicit.insert(resource, class);
            }
        }
        for (resource, class) in explicit {
            by_resource.insert(resource, class.name);
        }
        Self { by_resource }
    }

    /// The class serving `resource`, if any.
    pub fn class(&self, resource: Sym) -> Option<Sym> {
        self.by_resource.get(&resource).copied()
    }

    pub fn is_empty(&self) -> bool {
        self.by_resource.is_empty()
    }
}

/// A claim allocation podium decided and has not seen written.
#[derive(Debug, Clone)]
struct Assumed {
    key: ClaimKey,
    /// The claim as `claims` shows it while assumed (allocated).
    shown: Arc<Claim>,
    /// The informer's latest version, restored when the assumption is forgotten; None for a
    /// claim of extended resources not seen created.
    informer: Option<Arc<Claim>>,
}

/// Why an allocation cannot be assumed: the claim changed since the decision was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeError(pub String);

impl std::fmt::Display for AssumeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
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

    /// Changes with the classes only: verdicts kept by device id hold across slice changes
    /// while it stands (the inventory keeps the ids of devices republished alike).
    pub fn class_epoch(&self) -> u64 {
        self.class_epoch
    }

    pub fn inventory(&self) -> Arc<Inventory> {
        match &self.listing {
            Some(cell) => cell
                .get_or_init(|| Arc::new(Inventory::build_shared(self.slices.values().cloned())))
                .clone(),
            None => self.inventory.clone(),
        }
    }

    /// A list of slices begins (a relist): when none are held yet, the inventory is built at
    /// its end (`retain_slices`) instead of kept in step with each.
    pub fn begin_slice_list(&mut self) {
        if self.slices.is_empty() {
            self.listing = Some(Arc::default());
        }
    }

    /// Every device allocated to a claim (written or assumed), against the current inventory.
    pub fn in_use(&self) -> Arc<InUse> {
        self.in_use
            .get_or_init(|| {
                let inv = self.inventory();
                // Assumed claims are shown allocated in `claims`: counted there, once.
                let devices = self
                    .claims
                    .values()
                    .filter_map(|c| c.as_ref().ok())
                    .filter_map(|c| c.allocation.as_ref())
                    .flat_map(|a| a.devices.iter());
                Arc::new(InUse::from_devices(&inv, devices))
            })
            .clone()
    }

    /// Which class serves each extended resource name (DRAExtendedResource).
    pub fn extended_resources(&self) -> Arc<ExtendedResources> {
        self.extended
            .get_or_init(|| Arc::new(ExtendedResources::build(self.classes.values())))
            .clone()
    }

    /// The extended resources `pod` asks for that a DeviceClass serves, with that class, in
    /// the order of their names (kube's `hasDeviceClassMappedExtendedResource`). Where a node
    /// has none of one in its allocatable (no device plugin), DRA serves it.
    pub fn dra_backed(&self, pod: &PodRecord) -> Vec<(Sym, Sym)> {
        let asks =
            pod.requests.scalar.iter().filter(|&&(name, amount)| {
                amount > 0 && is_dra_extended_resource_name(resolve(name))
            });
        let mut asks = asks.peekable();
        if asks.peek().is_none() || self.classes.is_empty() {
            return Vec::new();
        }
        let ext = self.extended_resources();
        let mut out: Vec<(Sym, Sym)> = asks
            .filter_map(|&(name, _)| Some((name, ext.class(name)?)))
            .collect();
        out.sort_by(|a, b| resolve(a.0).cmp(resolve(b.0)));
        out
    }

    /// The claim a scheduler made for the extended resources of the pod `pod_uid` (in an
    /// earlier attempt, since a pod being scheduled has none: kube's `findExtendedResourceClaim`).
    pub fn extended_claim_of(&self, pod_uid: &str) -> Option<&ClaimEntry> {
        let index = self.extended_claims.get_or_init(|| {
            Arc::new(
                self.claims
                    .iter()
                    .filter_map(|(k, c)| Some((c.as_ref().ok()?.extended_for.clone()?, *k)))
                    .collect(),
            )
        });
        self.claims.get(index.get(pod_uid)?)
    }

    /// A slice changed: what is in use is counted again against the inventory as it is now.
    fn slices_changed(&mut self) {
        self.in_use = Arc::default();
        self.epoch += 1;
    }

    fn classes_changed(&mut self) {
        self.extended = Arc::default();
        self.epoch += 1;
        self.class_epoch += 1;
    }

    /// The slice named `name` is `new` now (None: gone): the inventory re-reads its pool.
    fn replace_slice(&mut self, name: &str, new: Option<Slice>) {
        let new = new.map(Arc::new);
        let old = match &new {
            Some(s) => self.slices.insert(Arc::from(name), s.clone()),
            None => self.slices.remove(name),
        };
        match (&old, &new) {
            (None, None) => return,
            // The same slice again (a relist, a resync): nothing to read again.
            (Some(o), Some(n)) if o == n => return,
            _ => {}
        }
        if self.listing.is_some() {
            self.listing = Some(Arc::default());
        } else {
            Arc::make_mut(&mut self.inventory).replace_slice(old.as_ref(), new.as_ref());
        }
        self.slices_changed();
    }

    fn allocations_changed(&mut self) {
        self.in_use = Arc::default();
        self.extended_claims = Arc::default();
    }

    /// Reserve: the claim `namespace/name` is shown allocated as `allocation` says, and its
    /// devices count as taken, until the informer shows the claim allocated or `forget` is
    /// called. Refused if the claim is no longer the unallocated claim the decision saw, or if a
    /// device is taken meanwhile (the caller requeues the pod).
    pub fn assume(
        &mut self,
        namespace: Sym,
        name: Sym,
        allocation: &ClaimAllocation,
    ) -> Result<(), AssumeError> {
        let key = (namespace, name);
        let shown_name = || format!("{}/{}", resolve(namespace), resolve(name));
        let claim = match self.claims.get(&key) {
            Some(Ok(c)) if c.uid == allocation.claim_uid => c.clone(),
            _ => {
                return Err(AssumeError(format!(
                    "resourceclaim {} changed since it was allocated",
                    shown_name()
                )));
            }
        };
        if claim.allocation.is_some() {
            return Err(AssumeError(format!(
                "resourceclaim {} got allocated elsewhere in the meantime",
                shown_name()
            )));
        }
        self.check_free(allocation, &shown_name())?;
        self.take(key, &claim, Some(claim.clone()), allocation);
        Ok(())
    }

    /// Reserve for one of a decision's claims: `assume`, or `assume_extended` for the claim of
    /// the pod's extended resources. Nothing to assume when the claim is only to be reserved.
    pub fn assume_reservation(
        &mut self,
        namespace: Sym,
        c: &ClaimReservation,
    ) -> Result<(), AssumeError> {
        let Some(allocation) = &c.allocation else {
            return Ok(());
        };
        match &c.extended {
            Some(extended) => self.assume_extended(namespace, &extended.claim, allocation),
            None => self.assume(namespace, sym(&c.name), allocation),
        }
    }

    /// Reserve for the claim of a pod's extended resources (`claim`, not created yet): shown
    /// under a placeholder key until PreBind creates it (`extended_claim_created`), its devices
    /// taken as for `assume`.
    pub fn assume_extended(
        &mut self,
        namespace: Sym,
        claim: &Arc<Claim>,
        allocation: &ClaimAllocation,
    ) -> Result<(), AssumeError> {
        let shown_name = format!("{}/{}", resolve(namespace), claim.name);
        if self.assumed.contains_key(allocation.claim_uid.as_str()) {
            return Err(AssumeError(format!(
                "resourceclaim {shown_name} is assumed already"
            )));
        }
        self.check_free(allocation, &shown_name)?;
        let key = (namespace, sym(&allocation.claim_uid));
        self.take(key, claim, None, allocation);
        Ok(())
    }

    /// PreBind created the claim an extended-resources assumption (placeholder uid
    /// `assumed_uid`) stands for: it is shown under its real name and uid from now on, so the
    /// informer's versions of it end the assumption as for any claim.
    pub fn extended_claim_created(&mut self, assumed_uid: &str, name: &str, uid: &str) {
        let Some(a) = self.assumed.remove(assumed_uid) else {
            return;
        };
        if let Some(Ok(current)) = self.claims.get(&a.key)
            && Arc::ptr_eq(current, &a.shown)
        {
            self.claims.remove(&a.key);
        }
        let key = (a.key.0, sym(name));
        let informer = match self.claims.get(&key) {
            Some(Ok(c)) if c.uid == uid => {
                if c.allocation.is_some() {
                    // Already seen written: nothing left to assume.
                    self.extended_claims = Arc::default();
                    return;
                }
                Some(c.clone())
            }
            _ => None,
        };
        let mut shown = (*a.shown).clone();
        shown.name = name.to_owned();
        shown.uid = uid.to_owned();
        let shown = Arc::new(shown);
        self.claims.insert(key, Ok(shown.clone()));
        self.assumed.insert(
            Arc::from(uid),
            Assumed {
                key,
                shown,
                informer,
            },
        );
        self.extended_claims = Arc::default();
    }

    fn check_free(
        &self,
        allocation: &ClaimAllocation,
        shown_name: &str,
    ) -> Result<(), AssumeError> {
        let inv = self.inventory();
        let in_use = self.in_use();
        if let Some(taken) = allocation.devices.iter().find(|d| {
            !d.admin_access
                && d.share_id.is_none()
                && inv
                    .id(&d.key)
                    .is_some_and(|id| in_use.dedicated(id) || in_use.shared(id))
        }) {
            return Err(AssumeError(format!(
                "resourceclaim {shown_name}: device {} is allocated to another claim",
                taken.key
            )));
        }
        Ok(())
    }

    /// Shows `claim` allocated at `key` and takes its devices (checked free).
    fn take(
        &mut self,
        key: ClaimKey,
        claim: &Arc<Claim>,
        informer: Option<Arc<Claim>>,
        allocation: &ClaimAllocation,
    ) {
        // Derived before the claim is shown allocated: counted below, once.
        drop(self.in_use());
        let mut shown = (**claim).clone();
        shown.allocation = Some(allocation.to_allocation());
        let shown = Arc::new(shown);
        self.claims.insert(key, Ok(shown.clone()));
        self.assumed.insert(
            Arc::from(allocation.claim_uid.as_str()),
            Assumed {
                key,
                shown,
                informer,
            },
        );
        // Kept in step rather than rebuilt: a batch assumes after every placement.
        self.update_in_use(|in_use, inv| {
            for d in &allocation.devices {
                in_use.add(inv, d);
            }
        });
        self.extended_claims = Arc::default();
    }

    /// Changes the ledger already derived: in place when nothing else holds it (the cache's
    /// after its first assumption since a snapshot: no chunk is copied again), else on a copy
    /// in a cell of its own (copies share the one they were made with).
    fn update_in_use(&mut self, change: impl FnOnce(&mut InUse, &Inventory)) {
        let inv = self.inventory();
        if let Some(in_use) = Arc::get_mut(&mut self.in_use)
            .and_then(OnceLock::get_mut)
            .and_then(Arc::get_mut)
        {
            change(in_use, &inv);
            return;
        }
        let Some(in_use) = self.in_use.get() else {
            return;
        };
        let mut updated = (**in_use).clone();
        change(&mut updated, &inv);
        let cell = OnceLock::new();
        let _ = cell.set(Arc::new(updated));
        self.in_use = Arc::new(cell);
    }

    /// Unreserve (a failed binding): the claim shows what the informer last showed again (or
    /// nothing, for a claim of extended resources never seen created), and its devices are free
    /// unless that version has them allocated.
    pub fn forget(&mut self, claim_uid: &str) {
        let Some(a) = self.assumed.remove(claim_uid) else {
            return;
        };
        let before = self.shown_allocated(&a.key);
        if let Some(Ok(current)) = self.claims.get(&a.key)
            && Arc::ptr_eq(current, &a.shown)
        {
            match a.informer {
                Some(informer) => self.claims.insert(a.key, Ok(informer)),
                None => self.claims.remove(&a.key),
            };
        }
        self.claim_changed(a.key, before);
    }

    pub fn is_assumed(&self, claim_uid: &str) -> bool {
        self.assumed.contains_key(claim_uid)
    }

    /// A claim from the informer: shown as is, unless podium's assumption for it stands and
    /// the new version does not show an allocation yet (then it is what `forget` restores).
    fn update_claim(&mut self, key: ClaimKey, claim: Claim) {
        let claim = Arc::new(claim);
        if let Some(a) = self.assumed.get_mut(claim.uid.as_str()) {
            if claim.allocation.is_none() {
                a.informer = Some(claim);
                return;
            }
            // The informer shows the allocation podium wrote (or another): the assumption is
            // done.
            self.assumed.remove(claim.uid.as_str());
        }
        self.claims.insert(key, Ok(claim));
    }
}

/// A DRA object's namespace, name and text, read before its kind decodes it; `Err` when it has
/// no name.
pub fn read_object(kind: Kind, bytes: &[u8]) -> CoreResult<(String, String, &str)> {
    let meta: MetaOnly = serde_json::from_slice(bytes)
        .map_err(|e| CoreError::Invalid(format!("{}: {e}", kind.name())))?;
    let (namespace, name) = (meta.metadata.namespace, meta.metadata.name);
    if name.is_empty() {
        return Err(CoreError::Invalid(format!(
            "{}: metadata.name is missing",
            kind.name()
        )));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| CoreError::Invalid(format!("{}: {e}", kind.name())))?;
    Ok((namespace, name, text))
}

/// The objects as the informers show them. A malformed class or slice is left out (its error
/// reported); a malformed claim is kept as its error, so pods using it say why they wait.
impl Dra {
    pub fn upsert_class(&mut self, name: &str, class: CoreResult<DeviceClass>) {
        match class {
            Ok(c) => {
                self.classes.insert(sym(name), Arc::new(c));
            }
            Err(_) => {
                self.classes.remove(&sym(name));
            }
        }
        self.classes_changed();
    }

    pub fn delete_class(&mut self, name: &str) {
        self.classes.remove(&sym(name));
        self.classes_changed();
    }

    pub fn upsert_slice(&mut self, name: &str, slice: CoreResult<Slice>) {
        self.replace_slice(name, slice.ok());
    }

    pub fn delete_slice(&mut self, name: &str) {
        self.replace_slice(name, None);
    }

    pub fn upsert_claim(&mut self, namespace: &str, name: &str, claim: CoreResult<Claim>) {
        let key = (sym(namespace), sym(name));
        let before = self.shown_allocated(&key);
        match claim {
            Ok(c) => self.update_claim(key, c),
            Err(e) => {
                self.claims.insert(key, Err(Arc::new(e)));
            }
        }
        self.claim_changed(key, before);
    }

    pub fn delete_claim(&mut self, namespace: &str, name: &str) {
        let key = (sym(namespace), sym(name));
        let before = self.shown_allocated(&key);
        if let Some(Ok(c)) = self.claims.remove(&key) {
            self.assumed.remove(c.uid.as_str());
        }
        self.claim_changed(key, before);
    }

    /// The claim at `key` as shown, when it shows an allocation (written or assumed).
    fn shown_allocated(&self, key: &ClaimKey) -> Option<Arc<Claim>> {
        match self.claims.get(key) {
            Some(Ok(c)) if c.allocation.is_some() => Some(c.clone()),
            _ => None,
        }
    }

    /// One claim changed (`before`: what it showed allocated before). A ledger already derived
    /// is kept in step (the claim's old devices given back, its new ones taken) instead of
    /// dropped: every claim podium writes comes back through the informer, and rebuilding the
    /// ledger from every claim on the next decision after each would cost the whole cluster's
    /// allocations per batch.
    fn claim_changed(&mut self, key: ClaimKey, before: Option<Arc<Claim>>) {
        self.extended_claims = Arc::default();
        let after = self.shown_allocated(&key);
        let unchanged = match (&before, &after) {
            (None, None) => true,
            (Some(b), Some(a)) => Arc::ptr_eq(b, a) || b.allocation == a.allocation,
            _ => false,
        };
        if unchanged {
            return;
        }
        // Not derived yet (or dropped with a slice change): derived from every claim on use,
        // in a cell of its own (copies share the one they were made with).
        if self.in_use.get().is_none() {
            self.in_use = Arc::default();
            return;
        }
        self.update_in_use(|in_use, inv| {
            if let Some(old) = before.as_ref().and_then(|c| c.allocation.as_ref()) {
                for d in &old.devices {
                    in_use.remove(inv, d);
                }
            }
            if let Some(new) = after.as_ref().and_then(|c| c.allocation.as_ref()) {
                for d in &new.devices {
                    in_use.add(inv, d);
                }
            }
        });
    }

    /// The end of a relist of DeviceClasses: drops those it did not see.
    pub fn retain_classes(&mut self, seen: impl Fn(&str) -> bool) {
        self.classes.retain(|k, _| seen(resolve(*k)));
        self.classes_changed();
    }

    pub fn retain_slices(&mut self, seen: impl Fn(&str) -> bool) {
        let gone: Vec<Arc<str>> = self.slices.keys().filter(|k| !seen(k)).cloned().collect();
        for k in gone {
            self.replace_slice(&k, None);
        }
        if self.listing.take().is_some() {
            self.inventory = Arc::new(Inventory::build_shared(self.slices.values().cloned()));
            self.slices_changed();
        }
    }

    /// `seen` is handed `namespace/name`.
    pub fn retain_claims(&mut self, seen: impl Fn(&str) -> bool) {
        // Claims of extended resources assumed and not created yet are podium's own.
        self.claims.retain(|(ns, n), _| {
            let name = resolve(*n);
            name.starts_with(claim::EXTENDED_CLAIM_NAME)
                || seen(&format!("{}/{name}", resolve(*ns)))
        });
        let claims = &self.claims;
        self.assumed.retain(|_, a| claims.contains_key(&a.key));
        self.allocations_changed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::dra::claim::AllocatedDevice;
    use crate::state::dra::device::DeviceKey;
    use crate::state::dra::fixtures::{
        aligned_claim, claim_json, gpu_and_nic_classes, gpu_node_slice,
    };
    use crate::state::dra::pools::DevId;

    /// As the cache applies one object of a DRA kind: its decode error, if any.
    fn apply(dra: &mut Dra, kind: Kind, json: &str, deleted: bool) -> Option<String> {
        let (namespace, name, text) = read_object(kind, json.as_bytes()).unwrap();
        match (kind, deleted) {
            (Kind::DeviceClass, false) => {
                let class = DeviceClass::decode(text).map_err(CoreError::from);
                let error = class.as_ref().err().map(ToString::to_string);
                dra.upsert_class(&name, class);
                error
            }
            (Kind::ResourceSlice, false) => {
                let slice = Slice::decode(text).map_err(CoreError::from);
                let error = slice.as_ref().err().map(ToString::to_string);
                dra.upsert_slice(&name, slice);
                error
            }
            (Kind::ResourceClaim, false) => {
                let claim = Claim::decode(text).map_err(CoreError::from);
                let error = claim.as_ref().err().map(ToString::to_string);
                dra.upsert_claim(&namespace, &name, claim);
                error
            }
            (Kind::DeviceClass, true) => {
                dra.delete_class(&name);
                None
            }
            (Kind::ResourceSlice, true) => {
                dra.delete_slice(&name);
                None
            }
            (Kind::ResourceClaim, true) => {
                dra.delete_claim(&namespace, &name);
                None
            }
            _ => panic!("{kind:?} is not a DRA kind"),
        }
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

    fn gpu(n: &str) -> AllocatedDevice {
        AllocatedDevice {
            request: sym("gpu"),
            key: DeviceKey::new("gpu.example.com", "n0", n),
            admin_access: false,
            share_id: None,
            consumed: Box::default(),
        }
    }

    fn allocation(uid: &str, devices: &[&str]) -> ClaimAllocation {
        ClaimAllocation {
            claim_uid: uid.to_owned(),
            devices: devices.iter().map(|d| gpu(d)).collect(),
            node: Some(sym("n0")),
        }
    }

    fn shown_allocated(dra: &Dra, name: &str) -> bool {
        matches!(dra.claim(sym("ns"), sym(name)), Some(Ok(c)) if c.allocation.is_some())
    }

    #[test]
    fn a_ledger_nothing_else_holds_is_changed_in_place() {
        let mut dra = Dra::default();
        apply(
            &mut dra,
            Kind::ResourceSlice,
            &gpu_node_slice("n0", 2, 1),
            false,
        );
        for name in ["c", "d"] {
            apply(
                &mut dra,
                Kind::ResourceClaim,
                &aligned_claim("ns", name, 1),
                false,
            );
        }
        let snapshot = dra.clone();
        dra.assume(sym("ns"), sym("c"), &allocation("uid-ns-c", &["gpu-0"]))
            .unwrap();
        // No copy holds the ledger now: the next assumption writes it where it is.
        let ledger = Arc::as_ptr(&dra.in_use());
        dra.assume(sym("ns"), sym("d"), &allocation("uid-ns-d", &["gpu-1"]))
            .unwrap();
        assert_eq!(Arc::as_ptr(&dra.in_use()), ledger, "not copied");
        let (gpu0, gpu1) = (0, 1);
        assert!(dra.in_use().dedicated(gpu0) && dra.in_use().dedicated(gpu1));
        let seen = snapshot.in_use();
        assert!(
            !seen.dedicated(gpu0) && !seen.dedicated(gpu1),
            "a copy keeps what it saw"
        );
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
        for name in ["c", "d"] {
            apply(
                &mut dra,
                Kind::ResourceClaim,
                &aligned_claim("ns", name, 1),
                false,
            );
        }
        let gpu1 = dra
            .inventory()
            .id(&DeviceKey::new("gpu.example.com", "n0", "gpu-1"))
            .unwrap();
        let before = dra.clone();
        dra.assume(sym("ns"), sym("c"), &allocation("uid-ns-c", &["gpu-1"]))
            .unwrap();
        assert!(dra.in_use().dedicated(gpu1));
        assert!(
            shown_allocated(&dra, "c"),
            "pods sharing the claim follow it"
        );
        assert!(!before.in_use().dedicated(gpu1), "a copy keeps what it saw");
        // The same device for another claim, or the same claim twice: refused.
        let err = dra
            .assume(sym("ns"), sym("d"), &allocation("uid-ns-d", &["gpu-1"]))
            .unwrap_err();
        assert!(err.0.contains("gpu-1"), "{err}");
        let err = dra
            .assume(sym("ns"), sym("c"), &allocation("uid-ns-c", &["gpu-0"]))
            .unwrap_err();
        assert!(err.0.contains("allocated elsewhere"), "{err}");
        // An update that does not show the allocation yet leaves the assumption standing.
        apply(
            &mut dra,
            Kind::ResourceClaim,
            &aligned_claim("ns", "c", 1),
            false,
        );
        assert!(shown_allocated(&dra, "c") && dra.in_use().dedicated(gpu1));
        dra.forget("uid-ns-c");
        assert!(!dra.in_use().dedicated(gpu1));
        assert!(
            !shown_allocated(&dra, "c"),
            "the informer's version is back"
        );
        // Written: the informer's allocation replaces the assumption, which is then done.
        dra.assume(sym("ns"), sym("c"), &allocation("uid-ns-c", &["gpu-1"]))
            .unwrap();
        let written = claim_json(
            "ns",
            "c",
            r#"[{"name":"gpu","exactly":{"deviceClassName":"gpu.example.com"}}]"#,
            "[]",
            r#"{"allocation":{"devices":{"results":[{"request":"gpu","driver":"gpu.example.com","pool":"n0","device":"gpu-1"}]}}}"#,
        );
        apply(&mut dra, Kind::ResourceClaim, &written, false);
        assert!(!dra.is_assumed("uid-ns-c"));
        assert!(dra.in_use().dedicated(gpu1));
        dra.forget("uid-ns-c");
        assert!(
            dra.in_use().dedicated(gpu1),
            "a forget after the write changes nothing"
        );
    }

    /// The ledger as derived afresh from every claim (what `in_use` held before claims were
    /// kept in step).
    fn fresh_in_use(dra: &Dra) -> Arc<InUse> {
        let mut copy = dra.clone();
        copy.in_use = Arc::default();
        copy.in_use()
    }

    fn written(name: &str, devices: &[usize]) -> String {
        let results: Vec<String> = devices
            .iter()
            .map(|i| {
                format!(
                    r#"{{"request":"gpu","driver":"gpu.example.com","pool":"n0","device":"gpu-{i}"}}"#
                )
            })
            .collect();
        claim_json(
            "ns",
            name,
            r#"[{"name":"gpu","exactly":{"deviceClassName":"gpu.example.com"}}]"#,
            "[]",
            &format!(
                r#"{{"allocation":{{"devices":{{"results":[{}]}}}}}}"#,
                results.join(",")
            ),
        )
    }

    #[test]
    fn the_ledger_kept_in_step_with_claims_equals_one_derived_afresh() {
        // Random claim events (written allocations, unallocated versions, deletions, malformed
        // versions) mixed with assumptions and forgets, the ledger derived before each so it is
        // kept in step: after each, it must count what a fresh derivation counts.
        let mut dra = Dra::default();
        apply(
            &mut dra,
            Kind::ResourceSlice,
            &gpu_node_slice("n0", 8, 4),
            false,
        );
        let names = ["a", "b", "c", "d", "e"];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for step in 0..2_000 {
            let _ = dra.in_use();
            let name = names[next(names.len())];
            let (d0, d1) = (next(8), next(8));
            match next(7) {
                0 | 1 => {
                    apply(
                        &mut dra,
                        Kind::ResourceClaim,
                        &written(name, &[d0, d1]),
                        false,
                    );
                }
                2 => {
                    apply(
                        &mut dra,
                        Kind::ResourceClaim,
                        &aligned_claim("ns", name, 1),
                        false,
                    );
                }
                3 => {
                    apply(
                        &mut dra,
                        Kind::ResourceClaim,
                        &aligned_claim("ns", name, 1),
                        true,
                    );
                }
                4 => {
                    let bad = claim_json("ns", name, r#"[{"name":"g"}]"#, "[]", "{}");
                    apply(&mut dra, Kind::ResourceClaim, &bad, false);
                }
                5 => {
                    let uid = format!("uid-ns-{name}");
                    let _ = dra.assume(
                        sym("ns"),
                        sym(name),
                        &allocation(&uid, &[&format!("gpu-{d0}")]),
                    );
                }
                _ => dra.forget(&format!("uid-ns-{name}")),
            }
            let (kept, fresh) = (dra.in_use(), fresh_in_use(&dra));
            for dev in 0..dra.inventory().id_bound() as DevId {
                assert_eq!(
                    (kept.dedicated(dev), kept.shared(dev)),
                    (fresh.dedicated(dev), fresh.shared(dev)),
                    "step {step}: device {dev}"
                );
            }
        }
    }

    /// A slice of pool `pool` of driver `gpu.example.com`: devices `gpu-i` for `devices`, of
    /// model `model`, on `node` (None: on every node).
    #[allow(clippy::too_many_arguments)]
    fn pool_slice(
        name: &str,
        pool: &str,
        node: Option<&str>,
        generation: i64,
        count: i64,
        devices: &[usize],
        model: &str,
    ) -> String {
        let devs: Vec<String> = devices
            .iter()
            .map(|i| {
                format!(
                    r#"{{"name":"gpu-{i}","attributes":{{"model":{{"string":"{model}"}},"index":{{"int":{i}}}}}}}"#
                )
            })
            .collect();
        let scope = match node {
            Some(n) => format!(r#""nodeName":"{n}""#),
            None => r#""allNodes":true"#.to_owned(),
        };
        format!(
            r#"{{"metadata":{{"name":"{name}"}},"spec":{{"driver":"gpu.example.com",
                "pool":{{"name":"{pool}","generation":{generation},"resourceSliceCount":{count}}},
                {scope},"devices":[{}]}}}}"#,
            devs.join(",")
        )
    }

    #[test]
    fn the_inventory_kept_in_step_with_slices_equals_one_built_afresh() {
        // Random slice events (adds, updates with newer or older generations, moves to another
        // pool or node, incomplete and invalid pools, malformed versions, deletes, relists) and
        // class changes: after each, the inventory kept in step must say what one built afresh
        // from the slices says.
        let mut dra = Dra::default();
        let (pools, nodes) = (["p0", "p1", "p2", "p3"], ["n0", "n1", "n2"]);
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut ids_kept = 0;
        for step in 0..3_000 {
            let name = format!("s{}", next(8));
            match next(10) {
                0..=5 => {
                    let pool = pools[next(pools.len())];
                    let node = (next(6) != 0).then(|| nodes[next(nodes.len())]);
                    let devices: Vec<usize> = (0..next(5)).map(|_| next(6)).collect();
                    let model = ["a", "b"][usize::from(next(5) == 0)];
                    let slice = pool_slice(
                        &name,
                        pool,
                        node,
                        1 + next(3) as i64,
                        1 + next(2) as i64,
                        &devices,
                        model,
                    );
                    let before = dra.inventory();
                    apply(&mut dra, Kind::ResourceSlice, &slice, false);
                    let after = dra.inventory();
                    // Devices republished alike keep their ids; a changed one never takes an
                    // id that meant another device (verdicts by id would be stale).
                    for d in 0..6 {
                        let key = DeviceKey::new("gpu.example.com", pool, &format!("gpu-{d}"));
                        let (Some(a), Some(b)) = (before.id(&key), after.id(&key)) else {
                            continue;
                        };
                        if before.device(a) == after.device(b) {
                            ids_kept += 1;
                            assert_eq!(a, b, "step {step}: {key} republished alike");
                        } else {
                            assert!(
                                (b as usize) >= before.id_bound(),
                                "step {step}: {key} changed, a fresh id"
                            );
                        }
                    }
                }
                6 => {
                    apply(
                        &mut dra,
                        Kind::ResourceSlice,
                        &pool_slice(&name, "p0", None, 1, 1, &[], "a"),
                        true,
                    );
                }
                7 => {
                    let bad =
                        format!(r#"{{"metadata":{{"name":"{name}"}},"spec":{{"driver":"d"}}}}"#);
                    apply(&mut dra, Kind::ResourceSlice, &bad, false);
                }
                8 => {
                    let keep = next(8);
                    dra.retain_slices(|s| s != format!("s{keep}"));
                }
                _ => {
                    let [gpu, _] = gpu_and_nic_classes();
                    apply(&mut dra, Kind::DeviceClass, &gpu, next(2) == 0);
                }
            }
            let fresh = Inventory::build(dra.slices.values().map(|s| &**s));
            assert_eq!(
                dra.inventory().canonical(),
                fresh.canonical(),
                "step {step}"
            );
        }
        assert!(ids_kept > 100, "republished alike {ids_kept} times");
    }

    #[test]
    fn the_first_list_of_slices_builds_the_inventory_once_at_its_end() {
        let mut dra = Dra::default();
        dra.begin_slice_list();
        for n in ["n0", "n1"] {
            apply(
                &mut dra,
                Kind::ResourceSlice,
                &gpu_node_slice(n, 8, 4),
                false,
            );
        }
        assert!(dra.listing.is_some(), "not kept in step while listing");
        assert_eq!(dra.inventory().len(), 16, "built on demand meanwhile");
        apply(
            &mut dra,
            Kind::ResourceSlice,
            &gpu_node_slice("n2", 8, 4),
            false,
        );
        assert_eq!(dra.inventory().len(), 24, "and again after a change");
        dra.retain_slices(|_| true);
        assert!(dra.listing.is_none());
        let fresh = Inventory::build(dra.slices.values().map(|s| &**s));
        assert_eq!(dra.inventory().canonical(), fresh.canonical());
        // Kept in step from then on; a later relist is applied slice by slice.
        dra.begin_slice_list();
        assert!(dra.listing.is_none());
        apply(
            &mut dra,
            Kind::ResourceSlice,
            &gpu_node_slice("n0", 8, 4),
            true,
        );
        assert_eq!(dra.inventory().len(), 16);
    }

    #[test]
    fn malformed_claims_are_kept_with_their_reason_and_relists_drop_the_unseen() {
        let mut dra = Dra::default();
        let bad = claim_json("ns", "bad", r#"[{"name":"g"}]"#, "[]", "{}");
        let err = apply(&mut dra, Kind::ResourceClaim, &bad, false).unwrap();
        assert!(err.contains("exactly one of"), "{err}");
        assert!(matches!(dra.claim(sym("ns"), sym("bad")), Some(Err(_))));
        let slice = gpu_node_slice("n0", 2, 1);
        apply(&mut dra, Kind::ResourceSlice, &slice, false);
        let (_, seen, _) = read_object(Kind::ResourceSlice, slice.as_bytes()).unwrap();
        apply(
            &mut dra,
            Kind::ResourceSlice,
            &gpu_node_slice("n1", 2, 1),
            false,
        );
        dra.retain_slices(|name| name == seen);
        assert_eq!(dra.inventory().len(), 2, "n1's slice was not relisted");
        dra.retain_claims(|_| false);
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
