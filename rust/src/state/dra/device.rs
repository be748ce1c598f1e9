//! A device as allocation reads it: interned identity, attributes keyed by (domain, id),
//! capacities in milli-units, the shared counters it consumes, its taints and where it can be
//! used. Built once per ResourceSlice (see `slice.rs`); everything after compares integers.

use std::sync::Arc;

use crate::intern::{Sym, resolve, sym};
use crate::state::labels::Labels;
use crate::state::node_selector::NodeSelector;

/// kube's `DeviceID`: driver, pool and device name, unique in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceKey {
    pub driver: Sym,
    pub pool: Sym,
    pub device: Sym,
}

impl DeviceKey {
    pub fn new(driver: &str, pool: &str, device: &str) -> Self {
        Self {
            driver: sym(driver),
            pool: sym(pool),
            device: sym(device),
        }
    }
}

impl std::fmt::Display for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}/{}",
            resolve(self.driver),
            resolve(self.pool),
            resolve(self.device)
        )
    }
}

/// One attribute value. Strings and versions are interned: they repeat across every device of
/// a model (product names, PCIe roots), and `matchAttribute` compares them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrValue {
    Int(i64),
    Bool(bool),
    Str(Sym),
    /// A semantic version as written; parsed when a selector compares it.
    Version(Sym),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub domain: Sym,
    pub id: Sym,
    pub value: AttrValue,
}

/// A capacity's `requestPolicy` (consumable capacity), values in milli-units.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestPolicy {
    pub default: Option<i64>,
    pub valid_values: Box<[i64]>,
    pub valid_range: Option<ValidRange>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidRange {
    pub min: i64,
    pub max: Option<i64>,
    pub step: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capacity {
    pub domain: Sym,
    pub id: Sym,
    /// Milli-units (`Quantity.MilliValue()`), so `500m` and `80Gi` both stay exact.
    pub value: i64,
    pub policy: Option<RequestPolicy>,
}

/// What a partition consumes from its pool's shared counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterUse {
    pub set: Sym,
    pub counters: Box<[(Sym, i64)]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaintEffect {
    NoSchedule,
    NoExecute,
    /// `None`: informational, never prevents allocation.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceTaint {
    pub key: Sym,
    pub value: Sym,
    pub effect: TaintEffect,
}

/// Which nodes can use a device: a slice's (or, with `perDeviceNodeSelection`, a device's)
/// `nodeName`, `allNodes` or `nodeSelector`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeScope {
    Node(Sym),
    All,
    Selector(Arc<NodeSelector>),
    /// None of the three set: the device is usable nowhere.
    Nowhere,
}

impl NodeScope {
    pub fn matches(&self, node: Sym, labels: &Labels) -> bool {
        match self {
            Self::Node(n) => *n == node,
            Self::All => true,
            Self::Selector(s) => s.matches(node, labels),
            Self::Nowhere => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub key: DeviceKey,
    /// What the search reads of it beyond its name, pool and scope, as an id (`kind_of`):
    /// devices alike get one, so nodes of one layout are told apart by integers.
    pub kind: u32,
    pub attributes: Box<[Attribute]>,
    pub capacity: Box<[Capacity]>,
    pub consumes_counters: Box<[CounterUse]>,
    pub taints: Box<[DeviceTaint]>,
    /// Consumable capacity: the device may serve several claims, each taking a share.
    pub allow_multiple_allocations: bool,
    /// The device needs binding conditions met before the pod binds (PreBind waits in kube).
    pub has_binding_conditions: bool,
    pub scope: NodeScope,
}

/// The kind of a device like no other (too many kinds seen): alike to none, itself included.
pub const UNIQUE_KIND: u32 = u32::MAX;

/// Kinds given out at most; beyond, devices are `UNIQUE_KIND` (the table lives as long as the
/// process, and a driver publishing a serial number per device makes every device a kind).
const MAX_KINDS: usize = 1 << 16;

/// Devices alike for the search: everything a selector, a constraint, a taint or packing reads
/// (the driver, attributes, capacities, counters, taints, flags), but not the name or pool.
pub fn same_device(a: &Device, b: &Device) -> bool {
    a.key.driver == b.key.driver
        && a.attributes == b.attributes
        && a.capacity == b.capacity
        && a.consumes_counters == b.consumes_counters
        && a.taints == b.taints
        && a.allow_multiple_allocations == b.allow_multiple_allocations
        && a.has_binding_conditions == b.has_binding_conditions
}

fn content_hash(d: &Device) -> u64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    let mut h = ahash::RandomState::with_seeds(1, 2, 3, 4).build_hasher();
    d.key.driver.hash(&mut h);
    for a in &d.attributes {
        (a.domain, a.id, a.value).hash(&mut h);
    }
    for c in &d.capacity {
        (c.domain, c.id, c.value).hash(&mut h);
    }
    (d.consumes_counters.len(), d.taints.len()).hash(&mut h);
    (d.allow_multiple_allocations, d.has_binding_conditions).hash(&mut h);
    h.finish()
}

/// The kind of `d` (see `Device::kind`), from a table of one device per kind, compared in full:
/// equal kinds are alike devices, never a hash collision. Called once per decoded device, while
/// it is at hand.
pub fn kind_of(d: &Device) -> u32 {
    type Kinds = ahash::AHashMap<u64, Vec<(Device, u32)>>;
    static KINDS: std::sync::LazyLock<std::sync::Mutex<(Kinds, usize)>> =
        std::sync::LazyLock::new(Default::default);
    let mut guard = KINDS.lock().unwrap_or_else(|p| p.into_inner());
    let (kinds, count) = &mut *guard;
    let bucket = kinds.entry(content_hash(d)).or_default();
    if let Some(&(_, kind)) = bucket.iter().find(|(other, _)| same_device(other, d)) {
        return kind;
    }
    if *count >= MAX_KINDS {
        return UNIQUE_KIND;
    }
    let kind = u32::try_from(*count).unwrap_or(UNIQUE_KIND);
    *count += 1;
    bucket.push((d.clone(), kind));
    kind
}

impl Device {
    /// An attribute by its (domain, id); a name without a domain means the driver's.
    pub fn attribute(&self, domain: Sym, id: Sym) -> Option<AttrValue> {
        self.attributes
            .iter()
            .find(|a| a.domain == domain && a.id == id)
            .map(|a| a.value)
    }

