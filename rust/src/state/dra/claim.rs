//! A ResourceClaim decoded once: its requests (`exactly` or `firstAvailable`), constraints,
//! and status (allocation, reservedFor).

use std::sync::Arc;

use super::device::{DeviceKey, QualifiedName, TaintEffect};
use super::error::DecodeError;
use super::wire::{
    AllocationWire, ConstraintWire, DeviceRequestWire, DeviceSelectorWire, ResourceClaimWire,
    TolerationWire,
};
use crate::intern::{Sym, resolve, sym};
use crate::quantity::parse_milli_value;
use crate::state::node_selector::NodeSelector;
use crate::state::node_selector::from_wire as node_selector;

/// kube's `AllocationResultsMaxSize`: devices one claim may be allocated.
pub const MAX_DEVICES_PER_CLAIM: u32 = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AllocationMode {
    ExactCount(u32),
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TolerationOp {
    Equal,
    Exists,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Toleration {
    /// `None`: every key (only with `Exists`).
    pub key: Option<Sym>,
    pub op: TolerationOp,
    pub value: Sym,
    /// `None`: every effect.
    pub effect: Option<TaintEffect>,
}

/// One way to satisfy a request: a request's `exactly`, or one `firstAvailable` subrequest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Alternative {
    /// The name results carry: `req`, or `req/sub` for a subrequest.
    pub name: Sym,
    pub class: Sym,
    pub selectors: Box<[Arc<str>]>,
    pub mode: AllocationMode,
    pub admin_access: bool,
    pub tolerations: Box<[Toleration]>,
    /// Consumable capacity asked from each device, milli-units.
    pub capacity: Box<[(QualifiedName, i64)]>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Request {
    pub name: Sym,
    /// `exactly` is one alternative; `firstAvailable` lists them in order of preference.
    pub alternatives: Box<[Alternative]>,
    pub first_available: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConstraintKind {
    MatchAttribute(QualifiedName),
    DistinctAttribute(QualifiedName),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Constraint {
    /// Request (or `req/sub`) names it applies to; empty means all of the claim's.
    pub requests: Box<[Sym]>,
    pub kind: ConstraintKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocatedDevice {
    pub request: Sym,
    pub key: DeviceKey,
    /// Admin access does not count as using the device.
    pub admin_access: bool,
    /// Set for a share of a device with `allowMultipleAllocations`.
    pub share_id: Option<Sym>,
    pub consumed: Box<[(QualifiedName, i64)]>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Allocation {
    pub devices: Box<[AllocatedDevice]>,
    /// Where the allocated devices can be used; `None`: everywhere.
    pub node_selector: Option<Arc<NodeSelector>>,
}

/// One claim's devices on the node chosen for a pod: what Reserve assumes and PreBind writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimAllocation {
    pub claim_uid: String,
    pub devices: Vec<AllocatedDevice>,
    /// The node the allocation is bound to (`None` when all devices are usable anywhere).
    pub node: Option<Sym>,
}

impl ClaimAllocation {
    /// As `status.allocation` will read once written: the devices, usable on `node` only.
    pub fn to_allocation(&self) -> Allocation {
        use crate::state::node_selector::{Operator, Term};
        Allocation {
            devices: self.devices.clone().into_boxed_slice(),
            node_selector: self.node.map(|n| {
                Arc::new(NodeSelector {
                    terms: Box::new([Term {
                        expressions: Box::default(),
                        fields: Box::new([Operator::In(Box::new([n]))]),
                    }]),
                })
            }),
        }
    }
}

impl ClaimAllocation {
    /// `status.allocation` as the API takes it, without `devices.config` (PreBind adds the
    /// class and claim configurations from the objects it reads).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::{Map, Value, json};
        let results: Vec<Value> = self
            .devices
            .iter()
            .map(|d| {
                let mut r = Map::new();
                r.insert("request".into(), resolve(d.request).into());
                r.insert("driver".into(), resolve(d.key.driver).into());
                r.insert("pool".into(), resolve(d.key.pool).into());
                r.insert("device".into(), resolve(d.key.device).into());
                if d.admin_access {
                    r.insert("adminAccess".into(), true.into());
                }
                if let Some(share) = d.share_id {
                    r.insert("shareID".into(), resolve(share).into());
                }
                if !d.consumed.is_empty() {
                    let consumed: Map<String, Value> = d
                        .consumed
                        .iter()
                        .map(|(name, milli)| {
                            // Names as the slice spells them: the driver's own domain left out.
                            let key = match name.domain {
                                Some(domain) if domain != d.key.driver => name.to_string(),
                                _ => resolve(name.id).to_owned(),
                            };
                            (key, milli_quantity(*milli).into())
                        })
                        .collect();
                    r.insert("consumedCapacity".into(), Value::Object(consumed));
                }
                Value::Object(r)
            })
            .collect();
        let mut out = json!({ "devices": { "results": results } });
        if let Some(node) = self.node {
            out["nodeSelector"] = json!({ "nodeSelectorTerms": [{ "matchFields": [
                { "key": "metadata.name", "operator": "In", "values": [resolve(node)] }
            ]}]});
        }
        out
    }
}

/// kube's `resourceapi.ExtendedResourceClaimAnnotation`.
pub const EXTENDED_RESOURCE_CLAIM_ANNOTATION: &str =
    "resource.kubernetes.io/extended-resource-claim";

/// The pod a claim was made for by a scheduler, for the pod's extended resources (kube's
/// `findExtendedResourceClaim`: the annotation, and the pod as controlling owner).
fn extended_for(meta: &super::wire::MetaWire) -> Option<Arc<str>> {
    if meta
        .annotations
        .get(EXTENDED_RESOURCE_CLAIM_ANNOTATION)
        .map(String::as_str)
        != Some("true")
    {
        return None;
    }
    meta.owner_references
        .iter()
        .find(|o| o.kind == "Pod" && o.controller == Some(true) && !o.uid.is_empty())
        .map(|o| Arc::from(o.uid.as_str()))
}

/// A milli-value as a quantity string (`2`, `1500m`).
fn milli_quantity(milli: i64) -> String {
    if milli % 1000 == 0 {
        (milli / 1000).to_string()
    } else {
        format!("{milli}m")
    }
}

/// A claim of a pod placed on a node that is not yet reserved for the pod: what
/// DynamicResources' PreBind writes before the Binding (`status.reservedFor`, and
/// `status.allocation` when `allocation` is set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimReservation {
    /// The ResourceClaim's name (in the pod's namespace).
    pub name: String,
    pub uid: String,
    /// Set when podium allocated the claim for this pod; `None`: already allocated, only the
    /// reservation is missing.
    pub allocation: Option<ClaimAllocation>,
    /// Set for the claim of the pod's extended resources served by DRA: it does not exist yet,
    /// PreBind creates it (then `name` and `uid` are placeholders).
    pub extended: Option<Arc<ExtendedClaim>>,
}

/// kube's `specialClaimInMemName`: the name of a claim for extended resources until it is
/// created (never a valid name, so it matches no real claim).
pub const EXTENDED_CLAIM_NAME: &str = "<extended-resources>";

/// The claim kube-scheduler's DynamicResources makes for a pod's extended resources that DRA
/// serves on the chosen node: one request per container and resource, and the mapping the pod's
/// `status.extendedResourceClaimStatus` records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendedClaim {
    /// Its requests (what `spec.devices.requests` will say), under a placeholder name and uid.
    pub claim: Arc<Claim>,
    pub mappings: Box<[RequestMapping]>,
    /// (name, uid) of a claim made for the pod in an earlier attempt whose binding failed:
    /// PreBind deletes it first (kube's PostFilter deletes it and the pod is tried again).
    pub replaces: Option<(String, String)>,
}

/// kube's `ContainerExtendedResourceRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestMapping {
    pub container: Box<str>,
    pub resource: Sym,
    pub request: Sym,
}

impl ExtendedClaim {
    /// `spec` of the claim to create, and the pod status's `requestMappings`, as JSON:
    /// `{"spec": {...}, "requestMappings": [...]}`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::{Value, json};
        let requests: Vec<Value> = self
            .claim
            .requests
            .iter()
            .filter_map(|r| {
                let alt = r.alternatives.first()?;
                let AllocationMode::ExactCount(count) = alt.mode else {
                    return None;
                };
                Some(json!({
                    "name": resolve(r.name),
                    "exactly": {
                        "deviceClassName": resolve(alt.class),
                        "allocationMode": "ExactCount",
                        "count": count,
                    },
                }))
            })
            .collect();
        let mappings: Vec<Value> = self
            .mappings
            .iter()
            .map(|m| {
                json!({
                    "containerName": &*m.container,
                    "resourceName": resolve(m.resource),
                    "requestName": resolve(m.request),
                })
            })
            .collect();
        let mut out =
            json!({ "spec": { "devices": { "requests": requests } }, "requestMappings": mappings });
        if let Some((name, uid)) = &self.replaces {
            out["replaces"] = json!({ "name": name, "uid": uid });
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    pub resource: Sym,
    pub name: String,
    pub uid: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub namespace: Sym,
    pub name: String,
    pub uid: String,
    /// Shared with every copy: Reserve shows a copy of the claim allocated, twice per placed pod
    /// (in the batch's view and in the cache), and the requests are what a copy would cost.
    pub requests: Arc<[Request]>,
    pub constraints: Arc<[Constraint]>,
    pub allocation: Option<Allocation>,
    pub reserved_for: Box<[Consumer]>,
    /// The uid of the pod a claim for its extended resources was made for (kube's annotation
    /// `resource.kubernetes.io/extended-resource-claim: "true"` and the pod as controller).
    pub extended_for: Option<Arc<str>>,
}

impl Claim {
    /// `namespace/name`, as kube's `klog.KObj` prints it in reasons.
    pub fn display_name(&self) -> String {
        format!("{}/{}", crate::intern::resolve(self.namespace), self.name)
    }
}

struct Ctx<'a> {
    claim: &'a str,
}

impl Ctx<'_> {
    fn err(&self, field: impl Into<String>, why: impl Into<String>) -> DecodeError {
        DecodeError {
            kind: "ResourceClaim",
            name: self.claim.to_owned(),
            field: field.into(),
            why: why.into(),
        }
    }
}

