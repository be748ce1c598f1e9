//! What the resource scorers compare: a node's allocatable and what would be requested on it
//! with the pod added (kube's `calculateResourceAllocatableRequest`), including extended
//! resources DRA serves on a node without a device plugin (`DraScoring`).

use std::sync::{Arc, Mutex};

use crate::error::{CoreError, CoreResult};
use crate::intern::Sym;
use crate::plugins::dynamic_resources::matcher::{Matcher, Matchers};
use crate::state::dra::Dra;
use crate::state::dra::class::DeviceClass;
use crate::state::dra::ledger::InUse;
use crate::state::dra::pools::{DevId, Inventory};
use crate::state::node::NodeRecord;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::resources::ResourceName;

/// Which devices of the inventory count for a class: its selectors' verdicts.
enum ClassDevices {
    /// No selectors: every device (kube counts them without evaluating anything).
    Every,
    Selected(Arc<Matcher>),
    /// A selector does not compile: kube logs the error and leaves the resource unscored.
    Unreadable,
}

/// kube's `draPreScoreState` for the resource scorers: the extended resources scored for the
/// pod that a DeviceClass serves, and what counting them on a node reads (the inventory and
/// the devices allocated, podium's assumed allocations included, as kube's in-flight claims
/// are).
///
/// kube counts the devices of every ResourceSlice it has; podium counts those of each pool's
/// newest complete generation (the devices an allocation may use), so a pool being republished
/// is not counted twice.
pub struct DraScoring {
    inv: Arc<Inventory>,
    in_use: Arc<InUse>,
    resources: Vec<(Sym, ClassDevices)>,
}

impl DraScoring {
    /// None when none of `scored` is an extended resource the pod asks that a DeviceClass
    /// serves (the pod is then scored as before, at no cost).
    pub fn prepare(
        dra: &Dra,
        matchers: &DraMatchers,
        scored: &[(ResourceName, i64)],
        pod: &PodRecord,
    ) -> Option<Self> {
        let asked = scored.iter().filter_map(|&(r, _)| match r {
            ResourceName::Scalar(s) if pod.requests.scalar(s) > 0 => Some(s),
            _ => None,
        });
        let mut asked = asked.peekable();
        asked.peek()?;
        let ext = dra.extended_resources();
        if ext.is_empty() {
            return None;
        }
        let served: Vec<(Sym, &Arc<DeviceClass>)> = asked
            .filter_map(|resource| Some((resource, dra.class(ext.class(resource)?)?)))
            .collect();
        if served.is_empty() {
            return None;
        }
        let inv = dra.inventory();
        let matchers = matchers.for_inventory(&inv, dra.epoch());
        let resources = served
            .into_iter()
            .map(|(resource, class)| {
                let devices = if class.selectors.is_empty() {
                    ClassDevices::Every
                } else {
                    matchers
                        .get(&inv, class, &[])
                        .map_or(ClassDevices::Unreadable, ClassDevices::Selected)
                };
                (resource, devices)
            })
            .collect();
        Some(Self {
            in_use: dra.in_use(),
            inv,
            resources,
        })
    }

    /// Network-attached devices (`allNodes`, a node selector) are counted on every node they
    /// serve, so a placement on one node changes the counts on others.
    pub fn node_local(&self) -> bool {
        !self.inv.has_shared()
    }

    /// kube's `calculateDRAResourceTotals`: the devices of the class serving `resource` that
    /// `node` can use, and how many of them a claim holds (dedicated or shared; adminAccess
    /// holds none). None: no class serves it, or a selector fails on a device.
    fn totals(&self, resource: Sym, node: &NodeRecord) -> Option<(i64, i64)> {
        let (_, class) = self.resources.iter().find(|(r, _)| *r == resource)?;
        let all;
        let devices: &[DevId] = if self.inv.has_shared() {
            all = self.inv.node_devices(node.name, &node.labels);
            &all
        } else {
            self.inv.local_devices(node.name)
        };
        let (mut total, mut allocated) = (0, 0);
        for &dev in devices {
            let counts = match class {
                ClassDevices::Every => true,
                ClassDevices::Selected(m) => m.check(&self.inv, dev).ok()?,
                ClassDevices::Unreadable => return None,
            };
            if counts {
                total += 1;
                if self.in_use.dedicated(dev) || self.in_use.shared(dev) {
                    allocated += 1;
                }
            }
        }
        Some((total, allocated))
    }
}