    pub fn attribute_named(&self, name: QualifiedName) -> Option<AttrValue> {
        self.attribute(name.domain.unwrap_or(self.key.driver), name.id)
    }

    pub fn capacity_named(&self, name: QualifiedName) -> Option<&Capacity> {
        let domain = name.domain.unwrap_or(self.key.driver);
        self.capacity
            .iter()
            .find(|c| c.domain == domain && c.id == name.id)
    }
}

/// `domain/id` or a bare `id` (then the domain is the device's driver).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QualifiedName {
    pub domain: Option<Sym>,
    pub id: Sym,
}

impl QualifiedName {
    pub fn parse(name: &str) -> Self {
        match name.split_once('/') {
            Some((domain, id)) => Self {
                domain: Some(sym(domain)),
                id: sym(id),
            },
            None => Self {
                domain: None,
                id: sym(name),
            },
        }
    }
}

impl std::fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.domain {
            Some(d) => write!(f, "{}/{}", resolve(d), resolve(self.id)),
            None => f.write_str(resolve(self.id)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names_default_to_the_driver() {
        let gpu = Device {
            key: DeviceKey::new("gpu.example.com", "node-0", "gpu-0"),
            kind: UNIQUE_KIND,
            attributes: vec![
                Attribute {
                    domain: sym("gpu.example.com"),
                    id: sym("model"),
                    value: AttrValue::Str(sym("h100")),
                },
                Attribute {
                    domain: sym("resource.kubernetes.io"),
                    id: sym("pcieRoot"),
                    value: AttrValue::Str(sym("pci0")),
                },
            ]
            .into(),
            capacity: Box::default(),
            consumes_counters: Box::default(),
            taints: Box::default(),
            allow_multiple_allocations: false,
            has_binding_conditions: false,
            scope: NodeScope::Node(sym("node-0")),
        };
        let model = Some(AttrValue::Str(sym("h100")));
        assert_eq!(gpu.attribute_named(QualifiedName::parse("model")), model);
        assert_eq!(
            gpu.attribute_named(QualifiedName::parse("gpu.example.com/model")),
            model
        );
        assert_eq!(
            gpu.attribute_named(QualifiedName::parse("nic.example.com/model")),
            None
        );
        assert_eq!(
            gpu.attribute_named(QualifiedName::parse("resource.kubernetes.io/pcieRoot")),
            Some(AttrValue::Str(sym("pci0")))
        );
        assert_eq!(
            QualifiedName::parse("resource.kubernetes.io/pcieRoot").to_string(),
            "resource.kubernetes.io/pcieRoot"
        );
    }

    #[test]
    fn scopes() {
        let labels = Labels::default();
        assert!(NodeScope::Node(sym("a")).matches(sym("a"), &labels));
        assert!(!NodeScope::Node(sym("a")).matches(sym("b"), &labels));
        assert!(NodeScope::All.matches(sym("b"), &labels));
        assert!(!NodeScope::Nowhere.matches(sym("b"), &labels));
    }
}
