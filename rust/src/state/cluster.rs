//! `ClusterState`: the scheduler's cache, fed by list pages and watch lines.
//!
//! Nodes live in slots of a persistent vector and pending pods in a persistent map, so taking a
//! snapshot is O(1) and each change costs O(log n) plus a copy of the one node it touches.
//!
//! Where a pod counts: on `spec.nodeName` when the apiserver says it is bound (by anyone);
//! otherwise on the node podium assumed it to; nowhere once it is Succeeded or Failed. The watch
//! always wins over an assumption: a pod reported on its assumed node is confirmed (counted once),
//! one reported elsewhere moves there.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use crate::error::{CoreError, CoreResult};
use crate::intern::{Sym, lookup, resolve, sym};
use crate::state::disruption::Budgets;
use crate::state::dra::Dra;
use crate::state::dra::claim::ClaimReservation;
use crate::state::dra::pod_claims::PodClaimSource;
use crate::state::event_type::EventType;
use crate::state::kind::Kind;
use crate::state::namespaces::Namespaces;
use crate::state::node::NodeRecord;
use crate::state::node_info::NodeInfo;
use crate::state::object::decode;
use crate::state::pod::PodRecord;
use crate::state::pod_group::PodGroupRecord;
use crate::state::pod_groups::{GroupKey, PodGroups};
use crate::state::pod_index::PodIndex;
use crate::state::priority::PriorityClasses;
use crate::state::quota::FairShare;
use crate::state::resources::Resources;
use crate::state::snapshot::{NodeSlots, PendingPods, Snapshot};
use crate::state::topology::Nrt;
use crate::state::volume_binder::{self, ClaimBinding};
use crate::state::volumes::{self, Volumes};
use crate::state::wire::{BookmarkWire, EventWire, ListWire, StatusWire};
use crate::topology::Allocation;

mod dra_stores;
mod node_stores;
mod object_stores;
mod pod_store;
mod store;
mod volume_stores;

use self::dra_stores::{Claims, DeviceClasses, DraStore, Slices};
use self::node_stores::{NodeStore, TopologyStore};
use self::object_stores::{
    BudgetStore, GroupStore, NamespaceStore, PriorityClassStore, QuotaStore,
};
use self::pod_store::PodStore;
use self::store::KindStore;
use self::volume_stores::{PvStore, PvcStore, StorageClassStore};

/// What one list page said.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListOutcome {
    pub resource_version: String,
    pub continue_token: Option<String>,
    pub items: usize,
    pub errors: Vec<String>,
    /// (namespace, name, uid, error) of the pods on a node among `errors`: they count on their
    /// node whatever podium could not read of them, and their owners are told (a watch
    /// reports the same through `ChangeOutcome`).
    pub bound_pod_errors: Vec<(String, String, String, String)>,
}

/// What one watch line did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeOutcome {
    pub event: EventType,
    pub kind: Option<Kind>,
    pub resource_version: String,
    pub status_code: Option<i64>,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub scheduler_name: String,
    pub node_name: Option<String>,
    pub priority: i32,
    pub created: f64,
    pub terminal: bool,
    pub gated: bool,
    pub pod_group: Option<String>,
    pub error: Option<String>,
    /// False for a node update that changes nothing scheduling reads (a heartbeat), or a pod
    /// update that changes nothing the record keeps (a status condition).
    pub relevant: bool,
}

/// A pod podium should schedule, as the queue needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingInfo {
    pub uid: String,
    pub namespace: String,
    pub name: String,
    pub scheduler_name: String,
    pub priority: i32,
    pub created: f64,
    pub pod_group: Option<String>,
    /// What it asks (the fair-share order charges its quota with it).
    pub requests: Resources,
    /// A claim of it comes from a template the controller-manager has not made a claim of yet,
    /// or a claim it names has not reached the cache yet (kube's DynamicResources PreEnqueue
    /// keeps such a pod waiting, without backoff, until the pod or the claim shows up).
    pub claims_pending: bool,
}

impl PendingInfo {
    fn of(p: &PodRecord, dra: &Dra) -> Self {
        Self {
            uid: p.uid.to_string(),
            namespace: p.namespace().to_owned(),
            name: p.name.to_string(),
            scheduler_name: resolve(p.scheduler_name).to_owned(),
            priority: p.priority,
            created: p.created,
            pod_group: p.pod_group.map(|g| resolve(g).to_owned()),
            requests: p.requests.clone(),
            claims_pending: p.resource_claims.iter().any(|c| match c.source {
                PodClaimSource::NotCreatedYet => true,
                PodClaimSource::Claim(name) => dra.claim(p.namespace, name).is_none(),
                PodClaimSource::NotNeeded => false,
            }),
        }
    }
}

/// A pod labelled with a PodGroup, as the group's status reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupMember {
    pub uid: String,
    pub name: String,
    /// Where it counts (bound or assumed); None while pending or once finished.
    pub node: Option<String>,
    pub assumed: bool,
    pub running: bool,
    pub terminal: bool,
    pub owner: Option<String>,
}

struct PodEntry {
    record: Arc<PodRecord>,
    /// Podium chose this node and the bind has not been reported yet.
    assumed_on: Option<Sym>,
    /// The `podium.dev/allocation` chosen with the assumption.
    allocation: Option<Box<str>>,
    /// Where the pod currently counts.
    placed_on: Option<Sym>,
    /// The node a preemption made room on, as podium decided it: held for the pod before the
    /// apiserver echoes `status.nominatedNodeName` back.
    nominated_on: Option<Sym>,
}

impl PodEntry {
    fn placement(&self) -> Option<Sym> {
        if self.record.terminal {
            return None;
        }
        self.record.node_name.or(self.assumed_on)
    }
}