/// Class selector verdicts per device, kept while the inventory (classes and slices) stands,
/// so CEL runs once per device and class, not once per pod.
#[derive(Default)]
pub struct DraMatchers {
    current: Mutex<Option<KeptMatchers>>,
}

/// The inventory and the classes' epoch the verdicts were made on, and the verdicts.
type KeptMatchers = (Arc<Inventory>, u64, Arc<Matchers>);

impl DraMatchers {
    /// The verdicts on `inv` with the classes of `epoch` (`Dra::epoch`: a class changes no
    /// device, but the verdicts read its selectors).
    fn for_inventory(&self, inv: &Arc<Inventory>, epoch: u64) -> Arc<Matchers> {
        let mut guard = self.current.lock().unwrap_or_else(|p| p.into_inner());
        match &*guard {
            Some((held, e, m)) if *e == epoch && Arc::ptr_eq(held, inv) => m.clone(),
            _ => {
                let m = Arc::new(Matchers::default());
                *guard = Some((inv.clone(), epoch, m.clone()));
                m
            }
        }
    }
}

/// (allocatable, requested including the pod); (0, 0) means "do not score this resource".
///
/// `use_requested` false reads the scoring defaults (100m / 200Mi for containers that omit
/// cpu or memory) for cpu and memory, as NodeResourcesFit scoring does. `dra`: on a node with
/// none of an extended resource in its allocatable, the devices DRA serves it with are its
/// allocatable, and those allocated plus the pod's request what is requested.
pub fn allocatable_and_requested(
    node: &NodeInfo,
    pod: &PodRecord,
    resource: ResourceName,
    use_requested: bool,
    dra: Option<&DraScoring>,
) -> (i64, i64) {
    let Some(n) = &node.node else {
        return (0, 0);
    };
    let (node_requested, pod_requests) = if use_requested {
        (&node.requested, &pod.requests)
    } else {
        (&node.non_zero_requested, &pod.non_zero_requests)
    };
    let pod_request = pod_requests.get(resource);
    let alloc = &n.allocatable;
    match resource {
        ResourceName::Cpu => (
            alloc.milli_cpu,
            node_requested.milli_cpu.wrapping_add(pod_request),
        ),
        ResourceName::Memory => (
            alloc.memory,
            node_requested.memory.wrapping_add(pod_request),
        ),
        ResourceName::EphemeralStorage => (
            alloc.ephemeral_storage,
            node.requested.ephemeral_storage.wrapping_add(pod_request),
        ),
        // An extended resource the pod does not ask for is not scored.
        ResourceName::Scalar(_) if pod_request == 0 => (0, 0),
        ResourceName::Scalar(s) if alloc.scalar(s) == 0 && dra.is_some() => {
            match dra.and_then(|d| d.totals(s, n)) {
                Some((devices, allocated)) if devices > 0 => {
                    (devices, allocated.wrapping_add(pod_request))
                }
                // No device here either: what a device plugin lists (0) is not scored.
                _ => (0, 0),
            }
        }
        ResourceName::Scalar(s) if alloc.has_scalar(s) => (
            alloc.scalar(s),
            node.requested.scalar(s).wrapping_add(pod_request),
        ),
        ResourceName::Scalar(_) | ResourceName::Pods => (0, 0),
    }
}

