//! PodGroups (`scheduling.x-k8s.io/v1alpha1`, as scheduler-plugins' coscheduling defines them)
//! and podium's gang annotations on them.
//!
//! A PodGroup names how many pods must be placed together (`minMember`); pods join it with the
//! label `scheduling.x-k8s.io/pod-group`. podium reads three annotations beside the spec:
//! `podium.dev/rack` (`required` / `preferred` / `none`), `podium.dev/distinct-hosts`
//! (`"true"`: at most one member per node) and `podium.dev/job` (groups of one job are spread
//! over racks).

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

pub const RACK_ANNOTATION: &str = "podium.dev/rack";
pub const DISTINCT_HOSTS_ANNOTATION: &str = "podium.dev/distinct-hosts";
pub const JOB_ANNOTATION: &str = "podium.dev/job";

/// Whether a gang must, may or need not share one rack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RackPolicy {
    #[default]
    None,
    Preferred,
    Required,
}

impl RackPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Preferred => "preferred",
            Self::Required => "required",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "none" | "" => Some(Self::None),
            "preferred" => Some(Self::Preferred),
            "required" => Some(Self::Required),
            _ => None,
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
    pub rack: RackPolicy,
    pub distinct_hosts: bool,
    pub job: Option<Sym>,
    pub created: f64,
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
        Err((path, msg)) => {
            // Keep an invalid record when the object can still be named, so its members are
            // told why they wait instead of waiting for a group that seems not to exist.
            let id = LenientIdentity::read(bytes).filter(|id| !id.name.is_empty());
            let Some(id) = id else {
                return Err(CoreError::Invalid(format!("PodGroup: {path}: {msg}")));
            };
            let mut record = empty(&id.namespace, &id.name, &id.uid, &id.resource_version);
            let object = record.object();
            record.error = Some(format!("{object}: {path}: {msg}").into());
            return Ok(record);
        }
    };
    let meta = &wire.metadata;
    let name = meta.name.as_deref().unwrap_or_default();
    if name.is_empty() {
        return Err(CoreError::Invalid(
            "PodGroup: metadata.name: missing".into(),
        ));
    }
    let namespace = meta.namespace.as_deref().unwrap_or_default();
    let mut record = empty(
        namespace,
        name,
        meta.uid.as_deref().unwrap_or_default(),
        meta.resource_version.as_deref().unwrap_or_default(),
    );
    let object = record.object();
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

fn empty(namespace: &str, name: &str, uid: &str, resource_version: &str) -> PodGroupRecord {
    PodGroupRecord {
        namespace: sym(namespace),
        name: sym(name),
        uid: uid.into(),
        resource_version: resource_version.into(),
        min_member: 1,
        min_resources: BTreeMap::new(),
        schedule_timeout_seconds: None,
        rack: RackPolicy::None,
        distinct_hosts: false,
        job: None,
        created: 0.0,
        error: None,
    }
}

/// A count the CRD types as int32: not negative, at most `i32::MAX`.
fn int32_count(path: &str, n: i64) -> CoreResult<u32> {
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
    if let Some(text) = get(RACK_ANNOTATION) {
        match RackPolicy::parse(text) {
            Some(policy) => record.rack = policy,
            None => errors.push(format!(
                "metadata.annotations[{RACK_ANNOTATION}]: {} is not one of required, preferred, none",
                quoted(text)
            )),
        }
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
        assert_eq!(g.rack, RackPolicy::Required);
        assert!(g.distinct_hosts);
        assert_eq!(g.job, Some(sym("llm")));
        assert!(g.created > 1.7e9);
    }

    #[test]
    fn defaults_without_spec() {
        let g = parse(r#"{"metadata":{"name":"g","namespace":"ns"}}"#);
        assert_eq!(
            (g.min_member, g.rack, g.distinct_hosts),
            (1, RackPolicy::None, false)
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
