//! What PodTopologySpread's filter, score and domains share about a constraint: which nodes
//! count as its domains (the inclusion policies), how many pods on a node it selects, and the
//! cluster-level defaults for pods that set none (the plugin's args).

use crate::bounded::quoted;
use crate::error::{CoreError, CoreResult};
use crate::intern::Sym;
use crate::state::affinity_wire::TopologySpreadConstraintWire;
use crate::state::label_selector::LabelSelector;
use crate::state::labels::Labels;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::required_node_affinity::required_matches;
use crate::state::spread::{SpreadConstraint, WhenUnsatisfiable, parse_constraint};
use crate::state::taints::{TaintEffect, tolerated};

/// `matchNodeInclusionPolicies`: does `node` count as a domain of `c` for this pod?
pub fn includes(c: &SpreadConstraint, pod: &PodRecord, node: &NodeInfo) -> bool {
    if c.honor_node_affinity && !required_matches(pod, node) {
        return false;
    }
    if c.honor_node_taints {
        let Some(n) = &node.node else {
            return false;
        };
        return n.taints.iter().all(|t| {
            !matches!(t.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute)
                || tolerated(&pod.tolerations, t)
        });
    }
    true
}

/// `countPodsMatchSelector`: pods on `node` in `namespace` that `c` selects,
/// not counting pods being deleted.
pub fn count_on(c: &SpreadConstraint, node: &NodeInfo, namespace: Sym) -> i64 {
    let n = node
        .pods
        .iter()
        .filter(|p| p.namespace == namespace && !p.deleting && c.selector.matches(&p.labels))
        .count();
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Labels controllers add per pod or per revision, never part of a workload's selector.
const CONTROLLER_LABELS: &[&str] = &[
    "controller-revision-hash",
    "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index",
];

/// `PodTopologySpreadArgs`: cluster-level constraints for pods that set none.
///
/// kube derives a defaulted constraint's selector from the Services, ReplicationControllers,
/// ReplicaSets and StatefulSets selecting the pod. podium does not watch those, so:
/// `System` defaulting applies no constraints, and `List` defaulting selects the pods that
/// share the pod's labels (less the per-pod labels controllers add), which is what a workload
/// controller's selector matches in the common case. A pod without labels gets none, as in
/// kube when nothing selects it.
#[derive(Debug, Clone, Default)]
pub struct SpreadDefaults {
    constraints: Vec<SpreadConstraint>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ArgsWire<'a> {
    #[serde(borrow, default)]
    default_constraints: Vec<TopologySpreadConstraintWire<'a>>,
    #[serde(borrow)]
    defaulting_type: Option<crate::state::wire::Str<'a>>,
}

impl SpreadDefaults {
    /// Parses the args (`pluginArgs.PodTopologySpread` of the profile spec); `None` is kube's
    /// default, `System`.
    pub fn parse(args: Option<&serde_json::Value>) -> CoreResult<Self> {
        const AT: &str = "pluginArgs.PodTopologySpread";
        let Some(args) = args else {
            return Ok(Self::default());
        };
        let text = args.to_string();
        let wire: ArgsWire<'_> =
            crate::state::object::decode(text.as_bytes()).map_err(|e| e.under(AT))?;
        let list = match wire.defaulting_type.as_deref() {
            None | Some("System") => false,
            Some("List") => true,
            Some(other) => {
                return Err(CoreError::Invalid(format!(
                    "{AT}.defaultingType: unknown value {} (System, List)",
                    quoted(other)
                )));
            }
        };
        if !list && !wire.default_constraints.is_empty() {
            return Err(CoreError::Invalid(format!(
                "{AT}.defaultConstraints: must be empty when defaultingType is System"
            )));
        }
        let mut constraints: Vec<SpreadConstraint> = Vec::new();
        for (i, w) in wire.default_constraints.iter().enumerate() {
            let path = format!("{AT}.defaultConstraints[{i}]");
            let c = parse_constraint(w, &path, &Labels::default(), false)
                .map_err(|e| CoreError::Invalid(e.to_string()))?;
            if constraints.iter().any(|o| {
                o.topology_key == c.topology_key && o.when_unsatisfiable == c.when_unsatisfiable
            }) {
                return Err(CoreError::Invalid(format!(
                    "{path}.topologyKey: duplicate {{topologyKey, whenUnsatisfiable}} pair"
                )));
            }
            constraints.push(c);
        }
        Ok(Self { constraints })
    }

    /// The constraints that apply to `pod` with this `when`: its own, or (when it sets none)
    /// the defaults with a selector derived from its labels.
    pub fn for_pod(&self, pod: &PodRecord, when: WhenUnsatisfiable) -> Vec<SpreadConstraint> {
        if !pod.spread.is_empty() {
            return pod
                .spread
                .iter()
                .filter(|c| c.when_unsatisfiable == when)
                .cloned()
                .collect();
        }
        let selector = || {
            let keep: Vec<(Sym, Sym)> = pod
                .labels
                .iter()
                .filter(|(k, _)| !CONTROLLER_LABELS.contains(&crate::intern::resolve(*k)))
                .collect();
            (!keep.is_empty()).then(|| {
                LabelSelector::All(
                    keep.into_iter()
                        .map(
                            |(key, v)| crate::state::label_selector::SelectorRequirement {
                                key,
                                op: crate::state::label_selector::SelectorOp::In(Box::new([v])),
                            },
                        )
                        .collect(),
                )
            })
        };
        let wanted: Vec<&SpreadConstraint> = self
            .constraints
            .iter()
            .filter(|c| c.when_unsatisfiable == when)
            .collect();
        if wanted.is_empty() {
            return Vec::new();
        }
        let Some(selector) = selector() else {
            return Vec::new();
        };
        wanted
            .into_iter()
            .map(|c| SpreadConstraint {
                selector: selector.clone(),
                ..c.clone()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::spread::parse_constraints;
    use crate::testutil::{node, pod};

    fn parse(json: &str) -> (Box<[SpreadConstraint]>, Vec<CoreError>) {
        let wires: Vec<TopologySpreadConstraintWire<'_>> =
            serde_json::from_str(json).expect("json");
        let mut errors = Vec::new();
        let labels = Labels::from_pairs([("app", "web"), ("hash", "h1")]);
        (parse_constraints(&wires, &labels, &mut errors), errors)
    }

    #[test]
    fn cluster_defaults() {
        let args: serde_json::Value = serde_json::from_str(
            r#"{"defaultingType":"List","defaultConstraints":[
                 {"maxSkew":1,"topologyKey":"zone","whenUnsatisfiable":"ScheduleAnyway"}]}"#,
        )
        .unwrap();
        let d = SpreadDefaults::parse(Some(&args)).unwrap();
        let mut p = pod("p");
        assert!(
            d.for_pod(&p, WhenUnsatisfiable::ScheduleAnyway).is_empty(),
            "no labels"
        );
        p.labels = Labels::from_pairs([("app", "web"), ("controller-revision-hash", "x")]);
        let cs = d.for_pod(&p, WhenUnsatisfiable::ScheduleAnyway);
        assert_eq!(cs.len(), 1);
        assert!(
            cs[0]
                .selector
                .matches(&Labels::from_pairs([("app", "web")]))
        );
        assert!(d.for_pod(&p, WhenUnsatisfiable::DoNotSchedule).is_empty());
        let system = SpreadDefaults::parse(None).unwrap();
        assert!(
            system
                .for_pod(&p, WhenUnsatisfiable::ScheduleAnyway)
                .is_empty()
        );
        for (bad, field) in [
            (r#"{"defaultingType":"Other"}"#, "defaultingType"),
            (
                r#"{"defaultingType":"System","defaultConstraints":[{"maxSkew":1,"topologyKey":"z","whenUnsatisfiable":"ScheduleAnyway"}]}"#,
                "defaultConstraints",
            ),
            (
                r#"{"defaultingType":"List","defaultConstraints":[{"maxSkew":1,"topologyKey":"z","whenUnsatisfiable":"ScheduleAnyway","labelSelector":{}}]}"#,
                "defaultConstraints[0].labelSelector",
            ),
            (r#"{"bogus":1}"#, "bogus"),
        ] {
            let err = SpreadDefaults::parse(Some(&serde_json::from_str(bad).unwrap()))
                .unwrap_err()
                .to_string();
            assert!(err.contains(field), "{err}");
        }
    }

    #[test]
    fn inclusion_policies() {
        let (cs, _) = parse(
            r#"[{"maxSkew":1,"topologyKey":"zone","whenUnsatisfiable":"DoNotSchedule","labelSelector":{},
                 "nodeAffinityPolicy":"Ignore","nodeTaintsPolicy":"Honor"}]"#,
        );
        let mut n = node("n", 1, 1);
        n.record.labels = Labels::from_pairs([("zone", "a")]);
        n.record.taints = vec![crate::state::taints::Taint::new(
            "k",
            "v",
            TaintEffect::NoSchedule,
        )]
        .into();
        let mut p = pod("p");
        p.node_selector = Labels::from_pairs([("zone", "b")]);
        assert!(
            !includes(&cs[0], &p, &n.build()),
            "untolerated taint excludes the node"
        );
        n.record.taints = Box::default();
        assert!(includes(&cs[0], &p, &n.build()), "node affinity ignored");
        let mut honor = cs[0].clone();
        honor.honor_node_affinity = true;
        assert!(!includes(&honor, &p, &n.build()));
    }
}