pub struct ClusterState {
    scheduler_names: Vec<Sym>,
    generation: u64,
    nodes: NodeSlots,
    free_slots: Vec<usize>,
    slot_by_name: HashMap<Sym, usize>,
    node_count: usize,
    pods: HashMap<Arc<str>, PodEntry>,
    pending: PendingPods,
    /// The pending pods with a nominated node: nodes held for them (see `nominate`).
    nominated: PendingPods,
    /// Keys (node names, pod uids) seen since `begin_relist`, per kind being relisted.
    relisting: HashMap<Kind, HashSet<Box<str>>>,
    /// Namespace labels (pod affinity's namespaceSelector).
    namespaces: Namespaces,
    /// PVs, PVCs, StorageClasses and the PVs assumed pods count on.
    volumes: Volumes,
    /// DeviceClasses, ResourceSlices, ResourceClaims and the claim allocations podium assumed.
    dra: Dra,
    /// The claims each assumed pod allocated (by claim uid), forgotten with the pod.
    claims_assumed: HashMap<Arc<str>, Vec<String>>,
    /// NodeResourceTopology objects by node name; kept apart from the slots because they may
    /// arrive before their node and outlive its deletion.
    topologies: HashMap<Sym, Nrt>,
    /// PodGroups and the pods labelled with each.
    groups: PodGroups,
    priorities: PriorityClasses,
    budgets: Budgets,
    /// The placed pods by label, in step with `nodes`.
    index: PodIndex,
    /// What the nodes offer together (`status.allocatable`): the fair-share order's denominators.
    capacity: Resources,
}

impl ClusterState {
    pub fn new<S: AsRef<str>>(scheduler_names: &[S]) -> Self {
        Self {
            scheduler_names: scheduler_names.iter().map(|s| sym(s.as_ref())).collect(),
            generation: 0,
            nodes: NodeSlots::new(),
            free_slots: Vec::new(),
            slot_by_name: HashMap::new(),
            node_count: 0,
            pods: HashMap::new(),
            pending: PendingPods::new(),
            nominated: PendingPods::new(),
            relisting: HashMap::new(),
            namespaces: Namespaces::default(),
            volumes: Volumes::default(),
            dra: Dra::default(),
            claims_assumed: HashMap::new(),
            topologies: HashMap::new(),
            groups: PodGroups::default(),
            priorities: PriorityClasses::default(),
            budgets: Budgets::default(),
            index: PodIndex::default(),
            capacity: Resources::default(),
        }
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn node_count(&self) -> usize {
        self.node_count
    }

    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot::new(
            self.generation,
            self.node_count,
            self.nodes.clone(),
            self.pending.clone(),
        )
        .with_namespaces(self.namespaces.clone())
        .with_volumes(self.volumes.clone())
        .with_dra(self.dra.clone())
        .with_preemption_objects(
            self.priorities
                .clone()
                .with_groups(self.groups.priorities()),
            self.budgets.clone(),
            self.nominated.clone(),
        )
        .with_index(self.index.clone())
        .with_disrupted_singly(self.groups.disrupted_singly())
    }

    // -----------------------------------------------------------------------------------------
    // Lists and watches

    pub fn apply_list(&mut self, kind: Kind, body: &[u8]) -> CoreResult<ListOutcome> {
        let list: ListWire<'_> =
            decode(body).map_err(|e| e.in_object(&format!("{}List", kind.name())))?;
        let meta = list.metadata.as_ref();
        let mut out = ListOutcome {
            resource_version: meta
                .and_then(|m| m.resource_version.as_deref())
                .unwrap_or_default()
                .to_owned(),
            continue_token: meta
                .and_then(|m| m.continue_token.as_deref())
                .filter(|c| !c.is_empty())
                .map(str::to_owned),
            ..ListOutcome::default()
        };
        for item in list.items.iter().flatten() {
            out.items += 1;
            let change = self.apply_object(kind, EventType::Added, item.get().as_bytes());
            if let Some(e) = change.error {
                if kind == Kind::Pod && change.node_name.is_some() {
                    out.bound_pod_errors.push((
                        change.namespace,
                        change.name,
                        change.uid,
                        e.clone(),
                    ));
                }
                out.errors.push(e);
            }
        }
        Ok(out)
    }

    pub fn begin_relist(&mut self, kind: Kind) {
        if kind == Kind::ResourceSlice {
            self.dra.begin_slice_list();
        }
        self.relisting.insert(kind, HashSet::new());
    }

    /// Drops what the relist did not see; returns the uids of pending pods that vanished.
    pub fn end_relist(&mut self, kind: Kind) -> Vec<String> {
        let Some(seen) = self.relisting.remove(&kind) else {
            return Vec::new();
        };
        store(kind).end_relist(self, &seen)
    }

    pub fn apply_event(&mut self, kind: Kind, line: &[u8]) -> CoreResult<ChangeOutcome> {
        let event: EventWire<'_> = decode(line).map_err(|e| e.in_object("watch event"))?;
        let object = event.object.get().as_bytes();
        let Some(event_type) = EventType::parse(&event.event_type) else {
            return Err(CoreError::Invalid(format!(
                "watch event: type: unknown event type {:?}",
                &*event.event_type
            )));
        };
        match event_type {
            EventType::Added | EventType::Modified | EventType::Deleted => {
                Ok(self.apply_object(kind, event_type, object))
            }
            EventType::Bookmark => {
                let b: BookmarkWire<'_> =
                    decode(object).map_err(|e| e.under("object").in_object("BOOKMARK event"))?;
                Ok(ChangeOutcome {
                    event: EventType::Bookmark,
                    kind: Some(kind),
                    resource_version: b
                        .metadata
                        .and_then(|m| m.resource_version)
                        .unwrap_or_default()
                        .into_owned(),
                    ..ChangeOutcome::default()
                })
            }
            EventType::Error => {
                let s: StatusWire<'_> =
                    decode(object).map_err(|e| e.under("object").in_object("ERROR event"))?;
                Ok(ChangeOutcome {
                    event: EventType::Error,
                    kind: Some(kind),
                    status_code: s.code,
                    error: Some(format!(
                        "{}: {}",
                        s.reason.as_deref().unwrap_or("Error"),
                        s.message.as_deref().unwrap_or_default()
                    )),
                    ..ChangeOutcome::default()
                })
            }
        }
    }

