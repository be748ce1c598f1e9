//! Quotas per namespace: scheduler-plugins' `ElasticQuota` (`scheduling.x-k8s.io/v1alpha1`),
//! decoded once, and what the namespace's pods use, kept in step with the pods placed (bound or
//! assumed, not finished) by the cache and by a batch's own placements. CapacityScheduling's
//! semantics (`plugins/capacity_scheduling`): a pod is admitted within its quota's `max`; beyond
//! its `min` it borrows, which it may while all quotas together stay within the sum of their
//! `min`s (what the others leave unused). Unlike CapacityScheduling, a pod within its own `min`
//! is admitted even while others borrow: its guarantee holds wherever nodes have room, and taking
//! back what borrowers hold when they do not is preemption's (reclaim's) job.
//!
//! Hierarchy (podium's, on the same CRD): `podium.dev/parent: <namespace>` makes the ElasticQuota
//! of that namespace the quota's parent (a department: an ElasticQuota in a namespace of its own,
//! which may run no pods). A parent's use is its subtree's; its `min` is what its subtree is
//! guaranteed (a resource its `min` does not name: the sum of its children's), its `max` bounds
//! its subtree. Borrowing walks up: a pod beyond its quota's `min` is admitted while some
//! ancestor's subtree stays within that ancestor's guarantee (siblings lend to each other first),
//! and at the top while all trees together stay within the sum of their roots' guarantees. A bad
//! parent (unknown, or a cycle) makes the quota a root and is reported on it (`errors`).
//!
//! Fair share: `podium.dev/weight` (default 1) weighs a quota's claim on what lies beyond the
//! guarantees; `fair_key` is the weighted dominant share (DRF) the queue orders teams by.
//!
//! Persistent maps: a snapshot copies this in O(1).

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;
use smallvec::SmallVec;

use crate::error::{CoreError, CoreResult};
use crate::intern::{Sym, resolve, sym};
use crate::quantity;
use crate::state::resources::{ResourceName, Resources};

/// The annotation naming a quota's parent: the namespace of the parent's ElasticQuota.
pub const PARENT_ANNOTATION: &str = "podium.dev/parent";
/// The annotation weighing a quota's share of idle capacity (a positive number, default 1).
pub const WEIGHT_ANNOTATION: &str = "podium.dev/weight";

/// One ElasticQuota: its `min` and `max`, and which resources each names (a resource a list
/// leaves out is not limited by it); its parent and weight (podium's annotations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    pub namespace: Sym,
    pub name: Sym,
    pub min: Resources,
    pub max: Resources,
    pub min_names: Box<[ResourceName]>,
    pub max_names: Box<[ResourceName]>,
    /// The namespace whose ElasticQuota is this one's parent (`podium.dev/parent`).
    pub parent: Option<Sym>,
    /// `podium.dev/weight` in thousandths (1000 by default), always positive.
    pub weight_milli: i64,
}

impl Quota {
    /// `namespace/name`, as messages print it.
    pub fn display_name(&self) -> String {
        format!("{}/{}", resolve(self.namespace), resolve(self.name))
    }
}

#[derive(Deserialize, Default)]
struct MetaWire {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    annotations: Option<HashMap<String, String>>,
}
/// A quantity as the CRD allows it: a string (`"16"`, `"500m"`) or a plain number.
#[derive(Deserialize)]
#[serde(untagged)]
enum QuantityWire {
    Text(String),
    Number(serde_json::Number),
}

impl QuantityWire {
    fn text(&self) -> String {
        match self {
            Self::Text(t) => t.clone(),
            Self::Number(n) => n.to_string(),
        }
    }
}

type ResourceListWire = std::collections::BTreeMap<String, QuantityWire>;

#[derive(Deserialize, Default)]
struct SpecWire {
    #[serde(default)]
    min: ResourceListWire,
    #[serde(default)]
    max: ResourceListWire,
}

#[derive(Deserialize)]
struct ElasticQuotaWire {
    #[serde(default)]
    metadata: MetaWire,
    #[serde(default)]
    spec: SpecWire,
}

fn resource_list(
    object: &str,
    field: &str,
    list: &ResourceListWire,
) -> CoreResult<(Resources, Box<[ResourceName]>)> {
    let mut out = Resources::default();
    let mut names = Vec::with_capacity(list.len());
    for (key, value) in list {
        let text = &value.text();
        let resource = ResourceName::parse(key);
        let parsed = if resource == ResourceName::Cpu {
            quantity::parse_milli_value(text)
        } else {
            quantity::parse_value(text)
        };
        match parsed {
            Ok(v) if v >= 0 => {
                out.set(resource, v);
                names.push(resource);
            }
            Ok(_) => {
                return Err(CoreError::Invalid(format!(
                    "{object}: spec.{field}.{key}: negative quantity"
                )));
            }
            Err(e) => {
                return Err(CoreError::Invalid(format!(
                    "{object}: spec.{field}.{key}: {e}"
                )));
            }
        }
    }
    Ok((out, names.into_boxed_slice()))
}

