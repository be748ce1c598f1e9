//! Any bytes as a Pod object: a record (perhaps marked invalid) or an error, never a panic.
#![no_main]

use _core::state::pod::parse_pod;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = parse_pod(bytes);
});
