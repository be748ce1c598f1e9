//! Parsing `NodeResourceTopology` objects (`topology.node.k8s.io/v1alpha2`, as NFD's
//! topology-updater writes them) into a [`NodeTopology`].
//!
//! The object is walked as a JSON value rather than derived with serde so that every error can
//! name the exact field (`zones[1].resources[0].available`); NRT objects change rarely, so this
//! is not on the hot path.

use serde_json::{Map, Value};

use super::error::TopologyError;
use super::node::{
    Distances, ManagerPolicy, ManagerScope, NodeTopology, Switch, Zone, ZoneResource,
};
use crate::bounded::quoted;
use crate::error::{CoreError, CoreResult};
use crate::quantity;

/// Most NUMA zones a node may have; placement works on zone bitmasks.
pub const MAX_ZONES: usize = 32;
/// How deep a chain of `parent` links may go before it is treated as a cycle.
const MAX_PARENT_DEPTH: usize = 16;

/// Parses one NRT object from JSON bytes (a list item or a watch event's `object`).
pub fn parse_node_resource_topology_json(bytes: &[u8]) -> Result<NodeTopology, TopologyError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|err| {
        TopologyError::nrt("<unknown>", "<document>", format!("invalid JSON: {err}"))
    })?;
    parse_node_resource_topology(&value)
}

/// Converts one decoded NRT object into the node's topology.
pub fn parse_node_resource_topology(object: &Value) -> Result<NodeTopology, TopologyError> {
    let name = object
        .get("metadata")
        .and_then(|meta| meta.get("name"))
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .ok_or_else(|| TopologyError::nrt("<unknown>", "metadata.name", "missing"))?;
    Parser { object: name }.topology(object)
}

/// A zone as written in the object, before NUMA zones and switches are told apart.
struct RawZone<'a> {
    name: &'a str,
    kind: &'a str,
    parent: Option<&'a str>,
    costs: Vec<(&'a str, i64)>,
    resources: Vec<ZoneResource>,
}

struct Parser<'a> {
    object: &'a str,
}

impl<'a> Parser<'a> {
    fn err(&self, field: &str, detail: impl std::fmt::Display) -> TopologyError {
        TopologyError::nrt(self.object, field, detail)
    }

    fn topology(&self, object: &'a Value) -> Result<NodeTopology, TopologyError> {
        let root = object
            .as_object()
            .ok_or_else(|| self.err("<document>", "not an object"))?;
        let raw_zones = self.array(root, "zones", "")?;
        if raw_zones.is_empty() {
            return Err(self.err("zones", "missing or empty"));
        }
        let raw: Vec<RawZone<'a>> = raw_zones
            .iter()
            .enumerate()
            .map(|(i, zone)| self.zone(zone, &format!("zones[{i}]")))
            .collect::<Result<_, _>>()?;
        for (i, zone) in raw.iter().enumerate() {
            if raw[..i].iter().any(|earlier| earlier.name == zone.name) {
                return Err(self.err(
                    &format!("zones[{i}].name"),
                    format!("duplicate zone {}", quoted(zone.name)),
                ));
            }
        }
        let (policy, scope) = self.manager_policy(root)?;
        let (zones, distances) = self.numa_zones(raw)?;
        Ok(NodeTopology {
            node: self.object.to_string(),
            zones,
            distances,
            policy,
            scope,
        })
    }

