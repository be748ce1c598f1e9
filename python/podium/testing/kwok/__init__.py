"""KWOK (Kubernetes WithOut Kubelet) for the local cluster: fake nodes that behave like real ones.

``controller.Kwok`` runs KWOK's controller (built from ``tools/kwok``) against a ``LocalCluster``;
it plays the kubelet of every node ``nodes.make_kwok_node`` builds: it registers the node Ready,
renews its Lease and posts its status, starts the pods bound to it, finishes Job pods after
their run time and removes pods being deleted, following the Stages in ``stages/``.
"""
