//! A node's NUMA state: its `NodeResourceTopology` object, parsed once and shared, and podium's
//! own allocations on it that the object does not show yet.
//!
//! It lives in `NodeInfo`, so a snapshot carries its own copy and the placements a batch makes
//! in the snapshot are seen by the rest of the batch, as node usage is.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use crate::state::fit_cache::FitCache;
use crate::state::node::NodeRecord;
use crate::state::resources::{ResourceName, Resources};
use crate::topology::{
    Allocation, NodeTopology, PendingLedger, ZoneResource, ZoneTable, ZoneUsage,
};

/// A node's `NodeResourceTopology` object as the cache holds it.
#[derive(Debug, Clone)]
pub enum Nrt {
    Parsed(Arc<NodeTopology>),
    /// The object exists but cannot be trusted; the message names the object and the field.
    /// Pods that need NUMA placement treat the node as infeasible rather than guess its zones.
    Malformed(Arc<str>),
}

#[derive(Debug, Clone, Default)]
pub struct NodeNuma {
    /// None: the node has no NRT object and counts as a single zone.
    pub nrt: Option<Nrt>,
    ledger: PendingLedger,
    /// Pods whose allocation the NRT object now reflects: counted by the object alone for as
    /// long as they stay on the node, however often their own object changes.
    settled: HashSet<Arc<str>>,
    /// What pods read about the node until its object or ledger changes (every `&mut self`
    /// method starts over): built on first use.
    cache: OnceLock<Arc<NumaCache>>,
    /// Answers per request shape for the same span, kept in the node itself rather than
    /// behind `cache`: they are read for every candidate node of every device pod, and one
    /// pointer fewer to follow is one cache miss fewer per node.
    fits: FitCache,
    /// The object `fits` were worked out for (so answers given before `nrt` was replaced
    /// directly are not used).
    fits_for: OnceLock<Arc<NodeTopology>>,
}

/// A node's NUMA state worked out for placement.
#[derive(Debug)]
struct NumaCache {
    /// The object it was built from: a cache built before `nrt` was replaced directly is seen
    /// to be stale.
    built_from: Arc<NodeTopology>,
    /// The object's figures minus the ledger.
    table: ZoneTable,
}

/// How placement sees one node.
pub enum NodeView<'a> {
    /// From the NRT object, minus podium's allocations it does not show yet; with the node's
    /// cached answers unless the cache was stale.
    Zones(
        &'a NodeTopology,
        &'a ZoneUsage,
        Cow<'a, ZoneTable>,
        Option<&'a FitCache>,
    ),
    /// No NRT object: one zone with what node-level accounting says is free (which already
    /// counts every pod, so there is nothing to subtract).
    Single(NodeTopology, ZoneTable),
    Malformed(&'a str),
}

static NO_USAGE: std::sync::LazyLock<ZoneUsage> = std::sync::LazyLock::new(ZoneUsage::new);

impl NodeView<'_> {
    /// The topology, its figures net of pending allocations, and those allocations, unless
    /// the object is malformed.
    pub fn parts(&self) -> Option<(&NodeTopology, &ZoneTable, &ZoneUsage)> {
        match self {
            Self::Zones(topology, usage, table, _) => Some((topology, table, usage)),
            Self::Single(topology, table) => Some((topology, table, &NO_USAGE)),
            Self::Malformed(_) => None,
        }
    }

    /// The node's answers per request shape, where they can be kept (not for a node without
    /// an NRT object, whose single zone follows every pod placed on it).
    pub fn fits(&self) -> Option<&FitCache> {
        match self {
            Self::Zones(_, _, _, fits) => *fits,
            Self::Single(..) | Self::Malformed(_) => None,
        }
    }
}