/// The weighted resources a scorer reads, from the profile's `[{name, weight}]`.
pub fn weighted_resources(
    list: Option<&[crate::framework::spec::ResourceWeight]>,
) -> CoreResult<Vec<(ResourceName, i64)>> {
    let Some(list) = list.filter(|l| !l.is_empty()) else {
        return Ok(vec![(ResourceName::Cpu, 1), (ResourceName::Memory, 1)]);
    };
    list.iter()
        .enumerate()
        .map(|(i, r)| {
            if r.name.is_empty() {
                return Err(CoreError::Invalid(format!(
                    "resources[{i}].name: must not be empty"
                )));
            }
            if !(1..=100).contains(&r.weight) {
                return Err(CoreError::Invalid(format!(
                    "resources[{i}].weight: {} is not in 1..100",
                    r.weight
                )));
            }
            Ok((ResourceName::parse(&r.name), r.weight))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CoreError;
    use crate::intern::sym;
    use crate::state::dra::claim::Claim;
    use crate::state::dra::class::DeviceClass;
    use crate::state::dra::fixtures::{claim_json, gpu_node_slice, nic_node_slice};
    use crate::state::dra::slice::Slice;
    use crate::testutil::{node, pod};

    const GPU: &str = "nvidia.com/gpu";
    const IMPLICIT: &str = "deviceclass.resource.kubernetes.io/gpu.example.com";

    /// The GPU class, serving `nvidia.com/gpu`, with `selectors` (JSON array).
    fn gpu_class(selectors: &str) -> String {
        format!(
            r#"{{"metadata":{{"name":"gpu.example.com"}},
                "spec":{{"selectors":{selectors},"extendedResourceName":"{GPU}"}}}}"#
        )
    }

    fn world(class: &str, slices: &[String]) -> Dra {
        let mut dra = Dra::default();
        dra.upsert_class(
            "gpu.example.com",
            DeviceClass::decode(class).map_err(CoreError::from),
        );
        for (i, s) in slices.iter().enumerate() {
            dra.upsert_slice(&format!("s{i}"), Slice::decode(s).map_err(CoreError::from));
        }
        dra
    }

    /// A claim holding `device` of node `n`'s GPU pool, as `extra` (JSON fields) says.
    fn hold(dra: &mut Dra, name: &str, device: &str, extra: &str) {
        let status = format!(
            r#"{{"allocation":{{"devices":{{"results":[{{"request":"gpu",
                "driver":"gpu.example.com","pool":"n","device":"{device}"{extra}}}]}}}}}}"#
        );
        let json = claim_json(
            "ns",
            name,
            r#"[{"name":"gpu","exactly":{"deviceClassName":"gpu.example.com"}}]"#,
            "[]",
            &status,
        );
        dra.upsert_claim("ns", name, Claim::decode(&json).map_err(CoreError::from));
    }

    fn asking(resource: &str, count: i64) -> PodRecord {
        let mut p = pod("p");
        p.requests.set(ResourceName::Scalar(sym(resource)), count);
        p.non_zero_requests = p.requests.clone();
        p
    }

    /// What the scorer compares for `resource` on node `n` (no device plugin).
    fn counted(dra: &Dra, resource: &str, p: &PodRecord) -> (i64, i64) {
        let r = ResourceName::Scalar(sym(resource));
        let scoring = DraScoring::prepare(dra, &DraMatchers::default(), &[(r, 1)], p);
        let info = node("n", 1000, 1000).build();
        allocatable_and_requested(&info, p, r, false, scoring.as_ref())
    }

    #[test]
    fn the_class_devices_on_the_node_are_its_allocatable() {
        let dra = world(&gpu_class("[]"), &[gpu_node_slice("n", 2, 1)]);
        assert_eq!(counted(&dra, GPU, &asking(GPU, 1)), (2, 1));
        assert_eq!(
            counted(&dra, IMPLICIT, &asking(IMPLICIT, 2)),
            (2, 2),
            "the class's implicit name"
        );
        assert_eq!(
            counted(&dra, GPU, &asking("example.com/other", 1)),
            (0, 0),
            "the pod does not ask it"
        );
        let elsewhere = world(&gpu_class("[]"), &[gpu_node_slice("m", 2, 1)]);
        assert_eq!(
            counted(&elsewhere, GPU, &asking(GPU, 1)),
            (0, 0),
            "no slice"
        );
    }

    #[test]
    fn allocated_devices_are_requested_whether_dedicated_or_shared() {
        let mut dra = world(&gpu_class("[]"), &[gpu_node_slice("n", 4, 1)]);
        hold(&mut dra, "a", "gpu-0", "");
        assert_eq!(counted(&dra, GPU, &asking(GPU, 1)), (4, 2));
        hold(
            &mut dra,
            "b",
            "gpu-1",
            r#","shareID":"11111111-2222-3333-4444-555555555555""#,
        );
        assert_eq!(counted(&dra, GPU, &asking(GPU, 1)), (4, 3));
        // adminAccess holds no device (kube leaves such allocations out of its state).
        hold(&mut dra, "c", "gpu-2", r#","adminAccess":true"#);
        assert_eq!(counted(&dra, GPU, &asking(GPU, 1)), (4, 3));
    }

    #[test]
    fn only_devices_the_class_selects_count_and_a_failing_selector_scores_nothing() {
        let slices = [gpu_node_slice("n", 8, 4), nic_node_slice("n", 4)];
        let every = world(&gpu_class("[]"), &slices);
        assert_eq!(counted(&every, GPU, &asking(GPU, 1)), (12, 1));
        let gpus = world(
            &gpu_class(
                r#"[{"cel":{"expression":"device.driver == 'gpu.example.com' && device.attributes['gpu.example.com'].index < 6"}}]"#,
            ),
            &slices,
        );
        assert_eq!(counted(&gpus, GPU, &asking(GPU, 1)), (6, 1));
        // NICs have no `index`: the expression fails on them, and kube then leaves the
        // resource out of the score on that node.
        let failing = world(
            &gpu_class(
                r#"[{"cel":{"expression":"device.attributes['gpu.example.com'].index >= 0"}}]"#,
            ),
            &slices,
        );
        assert_eq!(counted(&failing, GPU, &asking(GPU, 1)), (0, 0));
        let unreadable = world(
            &gpu_class(r#"[{"cel":{"expression":"device.("}}]"#),
            &slices,
        );
        assert_eq!(counted(&unreadable, GPU, &asking(GPU, 1)), (0, 0));
    }

    #[test]
    fn a_device_plugin_resource_is_counted_against_allocatable() {
        let dra = world(&gpu_class("[]"), &[gpu_node_slice("n", 2, 1)]);
        let p = asking(GPU, 1);
        let r = ResourceName::Scalar(sym(GPU));
        let scoring = DraScoring::prepare(&dra, &DraMatchers::default(), &[(r, 1)], &p);
        let mut n = node("n", 1000, 1000);
        n.record.allocatable.set(r, 4);
        let info = n.build();
        assert_eq!(
            allocatable_and_requested(&info, &p, r, false, scoring.as_ref()),
            (4, 1)
        );
    }

    #[test]
    fn network_attached_devices_count_on_every_node_they_serve() {
        let shared = r#"{"metadata":{"name":"fabric"},"spec":{"driver":"gpu.example.com",
            "pool":{"name":"fabric","generation":1,"resourceSliceCount":1},"allNodes":true,
            "devices":[{"name":"f-0"},{"name":"f-1"},{"name":"f-2"}]}}"#;
        let dra = world(
            &gpu_class("[]"),
            &[shared.to_owned(), gpu_node_slice("n", 2, 1)],
        );
        let p = asking(GPU, 1);
        let r = ResourceName::Scalar(sym(GPU));
        let scoring = DraScoring::prepare(&dra, &DraMatchers::default(), &[(r, 1)], &p).unwrap();
        assert!(!scoring.node_local());
        assert_eq!(counted(&dra, GPU, &p), (5, 1));
        let other = node("m", 1000, 1000).build();
        assert_eq!(
            allocatable_and_requested(&other, &p, r, false, Some(&scoring)),
            (3, 1)
        );
    }

    #[test]
    fn nothing_is_prepared_for_pods_or_profiles_without_dra_backed_resources() {
        let dra = world(&gpu_class("[]"), &[gpu_node_slice("n", 2, 1)]);
        let m = DraMatchers::default();
        let cpu_mem = [(ResourceName::Cpu, 1), (ResourceName::Memory, 1)];
        assert!(DraScoring::prepare(&dra, &m, &cpu_mem, &asking(GPU, 1)).is_none());
        let gpu = [(ResourceName::Scalar(sym(GPU)), 1)];
        assert!(DraScoring::prepare(&dra, &m, &gpu, &pod("p")).is_none());
        let fpga = [(ResourceName::Scalar(sym("example.com/fpga")), 1)];
        assert!(DraScoring::prepare(&dra, &m, &fpga, &asking("example.com/fpga", 1)).is_none());
        assert!(DraScoring::prepare(Dra::none(), &m, &gpu, &asking(GPU, 1)).is_none());
    }
}
