//! kube's volume binder (`volumebinding.SchedulerVolumeBinder`), as far as the cache needs it:
//! a pod's claims resolved against the cached volumes, and which PV each unbound
//! `WaitForFirstConsumer` claim binds to on a node. The VolumeBinding plugin filters with it and
//! words what it finds wrong; `ClusterState::assume` reserves the PVs it picks.

use std::sync::Arc;

use crate::intern::Sym;
use crate::state::node::NodeRecord;
use crate::state::pod::PodRecord;
use crate::state::volumes::{ClaimKey, ClassRecord, PvRecord, PvcRecord, Volumes};

/// What a placement does with one unbound claim (kube's `BindingInfo` and `DynamicProvisions`):
/// the PV it binds the claim to, or None when the claim is provisioned on the node (its
/// `volume.kubernetes.io/selected-node` set to the node, or already so set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimBinding {
    pub claim: ClaimKey,
    pub volume: Option<Sym>,
}

impl ClaimBinding {
    /// The PVs `bindings` take, with their claims (what a reservation records).
    pub fn taken(bindings: &[ClaimBinding]) -> Vec<(Sym, ClaimKey)> {
        bindings
            .iter()
            .filter_map(|b| Some((b.volume?, b.claim)))
            .collect()
    }
}

/// Why no node can take the pod's claims as they stand (the first such claim's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimProblem {
    /// The claim is not in the cache.
    NotFound(Sym),
    /// The claim is being deleted.
    Deleting(Sym),
    /// The claim's object was malformed: the cache's message.
    Malformed(Box<str>),
    /// A bound claim's PV is not in the cache.
    VolumeNotFound,
    /// An unbound claim's StorageClass is not in the cache (kube retries: no verdict).
    ClassNotFound(Sym),
    /// An unbound claim binds immediately (no class, or not `WaitForFirstConsumer`): the PV
    /// controller binds it, not the scheduler.
    UnboundImmediate,
}

/// A pod's claims, resolved.
pub struct PodClaims {
    /// PVs of bound claims: each must be reachable from the node.
    pub bound: Vec<Arc<PvRecord>>,
    /// Unbound WaitForFirstConsumer claims, with their class.
    pub unbound: Vec<(Arc<PvcRecord>, Arc<ClassRecord>)>,
    /// The volume state to match unbound claims against.
    volumes: Volumes,
}

/// Resolves `pod`'s claims against `volumes`; None when it has none.
pub fn pod_claims(pod: &PodRecord, volumes: &Volumes) -> Result<Option<PodClaims>, ClaimProblem> {
    if pod.claims.is_empty() {
        return Ok(None);
    }
    let mut out = PodClaims {
        bound: Vec::new(),
        unbound: Vec::new(),
        volumes: Volumes::default(),
    };
    let mut immediate = false;
    for &claim in pod.claims.iter() {
        let Some(pvc) = volumes.pvc(pod.namespace, claim) else {
            return Err(ClaimProblem::NotFound(claim));
        };
        if pvc.deleting {
            return Err(ClaimProblem::Deleting(claim));
        }
        if let Some(err) = &pvc.error {
            return Err(ClaimProblem::Malformed(err.clone()));
        }
        if let Some(pv) = pvc.volume_name {
            match volumes.pvs.get(&pv) {
                Some(pv) => out.bound.push(pv.clone()),
                None => return Err(ClaimProblem::VolumeNotFound),
            }
            continue;
        }
        if crate::intern::resolve(pvc.class).is_empty() {
            immediate = true;
            continue;
        }
        let Some(class) = volumes.classes.get(&pvc.class) else {
            return Err(ClaimProblem::ClassNotFound(pvc.class));
        };
        if class.wait_for_first_consumer {
            out.unbound.push((pvc.clone(), class.clone()));
        } else {
            immediate = true;
        }
    }
    if immediate {
        return Err(ClaimProblem::UnboundImmediate);
    }
    if !out.unbound.is_empty() {
        out.volumes = volumes.clone();
    }
    Ok(Some(out))
}

impl PodClaims {
    /// Is every bound claim's PV reachable from `node`?
    pub fn bound_fit(&self, node: &NodeRecord) -> bool {
        self.bound
            .iter()
            .all(|pv| pv.fits_node(node.name, &node.labels))
    }

    /// For one node: what each unbound claim would do there, or None when some claim finds no
    /// PV and cannot be provisioned there.
    pub fn match_unbound(&self, node: &NodeRecord) -> Option<Vec<ClaimBinding>> {
        let mut chosen: Vec<ClaimBinding> = Vec::with_capacity(self.unbound.len());
        for (pvc, class) in &self.unbound {
            if let Some(selected) = pvc.selected_node {
                // Being provisioned for that node already.
                if selected != node.name {
                    return None;
                }
                chosen.push(ClaimBinding {
                    claim: pvc.key(),
                    volume: None,
                });
                continue;
            }
            let best = self
                .volumes
                .pvs
                .values()
                .filter(|pv| {
                    self.volumes.is_free_for(pv, pvc)
                        && !chosen.iter().any(|b| b.volume == Some(pv.name))
                        && pv.fits_node(node.name, &node.labels)
                })
                // The smallest PV that fits; a PV pre-bound to this claim first.
                .min_by_key(|pv| (pv.claim.is_none(), pv.capacity));
            match best {
                Some(pv) => chosen.push(ClaimBinding {
                    claim: pvc.key(),
                    volume: Some(pv.name),
                }),
                None => {
                    let allowed = class
                        .allowed_topologies
                        .as_ref()
                        .is_none_or(|t| t.matches(node.name, &node.labels));
                    if !class.provisions() || !allowed {
                        return None;
                    }
                    chosen.push(ClaimBinding {
                        claim: pvc.key(),
                        volume: None,
                    });
                }
            }
        }
        Some(chosen)
    }
}

/// The PVs `pod` takes on `node` (for the reservation once it is placed there). Empty when the
/// pod has no unbound claim or none of them is matched to an existing PV.
pub fn volumes_taken(
    volumes: &Volumes,
    pod: &PodRecord,
    node: &NodeRecord,
) -> Vec<(Sym, ClaimKey)> {
    match pod_claims(pod, volumes) {
        Ok(Some(claims)) if !claims.unbound.is_empty() => {
            ClaimBinding::taken(&claims.match_unbound(node).unwrap_or_default())
        }
        _ => Vec::new(),
    }
}