fn selectors(
    ctx: &Ctx<'_>,
    field: &str,
    w: &[DeviceSelectorWire],
) -> Result<Box<[Arc<str>]>, DecodeError> {
    w.iter()
        .enumerate()
        .map(|(i, s)| match &s.cel {
            Some(c) => Ok(Arc::from(c.expression.as_str())),
            None => Err(ctx.err(
                format!("{field}.selectors[{i}]"),
                "only CEL selectors are supported",
            )),
        })
        .collect()
}

fn effect(ctx: &Ctx<'_>, field: &str, e: &str) -> Result<Option<TaintEffect>, DecodeError> {
    match e {
        "" => Ok(None),
        "NoSchedule" => Ok(Some(TaintEffect::NoSchedule)),
        "NoExecute" => Ok(Some(TaintEffect::NoExecute)),
        "None" => Ok(Some(TaintEffect::None)),
        other => Err(ctx.err(field, format!("unknown effect {other:?}"))),
    }
}

fn tolerations(
    ctx: &Ctx<'_>,
    field: &str,
    w: &[TolerationWire],
) -> Result<Box<[Toleration]>, DecodeError> {
    w.iter()
        .enumerate()
        .map(|(i, t)| {
            let f = format!("{field}.tolerations[{i}]");
            let op = match t.operator.as_str() {
                "" | "Equal" => TolerationOp::Equal,
                "Exists" => TolerationOp::Exists,
                other => return Err(ctx.err(&f, format!("unknown operator {other:?}"))),
            };
            Ok(Toleration {
                key: (!t.key.is_empty()).then(|| sym(&t.key)),
                op,
                value: sym(&t.value),
                effect: effect(ctx, &f, &t.effect)?,
            })
        })
        .collect()
}

