//! The DynamicResources filter and score, as kube-scheduler's plugin of that name: PreFilter
//! resolves the pod's claims (named, or generated from templates) and compiles their
//! selectors; Filter runs the allocator on the node; Score prefers the node whose best device
//! set packs tightest (see `score.rs`).
//!
//! Reserve and PreBind: the decision carries, for each claim not yet reserved for the pod, the
//! devices chosen on its node (`claim_reservations`); the cycle assumes them in the cache so
//! later pods see them taken, and Python's PreBind writes `status.allocation` and
//! `status.reservedFor` before the Binding.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use dashmap::DashMap;

use super::allocator::{
    Found, Options, Outcome, PreparedPod, allocated_unfit, prepare_with, search_unallocated,
};
use super::extended::extended_claim;
use super::fit_cache::Caches;
use crate::framework::cycle_state::{FilterStates, PluginState};
use crate::framework::plugin::{
    Filter, Plugin, PodContext, PreFilter, PreFilterExtensions, PreScore, Prepared, Reserve,
    Reserved, Score,
};
use crate::framework::status::Status;
use crate::intern::{Sym, resolve};
use crate::state::dra::Dra;
use crate::state::dra::claim::{Claim, ClaimReservation, ExtendedClaim};
use crate::state::dra::ledger::InUse;
use crate::state::dra::pod_claims::PodClaimSource;
use crate::state::labels::Labels;
use crate::state::node::NodeRecord;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;

pub const NAME: &str = super::NAME;

/// The claims to allocate on a kind of node: the pod's own, plus the claim for the extended
/// resources DRA serves there (those the node has none of in its allocatable).
#[derive(Clone)]
struct Variant {
    prepared: Arc<PreparedPod>,
    /// The shape of the claims to allocate, when answers may be shared across pods.
    shape: Option<u32>,
    /// The claim for the pod's extended resources (last in `prepared.to_allocate`).
    extended: Option<Arc<ExtendedClaim>>,
}

/// Per-pod state of one scheduling cycle: PreFilter's, which Score and Reserve read too.
struct PodState {
    /// By the set of `backed` resources DRA serves on a node (bit i: `backed[i]`); 0: none,
    /// the pod's own claims alone.
    variants: Box<[Variant]>,
    /// The extended resources the pod asks that a DeviceClass serves.
    backed: Box<[Sym]>,
    /// What the verdicts read of the claims (`Filter::shape_key`): the variants' shapes. None
    /// when a claim is allocated already (it may be in this batch, by another pod naming it),
    /// or a shape is not known (network-attached devices: a placement on another node takes
    /// them).
    key: Option<u64>,
    in_use: Arc<InUse>,
    /// The claims as PreFilter saw them: what a preemption's victims free is read here.
    dra: Dra,
    /// Already allocated claims that do not name the pod in `reservedFor` yet.
    to_reserve: Vec<Arc<Claim>>,
    caches: Arc<Caches>,
    opts: Options,
    /// What Filter found on each node it passed, for Score and Reserve: the search runs once
    /// per node and pod, not three times.
    found: DashMap<Sym, Arc<Found>, ahash::RandomState>,
}

impl PodState {
    /// The claims to allocate on `node`: DRA serves the backed resources the node has none of
    /// (kube's `filterExtendedResources`; a device plugin serves the others).
    fn variant(&self, node: &NodeRecord) -> &Variant {
        let mask = self
            .backed
            .iter()
            .enumerate()
            .filter(|&(_, &r)| node.allocatable.scalar(r) <= 0)
            .fold(0usize, |m, (i, _)| m | (1 << i));
        &self.variants[mask]
    }

    /// The search's answer on the node for the pod's unallocated claims, from the cache when
    /// the node is unchanged since a pod of the same shape was searched there.
    fn outcome(&self, v: &Variant, node: Sym, labels: &Labels) -> Result<Outcome, Status> {
        let search = || {
            search_unallocated(
                &v.prepared,
                &self.caches.inv,
                &self.in_use,
                node,
                labels,
                &self.opts,
            )
            .map_err(|e| Status::unresolvable(e.to_string()))
        };
        let Some(shape) = v.shape else {
            return search();
        };
        match self.caches.get(&self.in_use, node, shape) {
            Ok(hit) => Ok(hit),
            Err(None) => search(),
            Err(Some(fingerprint)) => {
                let outcome = search()?;
                self.caches.put(node, shape, fingerprint, outcome.clone());
                Ok(outcome)
            }
        }
    }