/// An ElasticQuota object, or a message naming the object and the bad field.
pub fn parse_quota(bytes: &[u8]) -> CoreResult<Quota> {
    let w: ElasticQuotaWire = serde_json::from_slice(bytes)
        .map_err(|e| CoreError::Invalid(format!("ElasticQuota: {e}")))?;
    if w.metadata.name.is_empty() || w.metadata.namespace.is_empty() {
        return Err(CoreError::Invalid(
            "ElasticQuota: metadata.name and metadata.namespace are required".into(),
        ));
    }
    let object = format!("ElasticQuota {}/{}", w.metadata.namespace, w.metadata.name);
    let (min, min_names) = resource_list(&object, "min", &w.spec.min)?;
    let (max, max_names) = resource_list(&object, "max", &w.spec.max)?;
    for &r in &min_names {
        if max_names.contains(&r) && min.get(r) > max.get(r) {
            return Err(CoreError::Invalid(format!(
                "{object}: spec.min.{}: greater than spec.max.{}",
                r.as_str(),
                r.as_str()
            )));
        }
    }
    let annotations = w.metadata.annotations.unwrap_or_default();
    let parent = match annotations.get(PARENT_ANNOTATION) {
        None => None,
        Some(p) if is_namespace_name(p) => Some(sym(p)),
        Some(p) => {
            return Err(CoreError::Invalid(format!(
                "{object}: metadata.annotations[{PARENT_ANNOTATION}]: {} is not a namespace name (the parent is the ElasticQuota of that namespace)",
                crate::bounded::quoted(p)
            )));
        }
    };
    let weight_milli = match annotations.get(WEIGHT_ANNOTATION) {
        None => 1000,
        Some(text) => match quantity::parse_milli_value(text) {
            Ok(v) if v > 0 => v,
            _ => {
                return Err(CoreError::Invalid(format!(
                    "{object}: metadata.annotations[{WEIGHT_ANNOTATION}]: {} is not a positive number",
                    crate::bounded::quoted(text)
                )));
            }
        },
    };
    Ok(Quota {
        namespace: sym(&w.metadata.namespace),
        name: sym(&w.metadata.name),
        min,
        max,
        min_names,
        max_names,
        parent,
        weight_milli,
    })
}

/// A DNS-1123 label, as namespace names are.
fn is_namespace_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// Why a pod's quota does not admit it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuotaVerdict {
    Admit,
    /// Over the `max` of the quota of namespace `.0` (the pod's or an ancestor's): (quota's
    /// namespace, resource, used, requested, max).
    OverMax(Sym, ResourceName, i64, i64, i64),
    /// Beyond its `min` and its ancestors' guarantees, and all quotas together would exceed
    /// their `min`s: (resource, used by all, requested, sum of mins).
    NothingToBorrow(ResourceName, i64, i64, i64),
}

/// What a quota guarantees its subtree: its own `min` where it names the resource, the sum of
/// its children's guarantees where it does not.
#[derive(Debug, Clone, Default)]
struct Guarantee {
    amounts: Resources,
    names: Box<[ResourceName]>,
}

impl Guarantee {
    fn of(&self, r: ResourceName) -> Option<i64> {
        self.names.contains(&r).then(|| self.amounts.get(r))
    }
}

/// One quota's place in the tree.
#[derive(Debug, Clone, Default)]
struct Place {
    /// Its ancestors' namespaces, nearest first (empty for a root).
    ancestors: Box<[Sym]>,
    guarantee: Guarantee,
    /// Whether it has children (its use then includes theirs).
    inner: bool,
}

/// The quotas' tree (`podium.dev/parent`), rebuilt whenever a quota changes (rare).
#[derive(Debug, Default)]
struct Tree {
    places: HashMap<Sym, Place>,
    /// The roots, in namespace order, with their guarantees (the top of every borrowing walk).
    roots: Box<[(Sym, Guarantee, bool)]>,
    /// Why a quota's parent was ignored, or its children's mins exceed its own, by namespace.
    errors: HashMap<Sym, String>,
    /// Whether any quota has a parent (flat quotas skip the walks).
    nested: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Quotas {
    /// By namespace (one ElasticQuota a namespace, as CapacityScheduling assumes).
    by_namespace: imbl::HashMap<Sym, Arc<Quota>>,
    /// What each namespace's placed pods request (namespaces with or without a quota).
    used: imbl::HashMap<Sym, Resources>,
    /// Per quota with children: what its descendants' namespaces use.
    below: imbl::HashMap<Sym, Resources>,
    tree: Arc<Tree>,
}

static NONE: std::sync::LazyLock<Resources> = std::sync::LazyLock::new(Resources::default);

impl Quotas {
    pub fn is_empty(&self) -> bool {
        self.by_namespace.is_empty()
    }

