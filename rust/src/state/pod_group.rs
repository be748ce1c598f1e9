//! PodGroups (`scheduling.x-k8s.io/v1alpha1`, as scheduler-plugins' coscheduling defines them)
//! and podium's gang annotations on them.
//!
//! A PodGroup names how many pods must be placed together (`minMember`); pods join it with the
//! label `scheduling.x-k8s.io/pod-group`. podium reads its annotations beside the spec: a
//! topology request (`podium.dev/topology-level`: a node label naming the domains the gang
//! must share, `podium.dev/topology-mode`: `required` (default) or `preferred`, and slices:
//! `podium.dev/slice-size` pods each inside one domain of `podium.dev/slice-level`), or the
//! older `podium.dev/rack` (`required` / `preferred` / `none`: the level is the profile's rack
//! label); `podium.dev/distinct-hosts` (`"true"`: at most one member per node) and
//! `podium.dev/job` (groups of one job are balanced over domains).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::bounded::{quoted, shown};
use crate::error::{CoreError, CoreResult};
use crate::intern::{Sym, resolve, sym};
use crate::quantity;
use crate::state::object::{LenientIdentity, ObjectRef, decode};
use crate::state::pod::timestamp;
use crate::state::resources::ResourceName;
use crate::state::wire::{ObjectMetaWire, Str, StrMap};
use crate::state::workload_group::WorkloadGroup;

pub const RACK_ANNOTATION: &str = "podium.dev/rack";
pub const TOPOLOGY_LEVEL_ANNOTATION: &str = "podium.dev/topology-level";
pub const TOPOLOGY_MODE_ANNOTATION: &str = "podium.dev/topology-mode";
pub const SLICE_SIZE_ANNOTATION: &str = "podium.dev/slice-size";
pub const SLICE_LEVEL_ANNOTATION: &str = "podium.dev/slice-level";
pub const DISTINCT_HOSTS_ANNOTATION: &str = "podium.dev/distinct-hosts";
pub const JOB_ANNOTATION: &str = "podium.dev/job";

/// A topology level: the node label whose values name its domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// The profile's rack label (`podium.dev/rack`, which predates configurable levels).
    Rack,
    /// This node label (a level of the profile's list, or any other label: Kueue's TAS
    /// labels, an NVLink clique label).
    Key(Sym),
}

impl Level {
    /// The label key, with the profile's rack label for `Rack`.
    pub fn key(self, rack_label: Sym) -> Sym {
        match self {
            Self::Rack => rack_label,
            Self::Key(key) => key,
        }
    }
}

/// Whether a gang must share a domain of its level (`required`, kube's and Kueue's word), or
/// only should (`preferred`: the next level up, then the whole cluster, when no domain fits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopologyMode {
    Required,
    Preferred,
}

impl TopologyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::Preferred => "preferred",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "required" => Some(Self::Required),
            "preferred" => Some(Self::Preferred),
            _ => None,
        }
    }
}

/// Sub-groups of a gang: every `size` members (in the order they are decided) inside one
/// domain of `level`, a level below the gang's (e.g. each slice of 8 in one rack).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SliceRequest {
    pub size: u32,
    pub level: Level,
}

/// Where a gang's members must (or should) sit together. Filled from podium's annotations on
/// a scheduler-plugins PodGroup, or from the Workload API's topology constraint (its key as a
/// `required` level).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopologyRequest {
    pub level: Level,
    pub mode: TopologyMode,
    pub slice: Option<SliceRequest>,
}

