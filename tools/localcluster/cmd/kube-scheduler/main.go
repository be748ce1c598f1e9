// Command kube-scheduler is the upstream scheduler, built from the pinned k8s.io/kubernetes
// release so benchmarks and conformance tests compare podium with the real thing.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-scheduler/app"
)

func main() {
	os.Exit(cli.Run(app.NewSchedulerCommand()))
}
