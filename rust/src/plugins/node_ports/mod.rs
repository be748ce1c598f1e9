//! NodePorts: the pod's host ports must be free on the node (same protocol and port on the same
//! address, the wildcard 0.0.0.0 clashing with every address).

use crate::framework::cycle_state::PluginState;
use crate::framework::plugin::{Filter, Plugin, PodContext, PreFilter, Prepared};
use crate::framework::status::Status;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;

pub const NAME: &str = "NodePorts";
pub const REASON: &str = "node(s) didn't have free ports for the requested pod ports";

pub struct NodePorts;

impl Plugin for NodePorts {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl PreFilter for NodePorts {
    fn pre_filter(&self, ctx: &PodContext<'_>) -> Prepared {
        // A pod without host ports clashes with nothing.
        if ctx.pod.host_ports.is_empty() {
            Prepared::Skip
        } else {
            Prepared::Run(None)
        }
    }
}

impl Filter for NodePorts {
    fn node_local(&self, _: &PodRecord) -> bool {
        true
    }

    fn reads_identity(&self) -> bool {
        false
    }

    fn filter(&self, _: Option<&PluginState>, pod: &PodRecord, node: &NodeInfo) -> Status {
        let clash = pod
            .host_ports
            .iter()
            .any(|want| node.used_ports.iter().any(|used| want.conflicts_with(used)));
        if clash {
            Status::unschedulable(REASON)
        } else {
            Status::success()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::code::Code;
    use crate::intern::sym;
    use crate::state::pod::{HostPort, Protocol};
    use crate::testutil::{node, pod};
    use std::sync::Arc;

    #[test]
    fn host_port_clashes() {
        let port = |ip: Option<&str>, proto, p| HostPort {
            ip: ip.map(sym),
            protocol: proto,
            port: p,
        };
        let mut existing = pod("e");
        existing.host_ports = vec![port(Some("10.0.0.1"), Protocol::Tcp, 8080)].into();
        let mut info = node("n1", 1000, 1000).build();
        info.add_pod(Arc::new(existing));
        let mut p = pod("p");
        for (want, ok) in [
            (port(None, Protocol::Tcp, 8080), false),
            (port(Some("10.0.0.1"), Protocol::Tcp, 8080), false),
            (port(Some("10.0.0.2"), Protocol::Tcp, 8080), true),
            (port(None, Protocol::Udp, 8080), true),
            (port(None, Protocol::Tcp, 9090), true),
        ] {
            p.host_ports = vec![want].into();
            let st = NodePorts.filter(None, &p, &info);
            assert_eq!(st.is_success(), ok, "{want:?}");
            if !ok {
                assert_eq!(
                    (st.code, st.reasons.to_vec()),
                    (Code::Unschedulable, vec![REASON.into()])
                );
            }
        }
    }

    #[test]
    fn skipped_for_pods_without_host_ports() {
        let nodes = [Arc::new(node("n1", 1000, 1000).build())];
        let mut p = pod("p");
        let ctx = PodContext {
            pod: &p,
            nodes: &nodes,
            namespaces: &Default::default(),
            volumes: &Default::default(),
            dra: crate::state::dra::Dra::none(),
            index: None,
        };
        assert!(matches!(NodePorts.pre_filter(&ctx), Prepared::Skip));
        p.host_ports = vec![HostPort {
            ip: None,
            protocol: Protocol::Tcp,
            port: 80,
        }]
        .into();
        let ctx = PodContext {
            pod: &p,
            nodes: &nodes,
            namespaces: &Default::default(),
            volumes: &Default::default(),
            dra: crate::state::dra::Dra::none(),
            index: None,
        };
        assert!(matches!(NodePorts.pre_filter(&ctx), Prepared::Run(None)));
    }
}