impl TopologyRequest {
    pub fn required(key: &str) -> Self {
        Self {
            level: Level::Key(sym(key)),
            mode: TopologyMode::Required,
            slice: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PodGroupRecord {
    pub namespace: Sym,
    pub name: Sym,
    pub uid: Box<str>,
    pub resource_version: Box<str>,
    pub min_member: u32,
    /// `spec.minResources`, cpu in millicores, the rest in units/bytes, by resource name.
    pub min_resources: BTreeMap<String, i64>,
    pub schedule_timeout_seconds: Option<u32>,
    /// Where the members must or should sit together; None: anywhere.
    pub topology: Option<TopologyRequest>,
    pub distinct_hosts: bool,
    pub job: Option<Sym>,
    pub created: f64,
    /// Set for a `scheduling.k8s.io` PodGroup (the Workload API): what that API adds, and
    /// None for scheduler-plugins' PodGroup (see `workload_pod_group`).
    pub workload: Option<Box<WorkloadGroup>>,
    /// Set when part of the object was malformed: its members are not scheduled, and their
    /// events say this.
    pub error: Option<Box<str>>,
}

impl PodGroupRecord {
    pub fn namespace(&self) -> &'static str {
        resolve(self.namespace)
    }

    pub fn name(&self) -> &'static str {
        resolve(self.name)
    }

    pub fn object(&self) -> ObjectRef {
        ObjectRef::new("PodGroup", self.namespace(), self.name())
    }

    /// Which API defines the group.
    pub fn api(&self) -> GroupApi {
        if self.workload.is_some() {
            GroupApi::Workload
        } else {
            GroupApi::SchedulerPlugins
        }
    }
}

/// The two PodGroup APIs podium reads: scheduler-plugins' CRD (`scheduling.x-k8s.io/v1alpha1`,
/// pods join with a label) and Kubernetes' Workload API (`scheduling.k8s.io/v1beta1`, pods join
/// with `spec.schedulingGroup.podGroupName`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupApi {
    SchedulerPlugins,
    Workload,
}

impl GroupApi {
    pub fn api_version(self) -> &'static str {
        match self {
            Self::SchedulerPlugins => "scheduling.x-k8s.io/v1alpha1",
            Self::Workload => "scheduling.k8s.io/v1beta1",
        }
    }
}

#[derive(Deserialize)]
struct PodGroupWire<'a> {
    #[serde(borrow, default)]
    metadata: ObjectMetaWire<'a>,
    #[serde(borrow)]
    spec: Option<PodGroupSpecWire<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PodGroupSpecWire<'a> {
    min_member: Option<i64>,
    #[serde(borrow)]
    min_resources: Option<StrMap<'a>>,
    schedule_timeout_seconds: Option<i64>,
}

/// Parses a PodGroup. A body that is not a PodGroup at all (no name) is an `Err`; a PodGroup
/// with a bad field is an `Ok` record whose `error` names the object and the field.
pub fn parse_pod_group(bytes: &[u8]) -> CoreResult<PodGroupRecord> {
    let wire: PodGroupWire<'_> = match decode(bytes) {
        Ok(wire) => wire,
        Err(e) => return undecodable(bytes, e),
    };
    let meta = &wire.metadata;
    let (mut record, mut errors) = from_meta(meta)?;
    let object = record.object();
    if let Some(spec) = &wire.spec {
        read_spec(spec, &mut record, &mut errors);
    }
    if let Some(annotations) = &meta.annotations {
        read_annotations(annotations, &mut record, &mut errors);
    }
    if !errors.is_empty() {
        record.error = Some(format!("{object}: {}", errors.join("; ")).into());
    }
    Ok(record)
}

/// A PodGroup (of either API) that did not decode, `msg` at `path`: a record whose error says so
/// when the object can still be named, so its members are told why they wait instead of waiting
/// for a group that seems not to exist; else an `Err`.
pub(crate) fn undecodable(bytes: &[u8], err: CoreError) -> CoreResult<PodGroupRecord> {
    let id = LenientIdentity::read(bytes).filter(|id| !id.name.is_empty());
    let Some(id) = id else {
        return Err(err.in_object("PodGroup"));
    };
    let mut record = empty(&id.namespace, &id.name, &id.uid, &id.resource_version);
    let object = record.object();
    record.error = Some(err.in_object(&object.to_string()).to_string().into());
    Ok(record)
}

