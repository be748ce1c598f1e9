// Command kube-scheduler is the upstream scheduler, built from the pinned k8s.io/kubernetes
// release so benchmarks and conformance tests compare podium with the real thing. It starts with
// the local cluster's feature gates (the Workload API and gang scheduling; see internal/gates).
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-scheduler/app"

	"podium.dev/localcluster/internal/gates"
)

func main() {
	cmd := app.NewSchedulerCommand()
	cmd.SetArgs(gates.WithDefaults(os.Args)[1:])
	os.Exit(cli.Run(cmd))
}
