//! podium's own allocations that a node's NRT object does not reflect yet.
//!
//! The topology-updater reports `available` some time after kubelet admits a pod. Until then
//! the object still shows the devices as free, so podium subtracts what it handed out itself;
//! without that, a burst of pods against a stale object would overfill a zone.

use std::collections::{BTreeMap, HashMap};

use super::allocation::Allocation;
use super::node::{Switch, Zone};

/// Amounts in use per zone (or switch) name, per resource, not yet reflected in the NRT object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZoneUsage {
    by_zone: BTreeMap<String, BTreeMap<String, i64>>,
}

impl ZoneUsage {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, zone: &str, resource: &str) -> i64 {
        self.by_zone
            .get(zone)
            .and_then(|resources| resources.get(resource))
            .copied()
            .unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.by_zone.is_empty()
    }

    /// What is really free of `resource` in `zone`: the NRT figure minus what podium handed
    /// out that the object does not show yet. 0 when the zone does not report the resource.
    pub fn free_in_zone(&self, zone: &Zone, resource: &str) -> i64 {
        zone.resource(resource)
            .map_or(0, |r| (r.free() - self.get(&zone.name, resource)).max(0))
    }

    /// As `free_in_zone`, for a switch below a zone.
    pub fn free_in_switch(&self, switch: &Switch, resource: &str) -> i64 {
        switch
            .resource(resource)
            .map_or(0, |r| (r.free() - self.get(&switch.name, resource)).max(0))
    }

    /// Counts `allocation` against its zones and, where one was chosen, their switches.
    pub fn add(&mut self, allocation: &Allocation) {
        self.apply(allocation, 1);
    }

    /// Removes what `add` counted for `allocation`.
    pub fn subtract(&mut self, allocation: &Allocation) {
        self.apply(allocation, -1);
    }

    pub fn add_amount(&mut self, zone: &str, resource: &str, amount: i64) {
        let resources = self.by_zone.entry(zone.to_string()).or_default();
        let total = resources.entry(resource.to_string()).or_insert(0);
        *total = total.saturating_add(amount);
        // Below zero is a credit: devices the NRT object counts as taken by a pod that a
        // preemption trial has removed.
        if *total == 0 {
            resources.remove(resource);
            if resources.is_empty() {
                self.by_zone.remove(zone);
            }
        }
    }

    fn apply(&mut self, allocation: &Allocation, sign: i64) {
        for zone in &allocation.zones {
            for (resource, &amount) in &zone.resources {
                self.add_amount(&zone.zone, resource, sign * amount);
                if let Some(switch) = &zone.switch {
                    self.add_amount(switch, resource, sign * amount);
                }
            }
        }
    }
}

/// NRT updates seen after a pod's admission before its allocation is trusted to be in the
/// object. Two, because the update right after admission may come from a scan taken just
/// before it.
pub const DEFAULT_SETTLE_UPDATES: u32 = 2;

#[derive(Debug, Clone)]
struct Entry {
    allocation: Allocation,
    /// NRT updates seen since kubelet admitted the pod; `None` until it is admitted.
    updates_since_admitted: Option<u32>,
}

/// One node's pending allocations, keyed by pod uid, with their running total.
///
/// Lifecycle: `assume` when podium places a pod (or at restart, for a bound pod whose
/// annotation it reads back and that is not running yet); `admitted` when the pod is seen
/// running on the node; `nrt_updated` on every update of the node's NRT object, which drops
/// allocations the object now reflects; `forget` when the bind fails or the pod goes away.
#[derive(Debug, Clone)]
pub struct PendingLedger {
    settle_updates: u32,
    entries: HashMap<String, Entry>,
    usage: ZoneUsage,
    /// Pods a preemption trial took off the node: their allocation, and whether it was a
    /// pending entry (else a credit against what the NRT object counts).
    released: HashMap<String, (Allocation, bool)>,
}

impl Default for PendingLedger {
    fn default() -> Self {
        Self::new(DEFAULT_SETTLE_UPDATES)
    }
}

impl PendingLedger {
    pub fn new(settle_updates: u32) -> Self {
        Self {
            settle_updates: settle_updates.max(1),
            entries: HashMap::new(),
            usage: ZoneUsage::new(),
            released: HashMap::new(),
        }
    }

    /// A preemption trial removes pod `uid`: its pending entry stops counting or, when the
    /// NRT object already counts it (`settled`, with its `allocation` from its annotation), its
    /// devices are credited back. Without either, nothing is known to free.
    pub fn release(&mut self, uid: &str, settled: Option<&Allocation>) {
        if let Some(entry) = self.entries.remove(uid) {
            self.usage.subtract(&entry.allocation);
            self.released
                .insert(uid.to_string(), (entry.allocation, true));
        } else if let Some(allocation) = settled {
            self.usage.subtract(allocation);
            self.released
                .insert(uid.to_string(), (allocation.clone(), false));
        }
    }

    /// Undoes `release` (the trial puts the pod back).
    pub fn restore(&mut self, uid: &str) {
        if let Some((allocation, pending)) = self.released.remove(uid) {
            self.usage.add(&allocation);
            if pending {
                self.entries.insert(
                    uid.to_string(),
                    Entry {
                        allocation,
                        updates_since_admitted: None,
                    },
                );
            }
        }
    }