    /// The node's found allocation: Filter's, or searched now (Score without the filter).
    fn found(&self, node: &NodeInfo) -> Option<Arc<Found>> {
        let record = node.node.as_ref()?;
        if let Some(f) = self.found.get(&record.name) {
            return Some(f.clone());
        }
        let v = self.variant(record);
        if allocated_unfit(&v.prepared, record.name, &record.labels).is_some() {
            return None;
        }
        match self.outcome(v, record.name, &record.labels) {
            Ok(Outcome::Found(f)) => Some(f),
            _ => None,
        }
    }
}

/// The shape of claims of which none is to be allocated (in a pod's key).
const NOTHING_TO_ALLOCATE: u32 = u32::MAX;

/// Extended resources backed by DRA beyond this many in one pod are refused (each set of them
/// a node may lack is prepared apart).
const MAX_BACKED: usize = 6;

#[derive(Default)]
pub struct DynamicResources {
    opts: Options,
    /// Selector verdicts and search answers, kept while the inventory and the classes stay
    /// the same (by `Dra::epoch`: a class changes no device, but the verdicts read it), with
    /// the classes' epoch they were made under.
    caches: Mutex<Option<(u64, u64, Arc<Caches>)>>,
}

impl DynamicResources {
    fn caches(&self, dra: &Dra) -> Arc<Caches> {
        let (inv, epoch, classes) = (dra.inventory(), dra.epoch(), dra.class_epoch());
        let mut guard = self.caches.lock().unwrap_or_else(|p| p.into_inner());
        let c = match &*guard {
            Some((e, _, c)) if *e == epoch && Arc::ptr_eq(&c.inv, &inv) => return c.clone(),
            // Only slices changed: what holds of the answers is carried over.
            Some((_, k, c)) if *k == classes => Arc::new(c.successor(inv)),
            _ => Arc::new(Caches::new(inv)),
        };
        *guard = Some((epoch, classes, c.clone()));
        c
    }

    /// The pod's claims, or why the pod cannot be scheduled anywhere now (kube's wording).
    fn claims(pod: &PodRecord, dra: &Dra) -> Result<Vec<Arc<Claim>>, Status> {
        let mut out = Vec::with_capacity(pod.resource_claims.len());
        for c in &pod.resource_claims {
            let name: Sym = match c.source {
                PodClaimSource::Claim(n) => n,
                PodClaimSource::NotNeeded => continue,
                PodClaimSource::NotCreatedYet => {
                    return Err(Status::unresolvable(format!(
                        "pod \"{}/{}\": ResourceClaim not created yet",
                        pod.namespace(),
                        pod.name
                    )));
                }
            };
            match dra.claim(pod.namespace, name) {
                None => {
                    return Err(Status::unresolvable(format!(
                        "resourceclaims.resource.k8s.io \"{}\" not found",
                        resolve(name)
                    )));
                }
                Some(Err(why)) => return Err(Status::unresolvable(why.to_string())),
                Some(Ok(claim)) => out.push(claim.clone()),
            }
        }
        Ok(out)
    }

    fn prepare_pod(&self, ctx: &PodContext<'_>) -> Result<Option<PodState>, Status> {
        let pod = ctx.pod;
        let backed = ctx.dra.dra_backed(pod);
        if pod.resource_claims.is_empty() && backed.is_empty() {
            return Ok(None);
        }
        let mut claims = Self::claims(pod, ctx.dra)?;
        if claims.is_empty() && backed.is_empty() {
            return Ok(None);
        }
        if backed.len() > MAX_BACKED {
            return Err(Status::unresolvable(format!(
                "more than {MAX_BACKED} extended resources backed by DRA in one pod"
            )));
        }
        // A claim made for the pod in an earlier attempt (its binding failed and the claim
        // could not be deleted then): PreBind deletes it before it creates the new one. Its
        // devices count as taken meanwhile.
        let replaces = if backed.is_empty() {
            None
        } else {
            ctx.dra
                .extended_claim_of(&pod.uid)
                .and_then(|c| c.as_ref().ok())
                .map(|c| (c.name.clone(), c.uid.clone()))
        };
        let caches = self.caches(ctx.dra);
        let prepare = |claims: &[Arc<Claim>]| {
            prepare_with(
                claims,
                |name| ctx.dra.class(name),
                &caches.matchers,
                &caches.inv,
            )
            .map_err(|e| Status::unresolvable(e.to_string()))
        };
        let base = prepare(&claims)?;
        let to_reserve = base
            .allocated
            .iter()
            .filter(|c| !c.reserved_for.iter().any(|r| *r.uid == *pod.uid))
            .cloned()
            .collect();
        let mut variants = Vec::with_capacity(1 << backed.len());
        variants.push(Variant {
            shape: caches.shape(&base),
            prepared: Arc::new(base),
            extended: None,
        });
        for mask in 1usize..(1 << backed.len()) {
            let served: Vec<(Sym, Sym)> = backed
                .iter()
                .enumerate()
                .filter(|&(i, _)| mask & (1 << i) != 0)
                .map(|(_, &r)| r)
                .collect();
            let mut extended = extended_claim(pod, &served);
            extended.replaces.clone_from(&replaces);
            let extended = Arc::new(extended);
            claims.push(extended.claim.clone());
            let prepared = prepare(&claims)?;
            claims.pop();
            variants.push(Variant {
                shape: caches.shape(&prepared),
                prepared: Arc::new(prepared),
                extended: Some(extended),
            });
        }
        let key = if variants[0].prepared.allocated.is_empty() {
            // A variant with nothing to allocate (the pod's own claims, when it has none and
            // only asks extended resources DRA serves) reads no device: a shape of its own.
            caches.pod_key(variants.iter().map(|v| {
                if v.prepared.to_allocate.is_empty() {
                    Some(NOTHING_TO_ALLOCATE)
                } else {
                    v.shape
                }
            }))
        } else {
            None
        };
        Ok(Some(PodState {
            variants: variants.into_boxed_slice(),
            backed: backed.iter().map(|&(r, _)| r).collect(),
            key,
            in_use: ctx.dra.in_use(),
            dra: ctx.dra.clone(),
            to_reserve,
            caches,
            opts: self.opts,
            found: DashMap::default(),
        }))
    }
}

