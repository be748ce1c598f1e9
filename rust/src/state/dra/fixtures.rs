//! JSON fixtures: what a GPU driver and an RDMA NIC driver publish (8 GPUs and 4 NICs a node,
//! two GPUs and one NIC per PCIe root), their classes, and claims. Tests and the DRA benchmark
//! feed them to the real decoders, so they exercise the wire format too.

/// GPUs `gpu-0..n` of driver `gpu.example.com` on `node`, spread evenly over `roots` PCIe roots
/// (`pci-0..`), in pool `node`.
pub fn gpu_node_slice(node: &str, gpus: usize, roots: usize) -> String {
    let per_root = gpus.div_ceil(roots.max(1)).max(1);
    let devices: Vec<String> = (0..gpus)
        .map(|i| {
            let root = i / per_root;
            format!(
                r#"{{"name":"gpu-{i}","attributes":{{
                    "model":{{"string":"h100"}},"index":{{"int":{i}}},"driverVersion":{{"version":"1.2.3"}},
                    "dra.example.com/numa":{{"int":{numa}}},
                    "resource.kubernetes.io/pcieRoot":{{"string":"pci-{root}"}}}},
                  "capacity":{{"memory":{{"value":"80Gi"}}}}}}"#,
                numa = root * 2 / roots.max(1),
            )
        })
        .collect();
    format!(
        r#"{{"metadata":{{"name":"{node}-gpu"}},"spec":{{"driver":"gpu.example.com",
            "pool":{{"name":"{node}","generation":1,"resourceSliceCount":1}},
            "nodeName":"{node}","devices":[{}]}}}}"#,
        devices.join(",")
    )
}

/// NICs `nic-0..n` of driver `nic.example.com` on `node`, one per PCIe root `pci-j`.
pub fn nic_node_slice(node: &str, nics: usize) -> String {
    let devices: Vec<String> = (0..nics)
        .map(|j| {
            format!(
                r#"{{"name":"nic-{j}","attributes":{{"rdma":{{"bool":true}},
                    "dra.example.com/numa":{{"int":{numa}}},
                    "resource.kubernetes.io/pcieRoot":{{"string":"pci-{j}"}}}},
                  "capacity":{{"bandwidth":{{"value":"400G"}}}}}}"#,
                numa = j * 2 / nics.max(1),
            )
        })
        .collect();
    format!(
        r#"{{"metadata":{{"name":"{node}-nic"}},"spec":{{"driver":"nic.example.com",
            "pool":{{"name":"{node}","generation":1,"resourceSliceCount":1}},
            "nodeName":"{node}","devices":[{}]}}}}"#,
        devices.join(",")
    )
}

pub fn class_json(name: &str, expression: &str) -> String {
    let expr = serde_json::to_string(expression).expect("a string serializes");
    format!(
        r#"{{"metadata":{{"name":"{name}"}},"spec":{{"selectors":[{{"cel":{{"expression":{expr}}}}}]}}}}"#
    )
}

/// The two classes the drivers above come with.
pub fn gpu_and_nic_classes() -> [String; 2] {
    [
        class_json("gpu.example.com", "device.driver == 'gpu.example.com'"),
        class_json("nic.example.com", "device.driver == 'nic.example.com'"),
    ]
}

pub fn claim_json(ns: &str, name: &str, requests: &str, constraints: &str, status: &str) -> String {
    format!(
        r#"{{"metadata":{{"namespace":"{ns}","name":"{name}","uid":"uid-{ns}-{name}"}},
            "spec":{{"devices":{{"requests":{requests},"constraints":{constraints}}}}},
            "status":{status}}}"#
    )
}

/// `gpus` GPUs and one RDMA NIC, all on one PCIe root.
pub fn aligned_claim(ns: &str, name: &str, gpus: u32) -> String {
    claim_json(
        ns,
        name,
        &format!(
            r#"[{{"name":"gpu","exactly":{{"deviceClassName":"gpu.example.com","count":{gpus}}}}},
                {{"name":"nic","exactly":{{"deviceClassName":"nic.example.com",
                   "selectors":[{{"cel":{{"expression":"device.attributes['nic.example.com'].rdma"}}}}]}}}}]"#
        ),
        r#"[{"matchAttribute":"resource.kubernetes.io/pcieRoot"}]"#,
        "{}",
    )
}
