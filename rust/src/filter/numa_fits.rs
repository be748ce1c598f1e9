//! One pod's NUMA placement on each node, worked out once per cycle: NodeResourceTopologyMatch
//! asks first (feasibility), NUMAPacking reads the same entry (its packing score), and nobody
//! builds the node's view or plans twice. It is NodeResourceTopologyMatch's PreFilter state;
//! the score takes it through `FilterStates`, or makes its own when it runs without the filter.

use dashmap::DashMap;

use crate::filter::node_resource_topology_match::{NumaArgs, view};
use crate::intern::Sym;
use crate::state::node_info::NodeInfo;
use crate::topology::{Infeasible, PackingContext, PlacementRequest, packing_score, plan};

/// How the pod's devices fit one node.
#[derive(Debug, Clone)]
pub enum NodeFit {
    /// The node's NRT object is malformed: its zones are unknown.
    Malformed,
    Infeasible(Infeasible),
    /// The placement's packing score (`topology::packing_score`, 0..=100).
    Fits {
        score: i64,
    },
}

/// The pod's request and its fit on every node looked at so far (keyed by node name).
pub struct NumaFits {
    pub request: PlacementRequest,
    fits: DashMap<Sym, NodeFit, ahash::RandomState>,
}

impl NumaFits {
    pub fn new(request: PlacementRequest, nodes: usize) -> Self {
        Self {
            request,
            fits: DashMap::with_capacity_and_hasher(nodes, ahash::RandomState::new()),
        }
    }

    /// The pod's fit on `node`, computed on first use. (Two threads asking for the same node at
    /// once may both compute it; the answers are equal.)
    pub fn fit(&self, args: &NumaArgs, node: &NodeInfo) -> NodeFit {
        let Some(name) = node.node.as_ref().map(|n| n.name) else {
            return compute(args, &self.request, node);
        };
        if let Some(fit) = self.fits.get(&name) {
            return fit.clone();
        }
        let fit = compute(args, &self.request, node);
        self.fits.insert(name, fit.clone());
        fit
    }
}

fn compute(args: &NumaArgs, request: &PlacementRequest, node: &NodeInfo) -> NodeFit {
    let view = view(args, node);
    let Some((topology, usage)) = view.parts() else {
        return NodeFit::Malformed;
    };
    match plan(topology, usage, request) {
        Ok(placement) => NodeFit::Fits {
            score: packing_score(
                topology,
                usage,
                &placement,
                &args.weights,
                &PackingContext {
                    gpu_resources: &args.config.gpu_resources,
                    waiting_sizes: &args.waiting_sizes,
                },
            ),
        },
        Err(infeasible) => NodeFit::Infeasible(infeasible),
    }
}