    fn zone(&self, value: &'a Value, path: &str) -> Result<RawZone<'a>, TopologyError> {
        let zone = value
            .as_object()
            .ok_or_else(|| self.err(path, "not an object"))?;
        let name = self.required_str(zone, "name", path)?;
        if name.is_empty() {
            return Err(self.err(&format!("{path}.name"), "empty"));
        }
        let kind = self.required_str(zone, "type", path)?;
        let parent = self
            .optional_str(zone, "parent", path)?
            .filter(|p| !p.is_empty());
        let mut costs = Vec::new();
        for (i, cost) in self.array(zone, "costs", path)?.iter().enumerate() {
            let cost_path = format!("{path}.costs[{i}]");
            let cost = cost
                .as_object()
                .ok_or_else(|| self.err(&cost_path, "not an object"))?;
            let target = self.required_str(cost, "name", &cost_path)?;
            let value = cost
                .get("value")
                .and_then(Value::as_i64)
                .filter(|v| *v >= 0)
                .ok_or_else(|| {
                    self.err(
                        &format!("{cost_path}.value"),
                        "must be a non-negative integer",
                    )
                })?;
            costs.push((target, value));
        }
        let mut resources: Vec<ZoneResource> = Vec::new();
        for (i, resource) in self.array(zone, "resources", path)?.iter().enumerate() {
            let resource_path = format!("{path}.resources[{i}]");
            let parsed = self.resource(resource, &resource_path)?;
            if resources.iter().any(|r| r.name == parsed.name) {
                return Err(self.err(
                    &format!("{resource_path}.name"),
                    format!("duplicate resource {}", quoted(&parsed.name)),
                ));
            }
            resources.push(parsed);
        }
        Ok(RawZone {
            name,
            kind,
            parent,
            costs,
            resources,
        })
    }

    fn resource(&self, value: &Value, path: &str) -> Result<ZoneResource, TopologyError> {
        let resource = value
            .as_object()
            .ok_or_else(|| self.err(path, "not an object"))?;
        let name = self.required_str(resource, "name", path)?;
        if name.is_empty() {
            return Err(self.err(&format!("{path}.name"), "empty"));
        }
        let amount = |field: &str| {
            let field_path = format!("{path}.{field}");
            let value = resource
                .get(field)
                .ok_or_else(|| self.err(&field_path, "missing"))?;
            resource_amount(name, value).map_err(|detail| self.err(&field_path, detail))
        };
        Ok(ZoneResource {
            name: name.to_string(),
            capacity: amount("capacity")?,
            allocatable: amount("allocatable")?,
            available: amount("available")?,
        })
    }

    /// Splits zones into NUMA nodes (type `Node`) and the switches below them, and builds the
    /// distance matrix between NUMA nodes.
    fn numa_zones(&self, raw: Vec<RawZone<'a>>) -> Result<(Vec<Zone>, Distances), TopologyError> {
        let numa: Vec<usize> = (0..raw.len()).filter(|&i| is_numa(raw[i].kind)).collect();
        if numa.is_empty() {
            return Err(self.err("zones", "no zone of type \"Node\""));
        }
        if numa.len() > MAX_ZONES {
            return Err(self.err(
                "zones",
                format!(
                    "{} NUMA zones; at most {MAX_ZONES} are supported",
                    numa.len()
                ),
            ));
        }
        let mut distances = Distances::uniform(numa.len());
        for (row, &i) in numa.iter().enumerate() {
            for &(target, value) in &raw[i].costs {
                if let Some(col) = numa.iter().position(|&j| raw[j].name == target) {
                    distances.set(row, col, value);
                }
            }
        }
        let mut owners = Vec::with_capacity(raw.len());
        for i in 0..raw.len() {
            owners.push(self.numa_owner(&raw, i)?);
        }
        let mut zones: Vec<Zone> = Vec::with_capacity(numa.len());
        let mut raw: Vec<Option<RawZone<'a>>> = raw.into_iter().map(Some).collect();
        for &i in &numa {
            let zone = raw[i].take().expect("each NUMA zone is taken once");
            zones.push(Zone {
                name: zone.name.to_string(),
                resources: zone.resources,
                switches: Vec::new(),
            });
        }
        for (i, owner) in owners.into_iter().enumerate() {
            let (Some(owner), Some(zone)) = (owner, raw[i].take()) else {
                continue;
            };
            let slot = numa
                .iter()
                .position(|&j| j == owner)
                .expect("owner is a NUMA zone");
            zones[slot].switches.push(Switch {
                name: zone.name.to_string(),
                kind: zone.kind.to_string(),
                resources: zone.resources,
            });
        }
        for zone in &mut zones {
            inherit_switch_resources(zone);
        }
        Ok((zones, distances))
    }

    /// The NUMA zone a non-NUMA zone hangs below, following `parent` links; `None` for NUMA
    /// zones themselves and for zones outside any NUMA node (e.g. a socket with no parent).
    fn numa_owner(
        &self,
        raw: &[RawZone<'_>],
        start: usize,
    ) -> Result<Option<usize>, TopologyError> {
        if is_numa(raw[start].kind) {
            return Ok(None);
        }
        let mut current = start;
        for _ in 0..MAX_PARENT_DEPTH {
            let Some(parent) = raw[current].parent else {
                return Ok(None);
            };
            let found = raw
                .iter()
                .position(|zone| zone.name == parent)
                .ok_or_else(|| {
                    self.err(
                        &format!("zones[{current}].parent"),
                        format!("unknown zone {}", quoted(parent)),
                    )
                })?;
            if is_numa(raw[found].kind) {
                return Ok(Some(found));
            }
            current = found;
        }
        Err(self.err(
            &format!("zones[{start}].parent"),
            "parent chain is a cycle or too deep",
        ))
    }

    /// kubelet's policy and scope: top-level `attributes` first (current NFD), then the
    /// deprecated `topologyPolicies`. Unknown values are errors: guessing could place pods
    /// kubelet then rejects.
    fn manager_policy(
        &self,
        root: &Map<String, Value>,
    ) -> Result<(ManagerPolicy, ManagerScope), TopologyError> {
        let mut policy = None;
        let mut scope = None;
        for (i, attribute) in self.array(root, "attributes", "")?.iter().enumerate() {
            let path = format!("attributes[{i}]");
            let attribute = attribute
                .as_object()
                .ok_or_else(|| self.err(&path, "not an object"))?;
            let name = self.required_str(attribute, "name", &path)?;
            let value_field = format!("{path}.value");
            match name {
                "topologyManagerPolicy" => {
                    let value = self.required_str(attribute, "value", &path)?;
                    policy = Some(parse_policy(value).ok_or_else(|| {
                        self.err(
                            &value_field,
                            format!("unknown topology manager policy {}", quoted(value)),
                        )
                    })?);
                }
                "topologyManagerScope" => {
                    let value = self.required_str(attribute, "value", &path)?;
                    scope = Some(match value {
                        "container" => ManagerScope::Container,
                        "pod" => ManagerScope::Pod,
                        _ => {
                            return Err(self.err(
                                &value_field,
                                format!("unknown topology manager scope {}", quoted(value)),
                            ));
                        }
                    });
                }
                _ => {}
            }
        }
        if policy.is_none() {
            let legacy = self.array(root, "topologyPolicies", "")?;
            if let Some(first) = legacy.first() {
                let value = first
                    .as_str()
                    .ok_or_else(|| self.err("topologyPolicies[0]", "not a string"))?;
                let (legacy_policy, legacy_scope) =
                    parse_legacy_policy(value).ok_or_else(|| {
                        self.err(
                            "topologyPolicies[0]",
                            format!("unknown topology policy {}", quoted(value)),
                        )
                    })?;
                policy = Some(legacy_policy);
                scope = scope.or(legacy_scope);
            }
        }
        Ok((policy.unwrap_or_default(), scope.unwrap_or_default()))
    }

    /// An optional array field; empty when absent or null.
    fn array(
        &self,
        object: &'a Map<String, Value>,
        field: &str,
        path: &str,
    ) -> Result<&'a [Value], TopologyError> {
        match object.get(field) {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(self.err(&join(path, field), "not an array")),
        }
    }

    fn required_str(
        &self,
        object: &'a Map<String, Value>,
        field: &str,
        path: &str,
    ) -> Result<&'a str, TopologyError> {
        self.optional_str(object, field, path)?
            .ok_or_else(|| self.err(&join(path, field), "missing"))
    }

