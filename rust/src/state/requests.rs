//! What a pod requests, computed the way kube-scheduler does (`resourcehelper.PodRequests`):
//!
//! * regular containers add up, and so do restartable init containers (sidecars,
//!   `restartPolicy: Always`), which keep running beside them;
//! * each ordinary init container runs alone, next to the sidecars started before it, so the
//!   pod needs at least `init + earlier sidecars` for each of them: the result is the
//!   element-wise max of that and the sum above;
//! * pod-level `spec.resources.requests` replace the container total for the resources that
//!   support it (cpu, memory, hugepages);
//! * `spec.overhead` is added last.
//!
//! The "non-zero" variant, used only by scoring, counts a container that omits its cpu or memory
//! request as asking for 100m / 200Mi.

use crate::state::resources::{DEFAULT_MEMORY_REQUEST, DEFAULT_MILLI_CPU_REQUEST, Resources};

/// One container's requests, and whether cpu / memory were present at all.
#[derive(Debug, Clone, Default)]
pub struct ContainerRequests {
    pub requests: Resources,
    pub has_cpu: bool,
    pub has_memory: bool,
}

impl ContainerRequests {
    fn non_zero(&self) -> Resources {
        let mut r = self.requests.clone();
        if !self.has_cpu {
            r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
        }
        if !self.has_memory {
            r.memory = DEFAULT_MEMORY_REQUEST;
        }
        r
    }
}

#[derive(Debug, Clone, Default)]
pub struct InitContainer {
    pub requests: ContainerRequests,
    /// `restartPolicy: Always`: a sidecar.
    pub restartable: bool,
}

/// Everything of a pod spec the request computation reads.
#[derive(Debug, Clone, Default)]
pub struct PodSpecRequests {
    pub containers: Vec<ContainerRequests>,
    pub init_containers: Vec<InitContainer>,
    /// `spec.resources.requests` (pod-level), restricted to the resources that support it.
    pub pod_level: Option<ContainerRequests>,
    pub overhead: Resources,
}

fn is_pod_level_resource(name: &str) -> bool {
    name == "cpu" || name == "memory" || name.starts_with("hugepages-")
}

fn aggregate(
    spec: &PodSpecRequests,
    per_container: impl Fn(&ContainerRequests) -> Resources,
) -> Resources {
    let mut total = Resources::default();
    for c in &spec.containers {
        total.saturating_add(&per_container(c));
    }
    let mut sidecars = Resources::default();
    let mut init_peak = Resources::default();
    for init in &spec.init_containers {
        let own = per_container(&init.requests);
        let needed = if init.restartable {
            total.saturating_add(&own);
            sidecars.saturating_add(&own);
            sidecars.clone()
        } else {
            let mut with_sidecars = own;
            with_sidecars.saturating_add(&sidecars);
            with_sidecars
        };
        init_peak.max_with(&needed);
    }
    total.max_with(&init_peak);
    total
}

fn apply_pod_level(total: &mut Resources, pod_level: &ContainerRequests) {
    let r = &pod_level.requests;
    if pod_level.has_cpu {
        total.milli_cpu = r.milli_cpu;
    }
    if pod_level.has_memory {
        total.memory = r.memory;
    }
    for &(name, value) in &r.scalar {
        if is_pod_level_resource(crate::intern::resolve(name)) {
            total.set(crate::state::resources::ResourceName::Scalar(name), value);
        }
    }
}

