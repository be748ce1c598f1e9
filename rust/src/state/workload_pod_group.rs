//! PodGroups of Kubernetes' Workload API (`scheduling.k8s.io/v1beta1`, beta in 1.37 behind the
//! `GenericWorkload` feature gate), decoded into the `PodGroupRecord` gangs already use.
//!
//! Pods join such a group with `spec.schedulingGroup.podGroupName` (read in `state::pod`). The
//! spec is a copy of a Workload's `podGroupTemplates[]` entry, so the PodGroup alone says how
//! its pods are scheduled; podium does not need the Workload object.
//!
//! - `schedulingPolicy.gang.minCount` is the gang's `min_member`; `schedulingPolicy.basic` is no
//!   gang: `min_member` 1, so each member is placed when it fits (kube-scheduler's
//!   PlacementFeasible also counts 1 for a basic group).
//! - `schedulingConstraints.topology[0].key`: all members in one domain of that node label,
//!   or none placed (kube-scheduler's TopologyPlacementGenerator); podium keeps it as a
//!   `required` constraint at that level.
//! - `priority`, `priorityClassName`, `preemptionPolicy`, `disruptionMode`,
//!   `parentCompositePodGroupName` and `workloadRef` are kept as the API defines them.
//! - podium's `podium.dev/distinct-hosts` and `podium.dev/job` annotations, as on
//!   scheduler-plugins' PodGroup (the API has no such fields).
//! - `status.conditions[PodGroupInitiallyScheduled]`: once True it never turns False again
//!   (the API's rule), which the status writer needs to know.

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::bounded::quoted;
use crate::error::CoreResult;
use crate::intern::sym;
use crate::state::object::decode;
use crate::state::pod_group::{
    DISTINCT_HOSTS_ANNOTATION, JOB_ANNOTATION, PodGroupRecord, TopologyRequest, from_meta,
    int32_count, undecodable,
};
use crate::state::wire::{ObjectMetaWire, Str};
use crate::state::workload_group::{DisruptionMode, WorkloadGroup};

/// The condition kube-scheduler sets once a group's scheduling requirement is first met.
pub const INITIALLY_SCHEDULED: &str = "PodGroupInitiallyScheduled";

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(borrow, default)]
    metadata: ObjectMetaWire<'a>,
    #[serde(borrow)]
    spec: Option<SpecWire<'a>>,
    #[serde(borrow)]
    status: Option<StatusWire<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpecWire<'a> {
    #[serde(borrow)]
    parent_composite_pod_group_name: Option<Str<'a>>,
    #[serde(borrow)]
    workload_ref: Option<WorkloadRefWire<'a>>,
    scheduling_policy: Option<PolicyWire>,
    #[serde(borrow)]
    scheduling_constraints: Option<ConstraintsWire<'a>>,
    disruption_mode: Option<DisruptionWire>,
    #[serde(borrow)]
    priority_class_name: Option<Str<'a>>,
    priority: Option<i32>,
    #[serde(borrow)]
    preemption_policy: Option<Str<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WorkloadRefWire<'a> {
    #[serde(borrow)]
    workload_name: Option<Str<'a>>,
    #[serde(borrow)]
    template_name: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct PolicyWire {
    basic: Option<IgnoredAny>,
    gang: Option<GangWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GangWire {
    min_count: Option<i64>,
}

#[derive(Deserialize)]
struct ConstraintsWire<'a> {
    #[serde(borrow)]
    topology: Option<Vec<TopologyWire<'a>>>,
}

#[derive(Deserialize)]
struct TopologyWire<'a> {
    #[serde(borrow)]
    key: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct DisruptionWire {
    single: Option<IgnoredAny>,
    all: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct StatusWire<'a> {
    #[serde(borrow)]
    conditions: Option<Vec<ConditionWire<'a>>>,
}

#[derive(Deserialize)]
struct ConditionWire<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    status: Option<Str<'a>>,
}

