"""The quota workload of ``podium bench core``: ``plain``'s pods under 50 ElasticQuotas, so the
cost of quota accounting (CapacityScheduling's admission, and the use kept per namespace as a
batch places pods) reads as the gap to ``plain`` (issue 19: under 10% at 5,000 nodes).

The 40 team namespaces the synthetic pods live in each get a small ``min`` (their pods borrow,
so every admission sums every quota's use) and a ``max`` no pod reaches; 10 idle quotas hold
the ``min`` the teams borrow from. No pod is refused: what is measured is the accounting."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

QUOTA_WORKLOAD: Final = "plain_quota"
QUOTAS: Final = 50
TEAMS: Final = 40


def is_quota(workload: str) -> bool:
    return workload == QUOTA_WORKLOAD


def quota_objects() -> Iterator[dict[str, Any]]:
    for i in range(QUOTAS):
        namespace = f"team-{i:02d}" if i < TEAMS else f"idle-{i:02d}"
        small = i < TEAMS
        yield {
            "apiVersion": "scheduling.x-k8s.io/v1alpha1",
            "kind": "ElasticQuota",
            "metadata": {"name": "quota", "namespace": namespace, "uid": f"quota-{i:02d}"},
            "spec": {
                "min": {"cpu": "10" if small else "1000000", "memory": "10Gi" if small else "1Pi"},
                "max": {"cpu": "10000000", "memory": "4Pi"},
            },
        }
