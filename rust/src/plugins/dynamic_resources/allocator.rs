//! The allocator: kube-scheduler's structured-parameters semantics, per node. All requests of
//! all of a pod's unallocated claims are allocated together by a bounded backtracking search
//! over the node's devices in kube's order (class selectors, then request selectors; devices in
//! use skipped; `ExactCount` picks combinations in order; `All` takes every matching device or
//! fails; `firstAvailable` takes the first subrequest with which everything else fits;
//! constraints, shared counters, taints and consumable capacity checked as devices are picked).
//!
//! Beyond kube: the search does not stop at the first solution. With the same subrequest
//! choices it keeps looking (up to `Options::max_solutions`) and returns the device set that
//! strands the fewest devices: it breaks the fewest wholly free PCIe roots, then leaves the
//! fewest free devices in partly used roots, so whole roots stay free for large requests.

use std::borrow::Cow;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use super::capacity::consumption;
use super::constraints::ConstraintState;
use super::error::ClaimError;
use super::matcher::{MatchError, Matcher, Matchers};
use super::score::{node_score, pcie_root, root_measure};
use super::taints::prevents_allocation;
use crate::intern::{Sym, resolve, sym};
pub use crate::state::dra::claim::ClaimAllocation;
use crate::state::dra::claim::{
    AllocatedDevice, AllocationMode, Alternative, Claim, MAX_DEVICES_PER_CLAIM,
};
use crate::state::dra::class::DeviceClass;
use crate::state::dra::device::{DeviceKey, NodeScope, QualifiedName};
use crate::state::dra::ledger::InUse;
use crate::state::dra::pools::{DevId, Inventory, PoolState};
use crate::state::labels::Labels;

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Solutions compared for packing; 1 is kube's first fit.
    pub max_solutions: u32,
    /// Device picks tried per node before giving up (kube bounds the filter by time instead).
    pub step_budget: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_solutions: 16,
            step_budget: 20_000,
        }
    }
}

#[derive(Debug)]
pub struct PreparedAlt {
    pub alt: Alternative,
    pub matcher: Arc<Matcher>,
}

#[derive(Debug)]
pub struct PreparedRequest {
    pub name: Sym,
    pub alts: Vec<PreparedAlt>,
}

#[derive(Debug)]
pub struct PreparedClaim {
    pub claim: Arc<Claim>,
    pub requests: Vec<PreparedRequest>,
}

/// A pod's claims, resolved once per scheduling attempt (kube's PreFilter): classes looked up
/// and selectors compiled, so the per-node work is only the search.
#[derive(Debug, Default)]
pub struct PreparedPod {
    pub to_allocate: Vec<PreparedClaim>,
    /// Claims already allocated (shared, or allocated for this pod before): only where their
    /// devices are matters.
    pub allocated: Vec<Arc<Claim>>,
}

fn selector_error(claim: &Claim, request: Sym, e: MatchError) -> ClaimError {
    ClaimError::Selector {
        claim: claim.display_name(),
        request: resolve(request).to_owned(),
        origin: e.source,
        expression: e.expression.to_string(),
        failure: e.error.failure,
        detail: e.error.detail,
    }
}

pub fn prepare(
    claims: &[Arc<Claim>],
    classes: &HashMap<Sym, Arc<DeviceClass>>,
    matchers: &Matchers,
    inv: &Inventory,
) -> Result<PreparedPod, ClaimError> {
    prepare_with(claims, |name| classes.get(&name), matchers, inv)
}

