//! Pod records: what the scheduler keeps of a Pod object, parsed once from the apiserver's bytes.

use std::sync::Arc;

use crate::bounded::quoted;
use crate::error::{CoreError, CoreResult};
use crate::intern::{Sym, resolve, sym};
use crate::quantity;
use crate::state::dra::pod_claims::{PodResourceClaim, resolve_pod_claims};
use crate::state::labels::Labels;
use crate::state::node::join_errors;
use crate::state::node_selector::{NodeSelector, PreferredTerm, term_from_wire};
use crate::state::object::{FieldError, LenientIdentity, ObjectRef, decode};
use crate::state::pod_affinity::PodAffinity;
use crate::state::requests::{ContainerRequests, InitContainer, PodSpecRequests, pod_requests};
use crate::state::resources::{
    MAX_POD_REQUEST, ResourceName, Resources, is_dra_extended_resource_name,
};
use crate::state::spread::{SpreadConstraint, parse_constraints};
use crate::state::taints::Toleration;
use crate::state::wire::{PodWire, StrMap};
use crate::topology::{ALLOCATION_ANNOTATION, Allocation, NUMA_POLICY_ANNOTATION};

/// The label that ties a pod to its PodGroup (scheduler-plugins coscheduling).
pub const POD_GROUP_LABEL: &str = "scheduling.x-k8s.io/pod-group";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

/// A host port a container binds: kube's (ip, protocol, port) triple, ip "" meaning 0.0.0.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// None: the wildcard address 0.0.0.0.
    pub ip: Option<Sym>,
    pub protocol: Protocol,
    pub port: i32,
}

impl HostPort {
    /// `HostPortInfo.CheckConflict`: the wildcard address conflicts with every address.
    pub fn conflicts_with(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip.is_none() || other.ip.is_none() || self.ip == other.ip)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PodRecord {
    pub uid: Arc<str>,
    pub namespace: Sym,
    pub name: Box<str>,
    pub resource_version: Box<str>,
    pub scheduler_name: Sym,
    pub node_name: Option<Sym>,
    /// `spec.priority` (0 when unset; see `priority_set`).
    pub priority: i32,
    /// Whether `spec.priority` was set (the Priority admission plugin fills it from the class);
    /// when not, the cached PriorityClasses decide (see `state::priority`).
    pub priority_set: bool,
    pub priority_class: Option<Sym>,
    /// `spec.preemptionPolicy: Never`: the pod waits instead of preempting.
    pub never_preempts: bool,
    /// `status.nominatedNodeName`: the node a preemption made room on for this pod.
    pub nominated_node: Option<Sym>,
    pub created: f64,
    /// `status.startTime` (seconds since the epoch), or `created` when unset: the preemption
    /// tie-break prefers victims that started last.
    pub started: f64,
    /// `status.phase` Succeeded or Failed: holds no resources.
    pub terminal: bool,
    /// `metadata.deletionTimestamp` set.
    pub deleting: bool,
    /// Has `spec.schedulingGates`.
    pub gated: bool,
    pub pod_group: Option<Sym>,
    /// The name of the controller that owns the pod (its ownerReference with `controller`),
    /// what a PodGroup's `status.occupiedBy` reports.
    pub owner: Option<Box<str>>,
    pub labels: Labels,
    pub requests: Resources,
    /// Requests with kube's scoring defaults for containers that omit cpu or memory.
    pub non_zero_requests: Resources,
    pub host_ports: Box<[HostPort]>,
    pub node_selector: Labels,
    pub required_affinity: Option<NodeSelector>,
    pub preferred_affinity: Box<[PreferredTerm]>,
    /// Inter-pod affinity and anti-affinity; None for the many pods without any.
    pub pod_affinity: Option<Box<PodAffinity>>,
    pub spread: Box<[SpreadConstraint]>,
    pub tolerations: Box<[Toleration]>,
    /// PersistentVolumeClaims the pod's volumes use, in its namespace (ephemeral volumes'
    /// claims are `<pod>-<volume>`).
    pub claims: Box<[Sym]>,
    /// `spec.resourceClaims`, resolved to claim names where known (DynamicResources).
    pub resource_claims: Box<[PodResourceClaim]>,
    /// Each container's requests of extended resources, which DRA may serve (DynamicResources
    /// asks for them per container in the claim it makes for the pod); empty for most pods.
    pub extended_requests: Box<[ContainerExtendedRequest]>,
    /// Container images (init containers included), normalized as ImageLocality compares
    /// them: `:latest` added when no tag is given.
    pub images: Box<[Sym]>,
    /// `status.phase` Running: kubelet has admitted the pod and handed it its devices.
    pub running: bool,
    /// The `podium.dev/numa` annotation, checked by the NUMA plugins (an error is theirs).
    pub numa_policy: Option<Box<str>>,
    /// The `podium.dev/allocation` annotation of a bound pod: its devices' NUMA zones.
    pub allocation: Option<Arc<Allocation>>,
    /// Set when part of the object was malformed: a pending pod then fails with this message.
    pub error: Option<Box<str>>,
}

impl PodRecord {
    pub fn namespace(&self) -> &'static str {
        resolve(self.namespace)
    }