    fn apply_object(&mut self, kind: Kind, event: EventType, bytes: &[u8]) -> ChangeOutcome {
        let mut out = ChangeOutcome {
            event,
            kind: Some(kind),
            relevant: true,
            ..ChangeOutcome::default()
        };
        store(kind).apply(self, event == EventType::Deleted, bytes, &mut out);
        out
    }

    // -----------------------------------------------------------------------------------------
    // Nodes

    fn slot_for(&mut self, name: Sym) -> usize {
        if let Some(&slot) = self.slot_by_name.get(&name) {
            return slot;
        }
        let info = Some(Arc::new(NodeInfo::default()));
        let slot = if let Some(slot) = self.free_slots.pop() {
            self.nodes.set(slot, info);
            slot
        } else {
            self.nodes.push_back(info);
            self.nodes.len() - 1
        };
        self.slot_by_name.insert(name, slot);
        slot
    }

    fn node_mut(&mut self, slot: usize) -> &mut NodeInfo {
        let entry = self.nodes.get_mut(slot).expect("slot in range");
        Arc::make_mut(entry.get_or_insert_with(Default::default))
    }

    /// Returns whether the update matters to scheduling (a new node, or changed fields).
    fn upsert_node(&mut self, node: NodeRecord) -> bool {
        let slot = self.slot_for(node.name);
        let unchanged = self.nodes[slot]
            .as_ref()
            .and_then(|info| info.node.as_ref())
            .is_some_and(|old| old.schedules_like(&node));
        let nrt = self.topologies.get(&node.name).cloned();
        let old = self.nodes[slot].as_ref().and_then(|i| i.node.clone());
        self.index.replace_node(old.as_deref(), Some(&node));
        if let Some(old) = &old {
            self.capacity.sub(&old.allocatable);
        }
        self.capacity.add(&node.allocatable);
        let info = self.node_mut(slot);
        let was_real = info.node.is_some();
        if !was_real {
            info.numa.nrt = nrt;
        }
        info.node = Some(Arc::new(node));
        if !was_real {
            self.node_count += 1;
        }
        self.generation += 1;
        !unchanged
    }

    fn delete_node(&mut self, name: Sym) {
        let Some(&slot) = self.slot_by_name.get(&name) else {
            return;
        };
        let info = self.node_mut(slot);
        let old = info.node.take();
        let was_real = old.is_some();
        if let Some(old) = &old {
            self.capacity.sub(&old.allocatable);
        }
        self.index.replace_node(old.as_deref(), None);
        let info = self.node_mut(slot);
        let empty = info.pods.is_empty();
        if was_real {
            self.node_count -= 1;
        }
        if empty {
            self.release_slot(name, slot);
        }
        self.generation += 1;
    }

    fn release_slot(&mut self, name: Sym, slot: usize) {
        self.nodes.set(slot, None);
        self.slot_by_name.remove(&name);
        self.free_slots.push(slot);
    }

    // -----------------------------------------------------------------------------------------
    // Pods

    fn is_ours(&self, pod: &PodRecord) -> bool {
        self.scheduler_names.contains(&pod.scheduler_name)
    }

    fn is_pending(&self, entry: &PodEntry) -> bool {
        let p = &entry.record;
        entry.placed_on.is_none() && !p.terminal && !p.deleting && !p.gated && self.is_ours(p)
    }

    fn place(&mut self, entry: &PodEntry) {
        if let Some(node) = entry.placed_on {
            self.namespaces
                .quotas
                .add(entry.record.namespace, &entry.record.requests);
            let slot = self.slot_for(node);
            self.node_mut(slot).add_pod(entry.record.clone());
            self.index.add(slot, &entry.record);
        }
    }

    fn unplace(&mut self, entry: &PodEntry) {
        let Some(node) = entry.placed_on else {
            return;
        };
        self.namespaces
            .quotas
            .sub(entry.record.namespace, &entry.record.requests);
        let Some(&slot) = self.slot_by_name.get(&node) else {
            return;
        };
        let info = self.node_mut(slot);
        if info.remove_pod(&entry.record.uid) {
            self.index.remove(&entry.record);
        }
        let info = self.node_mut(slot);
        if info.node.is_none() && info.pods.is_empty() {
            self.release_slot(node, slot);
        }
    }

    /// Replaces the entry for `uid` (or removes it), keeping node usage and the pending set
    /// consistent.
    fn replace_entry(&mut self, uid: &Arc<str>, new: Option<PodEntry>) {
        let mut was_on = None;
        let mut was_in = None;
        if let Some(old) = self.pods.remove(uid) {
            self.unplace(&old);
            self.pending.remove(uid);
            self.nominated.remove(uid);
            was_on = old.placed_on;
            was_in = group_of(&old.record);
        }
        let now_in = new.as_ref().and_then(|e| group_of(&e.record));
        self.groups.track(uid, was_in, now_in);
        let now_on = new.as_ref().and_then(PodEntry::placement);
        if let Some(node) = was_on.filter(|&n| Some(n) != now_on)
            && let Some(&slot) = self.slot_by_name.get(&node)
        {
            self.node_mut(slot).numa.untrack(uid);
        }
        if let Some(mut entry) = new {
            entry.placed_on = entry.placement();
            self.place(&entry);
            self.track_allocation(uid, &entry);
            if self.is_pending(&entry) {
                let record = match entry.nominated_on {
                    Some(node) if entry.record.nominated_node != Some(node) => {
                        let mut nominated = (*entry.record).clone();
                        nominated.nominated_node = Some(node);
                        Arc::new(nominated)
                    }
                    _ => entry.record.clone(),
                };
                if record.nominated_node.is_some() {
                    self.nominated.insert(uid.clone(), record.clone());
                }
                self.pending.insert(uid.clone(), record);
            }
            self.pods.insert(uid.clone(), entry);
        }
        self.generation += 1;
    }

