// Command kube-controller-manager is the upstream controller-manager, built from the pinned
// k8s.io/kubernetes release, so the local cluster runs the real Deployment, Job, garbage
// collector, namespace, PersistentVolume and ResourceClaim controllers around podium. It starts
// with the local cluster's feature gates (see internal/gates).
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"

	"podium.dev/localcluster/internal/gates"
)

func main() {
	cmd := app.NewControllerManagerCommand()
	cmd.SetArgs(gates.WithDefaults(os.Args)[1:])
	os.Exit(cli.Run(cmd))
}
