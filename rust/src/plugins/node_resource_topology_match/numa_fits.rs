//! One pod's NUMA placement request, shared by NodeResourceTopologyMatch (feasibility) and
//! NUMAPacking (the packing score): it is the filter's PreFilter state, which the score takes
//! through `FilterStates`, or makes its own when it runs without the filter.
//!
//! Answers (feasibility and packing score, worked out together: NodeResourceTopologyMatch is
//! the last filter, so the nodes it passes are the ones scored) are remembered by the node
//! (`state::fit_cache`), per request shape and NUMA args, until its NUMA state changes: most
//! pods of a batch share a shape with an earlier one, and most nodes are unchanged since.

use crate::plugins::node_resource_topology_match::args::{NumaArgs, view};
use crate::state::fit_cache::FitEntry;
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
        match self.answer(args, node) {
            None => NodeFit::Malformed,
            Some(FitEntry { fit: Ok(()), .. }) => NodeFit::Fits,
            Some(FitEntry {
                fit: Err(infeasible),
                ..
            }) => NodeFit::Infeasible(infeasible),
        }
    }

    /// The packing score of the pod's placement on `node` (`topology::packing_score`,
    /// 0..=100); 0 where it does not fit.
    pub fn score(&self, args: &NumaArgs, node: &NodeInfo) -> i64 {
        self.answer(args, node).map_or(0, |entry| entry.score)
    }

    /// The node's answer, from its cache or worked out (and kept); `None` for a malformed
    /// NRT object.
    fn answer(&self, args: &NumaArgs, node: &NodeInfo) -> Option<FitEntry> {
        let key = (args.id, self.request.shape());
        if let Some(entry) = node.numa.cached_fits().and_then(|fits| fits.get(key)) {
            return Some(entry);
        }
        let view = view(args, node);
        let (topology, table, usage) = view.parts()?;
        let entry = match plan_in(topology, table, usage, &self.request) {
            Ok(placement) => FitEntry {
                fit: Ok(()),
                score: packing_score(
                    topology,
                    table,
                    &placement,
                    &args.weights,
                    &args.packing_context(),
                ),
            },
            Err(infeasible) => FitEntry {
                fit: Err(infeasible),
                score: 0,
            },
        };
        if let Some(fits) = view.fits() {
            fits.put(key, &entry);
        }
        Some(entry)
    }
}