    /// What placement must subtract from the NRT object's `available`.
    pub fn usage(&self) -> &ZoneUsage {
        &self.usage
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn contains(&self, uid: &str) -> bool {
        self.entries.contains_key(uid)
    }

    /// Counts `allocation` for pod `uid`, replacing what was counted for it before.
    pub fn assume(&mut self, uid: &str, allocation: Allocation) {
        self.forget(uid);
        self.usage.add(&allocation);
        self.entries.insert(
            uid.to_string(),
            Entry {
                allocation,
                updates_since_admitted: None,
            },
        );
    }

    /// Stops counting pod `uid` (bind failed, pod deleted or finished).
    pub fn forget(&mut self, uid: &str) {
        if let Some(entry) = self.entries.remove(uid) {
            self.usage.subtract(&entry.allocation);
        }
    }

    /// Pod `uid` is running on the node: kubelet has taken its devices, so upcoming NRT
    /// updates will include it.
    pub fn admitted(&mut self, uid: &str) {
        if let Some(entry) = self.entries.get_mut(uid) {
            entry.updates_since_admitted.get_or_insert(0);
        }
    }

    /// The node's NRT object changed: allocations it now reflects stop being counted twice.
    /// Returns the uids settled.
    pub fn nrt_updated(&mut self) -> Vec<String> {
        let mut settled = Vec::new();
        for (uid, entry) in &mut self.entries {
            if let Some(seen) = entry.updates_since_admitted.as_mut() {
                *seen += 1;
                if *seen >= self.settle_updates {
                    settled.push(uid.clone());
                }
            }
        }
        for uid in &settled {
            self.forget(uid);
        }
        settled.sort();
        settled
    }
}

#[cfg(test)]
mod tests {
    use super::super::allocation::ZoneAllocation;
    use super::super::request::NumaPolicy;
    use super::*;

    fn gpus(zone: &str, switch: Option<&str>, count: i64) -> Allocation {
        Allocation {
            policy: NumaPolicy::Single,
            zones: vec![ZoneAllocation {
                zone: zone.into(),
                switch: switch.map(str::to_string),
                resources: [("nvidia.com/gpu".to_string(), count)].into(),
            }],
            numa_aligned: true,
            cost: 0,
        }
    }

    #[test]
    fn a_trial_release_frees_pending_or_settled_devices_and_restores_them() {
        let mut ledger = PendingLedger::new(2);
        ledger.assume("pending", gpus("node-0", None, 2));
        ledger.release("pending", None);
        assert_eq!(ledger.usage().get("node-0", "nvidia.com/gpu"), 0);
        assert!(!ledger.contains("pending"));
        ledger.release("settled", Some(&gpus("node-0", None, 3)));
        assert_eq!(
            ledger.usage().get("node-0", "nvidia.com/gpu"),
            -3,
            "a credit against what the object counts"
        );
        ledger.release("unknown", None);
        ledger.restore("settled");
        ledger.restore("pending");
        ledger.restore("unknown");
        assert_eq!(ledger.usage().get("node-0", "nvidia.com/gpu"), 2);
        assert!(ledger.contains("pending") && !ledger.contains("settled"));
    }

    #[test]
    fn usage_adds_and_subtracts_including_switches() {
        let mut usage = ZoneUsage::new();
        usage.add(&gpus("node-0", Some("pci-1"), 2));
        usage.add(&gpus("node-0", None, 1));
        assert_eq!(usage.get("node-0", "nvidia.com/gpu"), 3);
        assert_eq!(usage.get("pci-1", "nvidia.com/gpu"), 2);
        assert_eq!(usage.get("node-1", "nvidia.com/gpu"), 0);
        usage.subtract(&gpus("node-0", Some("pci-1"), 2));
        usage.subtract(&gpus("node-0", None, 1));
        assert!(usage.is_empty());
    }

    #[test]
    fn ledger_settles_only_after_admission_and_enough_updates() {
        let mut ledger = PendingLedger::new(2);
        ledger.assume("a", gpus("node-0", None, 4));
        ledger.assume("b", gpus("node-1", None, 2));
        assert!(ledger.nrt_updated().is_empty(), "nothing admitted yet");
        ledger.admitted("a");
        assert!(
            ledger.nrt_updated().is_empty(),
            "one update may predate admission"
        );
        assert_eq!(ledger.nrt_updated(), ["a"]);
        assert_eq!(ledger.usage().get("node-0", "nvidia.com/gpu"), 0);
        assert_eq!(ledger.usage().get("node-1", "nvidia.com/gpu"), 2);
        assert_eq!(ledger.len(), 1);
    }

    #[test]
    fn reassuming_replaces_and_forget_releases() {
        let mut ledger = PendingLedger::default();
        ledger.assume("a", gpus("node-0", None, 4));
        ledger.assume("a", gpus("node-1", None, 1));
        assert_eq!(ledger.usage().get("node-0", "nvidia.com/gpu"), 0);
        assert_eq!(ledger.usage().get("node-1", "nvidia.com/gpu"), 1);
        ledger.forget("a");
        ledger.forget("unknown");
        assert!(ledger.usage().is_empty());
        assert!(ledger.is_empty());
    }
}