fn pod_state(state: Option<&PluginState>) -> Option<&PodState> {
    state
        .and_then(|s| s.downcast_ref::<Arc<PodState>>())
        .map(|s| &**s)
}

/// Reserve: what placing the pod on `node` writes to its claims (kube's PreBind carries it
/// out), from the filter's PreFilter state. Empty when every claim is allocated and reserved
/// for the pod already, or when the node does not fit (it was filtered, so it does).
pub fn claim_reservations(state: &PluginState, node: &NodeInfo) -> Vec<ClaimReservation> {
    let Some(state) = pod_state(Some(state)) else {
        return Vec::new();
    };
    let mut out: Vec<ClaimReservation> = state
        .to_reserve
        .iter()
        .map(|c| ClaimReservation {
            name: c.name.clone(),
            uid: c.uid.clone(),
            allocation: None,
            extended: None,
        })
        .collect();
    let Some(record) = node.node.as_ref() else {
        return out;
    };
    let v = state.variant(record);
    if v.prepared.to_allocate.is_empty() {
        return out;
    }
    if let Some(found) = state.found(node) {
        let fit = found.to_fit(&v.prepared, &state.caches.inv, record.name);
        out.extend(
            v.prepared
                .to_allocate
                .iter()
                .zip(fit.claims)
                .map(|(pc, allocation)| {
                    let extended = v
                        .extended
                        .as_ref()
                        .filter(|e| Arc::ptr_eq(&e.claim, &pc.claim))
                        .cloned();
                    ClaimReservation {
                        name: pc.claim.name.clone(),
                        uid: allocation.claim_uid.clone(),
                        allocation: Some(allocation),
                        extended,
                    }
                }),
        );
    }
    out
}

impl Plugin for DynamicResources {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl PreFilter for DynamicResources {
    fn pre_filter(&self, ctx: &PodContext<'_>) -> Prepared {
        match self.prepare_pod(ctx) {
            Ok(None) => Prepared::Skip,
            Ok(Some(state)) => Prepared::Run(Some(Box::new(Arc::new(state)))),
            Err(status) => Prepared::Reject(status),
        }
    }

