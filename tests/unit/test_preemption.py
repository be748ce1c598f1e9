"""Preemption's pure parts: which pods preempt together, and the DefaultPreemption switch.

The core's victim selection is tested beside it (rust/src/preemption/tests.rs); evictions,
nominations and events against the real apiserver in tests/integration/test_preemption.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from podium.config import parse_config
from podium.preemption import preemption_sets


@dataclass(frozen=True)
class Pod:
    uid: str
    namespace: str = "ns"
    name: str = "p"
    pod_group: str | None = None
    priority: int = 0
    created: float = 0.0


def test_a_gangs_pods_preempt_as_one_set_in_order_of_their_first() -> None:
    pods = [
        Pod("a", pod_group="g"),
        Pod("single"),
        Pod("b", pod_group="g"),
        Pod("c", namespace="other", pod_group="g"),
        Pod("d", pod_group="h"),
    ]
    sets = [[p.uid for p in s] for s in preemption_sets(pods)]
    assert sets == [["a", "b"], ["single"], ["c"], ["d"]]
    assert preemption_sets([]) == []


def _config(plugins: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "profiles": [{"schedulerName": "podium", "plugins": plugins}],
    }


@pytest.mark.parametrize(
    ("plugins", "enabled"),
    [
        ({}, True),
        ({"postFilter": {"disabled": [{"name": "DefaultPreemption"}]}}, False),
        ({"postFilter": {"disabled": [{"name": "*"}]}}, False),
        ({"multiPoint": {"disabled": [{"name": "DefaultPreemption"}]}}, False),
        (
            {
                "multiPoint": {"disabled": [{"name": "*"}]},
                "postFilter": {"enabled": [{"name": "DefaultPreemption"}]},
            },
            True,
        ),
        (
            {
                "postFilter": {
                    "disabled": [{"name": "*"}],
                    "enabled": [{"name": "DefaultPreemption"}],
                }
            },
            True,
        ),
        ({"postFilter": {"disabled": [{"name": "NodeResourcesFit"}]}}, True),
    ],
)
def test_default_preemption_is_on_unless_disabled(plugins: dict[str, Any], enabled: bool) -> None:
    (profile,) = parse_config(_config(plugins)).profiles
    assert profile.preemption is enabled


def test_an_unknown_post_filter_plugin_is_named() -> None:
    with pytest.raises(Exception, match=r"postFilter\.enabled\[0\]\.name: unknown plugin 'Nope'"):
        parse_config(_config({"postFilter": {"enabled": [{"name": "Nope"}]}}))
