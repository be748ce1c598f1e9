//! A node's NUMA topology in the compact form placement works on.

/// Distance a zone has to itself when the NRT object gives no costs (ACPI SLIT convention).
pub const LOCAL_DISTANCE: i64 = 10;
/// Distance between two different zones when the NRT object gives no cost for the pair.
pub const REMOTE_DISTANCE: i64 = 20;

/// kubelet's Topology Manager policy on the node (`--topology-manager-policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ManagerPolicy {
    #[default]
    None,
    BestEffort,
    Restricted,
    SingleNumaNode,
}

impl ManagerPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::BestEffort => "best-effort",
            Self::Restricted => "restricted",
            Self::SingleNumaNode => "single-numa-node",
        }
    }
}

/// kubelet's Topology Manager scope (`--topology-manager-scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ManagerScope {
    #[default]
    Container,
    Pod,
}

/// One resource of a zone. cpu is in millicores, memory and hugepages in bytes, devices in units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneResource {
    pub name: String,
    pub capacity: i64,
    pub allocatable: i64,
    /// What the NRT object last said is free; podium's own recent allocations that the object
    /// does not reflect yet are subtracted separately (see `ZoneUsage`).
    pub available: i64,
}

impl ZoneResource {
    /// Free amount per the NRT object, never more than allocatable.
    pub fn free(&self) -> i64 {
        self.available.min(self.allocatable).max(0)
    }
}

/// A device group below a NUMA zone (a PCIe switch, usually): devices under one switch talk
/// to each other and to the switch's NIC without crossing the root complex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switch {
    pub name: String,
    /// The zone `type` the NRT object gave it (e.g. `PCIeSwitch`).
    pub kind: String,
    pub resources: Vec<ZoneResource>,
}

/// A NUMA node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub name: String,
    pub resources: Vec<ZoneResource>,
    pub switches: Vec<Switch>,
}

impl Zone {
    pub fn resource(&self, name: &str) -> Option<&ZoneResource> {
        find(&self.resources, name)
    }
}

impl Switch {
    pub fn resource(&self, name: &str) -> Option<&ZoneResource> {
        find(&self.resources, name)
    }
}

fn find<'a>(resources: &'a [ZoneResource], name: &str) -> Option<&'a ZoneResource> {
    resources.iter().find(|resource| resource.name == name)
}

/// Zone-to-zone distances, row-major: `get(i, j)` is the cost zone `i` reports for zone `j`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distances {
    zones: usize,
    values: Vec<i64>,
}

impl Distances {
    /// Distances with the defaults (local 10, remote 20) for `zones` zones.
    pub fn uniform(zones: usize) -> Self {
        let values = (0..zones * zones)
            .map(|k| {
                if k / zones == k % zones {
                    LOCAL_DISTANCE
                } else {
                    REMOTE_DISTANCE
                }
            })
            .collect();
        Self { zones, values }
    }

    pub fn get(&self, from: usize, to: usize) -> i64 {
        self.values[from * self.zones + to]
    }

    pub fn set(&mut self, from: usize, to: usize, value: i64) {
        self.values[from * self.zones + to] = value;
    }

    /// Cost of spreading one pod over the zones in `set` (a bitmask of zone indices): the sum
    /// over zone pairs of their distance, taking the larger direction when the object is
    /// asymmetric. One zone costs nothing.
    pub fn spread_cost(&self, set: u32) -> i64 {
        if set.count_ones() <= 1 {
            return 0;
        }
        let member = |z: usize| z < 32 && set & (1 << z) != 0;
        let mut cost = 0;
        for a in (0..self.zones).filter(|&a| member(a)) {
            for b in (a + 1..self.zones).filter(|&b| member(b)) {
                cost += self.get(a, b).max(self.get(b, a));
            }
        }
        cost
    }
}

/// One node's topology: its NUMA zones, their distances and kubelet's alignment policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeTopology {
    /// The node's name (an NRT object is named after its node).
    pub node: String,
    pub zones: Vec<Zone>,
    pub distances: Distances,
    pub policy: ManagerPolicy,
    pub scope: ManagerScope,
}

impl NodeTopology {
    /// A node without an NRT object: one zone named after the node holding everything that is
    /// free on it (`available` = allocatable minus what pods on the node request).
    pub fn single_zone(node: &str, resources: Vec<ZoneResource>) -> Self {
        Self {
            node: node.to_string(),
            zones: vec![Zone {
                name: node.to_string(),
                resources,
                switches: Vec::new(),
            }],
            distances: Distances::uniform(1),
            policy: ManagerPolicy::None,
            scope: ManagerScope::Container,
        }
    }

    /// Whether any zone reports `resource`; resources no zone reports are not
    /// topology-managed on this node and are left to node-level fit.
    pub fn reports(&self, resource: &str) -> bool {
        self.zones
            .iter()
            .any(|zone| zone.resource(resource).is_some())
    }

    /// Whether any zone reports device groups (switches) below it.
    pub fn has_switches(&self) -> bool {
        self.zones.iter().any(|zone| !zone.switches.is_empty())
    }

    /// The node as it would report itself with every pod gone: each zone's and switch's
    /// resources all available, the zones, distances and kubelet policy unchanged. What a
    /// whole-node reservation is judged against.
    #[must_use]
    pub fn emptied(&self) -> Self {
        let free = |resources: &[ZoneResource]| -> Vec<ZoneResource> {
            resources
                .iter()
                .map(|r| ZoneResource {
                    available: r.allocatable,
                    ..r.clone()
                })
                .collect()
        };
        Self {
            zones: self
                .zones
                .iter()
                .map(|zone| Zone {
                    name: zone.name.clone(),
                    resources: free(&zone.resources),
                    switches: zone
                        .switches
                        .iter()
                        .map(|switch| Switch {
                            name: switch.name.clone(),
                            kind: switch.kind.clone(),
                            resources: free(&switch.resources),
                        })
                        .collect(),
                })
                .collect(),
            ..self.clone()
        }
    }
}