    fn optional_str(
        &self,
        object: &'a Map<String, Value>,
        field: &str,
        path: &str,
    ) -> Result<Option<&'a str>, TopologyError> {
        match object.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(self.err(&join(path, field), "not a string")),
        }
    }
}

/// A resource amount from an int-or-string quantity: cpu in millicores, the rest in units.
/// The single place the quantity parser is called.
fn resource_amount(resource: &str, value: &Value) -> CoreResult<i64> {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        other => return Err(CoreError::Invalid(format!("invalid quantity {other}"))),
    };
    let parsed = if resource == "cpu" {
        quantity::parse_milli_value(&text)
    } else {
        quantity::parse_value(&text)
    };
    match parsed {
        Ok(amount) if amount < 0 => Err(CoreError::Invalid(format!(
            "negative quantity {}",
            quoted(&text)
        ))),
        Ok(amount) => Ok(amount),
        Err(err) => Err(CoreError::Invalid(err.to_string())),
    }
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

/// NFD writes `Node`; the API's own examples use `NUMA`.
fn is_numa(kind: &str) -> bool {
    kind.eq_ignore_ascii_case("node") || kind.eq_ignore_ascii_case("numa")
}

fn parse_policy(value: &str) -> Option<ManagerPolicy> {
    Some(match value {
        "none" => ManagerPolicy::None,
        "best-effort" => ManagerPolicy::BestEffort,
        "restricted" => ManagerPolicy::Restricted,
        "single-numa-node" => ManagerPolicy::SingleNumaNode,
        _ => return None,
    })
}

/// The deprecated `topologyPolicies` values; scope is `None` where the value does not say.
fn parse_legacy_policy(value: &str) -> Option<(ManagerPolicy, Option<ManagerScope>)> {
    use ManagerPolicy as P;
    use ManagerScope as S;
    Some(match value {
        "SingleNUMANodeContainerLevel" => (P::SingleNumaNode, Some(S::Container)),
        "SingleNUMANodePodLevel" => (P::SingleNumaNode, Some(S::Pod)),
        "Restricted" => (P::Restricted, None),
        "RestrictedContainerLevel" => (P::Restricted, Some(S::Container)),
        "RestrictedPodLevel" => (P::Restricted, Some(S::Pod)),
        "BestEffort" => (P::BestEffort, None),
        "BestEffortContainerLevel" => (P::BestEffort, Some(S::Container)),
        "BestEffortPodLevel" => (P::BestEffort, Some(S::Pod)),
        "None" => (P::None, None),
        _ => return None,
    })
}

/// A NUMA zone that does not list a resource its switches list holds the switches' sum.
fn inherit_switch_resources(zone: &mut Zone) {
    let mut inherited: Vec<ZoneResource> = Vec::new();
    for resource in zone.switches.iter().flat_map(|switch| &switch.resources) {
        if zone.resource(&resource.name).is_some() {
            continue;
        }
        match inherited.iter_mut().find(|r| r.name == resource.name) {
            Some(sum) => {
                sum.capacity = sum.capacity.saturating_add(resource.capacity);
                sum.allocatable = sum.allocatable.saturating_add(resource.allocatable);
                sum.available = sum.available.saturating_add(resource.available);
            }
            None => inherited.push(resource.clone()),
        }
    }
    zone.resources.extend(inherited);
}

#[cfg(test)]
#[path = "nrt_tests.rs"]
mod tests;