    fn extensions(&self) -> Option<&dyn PreFilterExtensions> {
        Some(self)
    }
}

/// Preemption counts the devices its victims' claims would free (kube-scheduler does not
/// preempt for devices): a claim allocated and reserved only for pods being evicted is
/// released by the resourceclaim controller once they are gone, so its devices are free.
impl PreFilterExtensions for DynamicResources {
    fn remove_pods(
        &self,
        state: &PluginState,
        _ctx: &PodContext<'_>,
        removed: &NodeInfo,
    ) -> Option<PluginState> {
        let state = pod_state(Some(state))?;
        let gone: HashSet<&str> = removed.pods.iter().map(|p| &*p.uid).collect();
        let mut freed_claims: HashSet<&str> = HashSet::new();
        let mut in_use: Option<InUse> = None;
        for victim in &removed.pods {
            let named = victim
                .resource_claims
                .iter()
                .filter_map(|c| match c.source {
                    PodClaimSource::Claim(name) => state.dra.claim(victim.namespace, name),
                    _ => None,
                });
            // The claim made for the victim's extended resources goes with it too.
            let extended = state.dra.extended_claim_of(&victim.uid);
            for entry in named.chain(extended) {
                let Ok(claim) = entry else {
                    continue;
                };
                let Some(allocation) = &claim.allocation else {
                    continue;
                };
                let only_victims = claim.reserved_for.iter().all(|r| gone.contains(&*r.uid));
                if !only_victims || !freed_claims.insert(claim.uid.as_str()) {
                    continue;
                }
                let in_use = in_use.get_or_insert_with(|| (*state.in_use).clone());
                for d in allocation.devices.iter() {
                    in_use.remove(&state.caches.inv, d);
                }
            }
        }
        let in_use = in_use?;
        // Answers cached for the real in-use state do not hold here: no shape, no cache.
        let adjusted = PodState {
            variants: state
                .variants
                .iter()
                .map(|v| Variant {
                    shape: None,
                    ..v.clone()
                })
                .collect(),
            backed: state.backed.clone(),
            key: None,
            in_use: Arc::new(in_use),
            dra: state.dra.clone(),
            to_reserve: state.to_reserve.clone(),
            caches: state.caches.clone(),
            opts: state.opts,
            found: DashMap::default(),
        };
        Some(Box::new(Arc::new(adjusted)))
    }
}

impl Reserve for DynamicResources {
    fn reserve(
        &self,
        state: Option<&PluginState>,
        _pod: &PodRecord,
        node: &NodeInfo,
        reserved: &mut Reserved,
    ) {
        if let Some(state) = state {
            reserved.claims = claim_reservations(state, node);
        }
    }
}

impl Filter for DynamicResources {
    /// The verdict reads the node's devices (taken only by placements on it: `key` is None
    /// when devices are network-attached) and the claims, whose shapes are `shape_key`.
    fn node_local(&self, _: &PodRecord) -> bool {
        true
    }

    /// The namespace only finds the claims, whose shapes are in `shape_key`.
    fn reads_identity(&self) -> bool {
        false
    }

    fn shape_key(&self, state: Option<&PluginState>) -> Option<u64> {
        pod_state(state)?.key
    }

    fn filter(&self, state: Option<&PluginState>, _pod: &PodRecord, node: &NodeInfo) -> Status {
        let Some(state) = pod_state(state) else {
            return Status::success();
        };
        let Some(record) = &node.node else {
            return Status::unresolvable("node not found");
        };
        let v = state.variant(record);
        if let Some(why) = allocated_unfit(&v.prepared, record.name, &record.labels) {
            return Status::unschedulable(why.to_string());
        }
        match state.outcome(v, record.name, &record.labels) {
            Err(status) => status,
            Ok(Outcome::Unfit(why)) => Status::unschedulable(why.to_string()),
            Ok(Outcome::Found(found)) => {
                state.found.insert(record.name, found);
                Status::success()
            }
        }
    }
}

/// The score half, registered under the same name.
#[derive(Default)]
pub struct DynamicResourcesScore {
    filter: DynamicResources,
}

impl Plugin for DynamicResourcesScore {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl PreScore for DynamicResourcesScore {
    /// The filter's state when it ran for the pod: the nodes it passed are scored from what it
    /// found there, not searched again.
    fn pre_score(
        &self,
        ctx: &PodContext<'_>,
        _feasible: &[&NodeInfo],
        filters: FilterStates<'_>,
    ) -> Prepared {
        if let Some(state) = filters.get::<Arc<PodState>>(NAME) {
            return Prepared::Run(Some(Box::new(state.clone())));
        }
        match self.filter.prepare_pod(ctx) {
            Ok(Some(state)) => Prepared::Run(Some(Box::new(Arc::new(state)))),
            Ok(None) | Err(_) => Prepared::Skip,
        }
    }
}

impl Score for DynamicResourcesScore {
    fn normalizes(&self) -> bool {
        false
    }

    /// As the filter's: the score is the packing of what the filter found on the node.
    fn node_local(&self, _: &PodRecord) -> bool {
        true
    }

    fn reads_identity(&self) -> bool {
        false
    }

    fn shape_key(&self, state: Option<&PluginState>) -> Option<u64> {
        pod_state(state)?.key
    }

    fn score(&self, state: Option<&PluginState>, _pod: &PodRecord, node: &NodeInfo) -> i64 {
        pod_state(state)
            .and_then(|s| s.found(node))
            .map_or(0, |f| f.score)
    }
}

// Tested through a real scheduling cycle in `dra_tests.rs` (plugins do not import the cycle).