impl NodeNuma {
    /// The node's cached answers when its cache is built and current: the cheap first look
    /// for every candidate node (no view is put together for a node that has the answer).
    pub fn cached_fits(&self) -> Option<&FitCache> {
        let Some(Nrt::Parsed(topology)) = &self.nrt else {
            return None;
        };
        Arc::ptr_eq(self.fits_for.get()?, topology).then_some(&self.fits)
    }

    /// Forgets everything worked out from the node's object and ledger.
    fn changed(&mut self) {
        self.cache = OnceLock::new();
        self.fits_for = OnceLock::new();
        self.fits.clear();
    }

    /// The node as placement sees it; a node without an NRT object becomes a single zone
    /// holding `resources` (the only ones the caller will ask about) of `node`'s allocatable,
    /// less what its pods have `requested`.
    pub fn view<'a>(
        &'a self,
        node: Option<&NodeRecord>,
        requested: &Resources,
        resources: &[&str],
    ) -> NodeView<'a> {
        match &self.nrt {
            Some(Nrt::Parsed(topology)) => {
                let usage = self.ledger.usage();
                let cache = self.cache.get_or_init(|| {
                    Arc::new(NumaCache {
                        built_from: topology.clone(),
                        table: ZoneTable::new(topology, usage),
                    })
                });
                let fits_for = self.fits_for.get_or_init(|| topology.clone());
                if Arc::ptr_eq(&cache.built_from, topology) && Arc::ptr_eq(fits_for, topology) {
                    NodeView::Zones(
                        topology,
                        usage,
                        Cow::Borrowed(&cache.table),
                        Some(&self.fits),
                    )
                } else {
                    NodeView::Zones(
                        topology,
                        usage,
                        Cow::Owned(ZoneTable::new(topology, usage)),
                        None,
                    )
                }
            }
            Some(Nrt::Malformed(message)) => NodeView::Malformed(message),
            None => {
                let topology = single_zone(node, requested, resources);
                let table = ZoneTable::new(&topology, &NO_USAGE);
                NodeView::Single(topology, table)
            }
        }
    }

    /// The node's NUMA state with every pod gone: its object's zones all free, no allocations
    /// of podium's pending. A malformed object stays malformed (the node is still unusable for
    /// NUMA placement once emptied).
    #[must_use]
    pub fn emptied(&self) -> Self {
        let nrt = self.nrt.as_ref().map(|nrt| match nrt {
            Nrt::Parsed(topology) => Nrt::Parsed(Arc::new(topology.emptied())),
            Nrt::Malformed(message) => Nrt::Malformed(message.clone()),
        });
        Self {
            nrt,
            ..Self::default()
        }
    }

    pub fn ledger(&self) -> &PendingLedger {
        &self.ledger
    }

    /// Pod `uid` counts on this node with `allocation` (none: it holds nothing podium placed
    /// by zone). `running`: kubelet has admitted it, so NRT updates will start to include it.
    pub fn track(&mut self, uid: &Arc<str>, allocation: Option<&Allocation>, running: bool) {
        self.changed();
        if self.settled.contains(uid) {
            return;
        }
        let Some(allocation) = allocation else {
            self.ledger.forget(uid);
            return;
        };
        // Re-assuming would reset the pod's admission count, so an unchanged pod keeps its entry.
        if !self.ledger.contains(uid) {
            self.ledger.assume(uid, allocation.clone());
        }
        if running {
            self.ledger.admitted(uid);
        }
    }

    /// Pod `uid` no longer counts here (deleted, finished, moved, or its bind failed).
    pub fn untrack(&mut self, uid: &str) {
        self.changed();
        self.ledger.forget(uid);
        self.settled.remove(uid);
    }

    /// The NRT object was replaced: settles the allocations it now reflects.
    pub fn set_nrt(&mut self, nrt: Option<Nrt>) {
        self.changed();
        let updated = nrt.is_some();
        self.nrt = nrt;
        if updated {
            for uid in self.ledger.nrt_updated() {
                self.settled.insert(uid.into());
            }
        }
    }

    /// A preemption trial takes pod `uid` (with its `allocation` annotation) off the node: its
    /// devices count as free again, whether podium's ledger or the NRT object held them.
    pub fn release(&mut self, uid: &str, allocation: Option<&Allocation>) {
        self.changed();
        let settled = allocation.filter(|_| matches!(self.nrt, Some(Nrt::Parsed(_))));
        self.ledger.release(uid, settled);
    }

    /// Undoes `release`.
    pub fn restore(&mut self, uid: &str) {
        self.changed();
        self.ledger.restore(uid);
    }

    /// Counts a placement made inside a snapshot; `annotation` is the one this crate wrote.
    pub fn reserve(&mut self, uid: &Arc<str>, annotation: &str) {
        self.changed();
        if let Ok(allocation) = Allocation::from_annotation(uid, annotation) {
            self.ledger.assume(uid, allocation);
        }
    }
}

