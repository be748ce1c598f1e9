//! The domains of a topology level (the nodes sharing one value of its label) and the capacity
//! totals that prune them: a domain whose free capacity cannot hold the gang's summed requests,
//! or whose nodes have room for fewer members than it must place, gets no trial placement.

use std::sync::Arc;

use crate::intern::{Sym, resolve};
use crate::state::dra::Dra;
use crate::state::node_info::NodeInfo;
use crate::state::pod::PodRecord;
use crate::state::resources::{CPU, EPHEMERAL_STORAGE, MEMORY, ResourceName};

/// What the members a gang must place ask for, per resource any of them requests.
#[derive(Debug)]
pub(super) struct Need {
    /// The resources, in a fixed order (cpu, memory, ephemeral-storage, then scalars).
    resources: Vec<ResourceName>,
    /// Summed over the members that must be placed (the least-asking ones when some may stay
    /// behind: a bound that never prunes a domain that could take them).
    total: Vec<i64>,
    /// The least any member asks of each resource: a node's room is counted in these.
    least: Vec<i64>,
    /// Members that must be placed.
    pub count: usize,
    pub distinct_hosts: bool,
    /// Whether nodes' pod slots count (NodeResourcesFit is enabled: it checks them and the
    /// resources; without it neither limits a node).
    fit: bool,
}

impl Need {
    /// Nothing to count: domains only.
    pub fn none() -> Self {
        Self {
            resources: Vec::new(),
            total: Vec::new(),
            least: Vec::new(),
            count: 0,
            distinct_hosts: false,
            fit: false,
        }
    }

    /// `members` of which `count` must be placed; `fit`: the profile filters by resources
    /// (NodeResourcesFit), so they and pod slots may prune. Extended resources a DeviceClass
    /// serves (`dra`) are left out: DRA may serve them on nodes whose allocatable has none.
    pub fn of(
        members: &[Arc<PodRecord>],
        (count, distinct_hosts): (usize, bool),
        fit: bool,
        dra: &Dra,
    ) -> Self {
        if !fit {
            return Self {
                count,
                distinct_hosts,
                ..Self::none()
            };
        }
        let mut resources: Vec<ResourceName> = Vec::new();
        for name in [
            ResourceName::Cpu,
            ResourceName::Memory,
            ResourceName::EphemeralStorage,
        ] {
            if members.iter().any(|m| m.requests.get(name) > 0) {
                resources.push(name);
            }
        }
        let mut scalars: Vec<Sym> = members
            .iter()
            .flat_map(|m| m.requests.scalar.iter())
            .filter(|&&(_, v)| v > 0)
            .map(|&(k, _)| k)
            .collect();
        scalars.sort_unstable();
        scalars.dedup();
        let backed: Vec<Sym> = members
            .iter()
            .flat_map(|m| dra.dra_backed(m))
            .map(|(name, _)| name)
            .collect();
        scalars.retain(|s| !backed.contains(s));
        resources.extend(scalars.into_iter().map(ResourceName::Scalar));
        let asks = |r: ResourceName| -> Vec<i64> {
            members.iter().map(|m| m.requests.get(r).max(0)).collect()
        };
        let mut total = Vec::with_capacity(resources.len());
        let mut least = Vec::with_capacity(resources.len());
        for &r in &resources {
            let mut each = asks(r);
            let min = each.iter().copied().min().unwrap_or(0);
            let sum = if count >= members.len() {
                each.iter().fold(0i64, |a, &b| a.saturating_add(b))
            } else {
                each.sort_unstable();
                each.iter()
                    .take(count)
                    .fold(0i64, |a, &b| a.saturating_add(b))
            };
            total.push(sum);
            least.push(min);
        }
        Self {
            resources,
            total,
            least,
            count,
            distinct_hosts,
            fit,
        }
    }

    /// What `capacity` keeps free of resource `r` once the gang is placed.
    pub fn leftover(&self, capacity: &Capacity, r: usize) -> i64 {
        capacity.free[r].saturating_sub(self.total[r])
    }

