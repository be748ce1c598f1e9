//! A ResourceSlice decoded once: its pool coordinates, where its devices can be used, the
//! devices and the shared counter sets it publishes.

use std::sync::Arc;

use super::device::{
    AttrValue, Attribute, Capacity, CounterUse, Device, DeviceKey, DeviceTaint, NodeScope,
    QualifiedName, RequestPolicy, TaintEffect, UNIQUE_KIND, ValidRange, kind_of,
};
use super::error::DecodeError;
use super::wire::{
    AttributeWire, CapacityWire, CounterWire, DeviceWire, RequestPolicyWire, ResourceSliceWire,
};
use crate::intern::{Sym, sym};
use crate::quantity::parse_milli_value;
use crate::state::node_selector::from_wire as node_selector;
use crate::state::wire::NodeSelectorWire;

/// A named set of counters a pool's partitions draw from (`sharedCounters`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterSet {
    pub name: Sym,
    pub counters: Box<[(Sym, i64)]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    pub name: String,
    pub driver: Sym,
    pub pool: Sym,
    pub generation: i64,
    pub slice_count: i64,
    /// The slice-level node scope; with `perDeviceNodeSelection` each device carries its own.
    pub scope: NodeScope,
    /// Shared with the inventory, which indexes them without a copy.
    pub devices: Arc<[Device]>,
    pub counter_sets: Vec<CounterSet>,
}

struct Ctx<'a> {
    slice: &'a str,
}

impl Ctx<'_> {
    fn err(&self, field: impl Into<String>, why: impl Into<String>) -> DecodeError {
        DecodeError {
            kind: "ResourceSlice",
            name: self.slice.to_owned(),
            field: field.into(),
            why: why.into(),
        }
    }

    fn quantity(&self, field: impl Into<String>, text: &str) -> Result<i64, DecodeError> {
        parse_milli_value(text).map_err(|e| self.err(field, e.to_string()))
    }
}

fn scope(
    node_name: Option<&str>,
    all_nodes: Option<bool>,
    selector: Option<&NodeSelectorWire<'_>>,
) -> NodeScope {
    match (node_name, all_nodes, selector) {
        (Some(n), _, _) if !n.is_empty() => NodeScope::Node(sym(n)),
        (_, Some(true), _) => NodeScope::All,
        (_, _, Some(s)) => NodeScope::Selector(Arc::new(node_selector(s))),
        _ => NodeScope::Nowhere,
    }
}

fn attribute(
    ctx: &Ctx<'_>,
    device: &str,
    name: &str,
    w: &AttributeWire,
) -> Result<AttrValue, DecodeError> {
    let field = || format!("devices[{device}].attributes[{name}]");
    if w.ints.is_some() || w.bools.is_some() || w.strings.is_some() || w.versions.is_some() {
        return Err(ctx.err(
            field(),
            "list-typed attributes (DRAListTypeAttributes) are not supported",
        ));
    }
    match (w.int, w.bool, &w.string, &w.version) {
        (Some(i), None, None, None) => Ok(AttrValue::Int(i)),
        (None, Some(b), None, None) => Ok(AttrValue::Bool(b)),
        (None, None, Some(s), None) => Ok(AttrValue::Str(sym(s))),
        (None, None, None, Some(v)) => Ok(AttrValue::Version(sym(v))),
        _ => Err(ctx.err(
            field(),
            "exactly one of int, bool, string, version must be set",
        )),
    }
}

fn policy(ctx: &Ctx<'_>, field: &str, w: &RequestPolicyWire) -> Result<RequestPolicy, DecodeError> {
    let q = |sub: &str, text: &str| ctx.quantity(format!("{field}.requestPolicy.{sub}"), text);
    Ok(RequestPolicy {
        default: w.default.as_deref().map(|d| q("default", d)).transpose()?,
        valid_values: w
            .valid_values
            .iter()
            .map(|v| q("validValues", v))
            .collect::<Result<_, _>>()?,
        valid_range: match &w.valid_range {
            None => None,
            Some(r) => Some(ValidRange {
                min: match &r.min {
                    Some(m) => q("validRange.min", m)?,
                    None => 0,
                },
                max: r
                    .max
                    .as_deref()
                    .map(|m| q("validRange.max", m))
                    .transpose()?,
                step: r
                    .step
                    .as_deref()
                    .map(|s| q("validRange.step", s))
                    .transpose()?,
            }),
        },
    })
}