/// The one zone of a node without an NRT object: allocatable and what pods on it leave free.
pub fn single_zone(
    node: Option<&NodeRecord>,
    requested: &Resources,
    resources: &[&str],
) -> NodeTopology {
    let name = node.map_or("", NodeRecord::name);
    let zone_resources = resources
        .iter()
        .filter_map(|&resource| {
            let node = node?;
            let key = ResourceName::parse(resource);
            if let ResourceName::Scalar(s) = key
                && !node.allocatable.has_scalar(s)
            {
                return None;
            }
            let allocatable = node.allocatable.get(key);
            Some(ZoneResource {
                name: resource.to_string(),
                capacity: allocatable,
                allocatable,
                available: allocatable.saturating_sub(requested.get(key)),
            })
        })
        .collect();
    NodeTopology::single_zone(name, zone_resources)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::sym;
    use crate::topology::{NumaPolicy, ZoneAllocation};

    fn gpus(zone: &str, count: i64) -> Allocation {
        Allocation {
            policy: NumaPolicy::Single,
            zones: vec![ZoneAllocation {
                zone: zone.into(),
                switch: None,
                resources: [("nvidia.com/gpu".to_string(), count)].into(),
            }],
            numa_aligned: true,
            cost: 0,
        }
    }

    #[test]
    fn settled_pods_are_not_counted_again_when_their_object_changes() {
        let mut numa = NodeNuma::default();
        let uid: Arc<str> = "a".into();
        numa.track(&uid, Some(&gpus("node-0", 4)), true);
        assert_eq!(numa.ledger().usage().get("node-0", "nvidia.com/gpu"), 4);
        let nrt = || Some(Nrt::Malformed("x".into()));
        numa.set_nrt(nrt());
        numa.set_nrt(nrt());
        assert!(numa.ledger().is_empty(), "settled after two updates");
        numa.track(&uid, Some(&gpus("node-0", 4)), true);
        assert!(numa.ledger().is_empty(), "a pod update does not recount it");
        numa.untrack(&uid);
        numa.track(&uid, Some(&gpus("node-0", 4)), false);
        assert_eq!(numa.ledger().usage().get("node-0", "nvidia.com/gpu"), 4);
    }

    #[test]
    fn pending_pods_stay_counted_and_lose_their_count_without_allocation() {
        let mut numa = NodeNuma::default();
        let uid: Arc<str> = "b".into();
        numa.track(&uid, Some(&gpus("node-1", 2)), false);
        numa.set_nrt(None);
        numa.set_nrt(None);
        assert_eq!(numa.ledger().usage().get("node-1", "nvidia.com/gpu"), 2);
        numa.track(&uid, None, false);
        assert!(numa.ledger().is_empty());
    }

    #[test]
    fn the_zone_table_follows_the_ledger_and_the_object() {
        use crate::topology::parse_node_resource_topology;

        let object = |available: i64| {
            let zone = |i: usize| {
                serde_json::json!({"name": format!("node-{i}"), "type": "Node", "resources": [
                    {"name": "nvidia.com/gpu", "capacity": 4, "allocatable": 4, "available": available}]})
            };
            let object =
                serde_json::json!({"metadata": {"name": "n"}, "zones": [zone(0), zone(1)]});
            Some(Nrt::Parsed(Arc::new(
                parse_node_resource_topology(&object).expect("valid"),
            )))
        };
        let free = |numa: &NodeNuma| {
            let view = numa.view(None, &Resources::default(), &[]);
            let (_, table, _) = view.parts().expect("parsed");
            let gpu = table.column(sym("nvidia.com/gpu")).expect("reported");
            (table.free(0, gpu), table.free(1, gpu))
        };
        let key = (7, sym("a request shape"));
        let answer = crate::state::fit_cache::FitEntry {
            fit: Ok(()),
            score: 1,
        };
        let remember = |numa: &NodeNuma| {
            let view = numa.view(None, &Resources::default(), &[]);
            view.fits().expect("kept").put(key, &answer);
        };
        let kept = |numa: &NodeNuma| {
            let view = numa.view(None, &Resources::default(), &[]);
            view.fits().and_then(|fits| fits.get(key)).is_some()
        };
        let mut numa = NodeNuma::default();
        numa.set_nrt(object(4));
        assert_eq!(free(&numa), (4, 4));
        remember(&numa);
        assert!(kept(&numa) && numa.cached_fits().is_some());
        let uid: Arc<str> = "a".into();
        numa.reserve(&uid, &gpus("node-1", 3).to_annotation());
        assert_eq!(
            free(&numa),
            (4, 1),
            "a placement in the snapshot counts at once"
        );
        assert!(!kept(&numa), "answers for the old state are gone");
        numa.untrack(&uid);
        assert_eq!(free(&numa), (4, 4));
        remember(&numa);
        assert!(kept(&numa));
        // Replaced without going through set_nrt (as a new node's first object is): the
        // table and answers worked out from the old object must not be used.
        numa.nrt = object(2);
        assert_eq!(free(&numa), (2, 2));
        assert!(
            numa.cached_fits().is_none(),
            "answers for the old object are not used"
        );
        assert!(!kept(&numa));
    }

    mod cluster {
        use crate::cycle::schedule_batch;
        use crate::framework::code::Code;
        use crate::runtime::profile::Profile;
        use crate::state::cluster::ClusterState;
        use crate::state::kind::Kind;
        use crate::state::topology::Nrt;

        fn event(kind: &str, object: &str) -> Vec<u8> {
            format!(r#"{{"type":"{kind}","object":{object}}}"#).into_bytes()
        }

        fn nrt(available: [i64; 2], cost: &str) -> String {
            format!(
                r#"{{"metadata":{{"name":"n1","uid":"t1","resourceVersion":"5"}},"zones":[
                {{"name":"node-0","type":"Node","costs":[{{"name":"node-1","value":{cost}}}],
                  "resources":[{{"name":"nvidia.com/gpu","capacity":"4","allocatable":"4","available":"{}"}}]}},
                {{"name":"node-1","type":"Node",
                  "resources":[{{"name":"nvidia.com/gpu","capacity":"4","allocatable":"4","available":"{}"}}]}}]}}"#,
                available[0], available[1]
            )
        }

        fn gpu_pod(uid: &str, node: Option<&str>, gpus: u32, annotations: &str) -> String {
            let node = node.map_or(String::new(), |n| format!(r#""nodeName":"{n}","#));
            format!(
                r#"{{"metadata":{{"name":"{uid}","namespace":"ns","uid":"{uid}","resourceVersion":"1",
                   "annotations":{{{annotations}}}}},
                   "spec":{{{node}"schedulerName":"podium","containers":[{{"name":"c",
                   "resources":{{"requests":{{"nvidia.com/gpu":"{gpus}"}}}}}}]}},
                   "status":{{"phase":"Pending"}}}}"#
            )
        }

        fn state() -> ClusterState {
            let mut state = ClusterState::new(&["podium"]);
            let node = crate::state::cluster::tests::node_json("n1", "64", 8);
            state
                .apply_event(Kind::Node, &event("ADDED", &node))
                .unwrap();
            state
        }

        fn ledger_gpus(state: &ClusterState, zone: &str) -> i64 {
            state.snapshot().nodes_for_test()[0]
                .numa
                .ledger()
                .usage()
                .get(zone, "nvidia.com/gpu")
        }

        #[test]
        fn a_bound_pods_annotation_is_counted_against_its_zone_after_a_restart() {
            let mut state = state();
            state
                .apply_event(
                    Kind::NodeResourceTopology,
                    &event("ADDED", &nrt([4, 4], "20")),
                )
                .unwrap();
            let annotation = r#""podium.dev/allocation":"{\"policy\":\"single\",\"zones\":[{\"zone\":\"node-1\",\"resources\":{\"nvidia.com/gpu\":3}}]}""#;
            state
                .apply_event(
                    Kind::Pod,
                    &event("ADDED", &gpu_pod("a", Some("n1"), 3, annotation)),
                )
                .unwrap();
            assert_eq!(ledger_gpus(&state, "node-1"), 3);
            state
                .apply_event(
                    Kind::Pod,
                    &event("DELETED", &gpu_pod("a", Some("n1"), 3, annotation)),
                )
                .unwrap();
            assert_eq!(ledger_gpus(&state, "node-1"), 0);
        }

        #[test]
        fn a_batch_against_a_stale_object_never_overfills_a_zone() {
            let mut state = state();
            state
                .apply_event(
                    Kind::NodeResourceTopology,
                    &event("ADDED", &nrt([3, 3], "20")),
                )
                .unwrap();
            for uid in ["p1", "p2", "p3"] {
                let single = r#""podium.dev/numa":"single""#;
                state
                    .apply_event(Kind::Pod, &event("ADDED", &gpu_pod(uid, None, 2, single)))
                    .unwrap();
            }
            let profile = Profile::from_json(
                br#"{"schedulerName":"podium","filters":["NodeResourcesFit","NodeResourceTopologyMatch"],
                     "scores":{"NUMAPacking":1},"parallelism":1}"#,
            )
            .unwrap();
            let uids: Vec<String> = ["p1", "p2", "p3"].map(String::from).to_vec();
            let decisions = schedule_batch(&state.snapshot(), &uids, &profile, None);
            let placed: Vec<_> = decisions.iter().filter(|d| d.node.is_some()).collect();
            assert_eq!(placed.len(), 2, "{decisions:?}");
            let zones: Vec<&str> = placed
                .iter()
                .map(|d| {
                    if d.allocation.as_deref().unwrap().contains("node-0") {
                        "0"
                    } else {
                        "1"
                    }
                })
                .collect();
            assert_ne!(zones[0], zones[1], "one 2-GPU pod per zone with 3 free");
            assert_eq!(decisions[2].code, Code::Unschedulable, "{:?}", decisions[2]);
            assert!(
                decisions[2]
                    .message
                    .contains("no single NUMA node with 2 nvidia.com/gpu"),
                "{}",
                decisions[2].message
            );

            // Assumed with their allocations, the pods count against the object that still
            // shows every GPU free.
            for d in &placed {
                state.assume(&d.uid, "n1", d.allocation.as_deref()).unwrap();
            }
            // Two pods of 2 GPUs each: 4 GPUs held, once each.
            assert_eq!(
                ledger_gpus(&state, "node-0") + ledger_gpus(&state, "node-1"),
                4
            );
            let again = schedule_batch(&state.snapshot(), &uids[2..], &profile, None);
            assert!(again[0].node.is_none(), "{again:?}");
        }

        #[test]
        fn a_malformed_object_is_reported_and_the_node_kept_out_of_numa_placement() {
            let mut state = state();
            let change = state
                .apply_event(
                    Kind::NodeResourceTopology,
                    &event("ADDED", &nrt([4, 4], "-3")),
                )
                .unwrap();
            let error = change.error.expect("reported");
            assert!(
                error.starts_with("NodeResourceTopology n1: zones[0].costs[0].value"),
                "{error}"
            );
            assert!(error.contains("node n1 is skipped"), "{error}");
            let nodes = state.snapshot().nodes_for_test();
            assert!(matches!(nodes[0].numa.nrt, Some(Nrt::Malformed(_))));
            state
                .apply_event(
                    Kind::NodeResourceTopology,
                    &event("DELETED", &nrt([4, 4], "-3")),
                )
                .unwrap();
            assert!(state.snapshot().nodes_for_test()[0].numa.nrt.is_none());
        }

        /// Both zones full in the NRT object, by two running pods podium placed there.
        fn full_node(low_priority: i32) -> ClusterState {
            let mut state = state();
            state
                .apply_event(
                    Kind::NodeResourceTopology,
                    &event("ADDED", &nrt([0, 0], "20")),
                )
                .unwrap();
            for (uid, zone) in [("low-a", "node-0"), ("low-b", "node-1")] {
                let annotation = format!(
                    r#""podium.dev/allocation":"{{\"policy\":\"single\",\"zones\":[{{\"zone\":\"{zone}\",\"resources\":{{\"nvidia.com/gpu\":4}}}}]}}""#
                );
                let pod = gpu_pod(uid, Some("n1"), 4, &annotation)
                    .replace(r#""phase":"Pending""#, r#""phase":"Running""#)
                    .replace(
                        r#""schedulerName""#,
                        &format!(r#""priority":{low_priority},"schedulerName""#),
                    );
                state.apply_event(Kind::Pod, &event("ADDED", &pod)).unwrap();
            }
            // Two updates of the object after they run: their devices are in its figures now.
            for version in ["6", "7"] {
                let object = nrt([0, 0], "20").replace(
                    r#""resourceVersion":"5""#,
                    &format!(r#""resourceVersion":"{version}""#),
                );
                state
                    .apply_event(Kind::NodeResourceTopology, &event("MODIFIED", &object))
                    .unwrap();
            }
            let high = gpu_pod("hi", None, 4, r#""podium.dev/numa":"single""#)
                .replace(r#""schedulerName""#, r#""priority":100,"schedulerName""#);
            state
                .apply_event(Kind::Pod, &event("ADDED", &high))
                .unwrap();
            state
        }

        #[test]
        fn preemption_frees_a_victims_zone_that_the_nrt_object_counts_as_taken() {
            let profile = Profile::from_json(
                br#"{"schedulerName":"podium","filters":["NodeResourcesFit","NodeResourceTopologyMatch"],
                     "scores":{"NUMAPacking":1},"parallelism":1}"#,
            )
            .unwrap();
            let state = full_node(1);
            assert_eq!(
                ledger_gpus(&state, "node-0"),
                0,
                "settled: the object counts them"
            );
            let uids = ["hi".to_owned()];
            let decisions = schedule_batch(&state.snapshot(), &uids, &profile, None);
            assert_eq!(decisions[0].code, Code::Unschedulable);
            let outcome = crate::preemption::preempt(&state.snapshot(), &uids, &profile, None);
            assert_eq!(outcome.message, "");
            assert_eq!(
                outcome.victims.len(),
                1,
                "one zone's pod is enough: {outcome:?}"
            );
            assert_eq!(
                outcome.nominations,
                vec![("hi".to_owned(), "n1".to_owned())]
            );

            // Pods it may not evict free nothing.
            let state = full_node(1000);
            let outcome = crate::preemption::preempt(&state.snapshot(), &uids, &profile, None);
            assert!(outcome.victims.is_empty() && outcome.nominations.is_empty());
        }
    }
}