    /// Keeps the NUMA ledger of the pod's node in step with the pod: what podium assumed, or
    /// the allocation annotation of a bound pod (so a restart counts it again).
    fn track_allocation(&mut self, uid: &Arc<str>, entry: &PodEntry) {
        let Some(node) = entry.placed_on else {
            return;
        };
        let assumed = entry.allocation.as_deref().and_then(|text| {
            Allocation::from_annotation(&entry.record.object().to_string(), text).ok()
        });
        let allocation = assumed.as_ref().or(entry.record.allocation.as_deref());
        let running = entry.record.running;
        let slot = self.slot_for(node);
        self.node_mut(slot).numa.track(uid, allocation, running);
    }

    fn set_topology(&mut self, name: Sym, nrt: Option<Nrt>) {
        match &nrt {
            Some(nrt) => self.topologies.insert(name, nrt.clone()),
            None => self.topologies.remove(&name),
        };
        if let Some(&slot) = self.slot_by_name.get(&name) {
            self.node_mut(slot).numa.set_nrt(nrt);
        }
        self.generation += 1;
    }

    /// Keeps `pod`; returns whether it changed anything but its resourceVersion (kube's
    /// `isPodUpdated`: a condition podium wrote on a pod it could not place is no reason to
    /// try it again).
    fn upsert_pod(&mut self, mut pod: PodRecord) -> bool {
        let uid: Arc<str> = pod.uid.clone();
        let changed = match self.pods.get(&uid) {
            None => true,
            Some(old) => {
                let version = std::mem::replace(
                    &mut pod.resource_version,
                    old.record.resource_version.clone(),
                );
                let same = *old.record == pod;
                pod.resource_version = version;
                !same
            }
        };
        let (mut assumed_on, mut allocation, mut nominated_on) = self
            .pods
            .get(&uid)
            .map(|e| (e.assumed_on, e.allocation.clone(), e.nominated_on))
            .unwrap_or_default();
        if pod.node_name.is_some() || pod.terminal {
            // Bound (where podium chose: confirmed; elsewhere: the watch wins) or finished.
            if pod.node_name.is_some() && pod.node_name == assumed_on {
                // PreBind wrote the claims before the Binding: the informer shows them soon.
                self.claims_assumed.remove(&uid);
            } else {
                self.forget_claims(&uid);
            }
            assumed_on = None;
            allocation = None;
            nominated_on = None;
        }
        let entry = PodEntry {
            record: Arc::new(pod),
            assumed_on,
            allocation,
            placed_on: None,
            nominated_on,
        };
        self.replace_entry(&uid, Some(entry));
        changed
    }

    fn delete_pod(&mut self, uid: &str) {
        self.volumes.release(uid);
        self.forget_claims(uid);
        if let Some(key) = self.pods.get_key_value(uid).map(|(k, _)| k.clone()) {
            self.replace_entry(&key, None);
        }
    }

    pub fn pending(&self) -> Vec<PendingInfo> {
        self.pending
            .values()
            .map(|p| PendingInfo::of(p, &self.dra))
            .collect()
    }

    /// The fair-share order's view (DRF over the quotas' ledger and the nodes' capacity), None
    /// without quotas: the queue then keeps kube's order.
    pub fn fair_share(&self) -> Option<FairShare> {
        let quotas = &self.namespaces.quotas;
        (!quotas.is_empty()).then(|| FairShare::new(quotas.clone(), &self.capacity))
    }

    /// The pending pods that name the claim `namespace/name` (directly, or as made from their
    /// template): when it reaches the cache, those waiting for it go on at once (kube's
    /// queueing hint for a claim added).
    pub fn pending_naming_claim(&self, namespace: &str, name: &str) -> Vec<String> {
        let (Some(namespace), Some(name)) = (lookup(namespace), lookup(name)) else {
            return Vec::new();
        };
        self.pending
            .values()
            .filter(|p| {
                p.namespace == namespace
                    && p.resource_claims
                        .iter()
                        .any(|c| c.source == PodClaimSource::Claim(name))
            })
            .map(|p| p.uid.to_string())
            .collect()
    }

    pub fn pending_pod(&self, uid: &str) -> Option<PendingInfo> {
        self.pending.get(uid).map(|p| PendingInfo::of(p, &self.dra))
    }

    // -----------------------------------------------------------------------------------------
    // Assume / forget

    pub fn assume(&mut self, uid: &str, node: &str, allocation: Option<&str>) -> CoreResult<()> {
        self.assume_with_volumes(uid, node, allocation, None, &[])
    }

