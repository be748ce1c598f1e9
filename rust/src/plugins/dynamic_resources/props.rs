//! Property tests: random GPU/NIC nodes and random streams of claims, each fit assumed as
//! Reserve would; an independent checker (plain Rust, no CEL) verifies that no device is
//! handed out twice, every count, selector and constraint holds, and that a refusal is right
//! when a brute-force search over the node's free devices finds nothing either.

use std::collections::HashSet;

use proptest::prelude::*;

use super::allocator::{Outcome, Unfit, Verdict, search_unallocated};
use super::fit_cache::Caches;
use super::testing::{World, claim};
use crate::intern::{resolve, sym};
use crate::state::dra::device::{AttrValue, DeviceKey, QualifiedName};
use crate::state::dra::fixtures::{
    claim_json, gpu_and_nic_classes, gpu_node_slice, nic_node_slice,
};

#[derive(Debug, Clone)]
struct Ask {
    gpus: u32,
    /// Only GPUs whose `index` is at least this (a request selector).
    min_index: i64,
    nic: bool,
    aligned: bool,
}

fn ask() -> impl Strategy<Value = Ask> {
    (1u32..=4, 0i64..4, any::<bool>(), any::<bool>()).prop_map(|(gpus, min_index, nic, aligned)| {
        Ask {
            gpus,
            min_index,
            nic,
            aligned: nic && aligned,
        }
    })
}

fn claim_for(i: usize, a: &Ask) -> String {
    let mut requests = vec![format!(
        r#"{{"name":"gpu","exactly":{{"deviceClassName":"gpu.example.com","count":{},
            "selectors":[{{"cel":{{"expression":"device.attributes['gpu.example.com'].index >= {}"}}}}]}}}}"#,
        a.gpus, a.min_index
    )];
    if a.nic {
        requests.push(r#"{"name":"nic","exactly":{"deviceClassName":"nic.example.com"}}"#.into());
    }
    let constraints = if a.aligned {
        r#"[{"matchAttribute":"resource.kubernetes.io/pcieRoot"}]"#
    } else {
        "[]"
    };
    claim_json(
        "ns",
        &format!("c{i}"),
        &format!("[{}]", requests.join(",")),
        constraints,
        "{}",
    )
}

fn attr(w: &World, key: DeviceKey, name: &str) -> Option<AttrValue> {
    w.inv
        .device(w.inv.id(&key).unwrap())
        .attribute_named(QualifiedName::parse(name))
}

