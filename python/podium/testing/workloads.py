"""What users submit instead of bare pods: Deployments and Jobs, for a cluster whose
controller-manager turns them into pods (``podium.testing.live_cluster``).

Each builder takes the pod to run as ``make_pod`` builds it (its name and namespace are
ignored: the controllers name the pods) and returns a JSON-ready dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podium.testing.kwok.nodes import COMPLETE_AFTER_ANNOTATION


class WorkloadSpecError(ValueError):
    """A workload builder argument is invalid; the message names the workload and the field."""


def pod_template(pod: Mapping[str, Any]) -> dict[str, Any]:
    """The ``template`` of a controller's spec: ``pod``'s labels, annotations and spec."""
    metadata = {
        key: dict(pod["metadata"][key])
        for key in ("labels", "annotations")
        if pod["metadata"].get(key)
    }
    return {"metadata": metadata, "spec": dict(pod["spec"])}


def make_deployment(
    name: str, namespace: str, pod: Mapping[str, Any], *, replicas: int
) -> dict[str, Any]:
    """A Deployment of ``replicas`` copies of ``pod``, selected by the pod's labels (which
    default to ``app: <name>``)."""
    _count(name, "replicas", replicas, minimum=0)
    template = pod_template(pod)
    labels = template["metadata"].setdefault("labels", {"app": name})
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": template,
        },
    }


def make_job(
    name: str,
    namespace: str,
    pod: Mapping[str, Any],
    *,
    completions: int = 1,
    parallelism: int | None = None,
    run_for: str | None = None,
    backoff_limit: int = 0,
) -> dict[str, Any]:
    """A Job running ``pod`` to ``completions`` successes, ``parallelism`` (default: all) at
    a time. ``run_for`` (a Go duration, "30s") is how long each pod runs on a KWOK node before
    it succeeds (KWOK's pod-complete Stage; its default is 10 s)."""
    _count(name, "completions", completions, minimum=1)
    parallelism = completions if parallelism is None else parallelism
    _count(name, "parallelism", parallelism, minimum=1)
    _count(name, "backoff_limit", backoff_limit, minimum=0)
    template = pod_template(pod)
    # A Job's pods must not restart in place: Never or OnFailure.
    template["spec"]["restartPolicy"] = "Never"
    if run_for is not None:
        template["metadata"].setdefault("annotations", {})[COMPLETE_AFTER_ANNOTATION] = run_for
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "completions": completions,
            "parallelism": parallelism,
            "backoffLimit": backoff_limit,
            "template": template,
        },
    }


def _count(workload: str, field: str, value: int, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise WorkloadSpecError(
            f"workload {workload!r}: {field} must be an integer of at least {minimum}, "
            f"got {value!r}"
        )
