//! Any bytes as a watch line or a list page of any kind, applied to a cache that already holds
//! a node and a pending pod: an error or a change, never a panic, and the cache stays usable.
#![no_main]

use _core::state::cluster::ClusterState;
use _core::state::kind::Kind;
use libfuzzer_sys::fuzz_target;

const NODE: &[u8] = br#"{"type":"ADDED","object":{"kind":"Node","metadata":{"name":"n1","uid":"n"},"status":{"allocatable":{"cpu":"4","memory":"8Gi","pods":"10"}}}}"#;
const POD: &[u8] = br#"{"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"p","namespace":"d","uid":"u"},"spec":{"schedulerName":"podium","containers":[{"resources":{"requests":{"cpu":"1"}}}]}}}"#;

fuzz_target!(|input: &[u8]| {
    let Some((&selector, line)) = input.split_first() else {
        return;
    };
    let kinds = Kind::ALL;
    let kind = kinds[usize::from(selector >> 1) % kinds.len()];
    let mut state = ClusterState::new(&["podium"]);
    state.apply_event(Kind::Node, NODE).expect("seed node");
    state.apply_event(Kind::Pod, POD).expect("seed pod");
    if selector & 1 == 0 {
        let _ = state.apply_event(kind, line);
    } else {
        state.begin_relist(kind);
        let _ = state.apply_list(kind, line);
        let _ = state.end_relist(kind);
    }
    let _ = state.snapshot();
    let _ = state.pending();
    let _ = state.node_usage("n1");
});
