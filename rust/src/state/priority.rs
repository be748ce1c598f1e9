//! PriorityClasses (`scheduling.k8s.io/v1`): a pod's priority when its `spec.priority` is unset.
//!
//! The apiserver's Priority admission plugin normally copies the class value into
//! `spec.priority`; the classes are cached so pods created without it (admission disabled, or
//! created before their class existed) still get the value kube would give them.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;

use crate::error::{CoreError, CoreResult};
use crate::intern::{Sym, sym};
use crate::state::object::decode;
use crate::state::pod::PodRecord;
use crate::state::pod_groups::GroupKey;
use crate::state::wire::{ObjectMetaWire, Str};

/// A cached PriorityClass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriorityClass {
    pub value: i32,
    pub global_default: bool,
}

#[derive(Debug, Clone, Default)]
pub struct PriorityClasses(
    imbl::HashMap<Sym, PriorityClass>,
    /// The Workload API PodGroups' priorities (see `with_groups`).
    Arc<HashMap<GroupKey, i32>>,
);

impl PriorityClasses {
    pub fn set(&mut self, name: Sym, class: PriorityClass) {
        self.0.insert(name, class);
    }

    pub fn remove(&mut self, name: Sym) {
        self.0.remove(&name);
    }

    pub fn names(&self) -> impl Iterator<Item = Sym> + '_ {
        self.0.keys().copied()
    }

    /// These classes, with the Workload API PodGroups' priorities: a member's priority is its
    /// group's when the group has one.
    #[must_use]
    pub fn with_groups(mut self, groups: Arc<HashMap<GroupKey, i32>>) -> Self {
        self.1 = groups;
        self
    }

    /// The priority kube gives `pod`: its Workload API PodGroup's `spec.priority` when it has
    /// one (kube-scheduler 1.37's `GetPodPriority`); else `spec.priority` when set; otherwise
    /// its class's value, or the global default class's, or 0.
    pub fn of(&self, pod: &PodRecord) -> i32 {
        if let Some(group) = pod.pod_group
            && let Some(&priority) = self.1.get(&(pod.namespace, group))
        {
            return priority;
        }
        if pod.priority_set {
            return pod.priority;
        }
        if let Some(class) = pod.priority_class {
            return self.0.get(&class).map_or(0, |c| c.value);
        }
        // Several global defaults cannot be created; if the cache ever holds two, the lowest
        // is the safe pick (it protects nothing it should not).
        self.0
            .values()
            .filter(|c| c.global_default)
            .map(|c| c.value)
            .min()
            .unwrap_or(0)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PriorityClassWire<'a> {
    #[serde(borrow, default)]
    metadata: ObjectMetaWire<'a>,
    value: Option<i64>,
    global_default: Option<bool>,
    #[serde(borrow)]
    preemption_policy: Option<Str<'a>>,
}

/// A PriorityClass object's name and record, or a message naming the object and the bad field.
pub fn parse_priority_class(bytes: &[u8]) -> CoreResult<(Sym, PriorityClass)> {
    let wire: PriorityClassWire<'_> = decode(bytes).map_err(|e| {
        let name = crate::state::object::LenientIdentity::read(bytes)
            .map(|id| id.name)
            .unwrap_or_default();
        e.in_object(&format!("PriorityClass {}", display(&name)))
    })?;
    let name = wire.metadata.name.as_deref().unwrap_or_default();
    let who = format!("PriorityClass {}", display(name));
    if name.is_empty() {
        return Err(CoreError::Invalid(format!("{who}: metadata.name: missing")));
    }
    let value = wire
        .value
        .ok_or_else(|| CoreError::Invalid(format!("{who}: value: missing")))?;
    let value = i32::try_from(value).map_err(|_| {
        CoreError::Invalid(format!("{who}: value: {value} is outside the 32-bit range"))
    })?;
    match wire.preemption_policy.as_deref() {
        None | Some("PreemptLowerPriority" | "Never") => {}
        Some(other) => {
            return Err(CoreError::Invalid(format!(
                "{who}: preemptionPolicy: unknown policy {other:?} (PreemptLowerPriority, Never)"
            )));
        }
    }
    Ok((
        sym(name),
        PriorityClass {
            value,
            global_default: wire.global_default.unwrap_or(false),
        },
    ))
}

fn display(name: &str) -> &str {
    if name.is_empty() { "<unnamed>" } else { name }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_priority_wins_then_the_class_then_the_global_default() {
        let mut classes = PriorityClasses::default();
        let (name, high) =
            parse_priority_class(br#"{"metadata":{"name":"high"},"value":1000}"#).unwrap();
        classes.set(name, high);
        let (name, default) =
            parse_priority_class(br#"{"metadata":{"name":"dflt"},"value":7,"globalDefault":true}"#)
                .unwrap();
        classes.set(name, default);

        let mut pod = PodRecord::empty("u", "ns", "p");
        assert_eq!(classes.of(&pod), 7, "no class: the global default");
        pod.priority_class = Some(sym("high"));
        assert_eq!(classes.of(&pod), 1000);
        pod.priority_class = Some(sym("unknown-class"));
        assert_eq!(classes.of(&pod), 0);
        pod.priority_set = true;
        pod.priority = -5;
        assert_eq!(classes.of(&pod), -5, "admission's value is authoritative");
    }

    #[test]
    fn a_workload_pod_groups_priority_is_its_members() {
        let groups = HashMap::from([((sym("ns"), sym("train")), 900)]);
        let classes = PriorityClasses::default().with_groups(Arc::new(groups));
        let mut pod = PodRecord::empty("u", "ns", "p");
        pod.priority_set = true;
        pod.priority = 5;
        pod.pod_group = Some(sym("train"));
        assert_eq!(classes.of(&pod), 900);
        pod.pod_group = Some(sym("other"));
        assert_eq!(
            classes.of(&pod),
            5,
            "a group without a priority: the pod's own"
        );
    }

    #[test]
    fn malformed_classes_name_object_and_field() {
        let err = parse_priority_class(br#"{"metadata":{"name":"x"},"value":"high"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("PriorityClass x: value"), "{err}");
        let err = parse_priority_class(br#"{"metadata":{"name":"x"}}"#)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "PriorityClass x: value: missing");
        let err = parse_priority_class(br#"{"metadata":{"name":"x"},"value":9999999999}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("value: 9999999999 is outside"), "{err}");
        let err = parse_priority_class(
            br#"{"metadata":{"name":"x"},"value":1,"preemptionPolicy":"Sometimes"}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("preemptionPolicy: unknown policy"), "{err}");
        let err = parse_priority_class(br#"{"value":1}"#)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "PriorityClass <unnamed>: metadata.name: missing");
    }
}