fn capacity(
    ctx: &Ctx<'_>,
    driver: Sym,
    device: &str,
    name: &str,
    w: &CapacityWire,
) -> Result<Capacity, DecodeError> {
    let field = format!("devices[{device}].capacity[{name}]");
    let qn = QualifiedName::parse(name);
    Ok(Capacity {
        domain: qn.domain.unwrap_or(driver),
        id: qn.id,
        value: ctx.quantity(format!("{field}.value"), &w.value)?,
        policy: w
            .request_policy
            .as_ref()
            .map(|p| policy(ctx, &field, p))
            .transpose()?,
    })
}

fn counters(
    ctx: &Ctx<'_>,
    field: &str,
    map: &std::collections::BTreeMap<String, CounterWire>,
) -> Result<Box<[(Sym, i64)]>, DecodeError> {
    map.iter()
        .map(|(name, c)| {
            Ok((
                sym(name),
                ctx.quantity(format!("{field}[{name}]"), &c.value)?,
            ))
        })
        .collect()
}

fn taint_effect(ctx: &Ctx<'_>, field: String, effect: &str) -> Result<TaintEffect, DecodeError> {
    match effect {
        "NoSchedule" => Ok(TaintEffect::NoSchedule),
        "NoExecute" => Ok(TaintEffect::NoExecute),
        "None" => Ok(TaintEffect::None),
        other => Err(ctx.err(field, format!("unknown taint effect {other:?}"))),
    }
}

fn device(
    ctx: &Ctx<'_>,
    driver: Sym,
    pool: Sym,
    per_device: bool,
    slice_scope: &NodeScope,
    w: &DeviceWire<'_>,
) -> Result<Device, DecodeError> {
    let name = w.name.as_str();
    let mut attributes = Vec::with_capacity(w.attributes.len());
    for (qname, value) in &w.attributes {
        let qn = QualifiedName::parse(qname);
        attributes.push(Attribute {
            domain: qn.domain.unwrap_or(driver),
            id: qn.id,
            value: attribute(ctx, name, qname, value)?,
        });
    }
    let capacity = w
        .capacity
        .iter()
        .map(|(n, c)| capacity(ctx, driver, name, n, c))
        .collect::<Result<_, _>>()?;
    let consumes_counters = w
        .consumes_counters
        .iter()
        .map(|c| {
            Ok(CounterUse {
                set: sym(&c.counter_set),
                counters: counters(
                    ctx,
                    &format!("devices[{name}].consumesCounters[{}]", c.counter_set),
                    &c.counters,
                )?,
            })
        })
        .collect::<Result<_, DecodeError>>()?;
    let taints = w
        .taints
        .iter()
        .map(|t| {
            Ok(DeviceTaint {
                key: sym(&t.key),
                value: sym(&t.value),
                effect: taint_effect(ctx, format!("devices[{name}].taints[{}]", t.key), &t.effect)?,
            })
        })
        .collect::<Result<_, DecodeError>>()?;
    let scope = if per_device {
        scope(
            w.node_name.as_deref(),
            w.all_nodes,
            w.node_selector.as_ref(),
        )
    } else {
        slice_scope.clone()
    };
    let mut device = Device {
        key: DeviceKey {
            driver,
            pool,
            device: sym(name),
        },
        kind: UNIQUE_KIND,
        attributes: attributes.into(),
        capacity,
        consumes_counters,
        taints,
        allow_multiple_allocations: w.allow_multiple_allocations.unwrap_or(false),
        has_binding_conditions: !w.binding_conditions.is_empty() || w.binds_to_node == Some(true),
        scope,
    };
    device.kind = kind_of(&device);
    Ok(device)
}

