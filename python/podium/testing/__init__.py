"""A local Kubernetes control plane for podium's tests, demo and benchmarks.

``LocalCluster`` runs embedded etcd + kube-apiserver (built from ``tools/localcluster`` with the
machine's Go, cached under ``~/.cache/podium/bin``); ``nodes``/``pods`` build fake objects for
it; ``KubeScheduler`` runs the upstream scheduler beside podium; ``Jaeger`` receives traces.
``LiveCluster`` adds kube-controller-manager and KWOK (``kwok``: fake nodes that heartbeat and
run their pods), for ``workloads`` (Deployments, Jobs) as users submit them.
Every server is torn down as a whole process group, however its owner exits.

Import the submodules (``podium.testing.cluster``, ...): the package itself imports nothing,
so ``python -m podium.testing.binaries`` runs its module exactly once.
"""
