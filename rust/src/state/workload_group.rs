//! What a Workload API PodGroup (`scheduling.k8s.io/v1beta1`) says beyond scheduler-plugins'
//! PodGroup, as the gang record keeps it (`PodGroupRecord::workload`); decoded in
//! `state::workload_pod_group`.

use crate::intern::Sym;

/// `spec.disruptionMode`: whether members may be disrupted one by one or only together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DisruptionMode {
    /// The API's default when unset.
    #[default]
    Single,
    All,
}

impl DisruptionMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Single => "Single",
            Self::All => "All",
        }
    }
}

/// What the Workload API's PodGroup says beyond what scheduler-plugins' PodGroup says.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WorkloadGroup {
    /// `schedulingPolicy.gang` is set (false: `basic`).
    pub gang: bool,
    /// `schedulingConstraints.topology[0].key`: the node label whose domain holds every member.
    pub topology_key: Option<Sym>,
    pub priority: Option<i32>,
    pub priority_class_name: Option<Sym>,
    /// `preemptionPolicy: Never`: the group waits instead of preempting.
    pub never_preempts: bool,
    pub disruption: DisruptionMode,
    /// `parentCompositePodGroupName` (CompositePodGroup, alpha in 1.37): read, not acted on.
    pub parent: Option<Sym>,
    /// `workloadRef`: (workloadName, templateName).
    pub workload_ref: Option<(Sym, Sym)>,
    /// `metadata.generation`, written back as a condition's `observedGeneration`.
    pub generation: i64,
    /// `status.conditions` has PodGroupInitiallyScheduled=True.
    pub initially_scheduled: bool,
}
