//! One pod's NUMA placement request, shared by NodeResourceTopologyMatch (feasibility) and
//! NUMAPacking (the packing score): it is the filter's PreFilter state, which the score takes
//! through `FilterStates`, or makes its own when it runs without the filter.
//!
//! Answers are remembered by the node (`state::fit_cache`), per request shape, until its NUMA
//! state changes: most pods of a batch share a shape with an earlier one, and most nodes are
//! unchanged since. Feasibility does not depend on the profile's args, so it is kept under
//! args id 0 and shared by every profile; scores are kept under their args' id.

use crate::filter::node_resource_topology_match::{NumaArgs, view};
use crate::state::fit_cache::FitEntry;
use crate::state::node_info::NodeInfo;
use crate::topology::{Infeasible, PlacementRequest, packing_score, plan_in};

/// The args id under which feasibility is kept.
const ANY_ARGS: u64 = 0;

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
        let key = (ANY_ARGS, self.request.shape());
        let fit = match view.fits().and_then(|fits| fits.get(key)) {
            Some(entry) => entry.fit,
            None => {
                let fit = plan_in(topology, table, usage, &self.request).map(|_| ());
                if let Some(fits) = view.fits() {
                    let entry = FitEntry {
                        fit: fit.clone(),
                        score: None,
                    };
                    fits.put(key, entry);
                }
                fit
            }
        };
        match fit {
            Ok(()) => NodeFit::Fits,
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
        let key = (args.id, self.request.shape());
        if let Some(score) = view.fits().and_then(|fits| fits.get(key)?.score) {
            return score;
        }
        let planned = plan_in(topology, table, usage, &self.request);
        let score = planned.as_ref().map_or(0, |placement| {
            packing_score(
                topology,
                table,
                placement,
                &args.weights,
                &args.packing_context(),
            )
        });
        if let Some(fits) = view.fits() {
            let fit = planned.map(|_| ());
            fits.put(
                (ANY_ARGS, key.1),
                FitEntry {
                    fit: fit.clone(),
                    score: None,
                },
            );
            fits.put(
                key,
                FitEntry {
                    fit,
                    score: Some(score),
                },
            );
        }
        score
    }
}