    pub fn object(&self) -> ObjectRef {
        ObjectRef::new("Pod", self.namespace(), &self.name)
    }

    /// An empty record, for tests and for pods known only by identity.
    pub fn empty(uid: &str, namespace: &str, name: &str) -> Self {
        Self {
            uid: uid.into(),
            namespace: sym(namespace),
            name: name.into(),
            resource_version: Box::default(),
            scheduler_name: sym(""),
            node_name: None,
            priority: 0,
            priority_set: false,
            priority_class: None,
            never_preempts: false,
            nominated_node: None,
            created: 0.0,
            started: 0.0,
            terminal: false,
            deleting: false,
            gated: false,
            pod_group: None,
            owner: None,
            labels: Labels::default(),
            requests: Resources::default(),
            non_zero_requests: Resources::default(),
            host_ports: Box::default(),
            node_selector: Labels::default(),
            required_affinity: None,
            preferred_affinity: Box::default(),
            pod_affinity: None,
            spread: Box::default(),
            tolerations: Box::default(),
            claims: Box::default(),
            resource_claims: Box::default(),
            extended_requests: Box::default(),
            images: Box::default(),
            running: false,
            numa_policy: None,
            allocation: None,
            error: None,
        }
    }
}

/// One container's request of an extended resource, as kube's claim for extended resources
/// backed by DRA reads it (`createRequestsAndMappings`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerExtendedRequest {
    /// The container's index in `initContainers` followed by `containers`.
    pub container: u32,
    pub container_name: Box<str>,
    /// An init container that is not a sidecar: it runs before the others and may reuse their
    /// devices.
    pub short_lived: bool,
    pub resource: Sym,
    pub count: i64,
    /// The resource's position among the container's requested resource names, sorted.
    pub index: u32,
}

fn container_extended_requests(
    out: &mut Vec<ContainerExtendedRequest>,
    container: usize,
    name: Option<&str>,
    short_lived: bool,
    requests: Option<&crate::state::wire_base::StrMap<'_>>,
) {
    for (index, (key, text)) in requests.into_iter().flatten().enumerate() {
        if !is_dra_extended_resource_name(key) {
            continue;
        }
        let Ok(count) = quantity::parse_value(text) else {
            continue;
        };
        if count <= 0 {
            continue;
        }
        out.push(ContainerExtendedRequest {
            container: u32::try_from(container).unwrap_or(u32::MAX),
            container_name: name.unwrap_or_default().into(),
            short_lived,
            resource: sym(key),
            count,
            index: u32::try_from(index).unwrap_or(u32::MAX),
        });
    }
}

/// A decoded record, or why none could be made (not even an identity).
pub type PodParse = CoreResult<PodRecord>;

