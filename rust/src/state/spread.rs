//! A pod's topology spread constraints (`spec.topologySpreadConstraints`), parsed and
//! validated once, and the pieces kube's PodTopologySpread filter and score share: which nodes
//! count as domains (the inclusion policies) and how many pods on a node a constraint selects.

use crate::bounded::quoted;
use crate::intern::{Sym, sym};
use crate::state::affinity_wire::TopologySpreadConstraintWire;
use crate::state::label_selector::LabelSelector;
use crate::state::labels::Labels;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::required_node_affinity::required_matches;
use crate::state::taints::{TaintEffect, tolerated};

/// kube's `v1.LabelHostname`: the score counts this key per node instead of per domain.
pub const HOSTNAME_KEY: &str = "kubernetes.io/hostname";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenUnsatisfiable {
    DoNotSchedule,
    ScheduleAnyway,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpreadConstraint {
    pub max_skew: i32,
    pub topology_key: Sym,
    pub when_unsatisfiable: WhenUnsatisfiable,
    /// The labelSelector with `matchLabelKeys` merged in from the pod's labels.
    pub selector: LabelSelector,
    /// 1 when unset, as kube.
    pub min_domains: i32,
    /// `nodeAffinityPolicy: Honor` (the default): only nodes matching the pod's nodeSelector
    /// and required node affinity are domains.
    pub honor_node_affinity: bool,
    /// `nodeTaintsPolicy: Honor` (default Ignore): only nodes whose NoSchedule/NoExecute taints
    /// the pod tolerates are domains.
    pub honor_node_taints: bool,
}

impl SpreadConstraint {
    /// `matchNodeInclusionPolicies`: does `node` count as a domain for this pod?
    pub fn includes(&self, pod: &PodRecord, node: &NodeInfo) -> bool {
        if self.honor_node_affinity && !required_matches(pod, node) {
            return false;
        }
        if self.honor_node_taints {
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

    /// `countPodsMatchSelector`: pods on `node` in `namespace` this constraint selects,
    /// not counting pods being deleted.
    pub fn count_on(&self, node: &NodeInfo, namespace: Sym) -> i64 {
        let n = node
            .pods
            .iter()
            .filter(|p| p.namespace == namespace && !p.deleting && self.selector.matches(&p.labels))
            .count();
        i64::try_from(n).unwrap_or(i64::MAX)
    }
}

/// Does the node carry every constraint's topology key (`nodeLabelsMatchSpreadConstraints`)?
pub fn has_all_keys(labels: &Labels, constraints: &[SpreadConstraint]) -> bool {
    constraints
        .iter()
        .all(|c| labels.contains_key(c.topology_key))
}

fn policy(value: Option<&str>, default_honor: bool, field: &str) -> Result<bool, (String, String)> {
    match value {
        None => Ok(default_honor),
        Some("Honor") => Ok(true),
        Some("Ignore") => Ok(false),
        Some(other) => Err((
            field.to_owned(),
            format!("unknown policy {} (Honor, Ignore)", quoted(other)),
        )),
    }
}

/// Parses one constraint at `path`, merging `matchLabelKeys` from `pod_labels`.
pub fn parse_constraint(
    w: &TopologySpreadConstraintWire<'_>,
    path: &str,
    pod_labels: &Labels,
    selector_required: bool,
) -> Result<SpreadConstraint, (String, String)> {
    if w.max_skew <= 0 {
        return Err((
            format!("{path}.maxSkew"),
            format!("{} must be greater than 0", w.max_skew),
        ));
    }
    if w.topology_key.is_empty() {
        return Err((format!("{path}.topologyKey"), "must not be empty".into()));
    }
    let when_unsatisfiable = match &*w.when_unsatisfiable {
        "DoNotSchedule" => WhenUnsatisfiable::DoNotSchedule,
        "ScheduleAnyway" => WhenUnsatisfiable::ScheduleAnyway,
        other => {
            return Err((
                format!("{path}.whenUnsatisfiable"),
                format!(
                    "unknown value {} (DoNotSchedule, ScheduleAnyway)",
                    quoted(other)
                ),
            ));
        }
    };
    let min_domains = match w.min_domains {
        None => 1,
        Some(m) if m <= 0 => {
            return Err((
                format!("{path}.minDomains"),
                format!("{m} must be greater than 0"),
            ));
        }
        Some(_) if when_unsatisfiable != WhenUnsatisfiable::DoNotSchedule => {
            return Err((
                format!("{path}.minDomains"),
                "may only be set with whenUnsatisfiable DoNotSchedule".into(),
            ));
        }
        Some(m) => m,
    };
    if !selector_required && w.label_selector.is_some() {
        return Err((
            format!("{path}.labelSelector"),
            "default constraints must not set a selector: it is derived for each pod".into(),
        ));
    }
    let selector =
        LabelSelector::parse(w.label_selector.as_ref(), &format!("{path}.labelSelector"))?;
    let keys: Vec<Sym> = w
        .match_label_keys
        .iter()
        .flatten()
        .map(|k| sym(k))
        .collect();
    Ok(SpreadConstraint {
        max_skew: w.max_skew,
        topology_key: sym(&w.topology_key),
        when_unsatisfiable,
        selector: selector.with_label_keys(&keys, pod_labels, false),
        min_domains,
        honor_node_affinity: policy(
            w.node_affinity_policy.as_deref(),
            true,
            &format!("{path}.nodeAffinityPolicy"),
        )?,
        honor_node_taints: policy(
            w.node_taints_policy.as_deref(),
            false,
            &format!("{path}.nodeTaintsPolicy"),
        )?,
    })
}

/// Parses `spec.topologySpreadConstraints`; kube forbids two constraints with the same
/// (topologyKey, whenUnsatisfiable).
pub fn parse_constraints(
    wires: &[TopologySpreadConstraintWire<'_>],
    pod_labels: &Labels,
    errors: &mut Vec<(String, String)>,
) -> Box<[SpreadConstraint]> {
    let mut out: Vec<SpreadConstraint> = Vec::with_capacity(wires.len());
    for (i, w) in wires.iter().enumerate() {
        let path = format!("spec.topologySpreadConstraints[{i}]");
        match parse_constraint(w, &path, pod_labels, true) {
            Ok(c) => {
                if out.iter().any(|o| {
                    o.topology_key == c.topology_key && o.when_unsatisfiable == c.when_unsatisfiable
                }) {
                    errors.push((
                        format!("{path}.topologyKey"),
                        "duplicate {topologyKey, whenUnsatisfiable} pair".into(),
                    ));
                } else {
                    out.push(c);
                }
            }
            Err(e) => errors.push(e),
        }
    }
    out.into_boxed_slice()
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
    pub fn parse(args: Option<&serde_json::Value>) -> Result<Self, String> {
        const AT: &str = "pluginArgs.PodTopologySpread";
        let Some(args) = args else {
            return Ok(Self::default());
        };
        let text = args.to_string();
        let wire: ArgsWire<'_> = crate::state::object::decode(text.as_bytes())
            .map_err(|(path, msg)| format!("{AT}.{path}: {msg}"))?;
        let list = match wire.defaulting_type.as_deref() {
            None | Some("System") => false,
            Some("List") => true,
            Some(other) => {
                return Err(format!(
                    "{AT}.defaultingType: unknown value {} (System, List)",
                    quoted(other)
                ));
            }
        };
        if !list && !wire.default_constraints.is_empty() {
            return Err(format!(
                "{AT}.defaultConstraints: must be empty when defaultingType is System"
            ));
        }
        let mut constraints: Vec<SpreadConstraint> = Vec::new();
        for (i, w) in wire.default_constraints.iter().enumerate() {
            let path = format!("{AT}.defaultConstraints[{i}]");
            let c = parse_constraint(w, &path, &Labels::default(), false)
                .map_err(|(field, msg)| format!("{field}: {msg}"))?;
            if constraints.iter().any(|o| {
                o.topology_key == c.topology_key && o.when_unsatisfiable == c.when_unsatisfiable
            }) {
                return Err(format!(
                    "{path}.topologyKey: duplicate {{topologyKey, whenUnsatisfiable}} pair"
                ));
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
    use crate::testutil::{node, pod};

    fn parse(json: &str) -> (Box<[SpreadConstraint]>, Vec<(String, String)>) {
        let wires: Vec<TopologySpreadConstraintWire<'_>> =
            serde_json::from_str(json).expect("json");
        let mut errors = Vec::new();
        let labels = Labels::from_pairs([("app", "web"), ("hash", "h1")]);
        (parse_constraints(&wires, &labels, &mut errors), errors)
    }

    #[test]
    fn defaults_and_match_label_keys() {
        let (cs, errors) = parse(
            r#"[{"maxSkew":1,"topologyKey":"zone","whenUnsatisfiable":"DoNotSchedule",
                 "labelSelector":{"matchLabels":{"app":"web"}},"matchLabelKeys":["hash"]}]"#,
        );
        assert!(errors.is_empty(), "{errors:?}");
        let c = &cs[0];
        assert_eq!(
            (c.min_domains, c.honor_node_affinity, c.honor_node_taints),
            (1, true, false)
        );
        assert!(
            c.selector
                .matches(&Labels::from_pairs([("app", "web"), ("hash", "h1")]))
        );
        assert!(
            !c.selector
                .matches(&Labels::from_pairs([("app", "web"), ("hash", "h2")]))
        );
    }

    #[test]
    fn invalid_constraints_name_the_field() {
        let (cs, errors) = parse(
            r#"[{"maxSkew":0,"topologyKey":"zone","whenUnsatisfiable":"DoNotSchedule"},
                {"maxSkew":1,"topologyKey":"zone","whenUnsatisfiable":"Sometimes"},
                {"maxSkew":1,"topologyKey":"zone","whenUnsatisfiable":"ScheduleAnyway","minDomains":2},
                {"maxSkew":1,"topologyKey":"zone","whenUnsatisfiable":"DoNotSchedule","nodeTaintsPolicy":"Maybe"},
                {"maxSkew":1,"topologyKey":"zone","whenUnsatisfiable":"DoNotSchedule"},
                {"maxSkew":2,"topologyKey":"zone","whenUnsatisfiable":"DoNotSchedule"}]"#,
        );
        assert_eq!(cs.len(), 1);
        let fields: Vec<&str> = errors.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            fields,
            [
                "spec.topologySpreadConstraints[0].maxSkew",
                "spec.topologySpreadConstraints[1].whenUnsatisfiable",
                "spec.topologySpreadConstraints[2].minDomains",
                "spec.topologySpreadConstraints[3].nodeTaintsPolicy",
                "spec.topologySpreadConstraints[5].topologyKey",
            ]
        );
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
            let err = SpreadDefaults::parse(Some(&serde_json::from_str(bad).unwrap())).unwrap_err();
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
            !cs[0].includes(&p, &n.build()),
            "untolerated taint excludes the node"
        );
        n.record.taints = Box::default();
        assert!(cs[0].includes(&p, &n.build()), "node affinity ignored");
        let mut honor = cs[0].clone();
        honor.honor_node_affinity = true;
        assert!(!honor.includes(&p, &n.build()));
    }
}