    /// The resource the gang needs the largest share of, given what the level's domains hold
    /// together: the one "fullest" is measured in.
    pub fn scarcest(&self, domains: &[Domain]) -> Option<usize> {
        (0..self.resources.len()).max_by(|&a, &b| {
            let share = |r: usize| {
                let held: i64 = domains.iter().map(|d| d.capacity.allocatable[r]).sum();
                // need / held, compared without division: need_a * held_b vs need_b * held_a.
                (i128::from(self.total[r]), i128::from(held.max(1)))
            };
            let ((na, ha), (nb, hb)) = (share(a), share(b));
            (na * hb).cmp(&(nb * ha)).then(b.cmp(&a))
        })
    }

    pub fn name(&self, r: usize) -> &'static str {
        match self.resources[r] {
            ResourceName::Cpu => CPU,
            ResourceName::Memory => MEMORY,
            ResourceName::EphemeralStorage => EPHEMERAL_STORAGE,
            ResourceName::Pods => "pods",
            ResourceName::Scalar(s) => resolve(s),
        }
    }
}

/// A domain's totals over its nodes, for the resources of one `Need`.
#[derive(Debug, Clone, Default)]
pub(super) struct Capacity {
    /// Σ max(0, allocatable − requested), per resource of the need.
    pub free: Vec<i64>,
    pub allocatable: Vec<i64>,
    pub nodes: usize,
    /// How many members its nodes have room for, each node counted alone (resources at the
    /// least a member asks, pod slots, one per node for distinct hosts).
    pub room: usize,
}

impl Capacity {
    pub fn new(need: &Need) -> Self {
        Self {
            free: vec![0; need.resources.len()],
            allocatable: vec![0; need.resources.len()],
            nodes: 0,
            room: 0,
        }
    }

    /// Counts `info` in; returns the members it alone has room for.
    pub fn add(&mut self, need: &Need, info: &NodeInfo) -> usize {
        let Some(node) = &info.node else {
            return 0;
        };
        self.nodes += 1;
        let pods = if need.fit {
            usize::try_from(node.allowed_pods)
                .unwrap_or(0)
                .saturating_sub(info.pods.len())
        } else {
            need.count
        };
        let mut room = if need.distinct_hosts {
            pods.min(1)
        } else {
            pods
        };
        for (r, &name) in need.resources.iter().enumerate() {
            let allocatable = node.allocatable.get(name).max(0);
            let free = allocatable.saturating_sub(info.requested.get(name)).max(0);
            self.free[r] = self.free[r].saturating_add(free);
            self.allocatable[r] = self.allocatable[r].saturating_add(allocatable);
            if need.least[r] > 0 {
                room = room.min(usize::try_from(free / need.least[r]).unwrap_or(0));
            }
        }
        let room = room.min(need.count);
        self.room = self.room.saturating_add(room);
        room
    }

    /// What keeps these totals from holding `need`, the first lack found; None: they may.
    pub fn lack(&self, need: &Need) -> Option<Lack> {
        for r in 0..need.resources.len() {
            if self.free[r] < need.total[r] {
                return Some(Lack::Resource {
                    name: need.name(r),
                    need: need.total[r],
                    free: self.free[r],
                });
            }
        }
        if need.distinct_hosts && self.nodes < need.count {
            return Some(Lack::Hosts { nodes: self.nodes });
        }
        (self.room < need.count).then_some(Lack::Room { room: self.room })
    }
}

/// Why a domain was pruned without a trial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Lack {
    /// Its free amount of a resource is below the gang's sum.
    Resource {
        name: &'static str,
        need: i64,
        free: i64,
    },
    /// Fewer nodes than members that need distinct hosts.
    Hosts { nodes: usize },
    /// Its nodes, each alone, have room for fewer members than the gang must place.
    Room { room: usize },
    /// Fewer domains of the slice level with room for a slice than the gang has slices.
    Slices { fit: usize, slices: usize },
}

impl Lack {
    /// How pruned domains are grouped in a message: by what they lack.
    pub fn kind(&self) -> String {
        match self {
            Self::Resource { name, .. } => format!("lack {name}"),
            Self::Hosts { .. } => "lack hosts".into(),
            Self::Room { .. } => "lack room on their nodes".into(),
            Self::Slices { .. } => "lack room for the slices".into(),
        }
    }
}

