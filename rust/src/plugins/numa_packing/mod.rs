//! NUMAPacking (score): fragmentation-aware bin-packing of GPUs and NICs over NUMA zones
//! (`topology::packing_score`), so small jobs fill partly used nodes and zones and whole nodes
//! stay free for 8-GPU jobs. Weights and the job sizes to keep room for come from the profile's
//! NUMA args (`podium.numa.weights`, `podium.numa.waitingSizes`).
//!
//! Pods without GPUs or NICs are steered away from free GPUs: nodes without GPUs score highest.

use std::sync::Arc;

use crate::error::CoreResult;
use crate::framework::cycle_state::{FilterStates, PluginState};
use crate::framework::plugin::{MAX_NODE_SCORE, Plugin, PodContext, PreScore, Prepared, Score};
use crate::framework::spec::ProfileSpec;
use crate::intern::{Sym, sym};
use crate::plugins::node_resource_topology_match::args::{NumaArgs, view};
use crate::plugins::node_resource_topology_match::filter as topology_match;
use crate::plugins::node_resource_topology_match::numa_fits::NumaFits;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::topology::{PlacementRequest, packing_score, plan_in};

pub const NAME: &str = "NUMAPacking";

pub struct NumaPacking {
    args: NumaArgs,
    gpus: Vec<Sym>,
    /// The request of a pod without devices: scored only by the GPU-avoidance term.
    no_devices: PlacementRequest,
}

impl NumaPacking {
    pub fn from_spec(spec: &ProfileSpec) -> CoreResult<Self> {
        let args = NumaArgs::from_spec(spec)?;
        Ok(Self {
            gpus: args.config.gpu_resources.iter().map(|g| sym(g)).collect(),
            no_devices: PlacementRequest::new(args.config.default_policy),
            args,
        })
    }
}

impl Plugin for NumaPacking {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl NumaPacking {
    fn own_pre_score(&self, ctx: &PodContext<'_>, _feasible: &[&NodeInfo]) -> Prepared {
        match self.args.request(ctx.pod) {
            Ok(Some(request)) => {
                let fits = Arc::new(NumaFits::new(request));
                Prepared::Run(Some(Box::new(fits)))
            }
            Ok(None) => Prepared::Run(None),
            // The filter has already rejected such a pod; without it, there is nothing to rank.
            Err(_) => Prepared::Skip,
        }
    }
}

impl PreScore for NumaPacking {
    /// The placements NodeResourceTopologyMatch made for the pod, when it ran: the score of a
    /// node is then read, not recomputed.
    fn pre_score(
        &self,
        ctx: &PodContext<'_>,
        feasible: &[&NodeInfo],
        filters: FilterStates<'_>,
    ) -> Prepared {
        match filters.get::<Arc<NumaFits>>(topology_match::NAME) {
            Some(fits) => Prepared::Run(Some(Box::new(fits.clone()))),
            None => self.own_pre_score(ctx, feasible),
        }
    }
}

impl Score for NumaPacking {
    fn normalizes(&self) -> bool {
        false
    }

    fn node_local(&self, _: &PodRecord) -> bool {
        true
    }

    fn reads_identity(&self) -> bool {
        false
    }

