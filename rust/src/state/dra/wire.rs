//! The `resource.k8s.io/v1` objects as the apiserver writes them, only the fields allocation
//! reads: DeviceClass, ResourceSlice, ResourceClaim. Decoded once into the compact records of
//! `device.rs`, `class.rs` and `claim.rs`; nothing else in the plugin sees JSON.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::state::wire::NodeSelectorWire;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct MetaWire {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub uid: String,
    pub creation_timestamp: Option<String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub owner_references: Vec<OwnerReferenceWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerReferenceWire {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub uid: String,
    #[serde(default)]
    pub controller: Option<bool>,
}

// --- DeviceClass ---------------------------------------------------------------------------

#[derive(Deserialize)]
pub struct DeviceClassWire<'a> {
    #[serde(default)]
    pub metadata: MetaWire,
    #[serde(borrow, default)]
    pub spec: DeviceClassSpecWire<'a>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct DeviceClassSpecWire<'a> {
    #[serde(default)]
    pub selectors: Vec<DeviceSelectorWire>,
    pub extended_resource_name: Option<String>,
    #[serde(borrow, default)]
    pub config: Vec<&'a serde_json::value::RawValue>,
}

#[derive(Deserialize)]
pub struct DeviceSelectorWire {
    pub cel: Option<CelSelectorWire>,
}

#[derive(Deserialize)]
pub struct CelSelectorWire {
    pub expression: String,
}

// --- ResourceSlice -------------------------------------------------------------------------

#[derive(Deserialize)]
pub struct ResourceSliceWire<'a> {
    #[serde(default)]
    pub metadata: MetaWire,
    #[serde(borrow)]
    pub spec: ResourceSliceSpecWire<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSliceSpecWire<'a> {
    pub driver: String,
    pub pool: PoolWire,
    pub node_name: Option<String>,
    #[serde(borrow)]
    pub node_selector: Option<NodeSelectorWire<'a>>,
    pub all_nodes: Option<bool>,
    pub per_device_node_selection: Option<bool>,
    #[serde(borrow, default)]
    pub devices: Vec<DeviceWire<'a>>,
    #[serde(default)]
    pub shared_counters: Vec<CounterSetWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolWire {
    pub name: String,
    #[serde(default)]
    pub generation: i64,
    #[serde(default)]
    pub resource_slice_count: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceWire<'a> {
    pub name: String,
    #[serde(default)]
    pub attributes: BTreeMap<String, AttributeWire>,
    #[serde(default)]
    pub capacity: BTreeMap<String, CapacityWire>,
    #[serde(default)]
    pub consumes_counters: Vec<CounterConsumptionWire>,
    pub node_name: Option<String>,
    #[serde(borrow)]
    pub node_selector: Option<NodeSelectorWire<'a>>,
    pub all_nodes: Option<bool>,
    #[serde(default)]
    pub taints: Vec<DeviceTaintWire>,
    pub binds_to_node: Option<bool>,
    #[serde(default)]
    pub binding_conditions: Vec<String>,
    pub allow_multiple_allocations: Option<bool>,
}

#[derive(Deserialize, Default)]
pub struct AttributeWire {
    pub int: Option<i64>,
    pub bool: Option<bool>,
    pub string: Option<String>,
    pub version: Option<String>,
    /// List-typed attributes (DRAListTypeAttributes, alpha and off in 1.36): decoded to refuse
    /// them by name rather than mistake them for an empty value.
    pub ints: Option<Vec<i64>>,
    pub bools: Option<Vec<bool>>,
    pub strings: Option<Vec<String>>,
    pub versions: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapacityWire {
    pub value: String,
    pub request_policy: Option<RequestPolicyWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestPolicyWire {
    pub default: Option<String>,
    #[serde(default)]
    pub valid_values: Vec<String>,
    pub valid_range: Option<RangeWire>,
}

#[derive(Deserialize)]
pub struct RangeWire {
    pub min: Option<String>,
    pub max: Option<String>,
    pub step: Option<String>,
}

#[derive(Deserialize)]
pub struct CounterSetWire {
    pub name: String,
    #[serde(default)]
    pub counters: BTreeMap<String, CounterWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CounterConsumptionWire {
    pub counter_set: String,
    #[serde(default)]
    pub counters: BTreeMap<String, CounterWire>,
}

#[derive(Deserialize)]
pub struct CounterWire {
    pub value: String,
}

#[derive(Deserialize)]
pub struct DeviceTaintWire {
    pub key: String,
    #[serde(default)]
    pub value: String,
    #[serde(default)]
    pub effect: String,
}

// --- ResourceClaim -------------------------------------------------------------------------

#[derive(Deserialize)]
pub struct ResourceClaimWire<'a> {
    #[serde(default)]
    pub metadata: MetaWire,
    #[serde(default)]
    pub spec: ClaimSpecWire,
    #[serde(borrow, default)]
    pub status: ClaimStatusWire<'a>,
}

#[derive(Deserialize, Default)]
pub struct ClaimSpecWire {
    #[serde(default)]
    pub devices: DeviceClaimWire,
}

#[derive(Deserialize, Default)]
pub struct DeviceClaimWire {
    #[serde(default)]
    pub requests: Vec<DeviceRequestWire>,
    #[serde(default)]
    pub constraints: Vec<ConstraintWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceRequestWire {
    pub name: String,
    pub exactly: Option<ExactRequestWire>,
    #[serde(default)]
    pub first_available: Vec<SubRequestWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExactRequestWire {
    #[serde(default)]
    pub device_class_name: String,
    #[serde(default)]
    pub selectors: Vec<DeviceSelectorWire>,
    pub allocation_mode: Option<String>,
    pub count: Option<i64>,
    pub admin_access: Option<bool>,
    #[serde(default)]
    pub tolerations: Vec<TolerationWire>,
    pub capacity: Option<CapacityRequirementsWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubRequestWire {
    pub name: String,
    #[serde(default)]
    pub device_class_name: String,
    #[serde(default)]
    pub selectors: Vec<DeviceSelectorWire>,
    pub allocation_mode: Option<String>,
    pub count: Option<i64>,
    #[serde(default)]
    pub tolerations: Vec<TolerationWire>,
    pub capacity: Option<CapacityRequirementsWire>,
}

#[derive(Deserialize)]
pub struct CapacityRequirementsWire {
    #[serde(default)]
    pub requests: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TolerationWire {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub operator: String,
    #[serde(default)]
    pub value: String,
    #[serde(default)]
    pub effect: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConstraintWire {
    #[serde(default)]
    pub requests: Vec<String>,
    pub match_attribute: Option<String>,
    pub distinct_attribute: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ClaimStatusWire<'a> {
    #[serde(borrow)]
    pub allocation: Option<AllocationWire<'a>>,
    #[serde(default)]
    pub reserved_for: Vec<ConsumerRefWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllocationWire<'a> {
    #[serde(default)]
    pub devices: AllocatedDevicesWire,
    #[serde(borrow)]
    pub node_selector: Option<NodeSelectorWire<'a>>,
}

#[derive(Deserialize, Default)]
pub struct AllocatedDevicesWire {
    #[serde(default)]
    pub results: Vec<AllocationResultWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllocationResultWire {
    pub request: String,
    pub driver: String,
    pub pool: String,
    pub device: String,
    pub admin_access: Option<bool>,
    #[serde(rename = "shareID")]
    pub share_id: Option<String>,
    #[serde(default)]
    pub consumed_capacity: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerRefWire {
    #[serde(default)]
    pub resource: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub uid: String,
}
