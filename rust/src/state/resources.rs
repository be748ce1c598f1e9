//! Resource vectors: what a pod requests, what a node offers, what a node has handed out.

use crate::intern::{Sym, resolve};

pub const CPU: &str = "cpu";
pub const MEMORY: &str = "memory";
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
pub const PODS: &str = "pods";

/// kube's `resourceapi.ResourceDeviceClassPrefix`: every DeviceClass serves the extended
/// resource `deviceclass.resource.kubernetes.io/<class name>`.
pub const DEVICE_CLASS_PREFIX: &str = "deviceclass.resource.kubernetes.io/";

/// kube's `IsDRAExtendedResourceName`: an extended resource name (prefixed, outside
/// `kubernetes.io/`, not a quota's `requests.`), or a class's implicit
/// `deviceclass.resource.kubernetes.io/<class>`.
pub fn is_dra_extended_resource_name(name: &str) -> bool {
    name.starts_with(DEVICE_CLASS_PREFIX)
        || (name.contains('/')
            && !name.contains("kubernetes.io/")
            && !name.starts_with("requests."))
}

/// Defaults kube-scheduler assumes for scoring when a container requests nothing
/// (`schedutil.DefaultMilliCPURequest`, `DefaultMemoryRequest`).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// A resource as the scheduler distinguishes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceName {
    Cpu,
    Memory,
    EphemeralStorage,
    Pods,
    /// Extended resources (`nvidia.com/gpu`), hugepages, attachable volumes.
    Scalar(Sym),
}

impl ResourceName {
    pub fn parse(name: &str) -> Self {
        match name {
            CPU => Self::Cpu,
            MEMORY => Self::Memory,
            EPHEMERAL_STORAGE => Self::EphemeralStorage,
            PODS => Self::Pods,
            other => Self::Scalar(crate::intern::sym(other)),
        }
    }

    /// As `parse`, without interning a name never seen (None then): for names read from
    /// values anyone may write, which must not grow the intern table.
    pub fn lookup(name: &str) -> Option<Self> {
        match name {
            CPU => Some(Self::Cpu),
            MEMORY => Some(Self::Memory),
            EPHEMERAL_STORAGE => Some(Self::EphemeralStorage),
            PODS => Some(Self::Pods),
            other => crate::intern::lookup(other).map(Self::Scalar),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cpu => CPU,
            Self::Memory => MEMORY,
            Self::EphemeralStorage => EPHEMERAL_STORAGE,
            Self::Pods => PODS,
            Self::Scalar(s) => resolve(s),
        }
    }
}

/// The most of one resource a single pod is counted for (2^53: 9e15 bytes, 9e12 cores). A pod
/// asking more is marked invalid and counted for this much, so a node's total, a wrapping sum
/// of its pods, cannot wrap below 1,024 such pods.
pub const MAX_POD_REQUEST: i64 = 1 << 53;

/// Amounts of cpu (millicores), memory and ephemeral storage (bytes) and scalar resources
/// (units). A node's sums use wrapping arithmetic so that adding then removing a pod is exact
/// whatever the input; each pod's own total saturates and is capped at `MAX_POD_REQUEST`, so
/// only absurd inputs (totals beyond 9.2e18) could wrap, and the filters compare with saturating
/// arithmetic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    /// Sorted by symbol, no zero entries after `compact`.
    pub scalar: Vec<(Sym, i64)>,
}

impl Resources {
    pub fn get(&self, name: ResourceName) -> i64 {
        match name {
            ResourceName::Cpu => self.milli_cpu,
            ResourceName::Memory => self.memory,
            ResourceName::EphemeralStorage => self.ephemeral_storage,
            ResourceName::Pods => 0,
            ResourceName::Scalar(s) => self.scalar(s),
        }
    }

    pub fn scalar(&self, name: Sym) -> i64 {
        self.scalar
            .binary_search_by_key(&name, |(k, _)| *k)
            .map_or(0, |i| self.scalar[i].1)
    }

    /// Whether the scalar resource is listed (a node offering 0 of it still lists it).
    pub fn has_scalar(&self, name: Sym) -> bool {
        self.scalar.binary_search_by_key(&name, |(k, _)| *k).is_ok()
    }

    fn scalar_entry(&mut self, name: Sym) -> &mut i64 {
        let i = match self.scalar.binary_search_by_key(&name, |(k, _)| *k) {
            Ok(i) => i,
            Err(i) => {
                self.scalar.insert(i, (name, 0));
                i
            }
        };
        &mut self.scalar[i].1
    }