    fn score(&self, state: Option<&PluginState>, _pod: &PodRecord, node: &NodeInfo) -> i64 {
        if let Some(fits) = topology_match::fits_of(state) {
            return fits.score(&self.args, node);
        }
        // A pod without devices: only the GPU-avoidance term.
        let offers_gpus = node
            .node
            .as_ref()
            .is_some_and(|n| self.gpus.iter().any(|&g| n.allocatable.scalar(g) > 0));
        if !offers_gpus {
            return MAX_NODE_SCORE;
        }
        let view = view(&self.args, node);
        let Some((topology, table, usage)) = view.parts() else {
            return 0;
        };
        match plan_in(topology, table, usage, &self.no_devices) {
            Ok(placement) => packing_score(
                topology,
                table,
                &placement,
                &self.args.weights,
                &self.args.packing_context(),
            ),
            Err(_) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::state::resources::ResourceName;
    use crate::state::topology::Nrt;
    use crate::topology::parse_node_resource_topology;

    fn plugin() -> NumaPacking {
        let spec = serde_json::from_str(r#"{"schedulerName":"podium","podium":{}}"#).unwrap();
        NumaPacking::from_spec(&spec).unwrap()
    }

    fn gpu_node(name: &str, free: [i64; 2]) -> NodeInfo {
        let mut builder = crate::testutil::node(name, 64_000, 1 << 36);
        builder
            .record
            .allocatable
            .set(ResourceName::parse("nvidia.com/gpu"), 8);
        let mut info = builder.build();
        let zones: Vec<serde_json::Value> = free
            .iter()
            .enumerate()
            .map(|(i, &f)| {
                serde_json::json!({"name": format!("node-{i}"), "type": "Node", "resources": [
                    {"name": "nvidia.com/gpu", "capacity": 4, "allocatable": 4, "available": f}]})
            })
            .collect();
        let object = serde_json::json!({"metadata": {"name": name}, "zones": zones});
        info.numa.nrt = Some(Nrt::Parsed(Arc::new(
            parse_node_resource_topology(&object).expect("valid"),
        )));
        info
    }

    fn score(plugin: &NumaPacking, gpus: i64, node: &NodeInfo) -> i64 {
        let mut pod = PodRecord::empty("u", "ns", "p");
        if gpus > 0 {
            pod.requests
                .set(ResourceName::parse("nvidia.com/gpu"), gpus);
        }
        let ctx = PodContext {
            pod: &pod,
            nodes: &[],
            namespaces: &Default::default(),
            volumes: &Default::default(),
            dra: crate::state::dra::Dra::none(),
            index: None,
        };
        let Prepared::Run(state) = plugin.pre_score(&ctx, &[], FilterStates::none()) else {
            panic!("runs");
        };
        plugin.score(state.as_ref(), &pod, node)
    }

    #[test]
    fn small_jobs_pack_into_used_nodes_and_whole_nodes_stay_whole() {
        let p = plugin();
        let (empty, used) = (gpu_node("a", [4, 4]), gpu_node("b", [1, 4]));
        assert!(score(&p, 1, &used) > score(&p, 1, &empty));
        assert!(score(&p, 8, &empty) >= score(&p, 1, &empty));
    }

    #[test]
    fn the_score_reads_the_placements_the_filter_made() {
        use crate::framework::plugin::{Filter, PreFilter};
        use crate::plugins::node_resource_topology_match::filter::NodeResourceTopologyMatch;

        let spec = serde_json::from_str(r#"{"schedulerName":"podium","podium":{}}"#).unwrap();
        let filters = [NodeResourceTopologyMatch::from_spec(&spec).unwrap()];
        let mut pod = PodRecord::empty("u", "ns", "p");
        pod.requests.set(ResourceName::parse("nvidia.com/gpu"), 2);
        let ctx = PodContext {
            pod: &pod,
            nodes: &[],
            namespaces: &Default::default(),
            volumes: &Default::default(),
            dra: crate::state::dra::Dra::none(),
            index: None,
        };
        let Prepared::Run(state) = filters[0].pre_filter(&ctx) else {
            panic!("a GPU pod runs the filter");
        };
        let node = gpu_node("b", [1, 4]);
        assert!(filters[0].filter(state.as_ref(), &pod, &node).is_success());
        let states = vec![Some(state)];
        let p = plugin();
        let Prepared::Run(Some(shared)) = p.pre_score(
            &ctx,
            &[],
            FilterStates::new(&[topology_match::NAME], &states),
        ) else {
            panic!("runs with the filter's fits");
        };
        let filter_fits = topology_match::fits_of(states[0].as_ref().unwrap().as_ref()).unwrap();
        let score_fits = topology_match::fits_of(Some(&shared)).unwrap();
        assert!(Arc::ptr_eq(filter_fits, score_fits), "one cache per pod");
        assert_eq!(p.score(Some(&shared), &pod, &node), score(&p, 2, &node));
    }

    #[test]
    fn pods_without_gpus_prefer_nodes_without_free_gpus() {
        let p = plugin();
        let cpu_node = crate::testutil::node("c", 64_000, 1 << 36).build();
        assert_eq!(score(&p, 0, &cpu_node), MAX_NODE_SCORE);
        assert!(score(&p, 0, &gpu_node("a", [4, 4])) < score(&p, 0, &gpu_node("b", [0, 1])));
    }
}