    /// As `assume`; `volumes` (the decision's claim bindings) are the PVs the pod takes, checked
    /// free for their claims and reserved for it. None: found again here, as the filter would.
    /// `claims` (the decision's claim reservations): the ResourceClaim allocations it made,
    /// assumed until the informer shows them written (checked still possible: the claim
    /// unallocated, its devices free).
    pub fn assume_with_volumes(
        &mut self,
        uid: &str,
        node: &str,
        allocation: Option<&str>,
        volumes: Option<&[ClaimBinding]>,
        claims: &[ClaimReservation],
    ) -> CoreResult<()> {
        let Some((key, entry)) = self.pods.get_key_value(uid) else {
            return Err(CoreError::Invalid(format!(
                "assume: unknown pod uid {uid:?}"
            )));
        };
        let node_sym = lookup(node)
            .filter(|n| {
                self.slot_by_name
                    .get(n)
                    .is_some_and(|&s| self.nodes[s].as_ref().is_some_and(|i| i.node.is_some()))
            })
            .ok_or_else(|| {
                CoreError::Invalid(format!(
                    "assume: {}: unknown node {node:?}",
                    entry.record.object()
                ))
            })?;
        if let Some(bound) = entry.record.node_name {
            if bound == node_sym {
                return Ok(());
            }
            return Err(CoreError::Invalid(format!(
                "assume: {}: already bound to node {:?}",
                entry.record.object(),
                resolve(bound)
            )));
        }
        if entry.record.terminal {
            return Err(CoreError::Invalid(format!(
                "assume: {}: pod has finished",
                entry.record.object()
            )));
        }
        let key = key.clone();
        let new = PodEntry {
            record: entry.record.clone(),
            assumed_on: Some(node_sym),
            allocation: allocation.map(Into::into),
            placed_on: None,
            nominated_on: entry.nominated_on,
        };
        let record = new.record.clone();
        // The free PVs this pod counts on stay reserved for it until their claimRef shows (the
        // PreBind writes it), so no other pod counts on them meanwhile.
        self.volumes.release(uid);
        let taken = match volumes {
            Some(bindings) => {
                let taken = ClaimBinding::taken(bindings);
                if let Some((pv, claim)) = taken.iter().find(|(pv, claim)| {
                    let free = self.volumes.pvs.get(pv).zip(self.volumes.pvcs.get(claim));
                    !free.is_some_and(|(pv, claim)| self.volumes.is_free_for(pv, claim))
                }) {
                    return Err(CoreError::Invalid(format!(
                        "assume: {}: PersistentVolume {:?} is no longer free for claim {}/{}",
                        record.object(),
                        resolve(*pv),
                        resolve(claim.0),
                        resolve(claim.1)
                    )));
                }
                taken
            }
            None => self
                .slot_by_name
                .get(&node_sym)
                .and_then(|&s| self.nodes[s].as_ref().and_then(|i| i.node.clone()))
                .map(|node_record| {
                    volume_binder::volumes_taken(&self.volumes, &record, &node_record)
                })
                .unwrap_or_default(),
        };
        self.forget_claims(uid);
        let namespace = record.namespace;
        let mut allocated: Vec<String> = Vec::new();
        for c in claims {
            if c.allocation.is_none() {
                continue;
            }
            if let Err(e) = self.dra.assume_reservation(namespace, c) {
                for done in &allocated {
                    self.dra.forget(done);
                }
                return Err(CoreError::Invalid(format!(
                    "assume: {}: {e}",
                    record.object()
                )));
            }
            allocated.push(c.uid.clone());
        }
        if !allocated.is_empty() {
            self.claims_assumed.insert(key.clone(), allocated);
        }
        self.replace_entry(&key, Some(new));
        self.volumes.reserve(&key, &taken);
        Ok(())
    }

    /// PreBind wrote one of the pod's claim allocations: it stands (shown allocated) until the
    /// informer shows it, whatever becomes of the pod (kube's AssumeClaimAfterAPICall).
    pub fn claim_written(&mut self, uid: &str, claim_uid: &str) {
        if let Some(claims) = self.claims_assumed.get_mut(uid) {
            claims.retain(|c| c != claim_uid);
            if claims.is_empty() {
                self.claims_assumed.remove(uid);
            }
        }
    }

    /// PreBind created the claim for the pod's extended resources that its assumption shows
    /// under `assumed_uid`: from now on it is the claim `name` (uid `claim_uid`).
    pub fn extended_claim_created(
        &mut self,
        uid: &str,
        assumed_uid: &str,
        name: &str,
        claim_uid: &str,
    ) {
        self.dra
            .extended_claim_created(assumed_uid, name, claim_uid);
        if let Some(claims) = self.claims_assumed.get_mut(uid) {
            for c in claims.iter_mut() {
                if c == assumed_uid {
                    claim_uid.clone_into(c);
                }
            }
        }
    }

    /// The claim (name, uid) a scheduler made for the extended resources of the pod `uid` in
    /// an earlier attempt, while the informer shows it: DynamicResources' PostFilter deletes it
    /// (its devices stay taken while it exists), as does PreBind before a new one is written.
    pub fn extended_claim_of(&self, uid: &str) -> Option<(String, String)> {
        let claim = self.dra.extended_claim_of(uid)?.as_ref().ok()?;
        Some((claim.name.clone(), claim.uid.clone()))
    }

