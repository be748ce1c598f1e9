//! Device taints (DRADeviceTaints, beta and on in 1.36) against a request's tolerations:
//! `NoSchedule` and `NoExecute` taints keep a device from requests that do not tolerate them.

use crate::state::dra::claim::{Toleration, TolerationOp};
use crate::state::dra::device::{DeviceTaint, TaintEffect};

/// kube's `resourceclaim.ToleratesTaint`.
pub fn tolerates(t: &Toleration, taint: &DeviceTaint) -> bool {
    if t.effect.is_some_and(|e| e != taint.effect) {
        return false;
    }
    if t.key.is_some_and(|k| k != taint.key) {
        return false;
    }
    match t.op {
        TolerationOp::Equal => t.value == taint.value,
        TolerationOp::Exists => true,
    }
}

pub fn prevents_allocation(taints: &[DeviceTaint], tolerations: &[Toleration]) -> bool {
    taints.iter().any(|taint| {
        matches!(
            taint.effect,
            TaintEffect::NoSchedule | TaintEffect::NoExecute
        ) && !tolerations.iter().any(|t| tolerates(t, taint))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::sym;

    fn taint(effect: TaintEffect) -> DeviceTaint {
        DeviceTaint {
            key: sym("broken"),
            value: sym("ecc"),
            effect,
        }
    }

    fn tol(
        key: Option<&str>,
        op: TolerationOp,
        value: &str,
        effect: Option<TaintEffect>,
    ) -> Toleration {
        Toleration {
            key: key.map(sym),
            op,
            value: sym(value),
            effect,
        }
    }

    #[test]
    fn taints_and_tolerations() {
        let ns = [taint(TaintEffect::NoSchedule)];
        assert!(prevents_allocation(&ns, &[]));
        assert!(!prevents_allocation(&[taint(TaintEffect::None)], &[]));
        assert!(!prevents_allocation(
            &ns,
            &[tol(None, TolerationOp::Exists, "", None)]
        ));
        assert!(!prevents_allocation(
            &ns,
            &[tol(
                Some("broken"),
                TolerationOp::Equal,
                "ecc",
                Some(TaintEffect::NoSchedule)
            )]
        ));
        assert!(prevents_allocation(
            &ns,
            &[tol(Some("broken"), TolerationOp::Equal, "other", None)]
        ));
        assert!(prevents_allocation(
            &ns,
            &[tol(
                Some("broken"),
                TolerationOp::Exists,
                "",
                Some(TaintEffect::NoExecute)
            )]
        ));
    }
}
