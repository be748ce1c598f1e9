// Package gates names what the local cluster turns on beyond Kubernetes' defaults, the same for
// kube-apiserver, kube-scheduler and kube-controller-manager, so all three agree on which APIs
// and fields exist.
package gates

// FeatureGates turns on the Workload API (beta in 1.37, off by default) and what kube-scheduler's
// gang scheduling needs: GenericWorkload (Workload, PodGroup, pods' spec.schedulingGroup, the
// GangScheduling plugin), TopologyAwareWorkloadScheduling (alpha: PodGroups'
// schedulingConstraints.topology and the TopologyPlacementGenerator and PodGroupPodsCount
// plugins) and PodGroupPreemptionPolicy (alpha: PodGroups' preemptionPolicy). Without a gate the
// apiserver drops its fields on write, so the apiserver needs them as much as the scheduler.
const FeatureGates = "GenericWorkload=true,TopologyAwareWorkloadScheduling=true,PodGroupPreemptionPolicy=true"

// RuntimeConfig serves scheduling.k8s.io/v1beta1 (Workload, PodGroup): beta APIs are off by
// default.
const RuntimeConfig = "scheduling.k8s.io/v1beta1=true"

// Args are the flags each component is started with ahead of its caller's: a caller's own
// --feature-gates adds to these (the flag merges its values).
func Args() []string {
	return []string{"--feature-gates=" + FeatureGates}
}

// WithDefaults puts Args after the program name in argv, ahead of the caller's flags.
func WithDefaults(argv []string) []string {
	out := append([]string{argv[0]}, Args()...)
	return append(out, argv[1:]...)
}