    /// Unreserve for DynamicResources: the claim allocations the pod's assumption made.
    fn forget_claims(&mut self, uid: &str) {
        for claim in self.claims_assumed.remove(uid).unwrap_or_default() {
            self.dra.forget(&claim);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Volumes, as PreBind checks them

    pub fn claim(&self, namespace: &str, name: &str) -> Option<Arc<volumes::PvcRecord>> {
        self.volumes.pvc(lookup(namespace)?, lookup(name)?).cloned()
    }

    pub fn volume(&self, name: &str) -> Option<Arc<volumes::PvRecord>> {
        self.volumes.pvs.get(&lookup(name)?).cloned()
    }

    /// Whether PV `volume` can be reached from `node` (its nodeAffinity); None when either is
    /// not cached.
    pub fn volume_fits_node(&self, volume: &str, node: &str) -> Option<bool> {
        let pv = self.volumes.pvs.get(&lookup(volume)?)?;
        let node_sym = lookup(node)?;
        let slot = *self.slot_by_name.get(&node_sym)?;
        let record = self.nodes[slot].as_ref()?.node.as_ref()?;
        Some(pv.fits_node(record.name, &record.labels))
    }

    pub fn forget(&mut self, uid: &str) {
        let Some((key, entry)) = self.pods.get_key_value(uid) else {
            return;
        };
        if entry.assumed_on.is_none() {
            return;
        }
        let key = key.clone();
        self.volumes.release(uid);
        let new = PodEntry {
            record: entry.record.clone(),
            assumed_on: None,
            allocation: None,
            placed_on: None,
            nominated_on: entry.nominated_on,
        };
        self.forget_claims(uid);
        self.replace_entry(&key, Some(new));
    }

    // -----------------------------------------------------------------------------------------
    // PodGroups

    /// Namespace labels, ElasticQuotas and what each namespace's placed pods use.
    pub fn namespaces(&self) -> &Namespaces {
        &self.namespaces
    }

    /// The DRA objects and assumed claim allocations.
    pub fn dra(&self) -> &Dra {
        &self.dra
    }

    pub fn pod_group(&self, namespace: &str, name: &str) -> Option<Arc<PodGroupRecord>> {
        let key = (lookup(namespace)?, lookup(name)?);
        self.groups.get(key).cloned()
    }

    pub fn pod_groups(&self) -> Vec<Arc<PodGroupRecord>> {
        self.groups.all().cloned().collect()
    }

    /// The pods labelled with the group `namespace/name`, sorted by name.
    pub fn group_members(&self, namespace: &str, name: &str) -> Vec<GroupMember> {
        let (Some(ns), Some(group)) = (lookup(namespace), lookup(name)) else {
            return Vec::new();
        };
        let mut out: Vec<GroupMember> = self
            .groups
            .members((ns, group))
            .filter_map(|uid| self.pods.get(uid))
            .map(|entry| GroupMember {
                uid: entry.record.uid.to_string(),
                name: entry.record.name.to_string(),
                node: entry.placed_on.map(|n| resolve(n).to_owned()),
                assumed: entry.assumed_on.is_some(),
                running: entry.record.running,
                terminal: entry.record.terminal,
                owner: entry.record.owner.as_deref().map(str::to_owned),
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Holds `node` for the pending pod `uid` after a preemption made room there (`None`
    /// releases it): pods of lower or equal priority are then filtered as if it stood there.
    pub fn nominate(&mut self, uid: &str, node: Option<&str>) -> CoreResult<()> {
        let Some((key, entry)) = self.pods.get_key_value(uid) else {
            return Err(CoreError::Invalid(format!(
                "nominate: unknown pod uid {uid:?}"
            )));
        };
        let key = key.clone();
        let new = PodEntry {
            record: entry.record.clone(),
            assumed_on: entry.assumed_on,
            allocation: entry.allocation.clone(),
            placed_on: None,
            nominated_on: node.map(sym),
        };
        self.replace_entry(&key, Some(new));
        Ok(())
    }

    /// The node held for `uid`: podium's own nomination, else the pod's
    /// `status.nominatedNodeName`.
    pub fn nominated_node(&self, uid: &str) -> Option<&'static str> {
        let entry = self.pods.get(uid)?;
        entry
            .nominated_on
            .or(entry.record.nominated_node)
            .map(resolve)
    }

    /// The pending pods that hold `node` (preemption's nominees, whole-node reservations).
    pub fn nominated_to(&self, node: &str) -> Vec<String> {
        let node = sym(node);
        self.nominated
            .values()
            .filter(|pod| pod.nominated_node == Some(node))
            .map(|pod| pod.uid.to_string())
            .collect()
    }

    pub fn is_assumed(&self, uid: &str) -> bool {
        self.pods.get(uid).is_some_and(|e| e.assumed_on.is_some())
    }

    /// Pods assumed and not yet confirmed or forgotten: binds in flight. Once scheduling is idle
    /// it must be zero, or a reservation leaked. O(pods): for tests and metrics scrapes.
    pub fn assumed_count(&self) -> usize {
        self.pods
            .values()
            .filter(|e| e.assumed_on.is_some())
            .count()
    }

    pub fn allocation(&self, uid: &str) -> Option<&str> {
        self.pods.get(uid).and_then(|e| e.allocation.as_deref())
    }

    /// Requested totals on a node (assumed pods included), or None for an unknown node.
    /// True while the Node object exists (a deleted node's pods may still be counted on it).
    pub fn has_node(&self, node: &str) -> bool {
        lookup(node)
            .and_then(|sym| self.slot_by_name.get(&sym))
            .and_then(|&slot| self.nodes[slot].as_ref())
            .is_some_and(|info| info.node.is_some())
    }

    pub fn node_usage(&self, node: &str) -> Option<Vec<(String, i64)>> {
        let slot = *self.slot_by_name.get(&lookup(node)?)?;
        let info = self.nodes[slot].as_ref()?;
        let mut out: Vec<(String, i64)> = info
            .requested
            .entries()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        out.push((
            "pods".to_owned(),
            i64::try_from(info.pod_count()).unwrap_or(i64::MAX),
        ));
        Some(out)
    }

    /// Per resource, (requested, allocatable) summed over the nodes that exist, assumed pods
    /// included; `pods` counts pods against `status.allocatable.pods`. For utilisation reports.
    pub fn capacity_totals(&self) -> BTreeMap<String, (i64, i64)> {
        let mut out: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for info in self.nodes.iter().flatten() {
            let Some(node) = info.node.as_ref() else {
                continue;
            };
            for (name, value) in node.allocatable.entries() {
                let entry = out.entry(name.to_owned()).or_default();
                entry.1 = entry.1.saturating_add(value);
            }
            for (name, value) in info.requested.entries() {
                let entry = out.entry(name.to_owned()).or_default();
                entry.0 = entry.0.saturating_add(value);
            }
            let pods = out.entry("pods".to_owned()).or_default();
            pods.0 = pods
                .0
                .saturating_add(i64::try_from(info.pod_count()).unwrap_or(i64::MAX));
            pods.1 = pods.1.saturating_add(node.allowed_pods);
        }
        out
    }
}

/// The store of `kind`.
fn store(kind: Kind) -> &'static dyn KindStore {
    match kind {
        Kind::Node => &NodeStore,
        Kind::Pod => &PodStore,
        Kind::NodeResourceTopology => &TopologyStore,
        Kind::PersistentVolume => &PvStore,
        Kind::PersistentVolumeClaim => &PvcStore,
        Kind::StorageClass => &StorageClassStore,
        Kind::Namespace => &NamespaceStore,
        Kind::PodGroup => &GroupStore::<false>,
        Kind::PriorityClass => &PriorityClassStore,
        Kind::PodDisruptionBudget => &BudgetStore,
        Kind::DeviceClass => &DraStore::<DeviceClasses>::NEW,
        Kind::ResourceSlice => &DraStore::<Slices>::NEW,
        Kind::ResourceClaim => &DraStore::<Claims>::NEW,
        Kind::ElasticQuota => &QuotaStore,
        Kind::WorkloadPodGroup => &GroupStore::<true>,
    }
}

fn group_of(pod: &PodRecord) -> Option<GroupKey> {
    pod.pod_group.map(|g| (pod.namespace, g))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn node_json(name: &str, cpu: &str, gpus: u32) -> String {
        format!(
            r#"{{"metadata":{{"name":"{name}","uid":"uid-{name}","resourceVersion":"1"}},
                "status":{{"allocatable":{{"cpu":"{cpu}","memory":"64Gi","pods":"110","nvidia.com/gpu":"{gpus}"}}}}}}"#
        )
    }

    pub(crate) fn pod_json(uid: &str, node: Option<&str>, sched: &str, cpu: &str) -> String {
        let node = node.map_or(String::new(), |n| format!(r#""nodeName":"{n}","#));
        format!(
            r#"{{"metadata":{{"name":"p-{uid}","namespace":"ns","uid":"{uid}","resourceVersion":"2"}},
                "spec":{{{node}"schedulerName":"{sched}","containers":[{{"resources":{{"requests":{{"cpu":"{cpu}"}}}}}}]}},
                "status":{{"phase":"Pending"}}}}"#
        )
    }

    fn event(t: &str, obj: &str) -> Vec<u8> {
        format!(r#"{{"type":"{t}","object":{obj}}}"#).into_bytes()
    }

    fn cpu_on(state: &ClusterState, node: &str) -> i64 {
        state
            .node_usage(node)
            .expect("known node")
            .into_iter()
            .find(|(k, _)| k == "cpu")
            .map_or(0, |(_, v)| v)
    }

    fn state_with_node() -> ClusterState {
        let mut s = ClusterState::new(&["podium"]);
        s.apply_event(Kind::Node, &event("ADDED", &node_json("n1", "4", 0)))
            .unwrap();
        s.apply_event(Kind::Node, &event("ADDED", &node_json("n2", "4", 0)))
            .unwrap();
        s
    }

    #[test]
    fn a_heartbeat_is_not_relevant_but_a_capacity_change_is() {
        let mut s = ClusterState::new(&["podium"]);
        let added = s
            .apply_event(Kind::Node, &event("ADDED", &node_json("n1", "4", 0)))
            .unwrap();
        assert!(added.relevant);
        let heartbeat =
            node_json("n1", "4", 0).replace(r#""resourceVersion":"1""#, r#""resourceVersion":"9""#);
        let beat = s
            .apply_event(Kind::Node, &event("MODIFIED", &heartbeat))
            .unwrap();
        assert!(!beat.relevant, "only the resourceVersion changed");
        let grown = s
            .apply_event(Kind::Node, &event("MODIFIED", &node_json("n1", "8", 0)))
            .unwrap();
        assert!(grown.relevant);
        assert!(s.has_node("n1"));
        s.apply_event(Kind::Node, &event("DELETED", &node_json("n1", "8", 0)))
            .unwrap();
        assert!(!s.has_node("n1"));
    }

    #[test]
    fn a_pod_update_is_relevant_unless_only_its_status_conditions_changed() {
        let mut s = ClusterState::new(&["podium"]);
        let pod = pod_json("u1", None, "podium", "1");
        let added = s.apply_event(Kind::Pod, &event("ADDED", &pod)).unwrap();
        assert!(added.relevant);
        // podium's PodScheduled=False condition: a new resourceVersion, nothing the record keeps.
        let condition = pod
            .replace(r#""resourceVersion":"2""#, r#""resourceVersion":"3""#)
            .replace(
                r#""phase":"Pending""#,
                r#""phase":"Pending","conditions":[{"type":"PodScheduled","status":"False"}]"#,
            );
        let written = s
            .apply_event(Kind::Pod, &event("MODIFIED", &condition))
            .unwrap();
        assert!(!written.relevant);
        let grown = pod_json("u1", None, "podium", "2")
            .replace(r#""resourceVersion":"2""#, r#""resourceVersion":"4""#);
        let resized = s
            .apply_event(Kind::Pod, &event("MODIFIED", &grown))
            .unwrap();
        assert!(resized.relevant, "its requests changed");
    }

    #[test]
    fn list_page_counts_items_and_reports_errors() {
        let mut s = ClusterState::new(&["podium"]);
        let body = format!(
            r#"{{"kind":"PodList","metadata":{{"resourceVersion":"10","continue":"abc"}},"items":[{},{}]}}"#,
            pod_json("a", None, "podium", "1"),
            pod_json("b", None, "podium", "1x"),
        );
        let page = s.apply_list(Kind::Pod, body.as_bytes()).unwrap();
        assert_eq!(page.items, 2);
        assert_eq!(page.resource_version, "10");
        assert_eq!(page.continue_token.as_deref(), Some("abc"));
        assert_eq!(page.errors.len(), 1);
        assert!(page.errors[0].contains("Pod ns/p-b: spec.containers[0].resources.requests.cpu"));
        assert_eq!(
            s.pending().len(),
            2,
            "the invalid pod is kept to fail with its message"
        );
        assert!(s.apply_list(Kind::Pod, b"{\"items\": 3}").is_err());
    }

    #[test]
    fn bound_pods_count_and_others_are_not_pending() {
        let mut s = state_with_node();
        s.apply_event(
            Kind::Pod,
            &event(
                "ADDED",
                &pod_json("a", Some("n1"), "default-scheduler", "1"),
            ),
        )
        .unwrap();
        s.apply_event(
            Kind::Pod,
            &event("ADDED", &pod_json("b", None, "default-scheduler", "1")),
        )
        .unwrap();
        s.apply_event(
            Kind::Pod,
            &event("ADDED", &pod_json("c", None, "podium", "1")),
        )
        .unwrap();
        assert_eq!(cpu_on(&s, "n1"), 1000);
        let pending: Vec<String> = s.pending().into_iter().map(|p| p.uid).collect();
        assert_eq!(pending, vec!["c".to_owned()]);
        assert_eq!(s.pod_count(), 3);
    }

    #[test]
    fn pods_before_their_node_are_counted_when_it_arrives() {
        let mut s = ClusterState::new(&["podium"]);
        s.apply_event(
            Kind::Pod,
            &event("ADDED", &pod_json("a", Some("late"), "x", "2")),
        )
        .unwrap();
        assert_eq!(s.node_count(), 0);
        s.apply_event(Kind::Node, &event("ADDED", &node_json("late", "4", 0)))
            .unwrap();
        assert_eq!((s.node_count(), cpu_on(&s, "late")), (1, 2000));
        s.apply_event(Kind::Node, &event("DELETED", &node_json("late", "4", 0)))
            .unwrap();
        assert_eq!(s.node_count(), 0);
    }

    #[test]
    fn terminal_pods_use_nothing() {
        let mut s = state_with_node();
        s.apply_event(
            Kind::Pod,
            &event("ADDED", &pod_json("a", Some("n1"), "x", "1")),
        )
        .unwrap();
        let done = pod_json("a", Some("n1"), "x", "1").replace("Pending", "Succeeded");
        let change = s.apply_event(Kind::Pod, &event("MODIFIED", &done)).unwrap();
        assert!(change.terminal);
        assert_eq!(cpu_on(&s, "n1"), 0);
    }

    #[test]
    fn assume_confirm_and_no_double_count() {
        let mut s = state_with_node();
        s.apply_event(
            Kind::Pod,
            &event("ADDED", &pod_json("a", None, "podium", "1")),
        )
        .unwrap();
        assert_eq!(s.assumed_count(), 0);
        s.assume("a", "n1", Some("{}")).unwrap();
        assert!(s.is_assumed("a"));
        assert_eq!(s.assumed_count(), 1);
        assert!(s.pending().is_empty());
        assert_eq!(cpu_on(&s, "n1"), 1000);
        // The watch reports the bind on the same node: confirmed, counted once.
        s.apply_event(
            Kind::Pod,
            &event("MODIFIED", &pod_json("a", Some("n1"), "podium", "1")),
        )
        .unwrap();
        assert!(!s.is_assumed("a"));
        assert_eq!(s.assumed_count(), 0);
        assert_eq!(cpu_on(&s, "n1"), 1000);
        s.forget("a");
        assert_eq!(
            cpu_on(&s, "n1"),
            1000,
            "forget after confirmation is a no-op"
        );
    }

    #[test]
    fn watch_wins_over_assumption() {
        let mut s = state_with_node();
        s.apply_event(
            Kind::Pod,
            &event("ADDED", &pod_json("a", None, "podium", "1")),
        )
        .unwrap();
        s.assume("a", "n1", None).unwrap();
        s.apply_event(
            Kind::Pod,
            &event("MODIFIED", &pod_json("a", Some("n2"), "podium", "1")),
        )
        .unwrap();
        assert_eq!((cpu_on(&s, "n1"), cpu_on(&s, "n2")), (0, 1000));
    }

    #[test]
    fn forget_returns_the_pod_to_pending() {
        let mut s = state_with_node();
        s.apply_event(
            Kind::Pod,
            &event("ADDED", &pod_json("a", None, "podium", "1")),
        )
        .unwrap();
        s.assume("a", "n1", None).unwrap();
        // An unrelated update while the bind is in flight keeps the assumption.
        s.apply_event(
            Kind::Pod,
            &event("MODIFIED", &pod_json("a", None, "podium", "1")),
        )
        .unwrap();
        assert!(s.is_assumed("a"));
        s.forget("a");
        assert!(!s.is_assumed("a"));
        assert_eq!(cpu_on(&s, "n1"), 0);
        assert_eq!(s.pending().len(), 1);
        assert!(s.assume("nope", "n1", None).is_err());
        assert!(s.assume("a", "no-such-node", None).is_err());
    }

    #[test]
    fn relist_drops_what_was_not_seen() {
        let mut s = state_with_node();
        s.apply_event(
            Kind::Pod,
            &event("ADDED", &pod_json("a", None, "podium", "1")),
        )
        .unwrap();
        s.apply_event(
            Kind::Pod,
            &event("ADDED", &pod_json("b", Some("n1"), "x", "1")),
        )
        .unwrap();
        s.begin_relist(Kind::Pod);
        let page = format!(
            r#"{{"metadata":{{"resourceVersion":"9"}},"items":[{}]}}"#,
            pod_json("b", Some("n1"), "x", "1")
        );
        s.apply_list(Kind::Pod, page.as_bytes()).unwrap();
        assert_eq!(s.end_relist(Kind::Pod), vec!["a".to_owned()]);
        assert_eq!(s.pod_count(), 1);
        s.begin_relist(Kind::Node);
        s.apply_list(
            Kind::Node,
            format!(r#"{{"items":[{}]}}"#, node_json("n1", "4", 0)).as_bytes(),
        )
        .unwrap();
        s.end_relist(Kind::Node);
        assert_eq!(s.node_count(), 1);
        assert!(s.node_usage("n2").is_none());
    }

    #[test]
    fn bookmark_and_error_events() {
        let mut s = ClusterState::new(&["podium"]);
        let b = s.apply_event(Kind::Pod, br#"{"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"77"}}}"#).unwrap();
        assert_eq!(
            (b.event.as_str(), b.resource_version.as_str()),
            ("BOOKMARK", "77")
        );
        let e = s.apply_event(Kind::Pod, br#"{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old"}}"#).unwrap();
        assert_eq!(e.status_code, Some(410));
        assert!(
            s.apply_event(Kind::Pod, br#"{"type":"WHAT","object":{}}"#)
                .is_err()
        );
        assert!(s.apply_event(Kind::Pod, b"garbage").is_err());
    }

    #[test]
    fn snapshot_is_isolated_from_later_changes() {
        let mut s = state_with_node();
        let before = s.snapshot();
        s.apply_event(
            Kind::Pod,
            &event("ADDED", &pod_json("a", Some("n1"), "x", "1")),
        )
        .unwrap();
        let after = s.snapshot();
        assert!(after.generation() > before.generation());
        let used = |snap: &Snapshot| {
            snap.nodes_for_test()
                .iter()
                .map(|n| n.requested.milli_cpu)
                .sum::<i64>()
        };
        assert_eq!((used(&before), used(&after)), (0, 1000));
    }
}
