"""A local Kubernetes control plane for podium's tests, demo and benchmarks.

``LocalCluster`` runs embedded etcd + kube-apiserver (built from ``tools/localcluster`` with the
machine's Go, cached under ``~/.cache/podium/bin``); ``nodes``/``pods`` build fake objects for
it; ``KubeScheduler`` runs the upstream scheduler beside podium; ``Jaeger`` receives traces.
Every server is torn down as a whole process group, however its owner exits.
"""

from podium.testing.binaries import Binaries, BuildError, ensure_binaries, ensure_jaeger
from podium.testing.cluster import LocalCluster
from podium.testing.jaeger import Jaeger
from podium.testing.kube_scheduler import KubeScheduler
from podium.testing.nodes import (
    NodeCreateError,
    Taint,
    create_nodes,
    delete_nodes,
    make_node,
    make_nodes,
)
from podium.testing.pods import make_pod, make_priority_class
from podium.testing.server import ServerStartError

__all__ = [
    "Binaries",
    "BuildError",
    "Jaeger",
    "KubeScheduler",
    "LocalCluster",
    "NodeCreateError",
    "ServerStartError",
    "Taint",
    "create_nodes",
    "delete_nodes",
    "ensure_binaries",
    "ensure_jaeger",
    "make_node",
    "make_nodes",
    "make_pod",
    "make_priority_class",
]
