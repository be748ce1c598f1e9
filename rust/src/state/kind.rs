//! The object kinds the cache holds (mirrored by `podium._core.Kind`).

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Node = 0,
    Pod = 1,
    NodeResourceTopology = 2,
    PersistentVolume = 3,
    PersistentVolumeClaim = 4,
    StorageClass = 5,
    Namespace = 6,
    PodGroup = 7,
    PriorityClass = 8,
    PodDisruptionBudget = 9,
    DeviceClass = 10,
    ResourceSlice = 11,
    ResourceClaim = 12,
    ElasticQuota = 13,
    /// The Workload API's PodGroup (`scheduling.k8s.io/v1beta1`).
    WorkloadPodGroup = 14,
}

impl Kind {
    pub const ALL: [Kind; 15] = [
        Kind::Node,
        Kind::Pod,
        Kind::NodeResourceTopology,
        Kind::PersistentVolume,
        Kind::PersistentVolumeClaim,
        Kind::StorageClass,
        Kind::Namespace,
        Kind::PodGroup,
        Kind::PriorityClass,
        Kind::PodDisruptionBudget,
        Kind::DeviceClass,
        Kind::ResourceSlice,
        Kind::ResourceClaim,
        Kind::ElasticQuota,
        Kind::WorkloadPodGroup,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Node => "Node",
            Kind::Pod => "Pod",
            Kind::NodeResourceTopology => "NodeResourceTopology",
            Kind::PersistentVolume => "PersistentVolume",
            Kind::PersistentVolumeClaim => "PersistentVolumeClaim",
            Kind::StorageClass => "StorageClass",
            Kind::Namespace => "Namespace",
            Kind::PodGroup => "PodGroup",
            Kind::PriorityClass => "PriorityClass",
            Kind::PodDisruptionBudget => "PodDisruptionBudget",
            Kind::DeviceClass => "DeviceClass",
            Kind::ResourceSlice => "ResourceSlice",
            Kind::ResourceClaim => "ResourceClaim",
            Kind::ElasticQuota => "ElasticQuota",
            Kind::WorkloadPodGroup => "PodGroup",
        }
    }
}
