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
