//! The stores of Nodes and their NodeResourceTopology objects: both live in the node slots.

use std::sync::Arc;

use crate::error::{CoreError, CoreResult};
use crate::intern::{Sym, resolve, sym};
use crate::state::cluster::{ChangeOutcome, ClusterState};
use crate::state::node::{NodeRecord, parse_node};
use crate::state::object::LenientIdentity;
use crate::state::topology::Nrt;
use crate::topology::parse_node_resource_topology_json;

use super::store::{Seen, Store};

pub(super) struct NodeStore;

impl Store for NodeStore {
    type Object = NodeRecord;

    fn decode(bytes: &[u8], _deleted: bool, out: &mut ChangeOutcome) -> CoreResult<NodeRecord> {
        let node = parse_node(bytes)?;
        out.name = node.name().to_owned();
        out.uid = node.uid.to_string();
        out.resource_version = node.resource_version.to_string();
        out.error = node.error.as_deref().map(str::to_owned);
        Ok(node)
    }

    fn key(node: &NodeRecord) -> Option<Box<str>> {
        Some(node.name().into())
    }

    fn upsert(state: &mut ClusterState, node: NodeRecord) -> bool {
        state.upsert_node(node)
    }

    fn delete(state: &mut ClusterState, node: NodeRecord) {
        state.delete_node(node.name);
    }

    fn end_relist(state: &mut ClusterState, seen: &Seen) -> Vec<String> {
        let gone: Vec<Sym> = state
            .slot_by_name
            .iter()
            .filter(|&(name, &slot)| {
                state.nodes[slot].as_ref().is_some_and(|i| i.node.is_some())
                    && !seen.contains(resolve(*name))
            })
            .map(|(name, _)| *name)
            .collect();
        for name in gone {
            state.delete_node(name);
        }
        Vec::new()
    }
}

/// NodeResourceTopology objects; kept apart from the slots (`ClusterState::topologies`) because
/// they may arrive before their node and outlive its deletion.
pub(super) struct TopologyStore;

/// A topology by its node's name: `None` when deleted (its zones are not read then).
pub(super) type Topology = (Sym, Option<Nrt>);

impl Store for TopologyStore {
    type Object = Topology;

    fn decode(bytes: &[u8], deleted: bool, out: &mut ChangeOutcome) -> CoreResult<Topology> {
        let id = LenientIdentity::read(bytes)
            .ok_or_else(|| CoreError::Invalid("NodeResourceTopology: not a JSON object".into()))?;
        out.name = id.name;
        out.uid = id.uid;
        out.resource_version = id.resource_version;
        if out.name.is_empty() {
            return Err(CoreError::Invalid(
                "NodeResourceTopology: metadata.name: missing".into(),
            ));
        }
        let name = sym(&out.name);
        if deleted {
            return Ok((name, None));
        }
        // A malformed topology is kept as such: its node is skipped for NUMA placement, and
        // says why.
        let nrt = match parse_node_resource_topology_json(bytes) {
            Ok(topology) => Nrt::Parsed(Arc::new(topology)),
            Err(err) => {
                let message = format!("{err}; node {} is skipped for NUMA placement", out.name);
                out.error = Some(message.clone());
                Nrt::Malformed(message.into())
            }
        };
        Ok((name, Some(nrt)))
    }

    fn key(&(name, _): &Topology) -> Option<Box<str>> {
        Some(resolve(name).into())
    }

    fn upsert(state: &mut ClusterState, (name, nrt): Topology) -> bool {
        state.set_topology(name, nrt);
        true
    }

    fn delete(state: &mut ClusterState, (name, _): Topology) {
        state.set_topology(name, None);
    }

    fn end_relist(state: &mut ClusterState, seen: &Seen) -> Vec<String> {
        let gone: Vec<Sym> = state
            .topologies
            .keys()
            .filter(|name| !seen.contains(resolve(**name)))
            .copied()
            .collect();
        for name in gone {
            state.set_topology(name, None);
        }
        Vec::new()
    }
}
