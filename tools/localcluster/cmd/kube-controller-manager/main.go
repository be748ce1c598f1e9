// Command kube-controller-manager is the upstream controller-manager, built from the pinned
// k8s.io/kubernetes release, so the local cluster runs the real Deployment, Job, garbage
// collector, namespace, PersistentVolume and ResourceClaim controllers around podium.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	os.Exit(cli.Run(app.NewControllerManagerCommand()))
}
