//! Any bytes as a NodeResourceTopology object: a topology or an error, never a panic.
#![no_main]

use _core::topology::parse_node_resource_topology_json;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = parse_node_resource_topology_json(bytes);
});
