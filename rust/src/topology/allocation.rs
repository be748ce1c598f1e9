//! The zones a pod was given, and the `podium.dev/allocation` annotation that records them.
//!
//! podium writes the annotation on bind and reads it back from bound pods at restart, so that
//! its allocations count per zone until the NRT objects reflect them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::TopologyError;
use super::request::NumaPolicy;
use crate::bounded::{self, quoted, shown};
use crate::error::{CoreError, CoreResult};

/// Pod annotation carrying the allocation as JSON.
pub const ALLOCATION_ANNOTATION: &str = "podium.dev/allocation";

/// What a pod gets from one NUMA zone. Amounts are in the crate's units (cpu in millicores).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneAllocation {
    pub zone: String,
    /// The switch below the zone that holds all of this zone's share of switch-level devices,
    /// when there is one.
    pub switch: Option<String>,
    pub resources: BTreeMap<String, i64>,
}

/// A pod's placement on a node's zones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    pub policy: NumaPolicy,
    /// Empty when the pod asks for nothing the node's topology manages.
    pub zones: Vec<ZoneAllocation>,
    /// Everything aligned sits in one zone.
    pub numa_aligned: bool,
    /// Inter-zone cost of the spread (0 for one zone).
    pub cost: i64,
}

impl Allocation {
    pub fn amount(&self, zone: &str, resource: &str) -> i64 {
        self.zones
            .iter()
            .filter(|z| z.zone == zone)
            .filter_map(|z| z.resources.get(resource))
            .sum()
    }

    /// The annotation value. cpu is written in whole cores (exclusive CPUs are whole cores),
    /// everything else in the units placement uses.
    pub fn to_annotation(&self) -> String {
        let wire = WireAllocation {
            policy: self.policy.as_str().to_string(),
            zones: self
                .zones
                .iter()
                .map(|zone| WireZone {
                    zone: zone.zone.clone(),
                    switch: zone.switch.clone(),
                    resources: zone
                        .resources
                        .iter()
                        .map(|(name, &amount)| (name.clone(), to_wire_amount(name, amount)))
                        .collect(),
                })
                .collect(),
        };
        serde_json::to_string(&wire).expect("an allocation always serialises")
    }

    /// Reads back an annotation value; `pod` (`namespace/name`) names the pod in errors.
    pub fn from_annotation(pod: &str, text: &str) -> Result<Self, TopologyError> {
        let err = |detail: String| TopologyError::annotation(pod, ALLOCATION_ANNOTATION, detail);
        let wire: WireAllocation = serde_json::from_str(text).map_err(|e| {
            err(format!(
                "invalid JSON: {}",
                bounded::message(&e.to_string())
            ))
        })?;
        let policy = NumaPolicy::parse(&wire.policy)
            .ok_or_else(|| err(format!("policy: unknown policy {}", quoted(&wire.policy))))?;
        let mut zones = Vec::with_capacity(wire.zones.len());
        for (i, zone) in wire.zones.into_iter().enumerate() {
            if zone.zone.is_empty() {
                return Err(err(format!("zones[{i}].zone: empty")));
            }
            if zones.iter().any(|z: &ZoneAllocation| z.zone == zone.zone) {
                return Err(err(format!(
                    "zones[{i}].zone: duplicate zone {}",
                    quoted(&zone.zone)
                )));
            }
            let mut resources = BTreeMap::new();
            for (name, amount) in zone.resources {
                let internal = from_wire_amount(&name, amount).ok_or_else(|| {
                    err(format!(
                        "zones[{i}].resources.{}: invalid amount {amount}",
                        shown(&name)
                    ))
                })?;
                resources.insert(name, internal);
            }
            zones.push(ZoneAllocation {
                zone: zone.zone,
                switch: zone.switch,
                resources,
            });
        }
        Ok(Self {
            policy,
            numa_aligned: zones.len() <= 1,
            cost: 0,
            zones,
        })
    }