    pub fn of(&self, namespace: Sym) -> Option<&Arc<Quota>> {
        self.by_namespace.get(&namespace)
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<Quota>> {
        self.by_namespace.values()
    }

    pub fn used(&self, namespace: Sym) -> Resources {
        self.used_ref(namespace).clone()
    }

    /// What the quota of `namespace` counts: its namespace's use and its descendants'.
    pub fn subtree_used(&self, namespace: Sym) -> Resources {
        let mut out = self.used(namespace);
        if let Some(below) = self.below.get(&namespace) {
            out.add(below);
        }
        out
    }

    /// Why the quota of `namespace` is not where its annotations put it (a bad parent), or its
    /// children are promised more than it is.
    pub fn error(&self, namespace: Sym) -> Option<&str> {
        self.tree.errors.get(&namespace).map(String::as_str)
    }

    /// The quota's ancestors, nearest first (empty for a root or a namespace without a quota).
    pub fn ancestors(&self, namespace: Sym) -> &[Sym] {
        self.tree
            .places
            .get(&namespace)
            .map_or(&[], |p| &p.ancestors)
    }

    /// As `used`, without a copy (for the checks run per pod).
    fn used_ref(&self, namespace: Sym) -> &Resources {
        self.used.get(&namespace).unwrap_or(&NONE)
    }

    /// The subtree's use of `r`.
    fn use_of(&self, namespace: Sym, inner: bool, r: ResourceName) -> i64 {
        let own = self.used_ref(namespace).get(r);
        if !inner {
            return own;
        }
        own.saturating_add(self.below.get(&namespace).map_or(0, |b| b.get(r)))
    }

    pub fn set(&mut self, quota: Quota) {
        self.by_namespace.insert(quota.namespace, Arc::new(quota));
        self.rebuild();
    }

    /// Removes the quota of `namespace` if it is the one named.
    pub fn remove(&mut self, namespace: Sym, name: Sym) {
        if self
            .by_namespace
            .get(&namespace)
            .is_some_and(|q| q.name == name)
        {
            self.by_namespace.remove(&namespace);
            self.rebuild();
        }
    }

    pub fn retain(&mut self, keep: impl Fn(&Quota) -> bool) {
        let before = self.by_namespace.len();
        self.by_namespace.retain(|_, q| keep(q));
        if self.by_namespace.len() != before {
            self.rebuild();
        }
    }

    /// A pod of `namespace` requesting `requests` is placed.
    pub fn add(&mut self, namespace: Sym, requests: &Resources) {
        self.used.entry(namespace).or_default().add(requests);
        if self.tree.nested {
            // The tree is shared, not copied: `below` changes while its ancestors are read.
            let tree = Arc::clone(&self.tree);
            for a in tree
                .places
                .get(&namespace)
                .into_iter()
                .flat_map(|p| &p.ancestors)
            {
                self.below.entry(*a).or_default().add(requests);
            }
        }
    }

    /// A placed pod of `namespace` is gone.
    pub fn sub(&mut self, namespace: Sym, requests: &Resources) {
        if let Some(used) = self.used.get_mut(&namespace) {
            used.sub(requests);
        }
        if self.tree.nested {
            let tree = Arc::clone(&self.tree);
            for a in tree
                .places
                .get(&namespace)
                .into_iter()
                .flat_map(|p| &p.ancestors)
            {
                if let Some(below) = self.below.get_mut(a) {
                    below.sub(requests);
                }
            }
        }
    }

    /// The quota of `namespace`, then its ancestors', with their places.
    fn path(&self, namespace: Sym) -> SmallVec<[(Sym, &Place); 4]> {
        let mut out = SmallVec::new();
        if let Some(place) = self.tree.places.get(&namespace) {
            out.push((namespace, place));
            for a in &place.ancestors {
                if let Some(p) = self.tree.places.get(a) {
                    out.push((*a, p));
                }
            }
        }
        out
    }

    /// The tree from the quotas' parents: ancestors, guarantees, subtree use, errors.
    fn rebuild(&mut self) {
        let quotas = &self.by_namespace;
        let mut errors: HashMap<Sym, String> = HashMap::new();
        // A parent that is unknown or leads back to the quota is ignored: the quota is a root.
        let mut parent_of: HashMap<Sym, Sym> = HashMap::new();
        for q in quotas.values() {
            let Some(parent) = q.parent else { continue };
            let field = format!(
                "ElasticQuota {}: metadata.annotations[{PARENT_ANNOTATION}]",
                q.display_name()
            );
            if !quotas.contains_key(&parent) {
                errors.insert(
                    q.namespace,
                    format!(
                        "{field}: no ElasticQuota in namespace {}; the quota is a root meanwhile",
                        resolve(parent)
                    ),
                );
                continue;
            }
            let mut chain = vec![q.namespace, parent];
            let mut at = parent;
            let mut cycle = false;
            while let Some(next) = quotas.get(&at).and_then(|p| p.parent) {
                if next == q.namespace {
                    cycle = true;
                    chain.push(next);
                    break;
                }
                if chain.contains(&next) || !quotas.contains_key(&next) {
                    break; // a cycle above it, or an unknown parent: reported on its members
                }
                chain.push(next);
                at = next;
            }
            if cycle {
                let names: Vec<&str> = chain.iter().map(|s| resolve(*s)).collect();
                errors.insert(
                    q.namespace,
                    format!(
                        "{field}: a cycle ({}); the quota is a root meanwhile",
                        names.join(" → ")
                    ),
                );
                continue;
            }
            parent_of.insert(q.namespace, parent);
        }
        let mut children: HashMap<Sym, Vec<Sym>> = HashMap::new();
        for (&child, &parent) in &parent_of {
            children.entry(parent).or_default().push(child);
        }
        let mut places: HashMap<Sym, Place> = HashMap::new();
        for q in quotas.values() {
            let mut ancestors = Vec::new();
            let mut at = q.namespace;
            while let Some(&p) = parent_of.get(&at) {
                ancestors.push(p);
                at = p;
            }
            places.insert(
                q.namespace,
                Place {
                    ancestors: ancestors.into_boxed_slice(),
                    guarantee: Guarantee::default(),
                    inner: children.contains_key(&q.namespace),
                },
            );
        }
        // Guarantees bottom up: deepest quotas first.
        let mut order: Vec<Sym> = places.keys().copied().collect();
        order.sort_by_key(|ns| (std::cmp::Reverse(places[ns].ancestors.len()), resolve(*ns)));
        let mut guarantees: HashMap<Sym, Guarantee> = HashMap::new();
        for ns in order {
            let q = &quotas[&ns];
            let mut amounts = q.min.clone();
            let mut names: Vec<ResourceName> = q.min_names.to_vec();
            let mut promised = Resources::default();
            let mut promised_names: Vec<ResourceName> = Vec::new();
            for child in children.get(&ns).into_iter().flatten() {
                let g = &guarantees[child];
                for &r in &g.names {
                    promised.set(r, promised.get(r).saturating_add(g.amounts.get(r)));
                    if !promised_names.contains(&r) {
                        promised_names.push(r);
                    }
                }
            }
            for &r in &promised_names {
                if !names.contains(&r) {
                    amounts.set(r, promised.get(r));
                    names.push(r);
                } else if promised.get(r) > q.min.get(r) && !errors.contains_key(&ns) {
                    errors.insert(
                        ns,
                        format!(
                            "ElasticQuota {}: spec.min.{}: {} is less than its children's mins together ({}): they are guaranteed {} together",
                            q.display_name(),
                            r.as_str(),
                            q.min.get(r),
                            promised.get(r),
                            q.min.get(r)
                        ),
                    );
                }
            }
            guarantees.insert(
                ns,
                Guarantee {
                    amounts,
                    names: names.into_boxed_slice(),
                },
            );
        }
        for (ns, g) in guarantees {
            if let Some(place) = places.get_mut(&ns) {
                place.guarantee = g;
            }
        }
        let mut roots: Vec<(Sym, Guarantee, bool)> = places
            .iter()
            .filter(|(_, p)| p.ancestors.is_empty())
            .map(|(ns, p)| (*ns, p.guarantee.clone(), p.inner))
            .collect();
        roots.sort_by_key(|(ns, _, _)| resolve(*ns));
        let mut below: imbl::HashMap<Sym, Resources> = imbl::HashMap::new();
        for (ns, place) in &places {
            if let Some(used) = self.used.get(ns) {
                for a in &place.ancestors {
                    below.entry(*a).or_default().add(used);
                }
            }
        }
        self.below = below;
        self.tree = Arc::new(Tree {
            nested: !parent_of.is_empty(),
            places,
            roots: roots.into_boxed_slice(),
            errors,
        });
    }

    /// Reclaim through the tree: may a pod of `preemptor` (asking `asks`) evict a placed pod of
    /// `victim` (using `uses`)? Below their nearest common ancestor (every level, with flat
    /// quotas: the two quotas), each of the victim's quotas must be beyond its guarantee on a
    /// resource the pod uses and stay at or above it without the pod (the pod is borrowed
    /// capacity there), and, when `needs_guarantee`, each of the preemptor's must stay within its
    /// guarantee with the pod (it takes back what it is owed). Teams of one department thus
    /// reclaim from each other, and another department only from a department beyond its own
    /// guarantee.
    pub fn reclaimable(
        &self,
        preemptor: Sym,
        asks: &Resources,
        victim: Sym,
        uses: &Resources,
        needs_guarantee: bool,
    ) -> bool {
        let (theirs, ours) = (self.path(victim), self.path(preemptor));
        let common = |ns: Sym| ours.iter().any(|(o, _)| *o == ns);
        let below_common = theirs.iter().take_while(|(ns, _)| !common(*ns));
        let mut any = false;
        for (ns, place) in below_common {
            any = true;
            if !self.borrowed_at(*ns, place, uses) {
                return false;
            }
        }
        if !any {
            return false;
        }
        if !needs_guarantee {
            return true;
        }
        let theirs_has = |ns: Sym| theirs.iter().any(|(t, _)| *t == ns);
        let mine: Vec<_> = ours.iter().take_while(|(ns, _)| !theirs_has(*ns)).collect();
        !mine.is_empty()
            && mine.iter().all(|(ns, place)| {
                place.guarantee.names.iter().all(|&r| {
                    self.use_of(*ns, place.inner, r).saturating_add(asks.get(r))
                        <= place.guarantee.amounts.get(r)
                })
            })
    }

    /// Whether a pod using `uses` is borrowed capacity at the quota of `namespace`: beyond its
    /// guarantee on a resource the pod uses, and at or above it on each such resource without
    /// the pod.
    fn borrowed_at(&self, namespace: Sym, place: &Place, uses: &Resources) -> bool {
        let mut over = false;
        for &r in &place.guarantee.names {
            let want = uses.get(r);
            if want == 0 {
                continue;
            }
            let (u, min) = (
                self.use_of(namespace, place.inner, r),
                place.guarantee.amounts.get(r),
            );
            if u.saturating_sub(want) < min {
                return false;
            }
            over |= u > min;
        }
        over
    }

    /// CapacityScheduling's PreFilter through the tree: within the `max` of the pod's quota and
    /// of each ancestor's, and, beyond its `min`, within the guarantee of the nearest ancestor
    /// whose subtree has room, or else within what all trees leave unused.
    pub fn admits(&self, namespace: Sym, requests: &Resources) -> QuotaVerdict {
        let path = self.path(namespace);
        let Some(&(_, root)) = path.last() else {
            return QuotaVerdict::Admit;
        };
        for &(ns, place) in &path {
            let quota = &self.by_namespace[&ns];
            for &r in &quota.max_names {
                let (want, max) = (requests.get(r), quota.max.get(r));
                if want == 0 {
                    continue;
                }
                let u = self.use_of(ns, place.inner, r);
                if u.saturating_add(want) > max {
                    return QuotaVerdict::OverMax(ns, r, u, want, max);
                }
            }
        }
        // The root's guarantee names every resource one below it names.
        for &r in &root.guarantee.names {
            let want = requests.get(r);
            if want == 0 {
                continue;
            }
            let room = path.iter().any(|&(ns, place)| {
                place
                    .guarantee
                    .of(r)
                    .is_some_and(|g| self.use_of(ns, place.inner, r).saturating_add(want) <= g)
            });
            if room {
                continue;
            }
            // Borrowing across trees: every root's use of `r` against the sum of their mins.
            let (mut all_used, mut all_min) = (0i64, 0i64);
            for (ns, g, inner) in &self.tree.roots {
                if let Some(min) = g.of(r) {
                    all_min = all_min.saturating_add(min);
                    all_used = all_used.saturating_add(self.use_of(*ns, *inner, r));
                }
            }
            if all_used.saturating_add(want) > all_min {
                return QuotaVerdict::NothingToBorrow(r, all_used, want, all_min);
            }
        }
        QuotaVerdict::Admit
    }

    /// The fair-share order's key for a pod of `namespace` (DRF, weighted, through the tree):
    /// per quota from its root down to its own, the largest share of the cluster's `capacity`
    /// it uses beyond its guarantee among `resources`, divided by its weight. Lower goes first:
    /// departments are compared first, then teams within a department. Empty without a quota.
    /// `next`: the pod about to be served, counted as placed, so that whole pods centre each
    /// quota on its share rather than overshoot it by up to a pod.
    pub fn fair_key(
        &self,
        namespace: Sym,
        next: &Resources,
        capacity: &Resources,
        resources: &[ResourceName],
    ) -> SmallVec<[f64; 4]> {
        let mut path = self.path(namespace);
        path.reverse();
        path.iter()
            .map(|&(ns, place)| {
                let mut share = f64::NEG_INFINITY;
                for &r in resources {
                    let cap = capacity.get(r);
                    if cap <= 0 {
                        continue;
                    }
                    let used = self.use_of(ns, place.inner, r).saturating_add(next.get(r));
                    let guaranteed = place.guarantee.of(r);
                    // A resource neither used nor guaranteed says nothing of the quota's share.
                    if used == 0 && guaranteed.is_none() {
                        continue;
                    }
                    share = share.max(ratio(used.saturating_sub(guaranteed.unwrap_or(0)), cap));
                }
                if share == f64::NEG_INFINITY {
                    return 0.0;
                }
                // Beyond the guarantee, weights divide what is lent; below it, a quota is owed
                // its own whatever its weight.
                if share > 0.0 {
                    share / ratio(self.by_namespace[&ns].weight_milli, 1000)
                } else {
                    share
                }
            })
            .collect()
    }
}

/// `a / b` as a float: shares, not accounts, so precision beyond 2^53 does not matter.
#[allow(clippy::cast_precision_loss)]
fn ratio(a: i64, b: i64) -> f64 {
    a as f64 / b as f64
}

/// The fair-share order's view of the quotas: a copy of the ledger (O(1)) with the nodes'
/// capacity, charged with the pods the queue hands out so that one batch already alternates
/// between teams. DRF over cpu, memory and every extended resource the nodes offer.
#[derive(Debug, Clone)]
pub struct FairShare {
    quotas: Quotas,
    capacity: Resources,
    resources: Box<[ResourceName]>,
}

impl FairShare {
    pub fn new(quotas: Quotas, capacity: &Resources) -> Self {
        let mut resources = vec![ResourceName::Cpu, ResourceName::Memory];
        resources.extend(
            capacity
                .scalar
                .iter()
                .filter(|(_, v)| *v > 0)
                .map(|(k, _)| ResourceName::Scalar(*k)),
        );
        Self {
            quotas,
            capacity: capacity.clone(),
            resources: resources.into_boxed_slice(),
        }
    }