pub fn parse_pod(bytes: &[u8]) -> PodParse {
    match decode::<PodWire<'_>>(bytes) {
        Ok(wire) => {
            let mut errors = Vec::new();
            let record = from_wire(&wire, &mut errors);
            if record.uid.is_empty() {
                return Err(CoreError::Invalid(format!(
                    "{}: metadata.uid: missing",
                    record.object()
                )));
            }
            Ok(PodRecord {
                error: join_errors(&errors),
                ..record
            })
        }
        Err(e) => {
            let id = LenientIdentity::read(bytes).unwrap_or_default();
            let err = FieldError::new(ObjectRef::new("Pod", &id.namespace, &id.name), e);
            if id.uid.is_empty() {
                return Err(CoreError::Invalid(err.to_string()));
            }
            let mut record = PodRecord::empty(&id.uid, &id.namespace, &id.name);
            record.resource_version = id.resource_version.into();
            record.scheduler_name = sym(&id.scheduler_name);
            record.node_name = id.node_name.as_deref().map(sym);
            record.terminal = id.terminal;
            record.error = Some(err.to_string().into());
            Ok(record)
        }
    }
}

/// RFC 3339 timestamp to seconds since the epoch.
pub(crate) fn timestamp(text: &str) -> Option<f64> {
    let t = humantime::parse_rfc3339_weak(text).ok()?;
    Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs_f64())
}

struct Ctx<'e> {
    object: ObjectRef,
    errors: &'e mut Vec<FieldError>,
}

impl Ctx<'_> {
    fn error(&mut self, path: String, message: String) {
        self.errors.push(FieldError {
            object: self.object.clone(),
            path,
            message,
        });
    }

    fn requests(&mut self, path: &str, map: Option<&StrMap<'_>>) -> ContainerRequests {
        let mut out = ContainerRequests::default();
        for (key, text) in map.into_iter().flatten() {
            let resource = ResourceName::parse(key);
            let parsed = if resource == ResourceName::Cpu {
                quantity::parse_milli_value(text)
            } else {
                quantity::parse_value(text)
            };
            match parsed {
                Ok(v) if v >= 0 => {
                    out.requests.set(resource, v);
                    out.has_cpu |= resource == ResourceName::Cpu;
                    out.has_memory |= resource == ResourceName::Memory;
                }
                Ok(_) => self.error(
                    format!("{path}.{key}"),
                    format!("negative quantity {}", quoted(text)),
                ),
                Err(e) => self.error(format!("{path}.{key}"), e.to_string()),
            }
        }
        out
    }
}

