//! NodeResourceTopologyMatch (filter; named as the scheduler-plugins equivalent): a pod asking
//! for GPUs or NICs must fit the node's NUMA zones under its `podium.dev/numa` policy and the
//! node's kubelet Topology Manager policy, counting podium's allocations the node's
//! NodeResourceTopology object does not show yet. The chosen zones become the pod's
//! `podium.dev/allocation`.
//!
//! A node without an NRT object is one zone. A node whose NRT object is malformed is infeasible
//! for these pods (unresolvable until the object is fixed): its zones are unknown, and guessing
//! them could get the pod rejected by kubelet's Topology Manager after binding. The parse error
//! itself is reported once by the cache, when the object arrives.

use std::sync::Arc;

use crate::error::CoreResult;
use crate::framework::code::Code;
use crate::framework::cycle_state::PluginState;
use crate::framework::plugin::{
    Filter, Plugin, PodContext, PreFilter, Prepared, Reserve, Reserved,
};
use crate::framework::spec::ProfileSpec;
use crate::framework::status::Status;
use crate::plugins::node_resource_topology_match::args::{NumaArgs, view};
use crate::plugins::node_resource_topology_match::numa_fits::{NodeFit, NumaFits};
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::topology::plan_in;

pub const NAME: &str = "NodeResourceTopologyMatch";
pub const REASON_MALFORMED: &str = "node(s) had a malformed NodeResourceTopology object";

pub struct NodeResourceTopologyMatch {
    args: NumaArgs,
}

impl NodeResourceTopologyMatch {
    pub fn from_spec(spec: &ProfileSpec) -> CoreResult<Self> {
        Ok(Self {
            args: NumaArgs::from_spec(spec)?,
        })
    }
}

/// The pod's NUMA fits: this plugin's PreFilter state, which NUMAPacking reads too.
pub fn fits_of(state: Option<&PluginState>) -> Option<&Arc<NumaFits>> {
    state.and_then(|s| s.downcast_ref::<Arc<NumaFits>>())
}

impl Plugin for NodeResourceTopologyMatch {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl PreFilter for NodeResourceTopologyMatch {
    fn pre_filter(&self, ctx: &PodContext<'_>) -> Prepared {
        match self.args.request(ctx.pod) {
            Ok(Some(request)) => {
                let fits = Arc::new(NumaFits::new(request));
                Prepared::Run(Some(Box::new(fits)))
            }
            Ok(None) => Prepared::Skip,
            Err(message) => Prepared::Reject(Status::unresolvable(message.to_string())),
        }
    }
}

impl Filter for NodeResourceTopologyMatch {
    fn node_local(&self, _: &PodRecord) -> bool {
        true
    }

    fn reads_identity(&self) -> bool {
        false
    }

