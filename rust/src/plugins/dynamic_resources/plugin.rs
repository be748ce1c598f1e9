//! The DynamicResources filter and score, as kube-scheduler's plugin of that name: PreFilter
//! resolves the pod's claims (named, or generated from templates) and compiles their
//! selectors; Filter runs the allocator on the node; Score prefers the node whose best device
//! set packs tightest (see `score.rs`).
//!
//! Reserve and PreBind: the decision carries, for each claim not yet reserved for the pod, the
//! devices chosen on its node (`claim_reservations`); the cycle assumes them in the cache so
//! later pods see them taken, and Python's PreBind writes `status.allocation` and
//! `status.reservedFor` before the Binding.

use std::sync::{Arc, Mutex};

use super::allocator::{Options, PreparedPod, Verdict, allocate, prepare};
use super::matcher::Matchers;
use crate::framework::cycle_state::{FilterStates, PluginState};
use crate::framework::plugin::{
    Filter, Plugin, PodContext, PreFilter, PreScore, Prepared, Reserve, Reserved, Score,
};
use crate::framework::status::Status;
use crate::intern::{Sym, resolve};
use crate::state::dra::Dra;
use crate::state::dra::claim::{Claim, ClaimReservation};
use crate::state::dra::ledger::InUse;
use crate::state::dra::pod_claims::PodClaimSource;
use crate::state::dra::pools::Inventory;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;

pub const NAME: &str = super::NAME;

/// Per-pod state of one scheduling cycle.
struct PodState {
    prepared: PreparedPod,
    inv: Arc<Inventory>,
    in_use: Arc<InUse>,
    /// Already allocated claims that do not name the pod in `reservedFor` yet.
    to_reserve: Vec<Arc<Claim>>,
}

#[derive(Default)]
pub struct DynamicResources {
    opts: Options,
    /// Selector verdicts, kept while the classes and slices (`Dra::epoch`) stay the same.
    matchers: Mutex<Option<(u64, Arc<Matchers>)>>,
}

impl DynamicResources {
    fn matchers(&self, dra: &Dra) -> Arc<Matchers> {
        let mut guard = self.matchers.lock().unwrap_or_else(|p| p.into_inner());
        match &*guard {
            Some((epoch, m)) if *epoch == dra.epoch() => m.clone(),
            _ => {
                let m = Arc::new(Matchers::default());
                *guard = Some((dra.epoch(), m.clone()));
                m
            }
        }
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
        if pod.resource_claims.is_empty() {
            return Ok(None);
        }
        let claims = Self::claims(pod, ctx.dra)?;
        if claims.is_empty() {
            return Ok(None);
        }
        let inv = ctx.dra.inventory();
        let matchers = self.matchers(ctx.dra);
        let classes = ctx.dra.classes().map(|c| (c.name, c.clone())).collect();
        let prepared = prepare(&claims, &classes, &matchers, &inv)
            .map_err(|e| Status::unresolvable(e.to_string()))?;
        let to_reserve = prepared
            .allocated
            .iter()
            .filter(|c| !c.reserved_for.iter().any(|r| *r.uid == *pod.uid))
            .cloned()
            .collect();
        Ok(Some(PodState {
            prepared,
            inv,
            in_use: ctx.dra.in_use(),
            to_reserve,
        }))
    }

    fn verdict(&self, state: &PodState, node: &NodeInfo) -> Result<Verdict, Status> {
        let Some(record) = &node.node else {
            return Err(Status::unresolvable("node not found"));
        };
        allocate(
            &state.prepared,
            &state.inv,
            &state.in_use,
            record.name,
            &record.labels,
            &self.opts,
        )
        .map_err(|e| Status::unresolvable(e.to_string()))
    }
}

fn pod_state(state: Option<&PluginState>) -> Option<&PodState> {
    state.and_then(|s| s.downcast_ref::<PodState>())
}

/// Reserve: what placing the pod on `node` writes to its claims (kube's PreBind carries it
/// out), from the filter's PreFilter state. Empty when every claim is allocated and reserved
/// for the pod already, or when the node does not fit (it was filtered, so it does).
pub fn claim_reservations(state: &PluginState, node: &NodeInfo) -> Vec<ClaimReservation> {
    let Some(state) = state.downcast_ref::<PodState>() else {
        return Vec::new();
    };
    let mut out: Vec<ClaimReservation> = state
        .to_reserve
        .iter()
        .map(|c| ClaimReservation {
            name: c.name.clone(),
            uid: c.uid.clone(),
            allocation: None,
        })
        .collect();
    if state.prepared.to_allocate.is_empty() {
        return out;
    }
    let filter = DynamicResources::default();
    if let Ok(Verdict::Fit(fit)) = filter.verdict(state, node) {
        let names = state.prepared.to_allocate.iter().map(|c| &c.claim.name);
        out.extend(
            names
                .zip(fit.claims)
                .map(|(name, allocation)| ClaimReservation {
                    name: name.clone(),
                    uid: allocation.claim_uid.clone(),
                    allocation: Some(allocation),
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
            Ok(Some(state)) => Prepared::Run(Some(Box::new(state))),
            Err(status) => Prepared::Reject(status),
        }
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
    fn filter(&self, state: Option<&PluginState>, _pod: &PodRecord, node: &NodeInfo) -> Status {
        let Some(state) = pod_state(state) else {
            return Status::success();
        };
        match self.verdict(state, node) {
            Err(status) => status,
            Ok(Verdict::Unfit(why)) => Status::unschedulable(why.to_string()),
            Ok(Verdict::Fit(_)) => Status::success(),
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
    fn pre_score(
        &self,
        ctx: &PodContext<'_>,
        _feasible: &[&NodeInfo],
        _filters: FilterStates<'_>,
    ) -> Prepared {
        match self.filter.prepare_pod(ctx) {
            Ok(Some(state)) => Prepared::Run(Some(Box::new(state))),
            Ok(None) | Err(_) => Prepared::Skip,
        }
    }
}

impl Score for DynamicResourcesScore {
    fn score(&self, state: Option<&PluginState>, _pod: &PodRecord, node: &NodeInfo) -> i64 {
        match pod_state(state).map(|s| self.filter.verdict(s, node)) {
            Some(Ok(Verdict::Fit(fit))) => fit.score,
            _ => 0,
        }
    }
}

// Tested through a real scheduling cycle in `dra_tests.rs` (plugins do not import the cycle).
