//! Any bytes as a Node object: a record (perhaps marked invalid) or an error, never a panic.
#![no_main]

use _core::state::node::parse_node;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = parse_node(bytes);
});