    /// See `Quotas::fair_key`; `next`: the pod it would serve.
    pub fn key(&self, namespace: Sym, next: &Resources) -> SmallVec<[f64; 4]> {
        self.quotas
            .fair_key(namespace, next, &self.capacity, &self.resources)
    }

    /// A pod of `namespace` asking `requests` was handed out: count it as placed.
    pub fn charge(&mut self, namespace: Sym, requests: &Resources) {
        self.quotas.add(namespace, requests);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(ns: &str, min: u32, max: u32) -> Quota {
        parse_quota(
            format!(
                r#"{{"metadata":{{"name":"q","namespace":"{ns}"}},
                    "spec":{{"min":{{"nvidia.com/gpu":"{min}"}},"max":{{"nvidia.com/gpu":"{max}","cpu":"100"}}}}}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    fn gpus(n: i64) -> Resources {
        let mut r = Resources::default();
        r.set(ResourceName::parse("nvidia.com/gpu"), n);
        r
    }

    #[test]
    fn within_max_and_borrowing_only_what_others_leave() {
        let mut q = Quotas::default();
        q.set(quota("a", 16, 32));
        q.set(quota("b", 16, 32));
        let (a, b) = (sym("a"), sym("b"));
        q.add(a, &gpus(16));
        assert_eq!(
            q.admits(a, &gpus(8)),
            QuotaVerdict::Admit,
            "b leaves 16 unused"
        );
        q.add(a, &gpus(16));
        let gpu = ResourceName::parse("nvidia.com/gpu");
        assert_eq!(
            q.admits(a, &gpus(1)),
            QuotaVerdict::OverMax(a, gpu, 32, 1, 32)
        );
        q.sub(a, &gpus(8));
        q.add(b, &gpus(8));
        assert_eq!(
            q.admits(a, &gpus(1)),
            QuotaVerdict::NothingToBorrow(gpu, 32, 1, 32),
            "a is at 24 (8 borrowed), b uses 8 of its 16: 32 of 32 in use"
        );
        assert_eq!(
            q.admits(b, &gpus(8)),
            QuotaVerdict::Admit,
            "within b's own min"
        );
        assert_eq!(
            q.admits(b, &gpus(9)),
            QuotaVerdict::NothingToBorrow(gpu, 32, 9, 32)
        );
        assert_eq!(q.admits(sym("no-quota"), &gpus(100)), QuotaVerdict::Admit);
    }

    #[test]
    fn quantities_may_be_numbers() {
        let q = parse_quota(
            br#"{"metadata":{"name":"q","namespace":"a"},"spec":{"min":{"nvidia.com/gpu":4,"cpu":1.5},"max":{"memory":"1Gi"}}}"#,
        )
        .unwrap();
        assert_eq!(q.min.get(ResourceName::parse("nvidia.com/gpu")), 4);
        assert_eq!(q.min.get(ResourceName::Cpu), 1500);
        assert_eq!(q.max.get(ResourceName::Memory), 1 << 30);
    }

    #[test]
    fn bad_quotas_name_the_field() {
        let err = parse_quota(
            br#"{"metadata":{"name":"q","namespace":"a"},"spec":{"min":{"cpu":"2"},"max":{"cpu":"1"}}}"#,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "ElasticQuota a/q: spec.min.cpu: greater than spec.max.cpu"
        );
        let err = parse_quota(
            br#"{"metadata":{"name":"q","namespace":"a"},"spec":{"max":{"memory":"lots"}}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("ElasticQuota a/q: spec.max.memory: "),
            "{err}"
        );
    }

    /// A quota of namespace `ns` with GPU `min`/`max` and the given annotations.
    fn child(ns: &str, min: u32, max: u32, annotations: &str) -> Quota {
        parse_quota(
            format!(
                r#"{{"metadata":{{"name":"q","namespace":"{ns}","annotations":{{{annotations}}}}},
                    "spec":{{"min":{{"nvidia.com/gpu":"{min}"}},"max":{{"nvidia.com/gpu":"{max}"}}}}}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    /// Two departments of 16 GPUs, each with two teams of min 8 (max 32).
    fn departments() -> Quotas {
        let mut q = Quotas::default();
        for dept in ["dept-a", "dept-b"] {
            q.set(child(dept, 16, 32, ""));
            for team in ["1", "2"] {
                let parent = format!(r#""podium.dev/parent":"{dept}""#);
                q.set(child(&format!("{dept}-{team}"), 8, 32, &parent));
            }
        }
        q
    }

    #[test]
    fn teams_borrow_within_their_department_before_across() {
        let mut q = departments();
        let (a1, a2, b1) = (sym("dept-a-1"), sym("dept-a-2"), sym("dept-b-1"));
        assert_eq!(q.ancestors(a1), [sym("dept-a")]);
        assert_eq!(q.error(a1), None);
        q.add(a1, &gpus(12));
        q.add(b1, &gpus(8));
        assert_eq!(q.subtree_used(sym("dept-a")), gpus(12));
        // a1 at 12 borrows from a2 within dept-a's 16.
        assert_eq!(q.admits(a1, &gpus(4)), QuotaVerdict::Admit);
        // Beyond dept-a's 16: from what dept-b leaves (8 of its 16 unused).
        assert_eq!(q.admits(a1, &gpus(12)), QuotaVerdict::Admit);
        q.add(a1, &gpus(12));
        q.add(sym("dept-b-2"), &gpus(4));
        let gpu = ResourceName::parse("nvidia.com/gpu");
        assert_eq!(
            q.admits(a1, &gpus(1)),
            QuotaVerdict::NothingToBorrow(gpu, 36, 1, 32),
        );
        // b1 within its own min takes back from dept-a, which borrowed beyond its 16...
        assert!(q.reclaimable(b1, &gpus(0), a1, &gpus(1), true));
        // ...and a2 from its sibling a1, which is beyond its own min.
        assert!(q.reclaimable(a2, &gpus(4), a1, &gpus(1), true));
        q.sub(a1, &gpus(8));
        // a1 at 16: dept-a within its guarantee: nothing of it is borrowed from dept-b's
        // point of view, though a1 still borrows from its sibling.
        assert!(!q.reclaimable(b1, &gpus(0), a1, &gpus(1), true));
        assert!(q.reclaimable(a2, &gpus(4), a1, &gpus(1), true));
        // A team beyond its own guarantee reclaims nothing whatever it asks.
        assert!(!q.reclaimable(sym("dept-b-2"), &gpus(5), a1, &gpus(1), true));
    }

    #[test]
    fn a_department_max_bounds_its_teams_and_is_named() {
        let mut q = Quotas::default();
        q.set(child("dept", 0, 8, ""));
        q.set(child("team", 0, 32, r#""podium.dev/parent":"dept""#));
        q.set(child("other", 64, 64, ""));
        let (team, dept) = (sym("team"), sym("dept"));
        q.add(team, &gpus(8));
        let gpu = ResourceName::parse("nvidia.com/gpu");
        assert_eq!(
            q.admits(team, &gpus(1)),
            QuotaVerdict::OverMax(dept, gpu, 8, 1, 8)
        );
    }

    #[test]
    fn a_parent_without_a_min_guarantees_its_childrens_sum() {
        let mut q = Quotas::default();
        q.set(parse_quota(br#"{"metadata":{"name":"cohort","namespace":"cohort"}}"#).unwrap());
        q.set(child("x", 4, 32, r#""podium.dev/parent":"cohort""#));
        q.set(child("y", 4, 32, r#""podium.dev/parent":"cohort""#));
        let x = sym("x");
        assert_eq!(q.admits(x, &gpus(8)), QuotaVerdict::Admit);
        let gpu = ResourceName::parse("nvidia.com/gpu");
        assert_eq!(
            q.admits(x, &gpus(9)),
            QuotaVerdict::NothingToBorrow(gpu, 0, 9, 8)
        );
    }

    #[test]
    fn bad_parents_are_errors_naming_the_object_and_the_annotation() {
        let mut q = Quotas::default();
        q.set(child("a", 1, 2, r#""podium.dev/parent":"b""#));
        q.set(child("b", 1, 2, r#""podium.dev/parent":"a""#));
        q.set(child("c", 1, 2, r#""podium.dev/parent":"nowhere""#));
        q.set(child("d", 1, 2, r#""podium.dev/parent":"a""#));
        assert_eq!(
            q.error(sym("a")),
            Some(
                "ElasticQuota a/q: metadata.annotations[podium.dev/parent]: a cycle (a → b → a); the quota is a root meanwhile"
            )
        );
        assert!(q.error(sym("b")).unwrap().contains("a cycle (b → a → b)"));
        assert_eq!(
            q.error(sym("c")),
            Some(
                "ElasticQuota c/q: metadata.annotations[podium.dev/parent]: no ElasticQuota in namespace nowhere; the quota is a root meanwhile"
            )
        );
        // Under a cycle's member, d keeps its parent; the members are roots.
        assert_eq!(q.ancestors(sym("d")), [sym("a")]);
        assert!(q.ancestors(sym("a")).is_empty());
        assert_eq!(q.error(sym("d")), None);
        // Still admitting: the cycle costs nothing but its own parents.
        assert_eq!(q.admits(sym("a"), &gpus(1)), QuotaVerdict::Admit);
        // Fixed by an update.
        q.set(child("b", 1, 2, ""));
        assert_eq!(q.error(sym("a")), None);
        assert_eq!(q.ancestors(sym("a")), [sym("b")]);
    }

    #[test]
    fn bad_annotations_name_the_field() {
        let err = parse_quota(
            br#"{"metadata":{"name":"q","namespace":"a","annotations":{"podium.dev/weight":"-1"}}}"#,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            r#"ElasticQuota a/q: metadata.annotations[podium.dev/weight]: "-1" is not a positive number"#
        );
        let err = parse_quota(
            br#"{"metadata":{"name":"q","namespace":"a","annotations":{"podium.dev/parent":"Dept A"}}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(
                r#"ElasticQuota a/q: metadata.annotations[podium.dev/parent]: "Dept A" is not a namespace name"#
            ),
            "{err}"
        );
    }

    #[test]
    fn the_fair_key_weighs_what_lies_beyond_the_guarantee() {
        let mut q = Quotas::default();
        q.set(child("heavy", 0, 64, r#""podium.dev/weight":"3""#));
        q.set(child("light", 0, 64, ""));
        q.set(child("owed", 8, 64, ""));
        let mut capacity = gpus(64);
        capacity.set(ResourceName::Cpu, 64_000);
        let fair = FairShare::new(q.clone(), &capacity);
        let mut fair = fair;
        fair.charge(sym("heavy"), &gpus(12));
        fair.charge(sym("light"), &gpus(6));
        fair.charge(sym("owed"), &gpus(4));
        let none = Resources::default();
        let key = |f: &FairShare, ns: &str| f.key(sym(ns), &none).to_vec();
        assert_eq!(key(&fair, "heavy"), [12.0 / 64.0 / 3.0]);
        assert_eq!(key(&fair, "light"), [6.0 / 64.0]);
        assert_eq!(key(&fair, "owed"), [-4.0 / 64.0]);
        // Below its guarantee first; counted with its next pod: light's 1 GPU (7/64) before
        // heavy's 12 (24/64/3 = 8/64), heavy's 1 (13/64/3) before light's.
        let with = |ns: &str, n: i64| fair.key(sym(ns), &gpus(n)).to_vec();
        assert!(with("owed", 1) < with("heavy", 1));
        assert!(with("light", 1) < with("heavy", 12));
        assert!(with("heavy", 1) < with("light", 1));
        // The ledger the view was taken from is not charged.
        assert!(q.used(sym("heavy")).is_zero());
    }

    #[test]
    fn the_fair_key_compares_departments_before_their_teams() {
        let mut q = departments();
        // dept-a's teams use 20 together, dept-b's 10: dept-b goes first, even for its team
        // using more than either of dept-a's.
        q.add(sym("dept-a-1"), &gpus(10));
        q.add(sym("dept-a-2"), &gpus(10));
        q.add(sym("dept-b-1"), &gpus(10));
        let fair = FairShare::new(q, &gpus(64));
        let key = |ns: &str| fair.key(sym(ns), &gpus(1)).to_vec();
        assert_eq!(key("dept-a-1").len(), 2, "department, then team");
        assert!(key("dept-b-1") < key("dept-a-1"));
        assert!(key("dept-b-1") < key("dept-a-2"));
        // Within dept-b, the idle team first.
        assert!(key("dept-b-2") < key("dept-b-1"));
        assert_eq!(key("dept-b-2")[0], key("dept-b-1")[0]);
    }
}
