//! Why a pod fits nowhere, in kube-scheduler's words:
//! `0/100 nodes are available: 40 node(s) had untolerated taint(s), 60 Insufficient cpu.`
//! Each node contributes each of its reasons once; the "count reason" strings are sorted as
//! strings, as kube does.

use std::collections::HashMap;

use crate::framework::code::Code;
use crate::framework::status::Status;

/// kube-scheduler's `ErrNoNodesAvailable`.
pub const NO_NODES_AVAILABLE: &str = "no nodes available to schedule pods";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    pub code: Code,
    pub message: String,
    pub reasons: HashMap<String, u32>,
}

fn message(num_nodes: usize, reasons: &HashMap<String, u32>) -> String {
    let mut parts: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
    parts.sort_unstable();
    let mut msg = format!("0/{num_nodes} nodes are available:");
    if !parts.is_empty() {
        msg.push(' ');
        msg.push_str(&parts.join(", "));
        msg.push('.');
    }
    msg
}

/// Every node failed a filter. The pod is unresolvable only when no node could ever pass.
pub fn fit_error<'a>(
    num_nodes: usize,
    failures: impl IntoIterator<Item = &'a Status>,
) -> Diagnosis {
    let mut counts: ahash::AHashMap<&str, u32> = ahash::AHashMap::new();
    let mut all_unresolvable = true;
    let mut any = false;
    for status in failures {
        any = true;
        all_unresolvable &= status.code == Code::UnschedulableAndUnresolvable;
        for r in &status.reasons {
            *counts.entry(r.as_ref()).or_default() += 1;
        }
    }
    let reasons: HashMap<String, u32> =
        counts.into_iter().map(|(r, n)| (r.to_owned(), n)).collect();
    Diagnosis {
        code: if any && all_unresolvable {
            Code::UnschedulableAndUnresolvable
        } else {
            Code::Unschedulable
        },
        message: message(num_nodes, &reasons),
        reasons,
    }
}

/// A PreFilter rejected the pod for every node.
pub fn pre_filter_error(num_nodes: usize, status: &Status) -> Diagnosis {
    let text = status
        .reasons
        .iter()
        .map(|r| r.as_ref())
        .collect::<Vec<_>>()
        .join(", ");
    let count = u32::try_from(num_nodes).unwrap_or(u32::MAX);
    Diagnosis {
        code: status.code,
        message: format!("0/{num_nodes} nodes are available: {text}."),
        reasons: status
            .reasons
            .iter()
            .map(|r| (r.to_string(), count))
            .collect(),
    }
}

pub fn no_nodes() -> Diagnosis {
    Diagnosis {
        code: Code::Unschedulable,
        message: NO_NODES_AVAILABLE.to_owned(),
        reasons: HashMap::new(),
    }
}

/// The pod itself is malformed: no node can ever take it.
pub fn invalid_pod(error: &str) -> Diagnosis {
    Diagnosis {
        code: Code::UnschedulableAndUnresolvable,
        message: error.to_owned(),
        reasons: HashMap::from([(error.to_owned(), 1)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_message_form_sorted_as_strings() {
        let mut failures = Vec::new();
        failures.extend((0..60).map(|_| Status::unschedulable("Insufficient nvidia.com/gpu")));
        failures.extend((0..40).map(|_| Status::unresolvable("node(s) had untolerated taint(s)")));
        let d = fit_error(100, &failures);
        assert_eq!(
            d.message,
            "0/100 nodes are available: 40 node(s) had untolerated taint(s), 60 Insufficient nvidia.com/gpu."
        );
        assert_eq!(d.reasons["Insufficient nvidia.com/gpu"], 60);
        assert_eq!(d.code, Code::Unschedulable);
    }

    #[test]
    fn multiple_reasons_per_node_and_string_order() {
        let both = Status {
            code: Code::Unschedulable,
            reasons: smallvec::smallvec!["Insufficient cpu".into(), "Insufficient memory".into()],
        };
        let mut failures = vec![both; 3];
        failures.extend((0..12).map(|_| Status::unschedulable("Insufficient memory")));
        let d = fit_error(15, &failures);
        // "15 ..." sorts before "3 ..." as strings, as in kube.
        assert_eq!(
            d.message,
            "0/15 nodes are available: 15 Insufficient memory, 3 Insufficient cpu."
        );
    }

    #[test]
    fn unresolvable_only_when_every_node_is() {
        let d = fit_error(2, &[Status::unresolvable("a"), Status::unresolvable("b")]);
        assert_eq!(d.code, Code::UnschedulableAndUnresolvable);
        let d = pre_filter_error(5, &Status::unresolvable("pod has unbound PVC"));
        assert_eq!(d.message, "0/5 nodes are available: pod has unbound PVC.");
        assert_eq!(d.reasons["pod has unbound PVC"], 5);
        assert_eq!(no_nodes().message, "no nodes available to schedule pods");
    }
}
