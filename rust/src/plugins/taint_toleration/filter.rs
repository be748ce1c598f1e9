//! TaintToleration (filter): the pod must tolerate every NoSchedule and NoExecute taint.

use crate::framework::plugin::{FilterPlugin, PluginState};
use crate::framework::reasons;
use crate::framework::status::Status;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::taints::{Taint, TaintEffect, tolerated};

pub const NAME: &str = "TaintToleration";

/// `node(s) had untolerated taint {key: value}`.
pub fn reason_untolerated(taint: &Taint) -> &'static str {
    reasons::cached(NAME, taint.key, Some(taint.value), || {
        format!("node(s) had untolerated taint {}", taint.describe())
    })
}

pub struct TaintToleration;

impl FilterPlugin for TaintToleration {
    fn name(&self) -> &'static str {
        NAME
    }

    fn node_static(&self) -> bool {
        true
    }

    fn filter(&self, _: Option<&PluginState>, pod: &PodRecord, node: &NodeInfo) -> Status {
        let Some(n) = &node.node else {
            return Status::success();
        };
        let untolerated = n.taints.iter().find(|t| {
            matches!(t.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute)
                && !tolerated(&pod.tolerations, t)
        });
        match untolerated {
            Some(t) => Status::unresolvable(reason_untolerated(t)),
            None => Status::success(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::code::Code;
    use crate::state::taints::Toleration;
    use crate::testutil::{node, pod};

    #[test]
    fn first_untolerated_hard_taint_is_reported() {
        let mut n = node("n1", 1000, 1000);
        n.record.taints = vec![
            Taint::new("soft", "x", TaintEffect::PreferNoSchedule),
            Taint::new("gpu", "true", TaintEffect::NoSchedule),
            Taint::new("evict", "", TaintEffect::NoExecute),
        ]
        .into();
        let info = n.build();
        let mut p = pod("p");
        let st = TaintToleration.filter(None, &p, &info);
        assert_eq!(st.code, Code::UnschedulableAndUnresolvable);
        assert_eq!(
            st.reasons.to_vec(),
            vec!["node(s) had untolerated taint {gpu: true}"]
        );
        p.tolerations = vec![Toleration::new("gpu", "Equal", "true", "NoSchedule")].into();
        assert_eq!(
            TaintToleration.filter(None, &p, &info).reasons.to_vec(),
            vec!["node(s) had untolerated taint {evict: }"]
        );
        p.tolerations = vec![Toleration::new("", "Exists", "", "")].into();
        assert!(TaintToleration.filter(None, &p, &info).is_success());
    }
}
