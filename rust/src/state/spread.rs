//! A pod's topology spread constraints (`spec.topologySpreadConstraints`), parsed and
//! validated once. What the constraints mean for nodes and pods is PodTopologySpread's
//! (`plugins::pod_topology_spread::constraints`).

use crate::bounded::quoted;
use crate::error::{CoreError, CoreResult};
use crate::intern::{Sym, sym};
use crate::state::affinity_wire::TopologySpreadConstraintWire;
use crate::state::label_selector::LabelSelector;
use crate::state::labels::Labels;

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

/// Does the node carry every constraint's topology key (`nodeLabelsMatchSpreadConstraints`)?
pub fn has_all_keys(labels: &Labels, constraints: &[SpreadConstraint]) -> bool {
    constraints
        .iter()
        .all(|c| labels.contains_key(c.topology_key))
}

fn policy(value: Option<&str>, default_honor: bool, field: &str) -> CoreResult<bool> {
    match value {
        None => Ok(default_honor),
        Some("Honor") => Ok(true),
        Some("Ignore") => Ok(false),
        Some(other) => Err(CoreError::field(
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
) -> CoreResult<SpreadConstraint> {
    if w.max_skew <= 0 {
        return Err(CoreError::field(
            format!("{path}.maxSkew"),
            format!("{} must be greater than 0", w.max_skew),
        ));
    }
    if w.topology_key.is_empty() {
        return Err(CoreError::field(
            format!("{path}.topologyKey"),
            "must not be empty",
        ));
    }
    let when_unsatisfiable = match &*w.when_unsatisfiable {
        "DoNotSchedule" => WhenUnsatisfiable::DoNotSchedule,
        "ScheduleAnyway" => WhenUnsatisfiable::ScheduleAnyway,
        other => {
            return Err(CoreError::field(
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
            return Err(CoreError::field(
                format!("{path}.minDomains"),
                format!("{m} must be greater than 0"),
            ));
        }
        Some(_) if when_unsatisfiable != WhenUnsatisfiable::DoNotSchedule => {
            return Err(CoreError::field(
                format!("{path}.minDomains"),
                "may only be set with whenUnsatisfiable DoNotSchedule",
            ));
        }
        Some(m) => m,
    };
    if !selector_required && w.label_selector.is_some() {
        return Err(CoreError::field(
            format!("{path}.labelSelector"),
            "default constraints must not set a selector: it is derived for each pod",
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
    errors: &mut Vec<CoreError>,
) -> Box<[SpreadConstraint]> {
    let mut out: Vec<SpreadConstraint> = Vec::with_capacity(wires.len());
    for (i, w) in wires.iter().enumerate() {
        let path = format!("spec.topologySpreadConstraints[{i}]");
        match parse_constraint(w, &path, pod_labels, true) {
            Ok(c) => {
                if out.iter().any(|o| {
                    o.topology_key == c.topology_key && o.when_unsatisfiable == c.when_unsatisfiable
                }) {
                    errors.push(CoreError::field(
                        format!("{path}.topologyKey"),
                        "duplicate {topologyKey, whenUnsatisfiable} pair",
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> (Box<[SpreadConstraint]>, Vec<CoreError>) {
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
        let fields: Vec<&str> = errors.iter().map(CoreError::path).collect();
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
}
