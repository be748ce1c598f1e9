//! Property tests of the object decoders: any JSON (or any bytes) gives a record or an error
//! naming the object and field, never a panic; well-formed pods and nodes decode exactly.

use _core::quantity::{parse_milli_value, parse_value};
use _core::state::cluster::ClusterState;
use _core::state::kind::Kind;
use _core::state::node::parse_node;
use _core::state::pod::parse_pod;
use _core::topology::parse_node_resource_topology_json;
use proptest::prelude::*;
use serde_json::{Value, json};

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
        // Strings the decoders look at closely.
        prop_oneof![
            Just("1.5.3Gi"),
            Just("2E6024865272343"),
            Just("9223372036854775807"),
            Just("-1"),
            Just("Pod"),
            Just("podium"),
            Just("ADDED"),
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    let keys = prop_oneof![
        Just("metadata"),
        Just("name"),
        Just("uid"),
        Just("namespace"),
        Just("spec"),
        Just("status"),
        Just("containers"),
        Just("resources"),
        Just("requests"),
        Just("allocatable"),
        Just("cpu"),
        Just("zones"),
        Just("costs"),
        Just("type"),
        Just("object"),
        Just("items"),
        Just("labels"),
        Just("annotations"),
        Just("affinity"),
        Just("tolerations"),
        Just("taints"),
    ]
    .prop_map(str::to_owned);
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn pod(cpu: &str, memory: &str) -> Value {
    json!({
        "metadata": {"name": "p", "namespace": "ns", "uid": "u"},
        "spec": {"schedulerName": "podium", "containers": [
            {"name": "c", "resources": {"requests": {"cpu": cpu, "memory": memory}}}
        ]}
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 400,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_json_decodes_or_errors(value in any_json()) {
        let bytes = serde_json::to_vec(&value).unwrap();
        let _ = parse_pod(&bytes);
        let _ = parse_node(&bytes);
        let _ = parse_node_resource_topology_json(&bytes);
        let mut state = ClusterState::new(&["podium"]);
        for kind in Kind::ALL {
            let event = serde_json::to_vec(&json!({"type": "ADDED", "object": value})).unwrap();
            let _ = state.apply_event(kind, &event);
            let _ = state.apply_event(kind, &bytes);
            state.begin_relist(kind);
            let _ = state.apply_list(kind, &bytes);
            let _ = state.end_relist(kind);
        }
        let _ = state.snapshot();
    }

    #[test]
    fn any_bytes_decode_or_error(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_pod(&bytes);
        let _ = parse_node(&bytes);
        let _ = parse_node_resource_topology_json(&bytes);
    }

    #[test]
    fn pod_requests_are_the_quantities_or_a_named_error(
        cpu in "[0-9]{0,20}(\\.[0-9]{0,4})?(m|k|E|Ei|e[0-9]{1,3})?",
        memory in "[0-9]{0,20}(Ki|Mi|Gi|Ei|E|x)?",
    ) {
        let bytes = serde_json::to_vec(&pod(&cpu, &memory)).unwrap();
        let record = parse_pod(&bytes).expect("has an identity");
        // The first error names the object; the others follow it, each naming its field.
        let error = record.error.as_deref().unwrap_or("");
        prop_assert!(error.is_empty() || error.starts_with("Pod ns/p: "), "{}", error);
        match parse_milli_value(&cpu) {
            Ok(v) if v <= 1 << 53 => prop_assert_eq!(record.requests.milli_cpu, v),
            Ok(_) => prop_assert!(error.contains("spec: cpu requests add up"), "{}", error),
            Err(_) => prop_assert!(
                error.contains("spec.containers[0].resources.requests.cpu: invalid quantity"),
                "{}", error
            ),
        }
        match parse_value(&memory) {
            Ok(v) if v <= 1 << 53 => prop_assert_eq!(record.requests.memory, v),
            Ok(_) => prop_assert!(error.contains("memory requests add up")),
            Err(_) => prop_assert!(
                error.contains("spec.containers[0].resources.requests.memory: invalid quantity"),
                "{}", error
            ),
        }
    }

    #[test]
    fn node_allocatable_is_the_quantities_or_a_named_error(
        cpu in "[0-9]{1,20}(m|k|E)?",
        labels in prop::collection::btree_map("[a-z]{1,8}", "[a-z0-9]{0,8}", 0..50),
    ) {
        let node = json!({
            "metadata": {"name": "n", "uid": "u", "labels": labels},
            "status": {"allocatable": {"cpu": cpu, "pods": "110"}}
        });
        let record = parse_node(&serde_json::to_vec(&node).unwrap()).expect("has a name");
        match parse_milli_value(&cpu) {
            Ok(_) => prop_assert!(record.error.is_none(), "{:?}", record.error),
            Err(_) => {
                let error = record.error.as_deref().unwrap_or("");
                prop_assert!(error.contains("Node n: status.allocatable.cpu"), "{}", error);
            }
        }
    }
}