/// A group with `meta`'s identity and creation time, and the errors found in `meta` (both
/// PodGroup APIs share it); `Err` when it has no name.
pub(crate) fn from_meta(meta: &ObjectMetaWire<'_>) -> CoreResult<(PodGroupRecord, Vec<String>)> {
    let name = meta.name.as_deref().unwrap_or_default();
    if name.is_empty() {
        return Err(CoreError::Invalid(
            "PodGroup: metadata.name: missing".into(),
        ));
    }
    let mut record = empty(
        meta.namespace.as_deref().unwrap_or_default(),
        name,
        meta.uid.as_deref().unwrap_or_default(),
        meta.resource_version.as_deref().unwrap_or_default(),
    );
    let mut errors: Vec<String> = Vec::new();
    if let Some(ts) = meta.creation_timestamp.as_deref() {
        match timestamp(ts) {
            Some(t) => record.created = t,
            None => errors.push(format!(
                "metadata.creationTimestamp: invalid timestamp {}",
                quoted(ts)
            )),
        }
    }
    Ok((record, errors))
}

pub(crate) fn empty(
    namespace: &str,
    name: &str,
    uid: &str,
    resource_version: &str,
) -> PodGroupRecord {
    PodGroupRecord {
        namespace: sym(namespace),
        name: sym(name),
        uid: uid.into(),
        resource_version: resource_version.into(),
        min_member: 1,
        min_resources: BTreeMap::new(),
        schedule_timeout_seconds: None,
        topology: None,
        distinct_hosts: false,
        job: None,
        created: 0.0,
        workload: None,
        error: None,
    }
}

/// A count the CRD types as int32: not negative, at most `i32::MAX`.
pub(crate) fn int32_count(path: &str, n: i64) -> CoreResult<u32> {
    match u32::try_from(n) {
        Ok(count) if n <= i64::from(i32::MAX) => Ok(count),
        _ if n < 0 => Err(CoreError::Invalid(format!(
            "{path}: must not be negative, got {n}"
        ))),
        _ => Err(CoreError::Invalid(format!(
            "{path}: must be at most {}, got {n}",
            i32::MAX
        ))),
    }
}