    fn filter(&self, state: Option<&PluginState>, _pod: &PodRecord, node: &NodeInfo) -> Status {
        let Some(fits) = fits_of(state) else {
            return Status::success();
        };
        match fits.fit(&self.args, node) {
            NodeFit::Fits => Status::success(),
            NodeFit::Malformed => Status::unresolvable(REASON_MALFORMED),
            NodeFit::Infeasible(infeasible) => Status::new(
                if infeasible.resolvable {
                    Code::Unschedulable
                } else {
                    Code::UnschedulableAndUnresolvable
                },
                infeasible.reason,
            ),
        }
    }
}

impl NodeResourceTopologyMatch {
    /// The device placement on `node` to record on the pod (`podium.dev/allocation`): the
    /// zones the plan chose; None when the pod asks for no device.
    fn allocation(
        &self,
        state: Option<&PluginState>,
        _pod: &PodRecord,
        node: &NodeInfo,
    ) -> Option<String> {
        let request = &fits_of(state)?.request;
        let view = view(&self.args, node);
        let (topology, table, usage) = view.parts()?;
        let placement = plan_in(topology, table, usage, request).ok()?;
        (!placement.is_empty()).then(|| placement.to_allocation(topology).to_annotation())
    }
}

impl Reserve for NodeResourceTopologyMatch {
    fn reserve(
        &self,
        state: Option<&PluginState>,
        pod: &PodRecord,
        node: &NodeInfo,
        reserved: &mut Reserved,
    ) {
        if reserved.allocation.is_none() {
            reserved.allocation = self.allocation(state, pod, node);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::runtime::profile::Profile;
    use crate::state::topology::Nrt;
    use crate::topology::NumaPolicy;
    use crate::topology::parse_node_resource_topology;

    fn spec(podium: &str) -> ProfileSpec {
        serde_json::from_str(&format!(
            r#"{{"schedulerName":"podium","podium":{podium}}}"#
        ))
        .expect("spec")
    }

    fn gpu_pod(gpus: i64, policy: Option<&str>) -> PodRecord {
        let mut pod = PodRecord::empty("u", "ns", "p");
        pod.requests.set(
            crate::state::resources::ResourceName::parse("nvidia.com/gpu"),
            gpus,
        );
        pod.numa_policy = policy.map(Into::into);
        pod
    }

    fn nrt(name: &str, free: [i64; 2]) -> Nrt {
        let zones: Vec<serde_json::Value> = free
            .iter()
            .enumerate()
            .map(|(i, &f)| {
                serde_json::json!({"name": format!("node-{i}"), "type": "Node", "resources": [
                    {"name": "nvidia.com/gpu", "capacity": 4, "allocatable": 4, "available": f}]})
            })
            .collect();
        let object = serde_json::json!({"apiVersion": "topology.node.k8s.io/v1alpha2",
            "kind": "NodeResourceTopology", "metadata": {"name": name}, "zones": zones});
        Nrt::Parsed(Arc::new(
            parse_node_resource_topology(&object).expect("valid"),
        ))
    }

    fn node_with(nrt: Option<Nrt>) -> NodeInfo {
        let mut builder = crate::testutil::node("n1", 64_000, 1 << 36);
        builder.record.allocatable.set(
            crate::state::resources::ResourceName::parse("nvidia.com/gpu"),
            8,
        );
        let mut info = builder.build();
        info.numa.nrt = nrt;
        info
    }

    fn run(plugin: &NodeResourceTopologyMatch, pod: &PodRecord, node: &NodeInfo) -> Status {
        let ctx = PodContext {
            pod,
            nodes: &[],
            namespaces: &Default::default(),
            volumes: &Default::default(),
            dra: crate::state::dra::Dra::none(),
            index: None,
        };
        match plugin.pre_filter(&ctx) {
            Prepared::Run(state) => plugin.filter(state.as_ref(), pod, node),
            Prepared::Skip => Status::success(),
            Prepared::Reject(status) => status,
        }
    }

    #[test]
    fn single_needs_one_zone_and_usage_makes_it_resolvable() {
        let plugin = NodeResourceTopologyMatch::from_spec(&spec("{}")).unwrap();
        let split = node_with(Some(nrt("n1", [2, 2])));
        let status = run(&plugin, &gpu_pod(3, Some("single")), &split);
        assert_eq!(status.code, Code::Unschedulable, "{status:?}");
        assert!(status.reasons[0].contains("no single NUMA node with 3 nvidia.com/gpu"));
        let status = run(&plugin, &gpu_pod(3, Some("prefer")), &split);
        assert!(status.is_success(), "{status:?}");
        let status = run(&plugin, &gpu_pod(5, Some("single")), &split);
        assert_eq!(
            status.code,
            Code::UnschedulableAndUnresolvable,
            "{status:?}"
        );
    }

    #[test]
    fn malformed_objects_and_annotations_fail_clearly() {
        let plugin = NodeResourceTopologyMatch::from_spec(&spec("{}")).unwrap();
        let bad = node_with(Some(Nrt::Malformed("boom".into())));
        let status = run(&plugin, &gpu_pod(1, None), &bad);
        assert_eq!(
            (status.code, status.reasons[0].as_ref()),
            (Code::UnschedulableAndUnresolvable, REASON_MALFORMED)
        );
        let status = run(&plugin, &gpu_pod(1, Some("strict")), &bad);
        assert_eq!(status.code, Code::UnschedulableAndUnresolvable);
        assert!(status.reasons[0].contains("Pod ns/p: annotation podium.dev/numa"));
        let cpu_only = PodRecord::empty("u", "ns", "q");
        assert!(
            run(&plugin, &cpu_only, &bad).is_success(),
            "no devices: not our business"
        );
    }

    #[test]
    fn nodes_without_nrt_are_one_zone_and_allocation_names_it() {
        let plugin = NodeResourceTopologyMatch::from_spec(&spec("{}")).unwrap();
        let node = node_with(None);
        let pod = gpu_pod(8, Some("single"));
        let ctx = PodContext {
            pod: &pod,
            nodes: &[],
            namespaces: &Default::default(),
            volumes: &Default::default(),
            dra: crate::state::dra::Dra::none(),
            index: None,
        };
        let Prepared::Run(state) = plugin.pre_filter(&ctx) else {
            panic!("gpu pod must run");
        };
        assert!(plugin.filter(state.as_ref(), &pod, &node).is_success());
        let annotation = plugin
            .allocation(state.as_ref(), &pod, &node)
            .expect("allocation");
        assert!(annotation.contains(r#""zone":"n1""#), "{annotation}");
        assert!(!run(&plugin, &gpu_pod(9, Some("single")), &node).is_success());
    }

    #[test]
    fn args_are_checked() {
        assert!(
            NumaArgs::from_spec(&spec(r#"{"numa":{"bogus":1}}"#))
                .unwrap_err()
                .to_string()
                .contains("bogus")
        );
        assert!(
            NumaArgs::from_spec(&spec(r#"{"numa":{"waitingSizes":[0]}}"#))
                .unwrap_err()
                .to_string()
                .contains("waitingSizes")
        );
        assert!(
            NumaArgs::from_spec(&spec(r#"{"numa":{"weights":{"nodeFit":-1}}}"#))
                .unwrap_err()
                .to_string()
                .contains("nodeFit")
        );
        assert!(
            NumaArgs::from_spec(&spec(r#"{"numaDefaultPolicy":"x"}"#))
                .unwrap_err()
                .to_string()
                .contains("numaDefaultPolicy")
        );
        let args = NumaArgs::from_spec(&spec(
            r#"{"numaDefaultPolicy":"single","numa":{"gpuResources":["amd.com/gpu"]}}"#,
        ))
        .unwrap();
        assert_eq!(args.config.default_policy, NumaPolicy::Single);
        assert_eq!(args.config.gpu_resources, ["amd.com/gpu"]);
        let _ = Profile::from_spec(spec("{}"));
    }
}