fn from_wire(wire: &PodWire<'_>, errors: &mut Vec<FieldError>) -> PodRecord {
    let meta = &wire.metadata;
    let namespace = meta.namespace.as_deref().unwrap_or_default();
    let name = meta.name.as_deref().unwrap_or_default();
    let mut ctx = Ctx {
        object: ObjectRef::new("Pod", namespace, name),
        errors,
    };
    let mut record = PodRecord::empty(meta.uid.as_deref().unwrap_or_default(), namespace, name);
    record.resource_version = meta.resource_version.as_deref().unwrap_or_default().into();
    record.deleting = meta.deletion_timestamp.is_some();
    if let Some(ts) = meta.creation_timestamp.as_deref() {
        match timestamp(ts) {
            Some(t) => record.created = t,
            None => ctx.error(
                "metadata.creationTimestamp".into(),
                format!("invalid timestamp {}", quoted(ts)),
            ),
        }
    }
    if let Some(labels) = &meta.labels {
        record.labels = Labels::from_map(labels);
        record.pod_group = labels.get(POD_GROUP_LABEL).map(|g| sym(g));
    }
    record.owner = meta
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
        .and_then(|r| r.name.as_deref())
        .map(Box::from);
    record.started = record.created;
    if let Some(status) = &wire.status {
        if let Some(ts) = status.start_time.as_deref() {
            match timestamp(ts) {
                Some(t) => record.started = t,
                None => ctx.error(
                    "status.startTime".into(),
                    format!("invalid timestamp {}", quoted(ts)),
                ),
            }
        }
        record.nominated_node = status
            .nominated_node_name
            .as_deref()
            .filter(|n| !n.is_empty())
            .map(sym);
    }
    record.terminal = matches!(
        wire.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    );
    record.running = wire.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
    if let Some(annotations) = &meta.annotations {
        record.numa_policy = annotations
            .get(NUMA_POLICY_ANNOTATION)
            .map(|v| Box::from(&**v));
        if let Some(text) = annotations.get(ALLOCATION_ANNOTATION) {
            let bound = wire
                .spec
                .as_ref()
                .and_then(|s| s.node_name.as_deref())
                .is_some_and(|n| !n.is_empty());
            match Allocation::from_annotation(&format!("{namespace}/{name}"), text) {
                Ok(allocation) => record.allocation = Some(Arc::new(allocation)),
                // A pending pod's stale value is replaced by the next binding: only a bound
                // pod's is worth reporting (its devices then go uncounted until the NRT
                // object shows them).
                Err(err) if bound => ctx.error(
                    format!("metadata.annotations[{ALLOCATION_ANNOTATION}]"),
                    err.to_string(),
                ),
                Err(_) => {}
            }
        }
    }
    let Some(spec) = &wire.spec else {
        record.scheduler_name = sym("default-scheduler");
        return record;
    };
    record.scheduler_name = sym(spec
        .scheduler_name
        .as_deref()
        .unwrap_or("default-scheduler"));
    record.node_name = spec.node_name.as_deref().filter(|n| !n.is_empty()).map(sym);
    record.priority = spec.priority.unwrap_or(0);
    record.priority_set = spec.priority.is_some();
    record.priority_class = spec
        .priority_class_name
        .as_deref()
        .filter(|n| !n.is_empty())
        .map(sym);
    // The Workload API's link names a scheduling.k8s.io PodGroup; kube-scheduler reads only
    // it, so it wins over scheduler-plugins' label on a pod that has both.
    if let Some(group) = spec
        .scheduling_group
        .as_ref()
        .and_then(|g| g.pod_group_name.as_deref())
        .filter(|g| !g.is_empty())
    {
        record.pod_group = Some(sym(group));
    }
    match spec.preemption_policy.as_deref() {
        None | Some("PreemptLowerPriority") => {}
        Some("Never") => record.never_preempts = true,
        Some(other) => ctx.error(
            "spec.preemptionPolicy".into(),
            format!(
                "unknown policy {} (PreemptLowerPriority, Never)",
                quoted(other)
            ),
        ),
    }
    record.gated = spec
        .scheduling_gates
        .as_ref()
        .is_some_and(|g| !g.is_empty());
    record.node_selector = spec
        .node_selector
        .as_ref()
        .map(Labels::from_map)
        .unwrap_or_default();
    record.tolerations = spec
        .tolerations
        .iter()
        .flatten()
        .map(|t| {
            Toleration::new(
                t.key.as_deref().unwrap_or_default(),
                t.operator.as_deref().unwrap_or_default(),
                t.value.as_deref().unwrap_or_default(),
                t.effect.as_deref().unwrap_or_default(),
            )
        })
        .collect();
    if let Some(na) = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
    {
        record.required_affinity = na
            .required_during_scheduling_ignored_during_execution
            .as_ref()
            .map(|sel| NodeSelector {
                terms: sel
                    .node_selector_terms
                    .iter()
                    .flatten()
                    .map(term_from_wire)
                    .collect(),
            });
        record.preferred_affinity = na
            .preferred_during_scheduling_ignored_during_execution
            .iter()
            .flatten()
            .filter_map(|p| {
                let t = term_from_wire(&p.preference);
                // kube ignores zero-weight and empty preferences.
                (p.weight != 0 && !t.is_empty()).then_some(PreferredTerm {
                    weight: p.weight,
                    term: t,
                })
            })
            .collect();
    }
    let mut term_errors = Vec::new();
    let affinity = spec.affinity.as_ref();
    let pod_affinity = PodAffinity::parse(
        affinity.and_then(|a| a.pod_affinity.as_ref()),
        affinity.and_then(|a| a.pod_anti_affinity.as_ref()),
        record.namespace,
        &record.labels,
        &mut term_errors,
    );
    if !pod_affinity.is_empty() {
        record.pod_affinity = Some(Box::new(pod_affinity));
    }
    record.spread = parse_constraints(
        spec.topology_spread_constraints
            .as_deref()
            .unwrap_or_default(),
        &record.labels,
        &mut term_errors,
    );
    for e in term_errors {
        let (path, message) = e.into_field();
        ctx.error(path, message);
    }
    record.resource_claims = resolve_pod_claims(
        spec.resource_claims.as_deref().unwrap_or_default(),
        wire.status
            .as_ref()
            .and_then(|st| st.resource_claim_statuses.as_deref())
            .unwrap_or_default(),
    );
    record.images = spec
        .init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter().flatten())
        .filter_map(|c| c.image.as_deref().filter(|i| !i.is_empty()))
        .map(|image| sym(&crate::state::node_images::normalized_image_name(image)))
        .collect();
    record.claims = spec
        .volumes
        .iter()
        .flatten()
        .filter_map(|v| {
            if let Some(claim) = v.persistent_volume_claim.as_ref() {
                return claim.claim_name.as_deref().map(sym);
            }
            // The ephemeral volume controller names the claim after the pod and the volume.
            v.ephemeral.as_ref()?;
            Some(sym(&format!("{name}-{}", v.name.as_deref()?)))
        })
        .collect();

    let mut spec_requests = PodSpecRequests::default();
    let mut host_ports = Vec::new();
    let mut extended = Vec::new();
    let inits = spec.init_containers.as_ref().map_or(0, Vec::len);
    for (i, c) in spec.containers.iter().flatten().enumerate() {
        let path = format!("spec.containers[{i}].resources.requests");
        let reqs = c.resources.as_ref().and_then(|r| r.requests.as_ref());
        spec_requests.containers.push(ctx.requests(&path, reqs));
        container_extended_requests(&mut extended, inits + i, c.name.as_deref(), false, reqs);
        for p in c.ports.iter().flatten() {
            if let Some(port) = p.host_port.filter(|&p| p > 0) {
                host_ports.push(HostPort {
                    ip: p
                        .host_ip
                        .as_deref()
                        .filter(|ip| !ip.is_empty() && *ip != "0.0.0.0")
                        .map(sym),
                    protocol: match p.protocol.as_deref() {
                        Some("UDP") => Protocol::Udp,
                        Some("SCTP") => Protocol::Sctp,
                        _ => Protocol::Tcp,
                    },
                    port,
                });
            }
        }
    }
    for (i, c) in spec.init_containers.iter().flatten().enumerate() {
        let path = format!("spec.initContainers[{i}].resources.requests");
        let reqs = c.resources.as_ref().and_then(|r| r.requests.as_ref());
        let restartable = c.restart_policy.as_deref() == Some("Always");
        spec_requests.init_containers.push(InitContainer {
            requests: ctx.requests(&path, reqs),
            restartable,
        });
        container_extended_requests(&mut extended, i, c.name.as_deref(), !restartable, reqs);
    }
    extended.sort_by_key(|r| r.container);
    record.extended_requests = extended.into_boxed_slice();
    if let Some(pod_level) = spec.resources.as_ref().and_then(|r| r.requests.as_ref()) {
        let reqs = ctx.requests("spec.resources.requests", Some(pod_level));
        if reqs.has_cpu || reqs.has_memory || !reqs.requests.scalar.is_empty() {
            spec_requests.pod_level = Some(reqs);
        }
    }
    spec_requests.overhead = ctx
        .requests("spec.overhead", spec.overhead.as_ref())
        .requests;
    let (mut requests, mut non_zero) = pod_requests(&spec_requests);
    for name in requests.clamp_to(MAX_POD_REQUEST) {
        ctx.error(
            "spec".to_owned(),
            format!(
                "{name} requests add up to more than {MAX_POD_REQUEST}, the most podium counts"
            ),
        );
    }
    non_zero.clamp_to(MAX_POD_REQUEST);
    record.requests = requests;
    record.non_zero_requests = non_zero;
    record.host_ports = host_ports.into_boxed_slice();
    check_allocation(&mut record, &mut ctx);
    record
}