/// `prepare` with the classes looked up by `class` (the cache's map, without a copy per pod).
pub fn prepare_with<'c>(
    claims: &[Arc<Claim>],
    class: impl Fn(Sym) -> Option<&'c Arc<DeviceClass>>,
    matchers: &Matchers,
    inv: &Inventory,
) -> Result<PreparedPod, ClaimError> {
    let mut out = PreparedPod::default();
    for claim in claims {
        if claim.allocation.is_some() {
            out.allocated.push(claim.clone());
            continue;
        }
        let mut requests = Vec::with_capacity(claim.requests.len());
        for r in claim.requests.iter() {
            let mut alts = Vec::with_capacity(r.alternatives.len());
            for alt in &r.alternatives {
                let Some(class) = class(alt.class) else {
                    return Err(ClaimError::ClassNotFound {
                        claim: claim.display_name(),
                        request: resolve(alt.name).to_owned(),
                        class: resolve(alt.class).to_owned(),
                    });
                };
                let matcher = matchers
                    .get(inv, class, &alt.selectors)
                    .map_err(|e| selector_error(claim, alt.name, e))?;
                alts.push(PreparedAlt {
                    alt: alt.clone(),
                    matcher,
                });
            }
            requests.push(PreparedRequest { name: r.name, alts });
        }
        out.to_allocate.push(PreparedClaim {
            claim: claim.clone(),
            requests,
        });
    }
    Ok(out)
}

/// Why a node cannot take the pod's claims, in kube's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unfit {
    /// An allocated claim's devices are not usable on this node.
    ClaimNotAvailable {
        claim: String,
    },
    CannotAllocate,
    InvalidPools,
    /// An `All` request meets a pool whose newest generation is still being published.
    PoolBeingUpdated {
        claim: String,
        request: String,
        pool: String,
    },
    SearchLimit,
}

impl std::fmt::Display for Unfit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ClaimNotAvailable { .. } => {
                f.write_str("resourceclaim not available on the node")
            }
            Self::CannotAllocate => f.write_str("cannot allocate all claims"),
            Self::InvalidPools => f.write_str("invalid resource pools were encountered"),
            Self::PoolBeingUpdated {
                claim,
                request,
                pool,
            } => write!(
                f,
                "claim {claim}, request {request}: asks for all devices, but resource pool {pool} is currently being updated"
            ),
            Self::SearchLimit => f.write_str("timed out trying to allocate devices"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fit {
    pub claims: Vec<ClaimAllocation>,
    /// The packing measure of the chosen set (lower is better): wholly free PCIe roots broken,
    /// then free devices left in partly used roots.
    pub broken_roots: u32,
    pub stranded: u32,
    /// 0..=100 for the Score extension point: fuller nodes and fewer stranded devices first.
    pub score: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Fit(Fit),
    Unfit(Unfit),
}

#[derive(Debug, Clone)]
struct Pick {
    request: Sym,
    /// The request's own name (`request` is `req/sub` for a subrequest): constraints were
    /// given both.
    base: Sym,
    dev: DevId,
    admin: bool,
    /// Shares only: what it consumes from each capacity.
    share: Option<Vec<i64>>,
    counters: Vec<(u32, Sym, Sym, i64)>,
    constraints_added: usize,
    marked: bool,
}

/// The alternative a run of picks fills (kube's `requestIndices`: claim `c`, request `r`,
/// subrequest `a`), with its candidate devices and whether it takes all of them (`All` mode:
/// every candidate, in order, or nothing).
#[derive(Clone, Copy)]
struct Filling<'c> {
    c: usize,
    r: usize,
    a: usize,
    cands: &'c [DevId],
    all: bool,
}

struct Search<'a> {
    pod: &'a PreparedPod,
    inv: &'a Inventory,
    in_use: &'a InUse,
    node: Sym,
    labels: &'a Labels,
    node_devs: &'a [DevId],
    opts: Options,
    /// Per claim, request and alternative: the node's matching devices, once computed.
    candidates: Vec<Vec<Vec<Candidates>>>,
    taken: Vec<(DevId, usize)>,
    shares: Vec<(DevId, Vec<i64>)>,
    counters: HashMap<(u32, Sym, Sym), i64>,
    constraints: Vec<Vec<ConstraintState>>,
    picks: Vec<Vec<Pick>>,
    choices: Vec<Vec<usize>>,
    fixed: Option<Vec<Vec<usize>>>,
    /// The best solution so far: its packing measure and picks.
    best: Option<Best>,
    solutions: u32,
    steps: u32,
    limit_hit: bool,
    error: Option<ClaimError>,
    unfit: Option<Unfit>,
    /// What packing groups devices by (`score::PCIE_ROOT`).
    root_attr: QualifiedName,
}

type Candidates = Option<Rc<[DevId]>>;
type Best = ((u32, u32), Vec<Vec<Pick>>);