fn read_spec(spec: &PodGroupSpecWire<'_>, record: &mut PodGroupRecord, errors: &mut Vec<String>) {
    // The values scheduler-plugins' CRD admits, read as its coscheduling reads them (podium's
    // CRD in deploy/crds admits the same: int32, minimum 0).
    if let Some(n) = spec.min_member {
        // 0 waits for no one, as 1 does: every member is tried as soon as it exists.
        match int32_count("spec.minMember", n) {
            Ok(n) => record.min_member = n.max(1),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if let Some(n) = spec.schedule_timeout_seconds {
        // 0: no wait at all, the group is Failed once an attempt has not placed it.
        match int32_count("spec.scheduleTimeoutSeconds", n) {
            Ok(n) => record.schedule_timeout_seconds = Some(n),
            Err(e) => errors.push(e.to_string()),
        }
    }
    for (key, text) in spec.min_resources.iter().flatten() {
        let parsed = if ResourceName::parse(key) == ResourceName::Cpu {
            quantity::parse_milli_value(text)
        } else {
            quantity::parse_value(text)
        };
        match parsed {
            Ok(v) => {
                record.min_resources.insert(key.to_string(), v);
            }
            Err(e) => errors.push(format!("spec.minResources.{}: {e}", shown(key))),
        }
    }
}

fn read_annotations(
    annotations: &StrMap<'_>,
    record: &mut PodGroupRecord,
    errors: &mut Vec<String>,
) {
    let get = |key: &str| annotations.get(key).map(Str::as_ref);
    let bad = |key: &str, text: &str, why: &str| {
        format!("metadata.annotations[{key}]: {} {why}", quoted(text))
    };
    let rack = match get(RACK_ANNOTATION) {
        None | Some("none" | "") => None,
        Some(text) => match TopologyMode::parse(text) {
            Some(mode) => Some(mode),
            None => {
                errors.push(bad(
                    RACK_ANNOTATION,
                    text,
                    "is not one of required, preferred, none",
                ));
                None
            }
        },
    };
    let level = get(TOPOLOGY_LEVEL_ANNOTATION).filter(|t| !t.is_empty());
    if let Some(key) = level
        && let Err(why) = label_key(key)
    {
        errors.push(bad(TOPOLOGY_LEVEL_ANNOTATION, key, &why.to_string()));
    }
    let mode = match get(TOPOLOGY_MODE_ANNOTATION).filter(|t| !t.is_empty()) {
        None => TopologyMode::Required,
        Some(text) => TopologyMode::parse(text).unwrap_or_else(|| {
            errors.push(bad(
                TOPOLOGY_MODE_ANNOTATION,
                text,
                "is not one of required, preferred",
            ));
            TopologyMode::Required
        }),
    };
    if level.is_none() && get(TOPOLOGY_MODE_ANNOTATION).is_some_and(|t| !t.is_empty()) {
        errors.push(format!(
            "metadata.annotations[{TOPOLOGY_MODE_ANNOTATION}]: needs {TOPOLOGY_LEVEL_ANNOTATION}"
        ));
    }
    record.topology = match (level, rack) {
        (Some(_), Some(_)) => {
            errors.push(format!(
                "metadata.annotations: {RACK_ANNOTATION} and {TOPOLOGY_LEVEL_ANNOTATION} are both set; set one"
            ));
            None
        }
        (Some(key), None) => Some(TopologyRequest {
            level: Level::Key(sym(key)),
            mode,
            slice: None,
        }),
        (None, Some(mode)) => Some(TopologyRequest {
            level: Level::Rack,
            mode,
            slice: None,
        }),
        (None, None) => None,
    };
    let size = get(SLICE_SIZE_ANNOTATION).filter(|t| !t.is_empty());
    let slice_level = get(SLICE_LEVEL_ANNOTATION).filter(|t| !t.is_empty());
    let size = size.and_then(|text| match text.parse::<u32>() {
        Ok(n) if n >= 1 && i64::from(n) <= i64::from(i32::MAX) => Some(n),
        _ => {
            errors.push(bad(
                SLICE_SIZE_ANNOTATION,
                text,
                "is not a whole number of pods from 1",
            ));
            None
        }
    });
    if let Some(key) = slice_level
        && let Err(why) = label_key(key)
    {
        errors.push(bad(SLICE_LEVEL_ANNOTATION, key, &why.to_string()));
    }
    match (size, slice_level) {
        (Some(size), Some(key)) => match &mut record.topology {
            Some(topology) => {
                topology.slice = Some(SliceRequest {
                    size,
                    level: Level::Key(sym(key)),
                });
            }
            None => errors.push(format!(
                "metadata.annotations[{SLICE_SIZE_ANNOTATION}]: slices need the gang's level ({TOPOLOGY_LEVEL_ANNOTATION} or {RACK_ANNOTATION})"
            )),
        },
        (Some(_), None) => errors.push(format!(
            "metadata.annotations[{SLICE_SIZE_ANNOTATION}]: needs {SLICE_LEVEL_ANNOTATION}"
        )),
        (None, Some(_)) if get(SLICE_SIZE_ANNOTATION).is_none() => errors.push(format!(
            "metadata.annotations[{SLICE_LEVEL_ANNOTATION}]: needs {SLICE_SIZE_ANNOTATION}"
        )),
        _ => {}
    }
    if let Some(text) = get(DISTINCT_HOSTS_ANNOTATION) {
        match text {
            "true" => record.distinct_hosts = true,
            "false" | "" => record.distinct_hosts = false,
            _ => errors.push(format!(
                "metadata.annotations[{DISTINCT_HOSTS_ANNOTATION}]: {} is not \"true\" or \"false\"",
                quoted(text)
            )),
        }
    }
    record.job = get(JOB_ANNOTATION).filter(|j| !j.is_empty()).map(sym);
}

/// A label key as Kubernetes accepts it: an optional DNS subdomain prefix (at most 253
/// characters) and `/`, then a name of at most 63 alphanumerics, `-`, `_` or `.`, starting and
/// ending alphanumeric. Err: why not, in kube's words.
pub fn label_key(key: &str) -> CoreResult<()> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let alnum = |c: char| c.is_ascii_alphanumeric();
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(alnum)
        && name.ends_with(alnum)
        && name
            .chars()
            .all(|c| alnum(c) || matches!(c, '-' | '_' | '.'));
    if !name_ok {
        return Err(CoreError::Invalid(
            "is not a label key: the name part must be 63 characters or less, \
             beginning and ending with an alphanumeric character, with '-', '_' or '.' between"
                .into(),
        ));
    }
    if let Some(prefix) = prefix {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && l.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && l.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        };
        if prefix.len() > 253 || !prefix.split('.').all(label_ok) {
            return Err(CoreError::Invalid(
                "is not a label key: the prefix must be a DNS subdomain".into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> PodGroupRecord {
        parse_pod_group(json.as_bytes()).expect("a PodGroup")
    }

    #[test]
    fn reads_spec_and_annotations() {
        let g = parse(
            r#"{"metadata":{"name":"train","namespace":"ml","uid":"u1",
                "creationTimestamp":"2024-01-01T00:00:00Z",
                "annotations":{"podium.dev/rack":"required","podium.dev/distinct-hosts":"true",
                               "podium.dev/job":"llm"}},
               "spec":{"minMember":8,"scheduleTimeoutSeconds":60,
                       "minResources":{"cpu":"4","nvidia.com/gpu":"64"}}}"#,
        );
        assert_eq!(g.error, None);
        assert_eq!((g.namespace(), g.name(), g.min_member), ("ml", "train", 8));
        assert_eq!(g.schedule_timeout_seconds, Some(60));
        assert_eq!(g.min_resources.get("cpu"), Some(&4000));
        assert_eq!(g.min_resources.get("nvidia.com/gpu"), Some(&64));
        assert_eq!(
            g.topology,
            Some(TopologyRequest {
                level: Level::Rack,
                mode: TopologyMode::Required,
                slice: None
            })
        );
        assert!(g.distinct_hosts);
        assert_eq!(g.job, Some(sym("llm")));
        assert!(g.created > 1.7e9);
    }

    #[test]
    fn defaults_without_spec() {
        let g = parse(r#"{"metadata":{"name":"g","namespace":"ns"}}"#);
        assert_eq!(
            (g.min_member, g.topology, g.distinct_hosts),
            (1, None, false)
        );
        assert_eq!(g.error, None);
    }

    #[test]
    fn zeros_mean_what_scheduler_plugins_means() {
        let g = parse(
            r#"{"metadata":{"name":"g","namespace":"ns"},
               "spec":{"minMember":0,"scheduleTimeoutSeconds":0}}"#,
        );
        assert_eq!(g.error, None);
        assert_eq!((g.min_member, g.schedule_timeout_seconds), (1, Some(0)));
        let g = parse(
            r#"{"metadata":{"name":"g","namespace":"ns"},"spec":{"scheduleTimeoutSeconds":-5}}"#,
        );
        let err = g.error.expect("negative");
        assert!(
            err.contains("spec.scheduleTimeoutSeconds: must not be negative, got -5"),
            "{err}"
        );
    }

    #[test]
    fn bad_fields_are_named_with_the_object() {
        let g = parse(
            r#"{"metadata":{"name":"g","namespace":"ns","annotations":{"podium.dev/rack":"same"}},
               "spec":{"minMember":-1,"minResources":{"cpu":"lots"}}}"#,
        );
        let err = g.error.expect("invalid");
        assert!(err.starts_with("PodGroup ns/g: "), "{err}");
        assert!(
            err.contains("spec.minMember: must not be negative, got -1"),
            "{err}"
        );
        assert!(
            err.contains("spec.minResources.cpu: invalid quantity"),
            "{err}"
        );
        assert!(err.contains("podium.dev/rack"), "{err}");
    }

    #[test]
    fn reads_a_topology_request_with_slices() {
        let g = parse(
            r#"{"metadata":{"name":"g","namespace":"ns","annotations":{
                "podium.dev/topology-level":"topology.kubernetes.io/block",
                "podium.dev/topology-mode":"preferred",
                "podium.dev/slice-size":"4",
                "podium.dev/slice-level":"nvidia.com/gpu.clique"}}}"#,
        );
        assert_eq!(g.error, None);
        assert_eq!(
            g.topology,
            Some(TopologyRequest {
                level: Level::Key(sym("topology.kubernetes.io/block")),
                mode: TopologyMode::Preferred,
                slice: Some(SliceRequest {
                    size: 4,
                    level: Level::Key(sym("nvidia.com/gpu.clique")),
                }),
            })
        );
        let g = parse(
            r#"{"metadata":{"name":"g","namespace":"ns","annotations":{
                "podium.dev/topology-level":"cloud.provider.com/topology-block"}}}"#,
        );
        assert_eq!(
            g.topology,
            Some(TopologyRequest::required(
                "cloud.provider.com/topology-block"
            )),
            "required unless said otherwise"
        );
        let g = parse(
            r#"{"metadata":{"name":"g","namespace":"ns","annotations":{
                "podium.dev/rack":"preferred","podium.dev/slice-size":"2",
                "podium.dev/slice-level":"kubernetes.io/hostname"}}}"#,
        );
        let slice = g
            .topology
            .and_then(|t| t.slice)
            .expect("slices under the rack");
        assert_eq!(slice.size, 2);
    }

    #[test]
    fn bad_topology_annotations_are_named_with_the_object() {
        let cases = [
            (
                r#""podium.dev/topology-level":"Not A Key!""#,
                "metadata.annotations[podium.dev/topology-level]: \"Not A Key!\" is not a label key",
            ),
            (
                r#""podium.dev/topology-level":"a/b","podium.dev/topology-mode":"must""#,
                "metadata.annotations[podium.dev/topology-mode]: \"must\" is not one of required, preferred",
            ),
            (
                r#""podium.dev/topology-mode":"required""#,
                "metadata.annotations[podium.dev/topology-mode]: needs podium.dev/topology-level",
            ),
            (
                r#""podium.dev/topology-level":"a/b","podium.dev/rack":"required""#,
                "podium.dev/rack and podium.dev/topology-level are both set",
            ),
            (
                r#""podium.dev/topology-level":"a/b","podium.dev/slice-size":"0","podium.dev/slice-level":"c""#,
                "metadata.annotations[podium.dev/slice-size]: \"0\" is not a whole number of pods from 1",
            ),
            (
                r#""podium.dev/topology-level":"a/b","podium.dev/slice-size":"4""#,
                "metadata.annotations[podium.dev/slice-size]: needs podium.dev/slice-level",
            ),
            (
                r#""podium.dev/topology-level":"a/b","podium.dev/slice-level":"c""#,
                "metadata.annotations[podium.dev/slice-level]: needs podium.dev/slice-size",
            ),
            (
                r#""podium.dev/slice-size":"4","podium.dev/slice-level":"c""#,
                "metadata.annotations[podium.dev/slice-size]: slices need the gang's level",
            ),
        ];
        for (annotations, want) in cases {
            let g = parse(&format!(
                r#"{{"metadata":{{"name":"g","namespace":"ns","annotations":{{{annotations}}}}}}}"#
            ));
            let err = g.error.expect(annotations);
            assert!(err.starts_with("PodGroup ns/g: "), "{err}");
            assert!(err.contains(want), "{annotations}: {err}");
        }
    }

    #[test]
    fn label_keys_as_kubernetes_checks_them() {
        for ok in [
            "rack",
            "topology.kubernetes.io/block",
            "nvidia.com/gpu.clique",
            "a_b.c-d",
        ] {
            assert_eq!(label_key(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "-rack",
            "rack-",
            "UPPER.com/x",
            "a/",
            "/a",
            &"x".repeat(64),
        ] {
            assert!(label_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn huge_annotation_values_are_quoted_bounded() {
        let huge = "r".repeat(250 * 1024);
        let g = parse(&format!(
            r#"{{"metadata":{{"name":"g","namespace":"ns","annotations":{{"podium.dev/rack":"{huge}"}}}}}}"#
        ));
        let err = g.error.expect("invalid");
        assert!(err.len() < 400, "{} bytes", err.len());
        assert!(err.contains("…\" (256000 bytes) is not one of"), "{err}");
    }

    #[test]
    fn wrong_types_name_the_path() {
        let g = parse(r#"{"metadata":{"name":"g","namespace":"ns"},"spec":{"minMember":"8"}}"#);
        let err = g.error.expect("a string where a number belongs");
        assert!(
            err.starts_with("PodGroup ns/g: spec.minMember: invalid type"),
            "{err}"
        );
        assert!(parse_pod_group(br#"{"metadata":{}}"#).is_err());
    }
}