/// Whether some set of free devices satisfies `a` (brute force over subsets of the node's
/// free GPUs, then a NIC).
fn feasible(w: &World, a: &Ask, taken: &HashSet<DeviceKey>) -> bool {
    let free = |driver: &str| -> Vec<DeviceKey> {
        w.inv
            .devices()
            .map(|d| d.key)
            .filter(|k| resolve(k.driver) == driver && !taken.contains(k))
            .collect()
    };
    let gpus: Vec<DeviceKey> = free("gpu.example.com")
        .into_iter()
        .filter(|k| matches!(attr(w, *k, "index"), Some(AttrValue::Int(i)) if i >= a.min_index))
        .collect();
    let nics = free("nic.example.com");
    let root = |k: DeviceKey| attr(w, k, "resource.kubernetes.io/pcieRoot");
    let n = gpus.len();
    (0u32..(1 << n)).any(|mask| {
        if mask.count_ones() != a.gpus {
            return false;
        }
        let chosen: Vec<DeviceKey> = (0..n)
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| gpus[i])
            .collect();
        if !a.nic {
            return true;
        }
        if !a.aligned {
            return !nics.is_empty();
        }
        let r = root(chosen[0]);
        chosen.iter().all(|k| root(*k) == r) && nics.iter().any(|k| root(*k) == r)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn never_twice_and_every_constraint_holds(
        gpus in 1usize..=8,
        roots in 1usize..=4,
        nics in 0usize..=4,
        asks in proptest::collection::vec(ask(), 1..12),
    ) {
        let mut slices = vec![gpu_node_slice("n", gpus, roots)];
        if nics > 0 {
            slices.push(nic_node_slice("n", nics));
        }
        let mut w = World::new(&slices, &gpu_and_nic_classes());
        let mut taken: HashSet<DeviceKey> = HashSet::new();
        for (i, a) in asks.iter().enumerate() {
            let pod = w.prepare(&[claim(&claim_for(i, a))]).unwrap();
            match w.allocate(&pod, "n").unwrap() {
                Verdict::Fit(f) => {
                    let devices = &f.claims[0].devices;
                    let gpu_devs: Vec<_> = devices.iter().filter(|d| resolve(d.request) == "gpu").collect();
                    let nic_devs: Vec<_> = devices.iter().filter(|d| resolve(d.request) == "nic").collect();
                    prop_assert_eq!(gpu_devs.len() as u32, a.gpus);
                    prop_assert_eq!(nic_devs.len(), usize::from(a.nic));
                    for d in devices {
                        prop_assert!(taken.insert(d.key), "{} handed out twice", d.key);
                    }
                    for d in &gpu_devs {
                        prop_assert_eq!(resolve(d.key.driver), "gpu.example.com");
                        let idx = attr(&w, d.key, "index");
                        prop_assert!(matches!(idx, Some(AttrValue::Int(i)) if i >= a.min_index));
                    }
                    for d in &nic_devs {
                        prop_assert_eq!(resolve(d.key.driver), "nic.example.com");
                    }
                    if a.aligned {
                        let r = attr(&w, devices[0].key, "resource.kubernetes.io/pcieRoot");
                        for d in devices {
                            prop_assert_eq!(attr(&w, d.key, "resource.kubernetes.io/pcieRoot"), r);
                        }
                    }
                    w.assume(&f);
                }
                Verdict::Unfit(u) => {
                    prop_assert_eq!(u, Unfit::CannotAllocate);
                    prop_assert!(!feasible(&w, a, &taken), "refused a feasible claim {:?}", a);
                }
            }
        }
        // The ledger agrees with the checker.
        let ledger: HashSet<DeviceKey> = w.assumed.values().flatten().map(|x| x.key).collect();
        prop_assert_eq!(ledger, taken);
        let _ = sym("n");
    }

    /// Answers kept across pods are the answers a fresh search gives: whatever was assumed or
    /// forgotten since, on every node, for claims of a few shapes (so answers are reused).
    #[test]
    fn cached_answers_are_fresh_answers(
        asks in proptest::collection::vec((0usize..4, any::<bool>()), 1..40),
    ) {
        let shapes = [
            Ask { gpus: 1, min_index: 0, nic: true, aligned: true },
            Ask { gpus: 2, min_index: 0, nic: true, aligned: true },
            Ask { gpus: 3, min_index: 2, nic: false, aligned: false },
            Ask { gpus: 4, min_index: 0, nic: true, aligned: false },
        ];
        // Three nodes of one layout (they share answers) and one of another (two PCIe roots).
        let nodes = ["n0", "n1", "n2", "other"];
        let mut slices = Vec::new();
        for n in nodes {
            let roots = if n == "other" { 2 } else { 4 };
            slices.push(gpu_node_slice(n, 8, roots));
            slices.push(nic_node_slice(n, roots));
        }
        let mut w = World::new(&slices, &gpu_and_nic_classes());
        let caches = Caches::new(w.inv.clone());
        let labels = crate::state::labels::Labels::default();
        let mut fits = Vec::new();
        for (i, (shape, forget)) in asks.iter().enumerate() {
            let claim = claim(&claim_for(i, &shapes[*shape]));
            let pod = w.prepare(&[claim]).unwrap();
            let id = caches.shape(&pod).expect("dedicated local devices are cached");
            let mut placed = None;
            for n in nodes {
                let node = sym(n);
                let fresh = search_unallocated(&pod, &w.inv, &w.in_use, node, &labels, &w.opts).unwrap();
                let cached = match caches.get(&w.in_use, node, id) {
                    Ok(hit) => hit,
                    Err(fp) => {
                        caches.put(node, id, fp.expect("dedicated local devices are cached"), fresh.clone());
                        fresh.clone()
                    }
                };
                prop_assert_eq!(&cached, &fresh, "node {}, ask {}", n, i);
                if let (None, Outcome::Found(f)) = (&placed, &cached) {
                    let fit = f.to_fit(&pod, &w.inv, node);
                    prop_assert_eq!(&fit.claims[0].claim_uid, &pod.to_allocate[0].claim.uid);
                    placed = Some(fit);
                }
            }
            if let Some(fit) = placed {
                w.assume(&fit);
                fits.push(fit);
            }
            if *forget && fits.len() > 1 {
                let fit = fits.remove(fits.len() / 2);
                w.forget(&fit);
            }
        }
    }
}