    /// Whether the zones add up, resource by resource, to what the pod requests (`requested`,
    /// in the crate's units). podium writes exactly the pod's requests, split over zones, so
    /// any other total was not written by podium for this pod: trusting it would count a
    /// 1-GPU pod as holding a zone's every GPU, or none. Err names the first resource that
    /// differs.
    pub fn check_totals(&self, requested: impl Fn(&str) -> i64) -> CoreResult<()> {
        let mut totals: BTreeMap<&str, Option<i64>> = BTreeMap::new();
        for zone in &self.zones {
            for (name, &amount) in &zone.resources {
                let total = totals.entry(name).or_insert(Some(0));
                *total = total.and_then(|t| t.checked_add(amount));
            }
        }
        for (name, total) in totals {
            let wanted = requested(name);
            if total != Some(wanted) {
                let held = total.map_or_else(|| "more than 2^63".to_owned(), |t| t.to_string());
                return Err(CoreError::Invalid(format!(
                    "the zones hold {held} {} in all, the pod requests {wanted}",
                    shown(name)
                )));
            }
        }
        Ok(())
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireAllocation {
    policy: String,
    zones: Vec<WireZone>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireZone {
    zone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    switch: Option<String>,
    resources: BTreeMap<String, i64>,
}

fn to_wire_amount(resource: &str, amount: i64) -> i64 {
    if resource == "cpu" {
        (amount + 999) / 1000
    } else {
        amount
    }
}

fn from_wire_amount(resource: &str, amount: i64) -> Option<i64> {
    if amount < 0 {
        return None;
    }
    if resource == "cpu" {
        amount.checked_mul(1000)
    } else {
        Some(amount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Allocation {
        let zone = |name: &str, switch: Option<&str>, resources: &[(&str, i64)]| ZoneAllocation {
            zone: name.to_string(),
            switch: switch.map(str::to_string),
            resources: resources.iter().map(|&(n, a)| (n.to_string(), a)).collect(),
        };
        Allocation {
            policy: NumaPolicy::Prefer,
            zones: vec![
                zone(
                    "node-0",
                    Some("pci-0"),
                    &[("nvidia.com/gpu", 4), ("rdma/hca", 1), ("cpu", 8000)],
                ),
                zone("node-1", None, &[("nvidia.com/gpu", 2)]),
            ],
            numa_aligned: false,
            cost: 0,
        }
    }

    #[test]
    fn writes_the_documented_form() {
        let single = Allocation {
            policy: NumaPolicy::Single,
            zones: vec![ZoneAllocation {
                zone: "node-0".into(),
                switch: None,
                resources: [
                    ("nvidia.com/gpu".to_string(), 4),
                    ("rdma/hca".to_string(), 1),
                ]
                .into(),
            }],
            numa_aligned: true,
            cost: 0,
        };
        assert_eq!(
            single.to_annotation(),
            r#"{"policy":"single","zones":[{"zone":"node-0","resources":{"nvidia.com/gpu":4,"rdma/hca":1}}]}"#
        );
    }

    #[test]
    fn totals_must_be_the_pods_requests() {
        let allocation = sample();
        let requests: BTreeMap<&str, i64> = [
            ("nvidia.com/gpu", 6),
            ("rdma/hca", 1),
            ("cpu", 8000),
            ("memory", 1 << 30),
        ]
        .into();
        fn of<'a>(r: &'a BTreeMap<&str, i64>) -> impl Fn(&str) -> i64 + 'a {
            move |name| r.get(name).copied().unwrap_or(0)
        }
        assert_eq!(allocation.check_totals(of(&requests)), Ok(()));
        let mut fewer = requests.clone();
        fewer.insert("nvidia.com/gpu", 1);
        assert_eq!(
            allocation.check_totals(of(&fewer)),
            Err(CoreError::Invalid(
                "the zones hold 6 nvidia.com/gpu in all, the pod requests 1".into()
            ))
        );
        let mut no_nic = requests.clone();
        no_nic.remove("rdma/hca");
        assert_eq!(
            allocation.check_totals(of(&no_nic)),
            Err(CoreError::Invalid(
                "the zones hold 1 rdma/hca in all, the pod requests 0".into()
            ))
        );
        let text = r#"{"policy":"prefer","zones":[
            {"zone":"a","resources":{"nvidia.com/gpu":9223372036854775807}},
            {"zone":"b","resources":{"nvidia.com/gpu":1}}]}"#;
        let huge = Allocation::from_annotation("ns/p", text).expect("well-formed");
        assert_eq!(
            huge.check_totals(|_| 1),
            Err(CoreError::Invalid(
                "the zones hold more than 2^63 nvidia.com/gpu in all, the pod requests 1".into()
            ))
        );
    }

    #[test]
    fn round_trips_with_cpu_in_cores() {
        let allocation = sample();
        let text = allocation.to_annotation();
        assert!(text.contains(r#""cpu":8"#), "{text}");
        assert!(text.contains(r#""switch":"pci-0""#), "{text}");
        assert_eq!(Allocation::from_annotation("ns/p", &text), Ok(allocation));
    }

    #[test]
    fn rejects_malformed_annotations_naming_pod_and_annotation() {
        let cases = [
            ("not json", "invalid JSON"),
            (
                r#"{"policy":"tight","zones":[]}"#,
                "policy: unknown policy \"tight\"",
            ),
            (
                r#"{"policy":"single","zones":[{"zone":"","resources":{}}]}"#,
                "zones[0].zone: empty",
            ),
            (
                r#"{"policy":"single","zones":[{"zone":"a","resources":{"nvidia.com/gpu":-1}}]}"#,
                "zones[0].resources.nvidia.com/gpu: invalid amount -1",
            ),
            (
                r#"{"policy":"single","zones":[{"zone":"a","resources":{}},{"zone":"a","resources":{}}]}"#,
                "zones[1].zone: duplicate zone \"a\"",
            ),
            (
                r#"{"policy":"single","zones":[],"extra":1}"#,
                "unknown field",
            ),
        ];
        for (text, expected) in cases {
            let err = Allocation::from_annotation("team/job-0", text).unwrap_err();
            assert!(
                err.message()
                    .starts_with("Pod team/job-0: annotation podium.dev/allocation: "),
                "{err}"
            );
            assert!(
                err.message().contains(expected),
                "{err} should mention {expected}"
            );
        }
    }
}