/// One domain of a level: the nodes holding one value of its label (`value: None`: the whole
/// cluster), in the snapshot's node order.
#[derive(Debug, Clone)]
pub(super) struct Domain {
    pub value: Option<Sym>,
    pub nodes: Vec<usize>,
    pub capacity: Capacity,
    /// When asked for: the room of each of its domains at the slice level (counted in the same
    /// pass over the nodes).
    pub slice_rooms: Vec<usize>,
}

impl Domain {
    pub fn name(&self) -> &'static str {
        self.value.map_or("", resolve)
    }
}

/// The domains of level `key` over `nodes` (nodes without the label are in none), by value;
/// with `slice_key`, each domain's rooms at that lower level too.
pub(super) fn domains_of(
    nodes: &[Arc<NodeInfo>],
    key: Sym,
    need: &Need,
    slice_key: Option<Sym>,
) -> Vec<Domain> {
    group(nodes, 0..nodes.len(), key, need, slice_key)
}

/// The domains of level `key` among the nodes `subset`, by value.
pub(super) fn within(
    nodes: &[Arc<NodeInfo>],
    subset: &[usize],
    key: Sym,
    need: &Need,
) -> Vec<Domain> {
    group(nodes, subset.iter().copied(), key, need, None)
}

/// One pass over `subset`: nodes grouped by their value of `key` (nodes of one domain are
/// usually listed together, so the last domain is checked before the map), with the rooms of
/// their `slice_key` domains.
fn group(
    nodes: &[Arc<NodeInfo>],
    subset: impl Iterator<Item = usize>,
    key: Sym,
    need: &Need,
    slice_key: Option<Sym>,
) -> Vec<Domain> {
    let mut out: Vec<Domain> = Vec::new();
    let mut at: ahash::AHashMap<Sym, usize> = ahash::AHashMap::new();
    // Per domain: its slice domains' rooms by value.
    let mut rooms: Vec<ahash::AHashMap<Sym, usize>> = Vec::new();
    let mut last: Option<(Sym, usize)> = None;
    for i in subset {
        let info = &nodes[i];
        let Some(labels) = info.node.as_ref().map(|n| &n.labels) else {
            continue;
        };
        let Some(value) = labels.get(key) else {
            continue;
        };
        let d = match last {
            Some((v, d)) if v == value => d,
            _ => {
                let d = *at.entry(value).or_insert_with(|| {
                    out.push(Domain {
                        value: Some(value),
                        nodes: Vec::new(),
                        capacity: Capacity::new(need),
                        slice_rooms: Vec::new(),
                    });
                    rooms.push(ahash::AHashMap::new());
                    out.len() - 1
                });
                last = Some((value, d));
                d
            }
        };
        let domain = &mut out[d];
        domain.nodes.push(i);
        let room = domain.capacity.add(need, info);
        if let Some(slice_value) = slice_key.and_then(|k| labels.get(k)) {
            *rooms[d].entry(slice_value).or_default() += room;
        }
    }
    if slice_key.is_some() {
        for (domain, rooms) in out.iter_mut().zip(rooms) {
            domain.slice_rooms = rooms.into_values().collect();
        }
    }
    out.sort_by(|a, b| a.name().cmp(b.name()));
    out
}

/// The whole cluster as one domain.
pub(super) fn everywhere(nodes: &[Arc<NodeInfo>], need: &Need) -> Domain {
    let mut capacity = Capacity::new(need);
    for info in nodes {
        capacity.add(need, info);
    }
    Domain {
        value: None,
        nodes: (0..nodes.len()).collect(),
        capacity,
        slice_rooms: Vec::new(),
    }
}

/// How many slices of `size` the slice-level domains with these rooms hold, and whether the
/// `count` members (in slices of `size`, the last one smaller) fit them.
pub(super) fn slices_fit(rooms: &[usize], size: usize, count: usize) -> Result<(), Lack> {
    let size = size.max(1);
    let (full, rest) = (count / size, count % size);
    let held: usize = rooms.iter().map(|r| r / size).sum();
    let spare = rooms.iter().map(|r| r % size).max().unwrap_or(0);
    if held > full || (held == full && (rest == 0 || spare >= rest)) {
        Ok(())
    } else {
        Err(Lack::Slices {
            fit: held,
            slices: full + usize::from(rest > 0),
        })
    }
}