/// Parses a `scheduling.k8s.io` PodGroup. A body that is not a PodGroup at all (no name) is an
/// `Err`; one with a bad field is an `Ok` record whose `error` names the object and the field.
pub fn parse_workload_pod_group(bytes: &[u8]) -> CoreResult<PodGroupRecord> {
    let wire: Wire<'_> = match decode(bytes) {
        Ok(wire) => wire,
        Err(e) => {
            let mut record = undecodable(bytes, e)?;
            record.workload = Some(Box::default());
            return Ok(record);
        }
    };
    let meta = &wire.metadata;
    let (mut record, mut errors) = from_meta(meta)?;
    let object = record.object();
    let mut group = WorkloadGroup {
        generation: meta.generation.unwrap_or(0),
        ..WorkloadGroup::default()
    };
    match &wire.spec {
        Some(spec) => read_spec(spec, &mut record, &mut group, &mut errors),
        None => errors.push("spec: missing".into()),
    }
    group.initially_scheduled = wire
        .status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten())
        .any(|c| {
            c.kind.as_deref() == Some(INITIALLY_SCHEDULED) && c.status.as_deref() == Some("True")
        });
    // podium's own gang annotations that the API has no field for.
    let annotation = |key: &str| {
        meta.annotations
            .as_ref()
            .and_then(|a| a.get(key).map(Str::as_ref))
    };
    match annotation(DISTINCT_HOSTS_ANNOTATION) {
        None | Some("false" | "") => {}
        Some("true") => record.distinct_hosts = true,
        Some(text) => errors.push(format!(
            "metadata.annotations[{DISTINCT_HOSTS_ANNOTATION}]: {} is not \"true\" or \"false\"",
            quoted(text)
        )),
    }
    record.job = annotation(JOB_ANNOTATION)
        .filter(|j| !j.is_empty())
        .map(sym);
    record.workload = Some(Box::new(group));
    if !errors.is_empty() {
        record.error = Some(format!("{object}: {}", errors.join("; ")).into());
    }
    Ok(record)
}

