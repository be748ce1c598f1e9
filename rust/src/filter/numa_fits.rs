//! One pod's NUMA placement request, shared by NodeResourceTopologyMatch (feasibility) and
//! NUMAPacking (the packing score): it is the filter's PreFilter state, which the score takes
//! through `FilterStates`, or makes its own when it runs without the filter.
//!
//! Nothing is remembered per node: with the node's zone figures cached as a table
//! (`NodeNuma`), planning a node again for its score costs less than a per-pod map of every
//! node filtered (allocated, filled and probed for each pod), and only feasible nodes are
//! scored.

use crate::filter::node_resource_topology_match::{NumaArgs, view};
use crate::state::node_info::NodeInfo;
use crate::topology::{Infeasible, PlacementRequest, packing_score, plan_in};

/// How the pod's devices fit one node.
#[derive(Debug, Clone)]
pub enum NodeFit {
    /// The node's NRT object is malformed: its zones are unknown.
    Malformed,
    Infeasible(Infeasible),
    Fits,
}

/// The pod's request.
pub struct NumaFits {
    pub request: PlacementRequest,
}

impl NumaFits {
    pub fn new(request: PlacementRequest) -> Self {
        Self { request }
    }

    /// Whether the pod's devices fit `node`.
    pub fn fit(&self, args: &NumaArgs, node: &NodeInfo) -> NodeFit {
        let view = view(args, node);
        let Some((topology, table, usage)) = view.parts() else {
            return NodeFit::Malformed;
        };
        match plan_in(topology, table, usage, &self.request) {
            Ok(_) => NodeFit::Fits,
            Err(infeasible) => NodeFit::Infeasible(infeasible),
        }
    }

    /// The packing score of the pod's placement on `node` (`topology::packing_score`,
    /// 0..=100); 0 where it does not fit.
    pub fn score(&self, args: &NumaArgs, node: &NodeInfo) -> i64 {
        let view = view(args, node);
        let Some((topology, table, usage)) = view.parts() else {
            return 0;
        };
        plan_in(topology, table, usage, &self.request).map_or(0, |placement| {
            packing_score(
                topology,
                table,
                &placement,
                &args.weights,
                &args.packing_context(),
            )
        })
    }
}