/// (requests, non-zero requests for scoring).
pub fn pod_requests(spec: &PodSpecRequests) -> (Resources, Resources) {
    let mut requests = aggregate(spec, |c| c.requests.clone());
    let mut non_zero = aggregate(spec, ContainerRequests::non_zero);
    if let Some(pod_level) = &spec.pod_level {
        apply_pod_level(&mut requests, pod_level);
        apply_pod_level(&mut non_zero, pod_level);
    }
    requests.saturating_add(&spec.overhead);
    non_zero.saturating_add(&spec.overhead);
    requests.compact();
    non_zero.compact();
    (requests, non_zero)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::sym;
    use crate::state::resources::ResourceName;

    fn c(cpu: i64, mem: i64) -> ContainerRequests {
        ContainerRequests {
            requests: Resources {
                milli_cpu: cpu,
                memory: mem,
                ..Resources::default()
            },
            has_cpu: true,
            has_memory: true,
        }
    }

    fn init(cpu: i64, mem: i64, restartable: bool) -> InitContainer {
        InitContainer {
            requests: c(cpu, mem),
            restartable,
        }
    }

    fn cpu_mem(r: &Resources) -> (i64, i64) {
        (r.milli_cpu, r.memory)
    }

    #[test]
    fn containers_add_up() {
        let spec = PodSpecRequests {
            containers: vec![c(100, 10), c(200, 20)],
            ..PodSpecRequests::default()
        };
        assert_eq!(cpu_mem(&pod_requests(&spec).0), (300, 30));
    }

    #[test]
    fn init_containers_take_the_max() {
        let spec = PodSpecRequests {
            containers: vec![c(100, 100)],
            init_containers: vec![init(500, 10, false), init(50, 300, false)],
            ..PodSpecRequests::default()
        };
        assert_eq!(cpu_mem(&pod_requests(&spec).0), (500, 300));
    }

    #[test]
    fn sidecars_run_beside_later_init_containers_and_the_app() {
        // sidecar 100 starts first; init 500 runs beside it (600); the app 200 runs beside it (300).
        let spec = PodSpecRequests {
            containers: vec![c(200, 0)],
            init_containers: vec![init(100, 0, true), init(500, 0, false)],
            ..PodSpecRequests::default()
        };
        assert_eq!(pod_requests(&spec).0.milli_cpu, 600);
        // An init container that runs before the sidecar does not see it.
        let spec = PodSpecRequests {
            containers: vec![c(200, 0)],
            init_containers: vec![init(250, 0, false), init(100, 0, true)],
            ..PodSpecRequests::default()
        };
        assert_eq!(pod_requests(&spec).0.milli_cpu, 300);
    }

    #[test]
    fn overhead_is_added_after_the_max() {
        let spec = PodSpecRequests {
            containers: vec![c(100, 100)],
            init_containers: vec![init(400, 0, false)],
            overhead: Resources {
                milli_cpu: 10,
                memory: 5,
                ..Resources::default()
            },
            ..PodSpecRequests::default()
        };
        assert_eq!(cpu_mem(&pod_requests(&spec).0), (410, 105));
    }

    #[test]
    fn pod_level_requests_replace_cpu_and_memory_only() {
        let gpu = sym("nvidia.com/gpu");
        let mut app = c(100, 100);
        app.requests.set(ResourceName::Scalar(gpu), 2);
        let mut pod_level = ContainerRequests {
            has_cpu: true,
            ..ContainerRequests::default()
        };
        pod_level.requests.milli_cpu = 1000;
        let spec = PodSpecRequests {
            containers: vec![app],
            pod_level: Some(pod_level),
            ..PodSpecRequests::default()
        };
        let r = pod_requests(&spec).0;
        assert_eq!((r.milli_cpu, r.memory, r.scalar(gpu)), (1000, 100, 2));
    }

    #[test]
    fn non_zero_defaults_only_for_missing_requests() {
        let mut missing = ContainerRequests::default();
        missing.requests.milli_cpu = 0;
        let mut explicit_zero_cpu = c(0, 0);
        explicit_zero_cpu.has_memory = false;
        let spec = PodSpecRequests {
            containers: vec![missing, explicit_zero_cpu],
            ..PodSpecRequests::default()
        };
        let (req, nz) = pod_requests(&spec);
        assert_eq!(cpu_mem(&req), (0, 0));
        assert_eq!(cpu_mem(&nz), (100, 2 * DEFAULT_MEMORY_REQUEST));
    }
}