    pub fn set(&mut self, name: ResourceName, value: i64) {
        match name {
            ResourceName::Cpu => self.milli_cpu = value,
            ResourceName::Memory => self.memory = value,
            ResourceName::EphemeralStorage => self.ephemeral_storage = value,
            ResourceName::Pods => {}
            ResourceName::Scalar(s) => *self.scalar_entry(s) = value,
        }
    }

    pub fn add(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.wrapping_add(other.milli_cpu);
        self.memory = self.memory.wrapping_add(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.wrapping_add(other.ephemeral_storage);
        for &(k, v) in &other.scalar {
            let e = self.scalar_entry(k);
            *e = e.wrapping_add(v);
        }
    }

    pub fn sub(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.wrapping_sub(other.milli_cpu);
        self.memory = self.memory.wrapping_sub(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.wrapping_sub(other.ephemeral_storage);
        for &(k, v) in &other.scalar {
            let e = self.scalar_entry(k);
            *e = e.wrapping_sub(v);
        }
        self.scalar.retain(|&(_, v)| v != 0);
    }

    /// Adds without ever wrapping: for a pod's own total, computed once and never taken back.
    pub fn saturating_add(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.saturating_add(other.milli_cpu);
        self.memory = self.memory.saturating_add(other.memory);
        self.ephemeral_storage = self
            .ephemeral_storage
            .saturating_add(other.ephemeral_storage);
        for &(k, v) in &other.scalar {
            let e = self.scalar_entry(k);
            *e = e.saturating_add(v);
        }
    }

    /// Lowers every amount above `max` to `max`; returns the names of those lowered.
    pub fn clamp_to(&mut self, max: i64) -> Vec<&'static str> {
        let mut clamped = Vec::new();
        for (name, value) in [
            (CPU, &mut self.milli_cpu),
            (MEMORY, &mut self.memory),
            (EPHEMERAL_STORAGE, &mut self.ephemeral_storage),
        ] {
            if *value > max {
                *value = max;
                clamped.push(name);
            }
        }
        for (k, v) in &mut self.scalar {
            if *v > max {
                *v = max;
                clamped.push(resolve(*k));
            }
        }
        clamped
    }

    /// Element-wise maximum, as `maxResourceList` for init containers.
    pub fn max_with(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        for &(k, v) in &other.scalar {
            let e = self.scalar_entry(k);
            *e = (*e).max(v);
        }
    }

    pub fn compact(&mut self) {
        self.scalar.retain(|&(_, v)| v != 0);
        self.scalar.shrink_to_fit();
    }

    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.iter().all(|&(_, v)| v == 0)
    }

    /// Named totals, for `node_usage` and `explain`.
    pub fn entries(&self) -> impl Iterator<Item = (&'static str, i64)> + '_ {
        [
            (CPU, self.milli_cpu),
            (MEMORY, self.memory),
            (EPHEMERAL_STORAGE, self.ephemeral_storage),
        ]
        .into_iter()
        .chain(self.scalar.iter().map(|&(k, v)| (resolve(k), v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::sym;

    #[test]
    fn add_then_sub_is_exact_and_drops_zero_scalars() {
        let gpu = sym("nvidia.com/gpu");
        let mut node = Resources::default();
        let mut pod = Resources {
            milli_cpu: 500,
            memory: 1 << 30,
            ..Resources::default()
        };
        pod.set(ResourceName::Scalar(gpu), 2);
        node.add(&pod);
        node.add(&pod);
        assert_eq!(node.scalar(gpu), 4);
        node.sub(&pod);
        node.sub(&pod);
        assert_eq!(node, Resources::default());
    }

    #[test]
    fn max_with_is_element_wise() {
        let gpu = sym("nvidia.com/gpu");
        let mut a = Resources {
            milli_cpu: 100,
            memory: 10,
            ..Resources::default()
        };
        let mut b = Resources {
            milli_cpu: 50,
            memory: 20,
            ..Resources::default()
        };
        b.set(ResourceName::Scalar(gpu), 1);
        a.max_with(&b);
        assert_eq!((a.milli_cpu, a.memory, a.scalar(gpu)), (100, 20, 1));
    }

    #[test]
    fn names_round_trip() {
        for n in [
            "cpu",
            "memory",
            "ephemeral-storage",
            "pods",
            "example.com/foo",
        ] {
            assert_eq!(ResourceName::parse(n).as_str(), n);
        }
    }
}