fn read_spec(
    spec: &SpecWire<'_>,
    record: &mut PodGroupRecord,
    group: &mut WorkloadGroup,
    errors: &mut Vec<String>,
) {
    let policy = spec.scheduling_policy.as_ref();
    match (
        policy.and_then(|p| p.basic.as_ref()),
        policy.and_then(|p| p.gang.as_ref()),
    ) {
        (Some(_), None) => group.gang = false,
        (None, Some(gang)) => {
            group.gang = true;
            match gang.min_count {
                // The API requires a positive count; 0 would wait for no one, as 1 does.
                Some(n) => match int32_count("spec.schedulingPolicy.gang.minCount", n) {
                    Ok(n) => record.min_member = n.max(1),
                    Err(e) => errors.push(e.to_string()),
                },
                None => errors.push("spec.schedulingPolicy.gang.minCount: missing".into()),
            }
        }
        _ => errors.push("spec.schedulingPolicy: exactly one of basic and gang must be set".into()),
    }
    let topology = spec
        .scheduling_constraints
        .as_ref()
        .and_then(|c| c.topology.as_deref())
        .unwrap_or_default();
    // The API admits one constraint today; a later version's second one is not understood,
    // and placing the gang as if it were not there would break it.
    if topology.len() > 1 {
        errors.push(format!(
            "spec.schedulingConstraints.topology: {} constraints, podium reads one",
            topology.len()
        ));
    }
    if let Some(first) = topology.first() {
        match first.key.as_deref().filter(|k| !k.is_empty()) {
            Some(key) => {
                group.topology_key = Some(sym(key));
                // Every member in one domain of the key, or none placed.
                record.topology = Some(TopologyRequest::required(key));
            }
            None => errors.push("spec.schedulingConstraints.topology[0].key: missing".into()),
        }
    }
    group.priority = spec.priority;
    group.priority_class_name = spec
        .priority_class_name
        .as_deref()
        .filter(|n| !n.is_empty())
        .map(sym);
    match spec.preemption_policy.as_deref() {
        None | Some("PreemptLowerPriority") => {}
        Some("Never") => group.never_preempts = true,
        Some(other) => errors.push(format!(
            "spec.preemptionPolicy: unknown policy {} (PreemptLowerPriority, Never)",
            quoted(other)
        )),
    }
    if let Some(mode) = &spec.disruption_mode {
        match (&mode.single, &mode.all) {
            (Some(_), None) => group.disruption = DisruptionMode::Single,
            (None, Some(_)) => group.disruption = DisruptionMode::All,
            _ => {
                errors.push("spec.disruptionMode: exactly one of single and all must be set".into())
            }
        }
    }
    group.parent = spec
        .parent_composite_pod_group_name
        .as_deref()
        .filter(|n| !n.is_empty())
        .map(sym);
    group.workload_ref = spec.workload_ref.as_ref().map(|r| {
        (
            sym(r.workload_name.as_deref().unwrap_or_default()),
            sym(r.template_name.as_deref().unwrap_or_default()),
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::pod_group::GroupApi;

    fn parse(json: &str) -> PodGroupRecord {
        parse_workload_pod_group(json.as_bytes()).expect("a PodGroup")
    }

    fn workload(g: &PodGroupRecord) -> &WorkloadGroup {
        g.workload.as_deref().expect("a Workload API group")
    }

    #[test]
    fn reads_a_gang_with_its_topology_and_priority() {
        let g = parse(
            r#"{"metadata":{"name":"train-0","namespace":"ml","uid":"u1","generation":3,
                "creationTimestamp":"2026-01-01T00:00:00Z"},
               "spec":{"workloadRef":{"workloadName":"train","templateName":"workers"},
                       "schedulingPolicy":{"gang":{"minCount":8}},
                       "schedulingConstraints":{"topology":[{"key":"topology.kubernetes.io/block"}]},
                       "disruptionMode":{"all":{}},
                       "priorityClassName":"high","priority":1000,"preemptionPolicy":"Never"},
               "status":{"conditions":[{"type":"PodGroupInitiallyScheduled","status":"True",
                         "reason":"Scheduled","message":"","lastTransitionTime":"2026-01-01T00:00:01Z"}]}}"#,
        );
        assert_eq!(g.error, None);
        assert_eq!(g.api(), GroupApi::Workload);
        assert_eq!(
            (g.namespace(), g.name(), g.min_member),
            ("ml", "train-0", 8)
        );
        assert_eq!(
            g.topology,
            Some(TopologyRequest::required("topology.kubernetes.io/block"))
        );
        let w = workload(&g);
        assert!(w.gang);
        assert_eq!(w.topology_key, Some(sym("topology.kubernetes.io/block")));
        assert_eq!(
            (w.priority, w.priority_class_name, w.never_preempts),
            (Some(1000), Some(sym("high")), true)
        );
        assert_eq!(w.disruption, DisruptionMode::All);
        assert_eq!(w.workload_ref, Some((sym("train"), sym("workers"))));
        assert_eq!(w.generation, 3);
        assert!(w.initially_scheduled);
        assert!(g.created > 1.7e9);
    }

    #[test]
    fn reads_podiums_host_and_job_annotations() {
        let g = parse(
            r#"{"metadata":{"name":"g","namespace":"ns",
                "annotations":{"podium.dev/distinct-hosts":"true","podium.dev/job":"llm"}},
               "spec":{"schedulingPolicy":{"gang":{"minCount":2}}}}"#,
        );
        assert_eq!(g.error, None);
        assert!(g.distinct_hosts);
        assert_eq!(g.job, Some(sym("llm")));
    }

    #[test]
    fn basic_is_no_gang() {
        let g = parse(
            r#"{"metadata":{"name":"web","namespace":"ns"},
               "spec":{"schedulingPolicy":{"basic":{}}}}"#,
        );
        assert_eq!(g.error, None);
        assert_eq!((g.min_member, g.topology), (1, None));
        let w = workload(&g);
        assert!(!w.gang);
        assert_eq!(
            (w.topology_key, w.disruption, w.initially_scheduled),
            (None, DisruptionMode::Single, false)
        );
    }

    #[test]
    fn a_false_condition_is_not_initially_scheduled() {
        let g = parse(
            r#"{"metadata":{"name":"g","namespace":"ns"},
               "spec":{"schedulingPolicy":{"gang":{"minCount":2}}},
               "status":{"conditions":[{"type":"PodGroupInitiallyScheduled","status":"False",
                         "reason":"Unschedulable"}]}}"#,
        );
        assert!(!workload(&g).initially_scheduled);
    }

    #[test]
    fn bad_fields_are_named_with_the_object() {
        let g = parse(
            r#"{"metadata":{"name":"g","namespace":"ns"},
               "spec":{"schedulingPolicy":{"basic":{},"gang":{"minCount":2}},
                       "schedulingConstraints":{"topology":[{"key":""}]},
                       "preemptionPolicy":"Sometimes"}}"#,
        );
        let err = g.error.expect("invalid");
        assert!(err.starts_with("PodGroup ns/g: "), "{err}");
        assert!(err.contains("exactly one of basic and gang"), "{err}");
        assert!(err.contains("topology[0].key: missing"), "{err}");
        assert!(err.contains("unknown policy \"Sometimes\""), "{err}");
        let g = parse(
            r#"{"metadata":{"name":"g","namespace":"ns"},
               "spec":{"schedulingPolicy":{"gang":{"minCount":-1}}}}"#,
        );
        let err = g.error.expect("negative");
        assert!(
            err.contains("spec.schedulingPolicy.gang.minCount: must not be negative"),
            "{err}"
        );
    }

    #[test]
    fn wrong_types_keep_a_named_invalid_record() {
        let g = parse(
            r#"{"metadata":{"name":"g","namespace":"ns"},
               "spec":{"schedulingPolicy":{"gang":{"minCount":"8"}}}}"#,
        );
        assert_eq!(g.api(), GroupApi::Workload);
        let err = g.error.expect("a string where a number belongs");
        assert!(
            err.starts_with("PodGroup ns/g: spec.schedulingPolicy.gang.minCount: invalid type"),
            "{err}"
        );
        assert!(parse_workload_pod_group(br#"{"metadata":{}}"#).is_err());
    }
}