impl Slice {
    pub fn decode(json: &str) -> Result<Self, DecodeError> {
        let w: ResourceSliceWire<'_> = serde_json::from_str(json).map_err(|e| DecodeError {
            kind: "ResourceSlice",
            name: String::new(),
            field: "(json)".into(),
            why: e.to_string(),
        })?;
        Self::from_wire(&w)
    }

    pub fn from_wire(w: &ResourceSliceWire<'_>) -> Result<Self, DecodeError> {
        let ctx = Ctx {
            slice: &w.metadata.name,
        };
        let spec = &w.spec;
        let driver = sym(&spec.driver);
        let pool = sym(&spec.pool.name);
        let per_device = spec.per_device_node_selection == Some(true);
        let slice_scope = if per_device {
            NodeScope::Nowhere
        } else {
            scope(
                spec.node_name.as_deref(),
                spec.all_nodes,
                spec.node_selector.as_ref(),
            )
        };
        let devices = spec
            .devices
            .iter()
            .map(|d| device(&ctx, driver, pool, per_device, &slice_scope, d))
            .collect::<Result<Vec<_>, _>>()?
            .into();
        let counter_sets = spec
            .shared_counters
            .iter()
            .map(|s| {
                Ok(CounterSet {
                    name: sym(&s.name),
                    counters: counters(&ctx, &format!("sharedCounters[{}]", s.name), &s.counters)?,
                })
            })
            .collect::<Result<_, DecodeError>>()?;
        Ok(Self {
            name: w.metadata.name.clone(),
            driver,
            pool,
            generation: spec.pool.generation,
            slice_count: spec.pool.resource_slice_count,
            scope: slice_scope,
            devices,
            counter_sets,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::resolve;
    use crate::state::dra::fixtures::gpu_node_slice;

    #[test]
    fn devices_alike_but_for_their_name_are_of_one_kind() {
        let a = Slice::decode(&gpu_node_slice("kind-a", 8, 4)).unwrap();
        let b = Slice::decode(&gpu_node_slice("kind-b", 8, 4)).unwrap();
        let other_roots = Slice::decode(&gpu_node_slice("kind-c", 8, 2)).unwrap();
        for (x, y) in a.devices.iter().zip(b.devices.iter()) {
            assert_eq!(x.kind, y.kind, "{} on two nodes", resolve(x.key.device));
            assert_ne!(x.kind, UNIQUE_KIND);
        }
        // Each GPU has its index: no two of a node are alike.
        let mut kinds: Vec<u32> = a.devices.iter().map(|d| d.kind).collect();
        kinds.dedup();
        assert_eq!(kinds.len(), 8);
        // gpu-2 sits on another PCIe root (and NUMA node) with two roots than with four.
        assert_eq!(a.devices[0].kind, other_roots.devices[0].kind);
        assert_ne!(a.devices[2].kind, other_roots.devices[2].kind);
    }

    #[test]
    fn decodes_a_gpu_slice() {
        let s = Slice::decode(&gpu_node_slice("node-3", 8, 4)).unwrap();
        assert_eq!(resolve(s.driver), "gpu.example.com");
        assert_eq!(resolve(s.pool), "node-3");
        assert_eq!(s.scope, NodeScope::Node(sym("node-3")));
        assert_eq!(s.devices.len(), 8);
        let d = &s.devices[5];
        assert_eq!(resolve(d.key.device), "gpu-5");
        assert_eq!(
            d.attribute_named(QualifiedName::parse("resource.kubernetes.io/pcieRoot")),
            Some(AttrValue::Str(sym("pci-2")))
        );
        assert_eq!(
            d.capacity_named(QualifiedName::parse("memory"))
                .map(|c| c.value),
            Some(80 * (1 << 30) * 1000)
        );
    }

    #[test]
    fn malformed_fields_are_named() {
        let bad = r#"{"metadata":{"name":"s1"},"spec":{"driver":"d","pool":{"name":"p","generation":1,"resourceSliceCount":1},
            "nodeName":"n","devices":[{"name":"g0","capacity":{"memory":{"value":"lots"}}}]}}"#;
        let e = Slice::decode(bad).unwrap_err();
        assert_eq!(e.name, "s1");
        assert!(e.field.contains("devices[g0].capacity[memory]"), "{e}");
        let two = r#"{"metadata":{"name":"s2"},"spec":{"driver":"d","pool":{"name":"p","generation":1,"resourceSliceCount":1},
            "nodeName":"n","devices":[{"name":"g0","attributes":{"x":{"int":1,"string":"a"}}}]}}"#;
        assert!(
            Slice::decode(two)
                .unwrap_err()
                .to_string()
                .contains("exactly one")
        );
    }

    #[test]
    fn per_device_scopes_and_counters() {
        let json = r#"{"metadata":{"name":"s"},"spec":{"driver":"d","pool":{"name":"p","generation":2,"resourceSliceCount":2},
            "perDeviceNodeSelection":true,
            "sharedCounters":[{"name":"gpu-0","counters":{"memory":{"value":"80Gi"}}}],
            "devices":[{"name":"a","allNodes":true,"taints":[{"key":"k","value":"v","effect":"NoSchedule"}],
                        "consumesCounters":[{"counterSet":"gpu-0","counters":{"memory":{"value":"40Gi"}}}]},
                       {"name":"b","nodeName":"n1"}]}}"#;
        let s = Slice::decode(json).unwrap();
        assert_eq!(s.generation, 2);
        assert_eq!(s.slice_count, 2);
        assert_eq!(s.devices[0].scope, NodeScope::All);
        assert_eq!(s.devices[1].scope, NodeScope::Node(sym("n1")));
        assert_eq!(s.devices[0].taints[0].effect, TaintEffect::NoSchedule);
        assert_eq!(s.counter_sets[0].counters[0].1, 80 * (1 << 30) * 1000);
        assert_eq!(
            s.devices[0].consumes_counters[0].counters[0].1,
            40 * (1 << 30) * 1000
        );
    }
}
