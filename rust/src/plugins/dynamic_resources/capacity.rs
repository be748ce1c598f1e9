//! Consumable capacity (DRAConsumableCapacity, beta and on in 1.36): what a request takes from
//! each capacity of a device, rounded up to the device's request policy, and whether that fits
//! next to what other shares already consume. Mirrors kube's `CmpRequestOverCapacity`.

use crate::state::dra::device::{Capacity, Device, QualifiedName, RequestPolicy};

fn round_up(requested: i64, c: &Capacity) -> i64 {
    let Some(p) = &c.policy else { return requested };
    if let Some(r) = &p.valid_range {
        if requested < r.min {
            return r.min;
        }
        return match r.step {
            Some(step) if step > 0 => {
                let added = requested - r.min;
                let n = added / step + i64::from(added % step != 0);
                r.min.saturating_add(step.saturating_mul(n))
            }
            _ => requested,
        };
    }
    p.valid_values
        .iter()
        .copied()
        .find(|v| requested <= *v)
        .unwrap_or(requested)
}

fn violates(consumed: i64, p: &RequestPolicy) -> bool {
    if p.default == Some(consumed) {
        return false;
    }
    if let Some(r) = &p.valid_range {
        if r.max.is_some_and(|m| consumed > m) {
            return true;
        }
        return matches!(r.step, Some(step) if step > 0 && (consumed - r.min) % step != 0);
    }
    !p.valid_values.is_empty() && !p.valid_values.contains(&consumed)
}

/// What the request consumes from each of the device's capacities (in the device's order), or
/// `None` when the device cannot serve it: a requested capacity the device lacks, a policy
/// violated, or more than is left after `already(index)`.
pub fn consumption(
    requests: &[(QualifiedName, i64)],
    device: &Device,
    already: impl Fn(usize) -> i64,
) -> Option<Vec<i64>> {
    if requests
        .iter()
        .any(|(n, _)| device.capacity_named(*n).is_none())
    {
        return None;
    }
    let mut out = Vec::with_capacity(device.capacity.len());
    for (i, c) in device.capacity.iter().enumerate() {
        let requested = requests
            .iter()
            .find(|(n, _)| device.capacity_named(*n) == Some(c))
            .map(|(_, v)| *v);
        let consumed = match requested {
            Some(r) => round_up(r, c),
            None => c.policy.as_ref().and_then(|p| p.default).unwrap_or(c.value),
        };
        if c.policy.as_ref().is_some_and(|p| violates(consumed, p)) {
            return None;
        }
        if already(i).saturating_add(consumed) > c.value {
            return None;
        }
        out.push(consumed);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::sym;
    use crate::state::dra::device::{DeviceKey, NodeScope, ValidRange};

    fn nic(policy: Option<RequestPolicy>) -> Device {
        Device {
            key: DeviceKey::new("nic", "p", "nic-0"),
            kind: crate::state::dra::device::UNIQUE_KIND,
            attributes: Box::default(),
            capacity: vec![Capacity {
                domain: sym("nic"),
                id: sym("bandwidth"),
                value: 100_000,
                policy,
            }]
            .into(),
            consumes_counters: Box::default(),
            taints: Box::default(),
            allow_multiple_allocations: true,
            has_binding_conditions: false,
            scope: NodeScope::All,
        }
    }

    #[test]
    fn requests_round_up_to_the_policy_and_must_fit() {
        let bw = QualifiedName::parse("bandwidth");
        let step = Some(RequestPolicy {
            default: Some(10_000),
            valid_values: Box::default(),
            valid_range: Some(ValidRange {
                min: 10_000,
                max: Some(50_000),
                step: Some(10_000),
            }),
        });
        assert_eq!(
            consumption(&[(bw, 15_000)], &nic(step.clone()), |_| 0),
            Some(vec![20_000])
        );
        assert_eq!(
            consumption(&[], &nic(step.clone()), |_| 0),
            Some(vec![10_000]),
            "default"
        );
        assert_eq!(
            consumption(&[(bw, 60_000)], &nic(step.clone()), |_| 0),
            None,
            "over max"
        );
        assert_eq!(
            consumption(&[(bw, 20_000)], &nic(step.clone()), |_| 90_000),
            None,
            "full"
        );
        assert_eq!(
            consumption(&[], &nic(None), |_| 0),
            Some(vec![100_000]),
            "whole device"
        );
        assert_eq!(
            consumption(&[(QualifiedName::parse("other"), 1)], &nic(None), |_| 0),
            None,
            "unknown capacity"
        );
        let values = Some(RequestPolicy {
            default: None,
            valid_values: vec![25_000, 50_000].into(),
            valid_range: None,
        });
        assert_eq!(
            consumption(&[(bw, 30_000)], &nic(values.clone()), |_| 0),
            Some(vec![50_000])
        );
        assert_eq!(consumption(&[(bw, 70_000)], &nic(values), |_| 0), None);
    }
}