/// An allocation that does not add up to the pod's requests is dropped: the pod then counts
/// by its requests (on its node; in its zones once the NRT object shows it). As for a value
/// that does not parse, only a bound pod's is reported.
fn check_allocation(record: &mut PodRecord, ctx: &mut Ctx<'_>) {
    let Some(allocation) = &record.allocation else {
        return;
    };
    let requests = &record.requests;
    let requested = |name: &str| ResourceName::lookup(name).map_or(0, |r| requests.get(r));
    if let Err(detail) = allocation.check_totals(requested) {
        record.allocation = None;
        if record.node_name.is_some() {
            ctx.error(
                format!("metadata.annotations[{ALLOCATION_ANNOTATION}]"),
                format!("{detail}; ignored, the pod counts by its requests"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(body: &str) -> PodRecord {
        match parse_pod(body.as_bytes()) {
            Ok(r) => r,
            Err(e) => panic!("unusable: {e}"),
        }
    }

    #[test]
    fn the_workload_apis_link_names_the_group_and_wins_over_the_label() {
        let p = record(
            r#"{"metadata":{"name":"w","namespace":"ns","uid":"u1","labels":{"scheduling.x-k8s.io/pod-group":"old"}},
                "spec":{"schedulingGroup":{"podGroupName":"train-0"}}}"#,
        );
        assert_eq!(p.pod_group, Some(sym("train-0")));
        let p = record(
            r#"{"metadata":{"name":"w","namespace":"ns","uid":"u2"},"spec":{"schedulingGroup":{}}}"#,
        );
        assert_eq!(p.pod_group, None);
    }

    #[test]
    fn parses_a_full_pod() {
        let p = record(
            r#"{"metadata":{"name":"web-1","namespace":"default","uid":"u1","resourceVersion":"5",
                 "creationTimestamp":"2024-01-01T00:00:00Z","labels":{"app":"web","scheduling.x-k8s.io/pod-group":"g1"}},
                "spec":{"schedulerName":"podium","priority":10,"nodeSelector":{"zone":"a"},
                 "tolerations":[{"key":"gpu","operator":"Exists","effect":"NoSchedule"}],
                 "affinity":{"nodeAffinity":{
                   "requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"gpu","operator":"In","values":["h100"]}]}]},
                   "preferredDuringSchedulingIgnoredDuringExecution":[{"weight":5,"preference":{"matchExpressions":[{"key":"rack","operator":"Exists"}]}},{"weight":0,"preference":{"matchExpressions":[{"key":"x","operator":"Exists"}]}}]}},
                 "containers":[{"name":"a","resources":{"requests":{"cpu":"500m","memory":"1Gi","nvidia.com/gpu":"2"}},
                   "ports":[{"containerPort":80,"hostPort":8080},{"containerPort":53,"hostPort":53,"protocol":"UDP","hostIP":"10.0.0.1"}]}]},
                "status":{"phase":"Pending"}}"#,
        );
        assert_eq!(&*p.uid, "u1");
        assert_eq!(p.namespace(), "default");
        assert_eq!(resolve(p.scheduler_name), "podium");
        assert_eq!(p.priority, 10);
        assert!((p.created - 1_704_067_200.0).abs() < 1e-6);
        assert_eq!(p.pod_group, Some(sym("g1")));
        assert_eq!(p.requests.milli_cpu, 500);
        assert_eq!(p.requests.memory, 1 << 30);
        assert_eq!(p.requests.scalar(sym("nvidia.com/gpu")), 2);
        assert_eq!(p.host_ports.len(), 2);
        assert_eq!(p.host_ports[1].protocol, Protocol::Udp);
        assert_eq!(p.tolerations.len(), 1);
        assert_eq!(p.required_affinity.as_ref().map(|s| s.terms.len()), Some(1));
        assert_eq!(p.preferred_affinity.len(), 1, "zero weight dropped");
        assert!(!p.terminal && !p.gated && p.error.is_none());
    }

    #[test]
    fn bad_quantity_names_pod_and_field_and_keeps_the_rest() {
        let p = record(
            r#"{"metadata":{"name":"web-1","namespace":"default","uid":"u1"},
                "spec":{"containers":[{"resources":{"requests":{"cpu":"1x","memory":"1Gi"}}}]}}"#,
        );
        assert_eq!(
            p.error.as_deref(),
            Some(
                r#"Pod default/web-1: spec.containers[0].resources.requests.cpu: invalid quantity "1x": unknown suffix"#
            )
        );
        assert_eq!(p.requests.memory, 1 << 30);
    }

    #[test]
    fn wrong_type_keeps_identity_and_placement() {
        let p = record(
            r#"{"metadata":{"name":"w","namespace":"ns","uid":"u2"},
                "spec":{"nodeName":"n1","schedulerName":"podium","priority":"high"}}"#,
        );
        let err = p.error.expect("error");
        assert!(
            err.starts_with("Pod ns/w: spec.priority: invalid type"),
            "{err}"
        );
        assert_eq!(p.node_name, Some(sym("n1")));
        assert_eq!(resolve(p.scheduler_name), "podium");
    }

    #[test]
    fn unusable_without_uid() {
        assert!(parse_pod(br#"{"metadata":{"name":"x"}}"#).is_err());
        assert!(parse_pod(b"[1,2").is_err());
    }

    #[test]
    fn terminal_gated_and_deleting() {
        let p = record(
            r#"{"metadata":{"uid":"u","deletionTimestamp":"2024-01-01T00:00:00Z"},
                "spec":{"schedulingGates":[{"name":"g"}]},"status":{"phase":"Succeeded"}}"#,
        );
        assert!(p.terminal && p.gated && p.deleting);
        assert_eq!(resolve(p.scheduler_name), "default-scheduler");
    }

    #[test]
    fn host_port_conflicts() {
        let any = HostPort {
            ip: None,
            protocol: Protocol::Tcp,
            port: 80,
        };
        let ip1 = HostPort {
            ip: Some(sym("10.0.0.1")),
            ..any
        };
        let ip2 = HostPort {
            ip: Some(sym("10.0.0.2")),
            ..any
        };
        let udp = HostPort {
            protocol: Protocol::Udp,
            ..any
        };
        assert!(any.conflicts_with(&ip1) && ip1.conflicts_with(&any));
        assert!(!ip1.conflicts_with(&ip2));
        assert!(ip1.conflicts_with(&ip1));
        assert!(!any.conflicts_with(&udp));
        assert!(!any.conflicts_with(&HostPort { port: 81, ..any }));
    }

    #[test]
    fn huge_requests_neither_wrap_nor_count_unbounded() {
        // Two containers of 5Ei each: 2^63 and more. A wrapping sum would be negative, and such
        // a pod would fit anywhere and free room on the node it is bound to.
        let p = record(
            r#"{"metadata":{"name":"big","namespace":"d","uid":"u"},"spec":{"containers":[
                {"resources":{"requests":{"memory":"5Ei","nvidia.com/gpu":"5000000000000000000"}}},
                {"resources":{"requests":{"memory":"5Ei","nvidia.com/gpu":"5000000000000000000"}}}
            ]}}"#,
        );
        assert_eq!(p.requests.memory, MAX_POD_REQUEST);
        assert_eq!(p.requests.scalar(sym("nvidia.com/gpu")), MAX_POD_REQUEST);
        let error = p.error.as_deref().expect("marked invalid");
        assert!(
            error.contains("Pod d/big: spec: memory requests add up to more than"),
            "{error}"
        );
        assert!(error.contains("nvidia.com/gpu requests"), "{error}");
    }

    #[test]
    fn an_allocation_that_is_not_the_pods_requests_is_dropped() {
        let pod = |node: &str, claim: &str| {
            record(&format!(
                r#"{{"metadata":{{"name":"p","namespace":"d","uid":"u","annotations":{{
                    "podium.dev/allocation":"{{\"policy\":\"single\",\"zones\":[{{\"zone\":\"node-0\",\"resources\":{{\"nvidia.com/gpu\":{claim}}}}}]}}"}}}},
                   "spec":{{"nodeName":"{node}","containers":[{{"resources":{{"requests":{{"nvidia.com/gpu":"1"}}}}}}]}}}}"#
            ))
        };
        let fine = pod("n1", "1");
        assert_eq!(
            (fine.error.as_deref(), fine.allocation.is_some()),
            (None, true)
        );
        let greedy = pod("n1", "9223372036854775807");
        assert!(greedy.allocation.is_none(), "counted by its requests");
        assert_eq!(
            greedy.error.as_deref(),
            Some(
                "Pod d/p: metadata.annotations[podium.dev/allocation]: the zones hold \
                 9223372036854775807 nvidia.com/gpu in all, the pod requests 1; ignored, the pod \
                 counts by its requests"
            )
        );
        // A pending pod's stale value is replaced by its binding: dropped, not reported.
        let pending = pod("", "4");
        assert_eq!((pending.error, pending.allocation), (None, None));
    }
}