#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

impl<'a> Search<'a> {
    fn alt(&self, c: usize, r: usize, a: usize) -> &'a PreparedAlt {
        &self.pod.to_allocate[c].requests[r].alts[a]
    }

    /// The node's devices matching the alternative, in order; computed on first need.
    fn candidates(&mut self, c: usize, r: usize, a: usize) -> Candidates {
        if let Some(list) = &self.candidates[c][r][a] {
            return Some(Rc::clone(list));
        }
        let pa = self.alt(c, r, a);
        let all = pa.alt.mode == AllocationMode::All;
        let mut out = Vec::new();
        for &dev in self.node_devs {
            // kube skips devices in use before evaluating selectors (except for `All`, which
            // must see them to fail).
            if !all && !pa.alt.admin_access && self.in_use.dedicated(dev) {
                continue;
            }
            let device = self.inv.device(dev);
            // Binding conditions need PreBind to wait for the driver: not supported yet.
            if device.has_binding_conditions {
                continue;
            }
            match pa.matcher.check(self.inv, dev) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    let claim = &self.pod.to_allocate[c].claim;
                    self.error = Some(selector_error(claim, pa.alt.name, e));
                    return None;
                }
            }
            // Without capacity asked, a dedicated device always has its whole capacity free.
            let capacity_matters = !pa.alt.capacity.is_empty() || device.allow_multiple_allocations;
            if capacity_matters
                && consumption(&pa.alt.capacity, device, |i| {
                    self.in_use.capacity_consumed(dev, i)
                })
                .is_none()
            {
                continue;
            }
            out.push(dev);
        }
        if all {
            if let Some(p) = self
                .inv
                .unusable_pools_on(self.node, self.labels)
                .find(|p| p.state == PoolState::Incomplete)
            {
                self.unfit = Some(Unfit::PoolBeingUpdated {
                    claim: self.pod.to_allocate[c].claim.display_name(),
                    request: resolve(pa.alt.name).to_owned(),
                    pool: format!("{}/{}", resolve(p.id.driver), resolve(p.id.pool)),
                });
                return None;
            }
        }
        let out: Rc<[DevId]> = Rc::from(out);
        self.candidates[c][r][a] = Some(Rc::clone(&out));
        Some(out)
    }

    fn claim_device_count(&self, c: usize) -> usize {
        self.picks[c].len()
    }

    fn request_level(&mut self, c: usize, r: usize) -> Flow {
        if c == self.pod.to_allocate.len() {
            return self.solution();
        }
        if r == self.pod.to_allocate[c].requests.len() {
            return self.request_level(c + 1, 0);
        }
        for a in 0..self.pod.to_allocate[c].requests[r].alts.len() {
            if let Some(fixed) = &self.fixed
                && fixed[c][r] != a
            {
                continue;
            }
            self.choices[c][r] = a;
            let Some(cands) = self.candidates(c, r, a) else {
                return Flow::Stop;
            };
            let need = match self.alt(c, r, a).alt.mode {
                AllocationMode::ExactCount(n) => n as usize,
                AllocationMode::All => {
                    if cands.is_empty() {
                        continue;
                    }
                    cands.len()
                }
            };
            if self.claim_device_count(c) + need > MAX_DEVICES_PER_CLAIM as usize {
                continue;
            }
            let all = self.alt(c, r, a).alt.mode == AllocationMode::All;
            let filling = Filling {
                c,
                r,
                a,
                cands: &cands,
                all,
            };
            if self.pick(filling, need, 0) == Flow::Stop {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    /// `remaining` more devices for `filling`, from its candidates at `start` on.
    fn pick(&mut self, filling: Filling<'_>, remaining: usize, start: usize) -> Flow {
        let Filling {
            c,
            r,
            a,
            cands,
            all,
        } = filling;
        if remaining == 0 {
            return self.request_level(c, r + 1);
        }
        let end = if all { start + 1 } else { cands.len() };
        for i in start..end.min(cands.len()) {
            if cands.len() - i < remaining {
                break;
            }
            self.steps += 1;
            if self.steps > self.opts.step_budget {
                self.limit_hit = true;
                return Flow::Stop;
            }
            if !self.take(c, r, a, cands[i]) {
                if all {
                    return Flow::Continue;
                }
                continue;
            }
            let flow = self.pick(filling, remaining - 1, i + 1);
            self.untake(c);
            if flow == Flow::Stop {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    fn take(&mut self, c: usize, r: usize, a: usize, dev: DevId) -> bool {
        let pa = self.alt(c, r, a);
        let alt = &pa.alt;
        let device = self.inv.device(dev);
        let multi = device.allow_multiple_allocations;
        if !multi && alt.admin_access && self.taken.iter().any(|&(d, cl)| d == dev && cl == c) {
            return false;
        }
        if !alt.admin_access
            && (self.in_use.dedicated(dev) || self.taken.iter().any(|&(d, _)| d == dev))
        {
            return false;
        }
        let mut counters = Vec::new();
        let capacity_in_use = self.in_use.shared(dev) || self.shares.iter().any(|(d, _)| *d == dev);
        if !(device.consumes_counters.is_empty() || multi && capacity_in_use) {
            let pool_idx = self.inv.pool_of(dev);
            let pool = self.inv.pool(pool_idx);
            for u in &device.consumes_counters {
                for &(name, v) in &u.counters {
                    let key = (pool_idx, u.set, name);
                    let total = pool.counters.get(&(u.set, name)).copied().unwrap_or(0);
                    let drawn = self.in_use.counter_drawn(pool_idx, u.set, name)
                        + self.counters.get(&key).copied().unwrap_or(0);
                    if total - drawn < v {
                        self.undo_counters(&counters);
                        return false;
                    }
                    *self.counters.entry(key).or_default() += v;
                    counters.push((pool_idx, u.set, name, v));
                }
            }
        }
        if prevents_allocation(&device.taints, &alt.tolerations) {
            self.undo_counters(&counters);
            return false;
        }
        let request = self.pod.to_allocate[c].requests[r].name;
        let mut added = 0;
        for cs in &mut self.constraints[c] {
            if !cs.add(request, alt.name, device) {
                break;
            }
            added += 1;
        }
        if added < self.constraints[c].len() {
            for cs in self.constraints[c][..added].iter_mut().rev() {
                cs.remove(request, alt.name);
            }
            self.undo_counters(&counters);
            return false;
        }
        if alt.capacity.is_empty() && !multi {
            self.taken.push((dev, c));
            self.picks[c].push(Pick {
                request: alt.name,
                base: request,
                dev,
                admin: alt.admin_access,
                marked: true,
                share: None,
                counters,
                constraints_added: added,
            });
            return true;
        }
        let shares = &self.shares;
        let used = |i: usize| {
            self.in_use.capacity_consumed(dev, i)
                + shares
                    .iter()
                    .filter(|(d, _)| *d == dev)
                    .map(|(_, v)| v[i])
                    .sum::<i64>()
        };
        let Some(consumed) = consumption(&alt.capacity, device, used) else {
            for cs in self.constraints[c].iter_mut().rev() {
                cs.remove(request, alt.name);
            }
            self.undo_counters(&counters);
            return false;
        };
        let share = if multi {
            self.shares.push((dev, consumed.clone()));
            Some(consumed)
        } else {
            self.taken.push((dev, c));
            None
        };
        self.picks[c].push(Pick {
            request: alt.name,
            base: request,
            dev,
            admin: alt.admin_access,
            marked: share.is_none(),
            share,
            counters,
            constraints_added: added,
        });
        true
    }

    fn undo_counters(&mut self, counters: &[(u32, Sym, Sym, i64)]) {
        for &(p, s, n, v) in counters {
            *self.counters.entry((p, s, n)).or_default() -= v;
        }
    }

    fn untake(&mut self, c: usize) {
        let Some(p) = self.picks[c].pop() else { return };
        if p.marked {
            self.taken.pop();
        }
        if p.share.is_some() {
            self.shares.pop();
        }
        // The pick's request name is `req` or `req/sub`; constraints were given both.
        for cs in self.constraints[c][..p.constraints_added].iter_mut().rev() {
            cs.remove(p.base, p.request);
        }
        self.undo_counters(&p.counters);
    }

    fn solution(&mut self) -> Flow {
        self.solutions += 1;
        if self.fixed.is_none() {
            self.fixed = Some(self.choices.clone());
        }
        let measure = self.measure();
        if self.best.as_ref().is_none_or(|(m, _)| measure < *m) {
            self.best = Some((measure, self.picks.clone()));
        }
        if self.solutions >= self.opts.max_solutions || measure == (0, 0) {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }

    /// (wholly free PCIe roots this allocation breaks, free devices left in partly used roots).
    fn measure(&self) -> (u32, u32) {
        root_measure(
            self.inv,
            self.in_use,
            self.node_devs,
            self.root_attr,
            |dev| {
                self.picks
                    .iter()
                    .flatten()
                    .any(|p| p.dev == dev && !p.admin)
            },
        )
    }
}

/// What the search found on a node, before it is written out for the pod's claims: enough to
/// filter and score without allocating, and to build the `Fit` of the node chosen. It names no
/// claim, so pods whose claims read the same (one template) may share it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Per claim to allocate, the devices picked in order.
    pub picks: Box<[Box<[Chosen]>]>,
    pub broken_roots: u32,
    pub stranded: u32,
    pub score: i64,
}

/// One device of a found allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub request: Sym,
    pub dev: DevId,
    pub admin: bool,
    /// Shares only: what it consumes from each capacity.
    pub share: Option<Box<[i64]>>,
}

/// The search's answer on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Found(Arc<Found>),
    Unfit(Unfit),
}

impl Found {
    /// The allocations of `pod`'s claims on `node`, as Reserve assumes them.
    pub fn to_fit(&self, pod: &PreparedPod, inv: &Inventory, node: Sym) -> Fit {
        let claims = pod
            .to_allocate
            .iter()
            .zip(self.picks.iter())
            .map(|(pc, picks)| {
                let mut node_bound = None;
                let devices = picks
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        let device = inv.device(p.dev);
                        if matches!(device.scope, NodeScope::Node(_)) {
                            node_bound = Some(node);
                        }
                        AllocatedDevice {
                            request: p.request,
                            key: device.key,
                            admin_access: p.admin,
                            share_id: p.share.as_ref().map(|_| sym(&share_id(&pc.claim.uid, i))),
                            consumed: p.share.as_ref().map_or_else(Box::default, |v| {
                                device
                                    .capacity
                                    .iter()
                                    .zip(v.iter())
                                    .map(|(cap, amount)| {
                                        (
                                            QualifiedName {
                                                domain: Some(cap.domain),
                                                id: cap.id,
                                            },
                                            *amount,
                                        )
                                    })
                                    .collect()
                            }),
                        }
                    })
                    .collect();
                ClaimAllocation {
                    claim_uid: pc.claim.uid.clone(),
                    devices,
                    node: node_bound,
                }
            })
            .collect();
        Fit {
            claims,
            broken_roots: self.broken_roots,
            stranded: self.stranded,
            score: self.score,
        }
    }
}

/// Allocates the pod's claims on one node.
pub fn allocate(
    pod: &PreparedPod,
    inv: &Inventory,
    in_use: &InUse,
    node: Sym,
    labels: &Labels,
    opts: &Options,
) -> Result<Verdict, ClaimError> {
    Ok(match search(pod, inv, in_use, node, labels, opts)? {
        Outcome::Found(found) => Verdict::Fit(found.to_fit(pod, inv, node)),
        Outcome::Unfit(why) => Verdict::Unfit(why),
    })
}

/// Claims already allocated to the pod whose devices cannot be used on `node`.
pub fn allocated_unfit(pod: &PreparedPod, node: Sym, labels: &Labels) -> Option<Unfit> {
    pod.allocated
        .iter()
        .find(|claim| {
            claim
                .allocation
                .as_ref()
                .and_then(|a| a.node_selector.as_ref())
                .is_some_and(|s| !s.matches(node, labels))
        })
        .map(|claim| Unfit::ClaimNotAvailable {
            claim: claim.display_name(),
        })
}

/// The search on one node, whose answer names no claim (see `Found`).
pub fn search(
    pod: &PreparedPod,
    inv: &Inventory,
    in_use: &InUse,
    node: Sym,
    labels: &Labels,
    opts: &Options,
) -> Result<Outcome, ClaimError> {
    if let Some(unfit) = allocated_unfit(pod, node, labels) {
        return Ok(Outcome::Unfit(unfit));
    }
    search_unallocated(pod, inv, in_use, node, labels, opts)
}

/// The search for the pod's unallocated claims alone (`allocated_unfit` checked apart).
pub fn search_unallocated(
    pod: &PreparedPod,
    inv: &Inventory,
    in_use: &InUse,
    node: Sym,
    labels: &Labels,
    opts: &Options,
) -> Result<Outcome, ClaimError> {
    if pod.to_allocate.is_empty() {
        return Ok(Outcome::Found(Arc::new(Found {
            picks: Box::default(),
            broken_roots: 0,
            stranded: 0,
            score: 0,
        })));
    }
    let node_devs: Cow<'_, [DevId]> = if inv.has_shared() {
        Cow::Owned(inv.node_devices(node, labels))
    } else {
        Cow::Borrowed(inv.local_devices(node))
    };
    let mut s = Search {
        pod,
        inv,
        in_use,
        node,
        labels,
        node_devs: &node_devs,
        opts: *opts,
        candidates: pod
            .to_allocate
            .iter()
            .map(|c| {
                c.requests
                    .iter()
                    .map(|r| vec![None; r.alts.len()])
                    .collect()
            })
            .collect(),
        taken: Vec::new(),
        shares: Vec::new(),
        counters: HashMap::new(),
        constraints: pod
            .to_allocate
            .iter()
            .map(|c| {
                c.claim
                    .constraints
                    .iter()
                    .map(ConstraintState::new)
                    .collect()
            })
            .collect(),
        picks: vec![Vec::new(); pod.to_allocate.len()],
        choices: pod
            .to_allocate
            .iter()
            .map(|c| vec![0; c.requests.len()])
            .collect(),
        fixed: None,
        best: None,
        solutions: 0,
        steps: 0,
        limit_hit: false,
        error: None,
        unfit: None,
        root_attr: pcie_root(),
    };
    s.request_level(0, 0);
    if let Some(e) = s.error {
        return Err(e);
    }
    let Some(((broken_roots, stranded), picks)) = s.best else {
        let unfit = if let Some(u) = s.unfit {
            u
        } else if s.limit_hit {
            Unfit::SearchLimit
        } else if inv
            .unusable_pools_on(node, labels)
            .any(|p| matches!(p.state, PoolState::Invalid(_)))
        {
            Unfit::InvalidPools
        } else {
            Unfit::CannotAllocate
        };
        return Ok(Outcome::Unfit(unfit));
    };
    let picked = |d: DevId| picks.iter().flatten().any(|p| p.dev == d && !p.admin);
    let score = node_score(in_use, &node_devs, picked, stranded);
    let picks = picks
        .into_iter()
        .map(|claim| {
            claim
                .into_iter()
                .map(|p| Chosen {
                    request: p.request,
                    dev: p.dev,
                    admin: p.admin,
                    share: p.share.map(Vec::into_boxed_slice),
                })
                .collect()
        })
        .collect();
    Ok(Outcome::Found(Arc::new(Found {
        picks,
        broken_roots,
        stranded,
        score,
    })))
}

/// A share's `shareID`: the API wants a UID; derived from the claim and the result's index so
/// the same decision always names its shares the same.
fn share_id(claim_uid: &str, index: usize) -> String {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    let hasher = BuildHasherDefault::<DefaultHasher>::default();
    let hi = hasher.hash_one((claim_uid, index, 0u8));
    let lo = hasher.hash_one((claim_uid, index, 1u8));
    let bits = (u128::from(hi) << 64) | u128::from(lo);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The devices a fit takes, for callers that check results (tests, the benchmark).
pub fn fit_keys(fit: &Fit) -> Vec<DeviceKey> {
    fit.claims
        .iter()
        .flat_map(|c| c.devices.iter().map(|d| d.key))
        .collect()
}

#[cfg(test)]
mod tests;