/// What an `exactly` request and a `firstAvailable` subrequest both say of the devices they
/// ask for.
struct AlternativeWire<'a> {
    class: &'a str,
    sel: &'a [DeviceSelectorWire],
    mode: Option<&'a str>,
    count: Option<i64>,
    admin_access: bool,
    tol: &'a [TolerationWire],
    capacity: Option<&'a super::wire::CapacityRequirementsWire>,
}

fn alternative(
    ctx: &Ctx<'_>,
    field: &str,
    name: Sym,
    w: &AlternativeWire<'_>,
) -> Result<Alternative, DecodeError> {
    let AlternativeWire {
        class,
        sel,
        mode,
        count,
        admin_access,
        tol,
        capacity,
    } = *w;
    if class.is_empty() {
        return Err(ctx.err(format!("{field}.deviceClassName"), "required"));
    }
    let mode = match (mode.unwrap_or("ExactCount"), count) {
        ("ExactCount" | "", c) => {
            let c = c.unwrap_or(1);
            if c < 1 || c > i64::from(MAX_DEVICES_PER_CLAIM) {
                return Err(ctx.err(
                    format!("{field}.count"),
                    format!("must be between 1 and {MAX_DEVICES_PER_CLAIM}, not {c}"),
                ));
            }
            AllocationMode::ExactCount(c as u32)
        }
        ("All", None | Some(0)) => AllocationMode::All,
        ("All", Some(_)) => {
            return Err(ctx.err(format!("{field}.count"), "must not be set with All"));
        }
        (other, _) => {
            return Err(ctx.err(
                format!("{field}.allocationMode"),
                format!("unknown mode {other:?}"),
            ));
        }
    };
    let capacity = match capacity {
        None => Box::default(),
        Some(c) => c
            .requests
            .iter()
            .map(|(n, q)| {
                parse_milli_value(q)
                    .map(|v| (QualifiedName::parse(n), v))
                    .map_err(|e| ctx.err(format!("{field}.capacity.requests[{n}]"), e.to_string()))
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(Alternative {
        name,
        class: sym(class),
        selectors: selectors(ctx, field, sel)?,
        mode,
        admin_access,
        tolerations: tolerations(ctx, field, tol)?,
        capacity,
    })
}

fn request(ctx: &Ctx<'_>, i: usize, w: &DeviceRequestWire) -> Result<Request, DecodeError> {
    let field = format!("spec.devices.requests[{i}]");
    let name = sym(&w.name);
    match (&w.exactly, w.first_available.is_empty()) {
        (Some(e), true) => Ok(Request {
            name,
            alternatives: Box::new([alternative(
                ctx,
                &format!("{field}.exactly"),
                name,
                &AlternativeWire {
                    class: &e.device_class_name,
                    sel: &e.selectors,
                    mode: e.allocation_mode.as_deref(),
                    count: e.count,
                    admin_access: e.admin_access.unwrap_or(false),
                    tol: &e.tolerations,
                    capacity: e.capacity.as_ref(),
                },
            )?]),
            first_available: false,
        }),
        (None, false) => Ok(Request {
            name,
            alternatives: w
                .first_available
                .iter()
                .enumerate()
                .map(|(j, s)| {
                    alternative(
                        ctx,
                        &format!("{field}.firstAvailable[{j}]"),
                        sym(&format!("{}/{}", w.name, s.name)),
                        &AlternativeWire {
                            class: &s.device_class_name,
                            sel: &s.selectors,
                            mode: s.allocation_mode.as_deref(),
                            count: s.count,
                            admin_access: false,
                            tol: &s.tolerations,
                            capacity: s.capacity.as_ref(),
                        },
                    )
                })
                .collect::<Result<_, _>>()?,
            first_available: true,
        }),
        _ => Err(ctx.err(
            field,
            "exactly one of exactly and firstAvailable must be set",
        )),
    }
}

fn constraint(ctx: &Ctx<'_>, i: usize, w: &ConstraintWire) -> Result<Constraint, DecodeError> {
    let kind = match (&w.match_attribute, &w.distinct_attribute) {
        (Some(a), None) => ConstraintKind::MatchAttribute(QualifiedName::parse(a)),
        (None, Some(a)) => ConstraintKind::DistinctAttribute(QualifiedName::parse(a)),
        _ => {
            return Err(ctx.err(
                format!("spec.devices.constraints[{i}]"),
                "exactly one of matchAttribute and distinctAttribute must be set",
            ));
        }
    };
    Ok(Constraint {
        requests: w.requests.iter().map(|r| sym(r)).collect(),
        kind,
    })
}

fn allocation(ctx: &Ctx<'_>, w: &AllocationWire<'_>) -> Result<Allocation, DecodeError> {
    let devices = w
        .devices
        .results
        .iter()
        .map(|r| {
            Ok(AllocatedDevice {
                request: sym(&r.request),
                key: DeviceKey::new(&r.driver, &r.pool, &r.device),
                admin_access: r.admin_access.unwrap_or(false),
                share_id: r.share_id.as_deref().map(sym),
                consumed: r
                    .consumed_capacity
                    .iter()
                    .map(|(n, q)| {
                        parse_milli_value(q)
                            .map(|v| (QualifiedName::parse(n), v))
                            .map_err(|e| {
                                ctx.err(
                                    format!("status.allocation.devices.results[{}]", r.device),
                                    e.to_string(),
                                )
                            })
                    })
                    .collect::<Result<_, _>>()?,
            })
        })
        .collect::<Result<_, DecodeError>>()?;
    let node_selector = w.node_selector.as_ref().map(|s| Arc::new(node_selector(s)));
    Ok(Allocation {
        devices,
        node_selector,
    })
}

impl Claim {
    pub fn decode(json: &str) -> Result<Self, DecodeError> {
        let w: ResourceClaimWire<'_> = serde_json::from_str(json).map_err(|e| DecodeError {
            kind: "ResourceClaim",
            name: String::new(),
            field: "(json)".into(),
            why: e.to_string(),
        })?;
        Self::from_wire(&w)
    }

    pub fn from_wire(w: &ResourceClaimWire<'_>) -> Result<Self, DecodeError> {
        let display = format!("{}/{}", w.metadata.namespace, w.metadata.name);
        let ctx = Ctx { claim: &display };
        let devices = &w.spec.devices;
        Ok(Self {
            namespace: sym(&w.metadata.namespace),
            name: w.metadata.name.clone(),
            uid: w.metadata.uid.clone(),
            requests: devices
                .requests
                .iter()
                .enumerate()
                .map(|(i, r)| request(&ctx, i, r))
                .collect::<Result<_, _>>()?,
            constraints: devices
                .constraints
                .iter()
                .enumerate()
                .map(|(i, c)| constraint(&ctx, i, c))
                .collect::<Result<_, _>>()?,
            allocation: w
                .status
                .allocation
                .as_ref()
                .map(|a| allocation(&ctx, a))
                .transpose()?,
            reserved_for: w
                .status
                .reserved_for
                .iter()
                .map(|c| Consumer {
                    resource: sym(&c.resource),
                    name: c.name.clone(),
                    uid: c.uid.clone(),
                })
                .collect(),
            extended_for: extended_for(&w.metadata),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::resolve;
    use crate::state::dra::fixtures::{aligned_claim, claim_json};

    #[test]
    fn decodes_requests_constraints_and_status() {
        let c = Claim::decode(&aligned_claim("ns", "train", 2)).unwrap();
        assert_eq!(c.display_name(), "ns/train");
        assert_eq!(c.requests.len(), 2);
        let gpu = &c.requests[0].alternatives[0];
        assert_eq!(resolve(gpu.class), "gpu.example.com");
        assert_eq!(gpu.mode, AllocationMode::ExactCount(2));
        assert_eq!(
            c.constraints[0].kind,
            ConstraintKind::MatchAttribute(QualifiedName::parse("resource.kubernetes.io/pcieRoot"))
        );
        assert!(c.allocation.is_none());

        let allocated = claim_json(
            "ns",
            "shared",
            r#"[{"name":"gpu","exactly":{"deviceClassName":"gpu.example.com"}}]"#,
            "[]",
            r#"{"allocation":{"devices":{"results":[{"request":"gpu","driver":"gpu.example.com","pool":"node-1","device":"gpu-0"}]},
               "nodeSelector":{"nodeSelectorTerms":[{"matchFields":[{"key":"metadata.name","operator":"In","values":["node-1"]}]}]}},
               "reservedFor":[{"resource":"pods","name":"p","uid":"u1"}]}"#,
        );
        let c = Claim::decode(&allocated).unwrap();
        let a = c.allocation.unwrap();
        assert_eq!(
            a.devices[0].key,
            DeviceKey::new("gpu.example.com", "node-1", "gpu-0")
        );
        assert!(a.node_selector.is_some());
        assert_eq!(c.reserved_for[0].uid, "u1");
    }

    #[test]
    fn first_available_names_subrequests() {
        let json = claim_json(
            "ns",
            "c",
            r#"[{"name":"gpu","firstAvailable":[{"name":"big","deviceClassName":"gpu.example.com","count":2},
                                                 {"name":"small","deviceClassName":"gpu.example.com","allocationMode":"All"}]}]"#,
            "[]",
            "{}",
        );
        let c = Claim::decode(&json).unwrap();
        let r = &c.requests[0];
        assert!(r.first_available);
        assert_eq!(resolve(r.alternatives[0].name), "gpu/big");
        assert_eq!(r.alternatives[1].mode, AllocationMode::All);
    }

    #[test]
    fn invalid_requests_are_named() {
        let bad = |requests: &str| {
            Claim::decode(&claim_json("ns", "c", requests, "[]", "{}"))
                .unwrap_err()
                .to_string()
        };
        assert!(bad(r#"[{"name":"g"}]"#).contains("exactly one of"));
        assert!(
            bad(r#"[{"name":"g","exactly":{"deviceClassName":"c","count":0}}]"#)
                .contains("requests[0].exactly.count")
        );
        assert!(
            bad(r#"[{"name":"g","exactly":{"deviceClassName":"c","allocationMode":"All","count":2}}]"#)
                .contains("must not be set with All")
        );
        assert!(
            bad(r#"[{"name":"g","exactly":{"deviceClassName":"c","tolerations":[{"operator":"Maybe"}]}}]"#)
                .contains("unknown operator")
        );
    }
}
