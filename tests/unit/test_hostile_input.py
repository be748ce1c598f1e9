"""Property tests: whatever the apiserver or a config file hands podium, each piece of input
gets a result or a clear error naming what was wrong, and nothing else is affected.

Generated inputs, bounded: few examples per property and no deadline (2 shared cores), and no
example database written into the checkout.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podium._core import ClusterState, Code, CoreError, Kind, Profile
from podium.binder import _outcome
from podium.config import ConfigError, default_config, parse_config, parse_duration

BOUNDED = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
PROFILE = Profile(default_config().profiles[0].core_spec())
HOSTILE_QUANTITIES = (
    "2E6024865272343",
    "1e9223372036854775807",
    "1e4294967297",
    "9223372036854775807",
    "1.5.3Gi",
    "",
    "١٢٣",
    "-1",
    "5Ei",
)
KEYS = st.sampled_from(
    [
        "apiVersion",
        "kind",
        "profiles",
        "schedulerName",
        "pluginConfig",
        "name",
        "args",
        "metadata",
        "spec",
        "status",
        "containers",
        "resources",
        "requests",
        "annotations",
        "labels",
        "uid",
        "nodeName",
        "zones",
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(HOSTILE_QUANTITIES)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(KEYS | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=30,
)


def _dumps(value: Any) -> bytes:
    # Integers past 64 bits are valid JSON that orjson will not write: send them as text.
    try:
        return orjson.dumps(value)
    except TypeError:
        return repr(value).encode()


@BOUNDED
@given(JSON)
def test_config_is_valid_or_a_config_error(data: Any) -> None:
    try:
        parse_config(data)
    except ConfigError as error:
        assert error.errors
        assert all(isinstance(line, str) and line for line in error.errors)


@BOUNDED
@given(st.text(min_size=1, max_size=20).filter(lambda k: k not in ("apiVersion", "kind")))
def test_unknown_config_field_is_named(field: str) -> None:
    data = {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        field: 1,
    }
    known = {"parallelism", "profiles", "leaderElection", "clientConnection"}
    try:
        parse_config(data)
    except ConfigError as error:
        if field not in known and not field[0].isupper():
            assert any(field in line for line in error.errors), error.errors


@BOUNDED
@given(st.text(max_size=40))
def test_duration_is_seconds_or_a_value_error(text: str) -> None:
    try:
        seconds = parse_duration(text)
    except ValueError as error:
        assert repr(text) in str(error)
    else:
        assert 0 <= seconds < float("inf")


@BOUNDED
@given(JSON, st.sampled_from(list(Kind)))
def test_any_watch_line_is_a_change_or_a_core_error(value: Any, kind: Kind) -> None:
    state = ClusterState(["podium"])
    for line in (_dumps(value), _dumps({"type": "ADDED", "object": value})):
        try:
            state.apply_event(kind, line)
        except CoreError as error:
            assert str(error)
    try:
        page = state.apply_list(kind, _dumps(value))
    except CoreError:
        pass
    else:
        assert all(isinstance(e, str) and e for e in page.errors)
    state.snapshot()


def _pod(uid: str, annotations: dict[str, str], cpu: str) -> bytes:
    return orjson.dumps(
        {
            "type": "ADDED",
            "object": {
                "metadata": {
                    "name": uid,
                    "namespace": "ns",
                    "uid": uid,
                    "annotations": annotations,
                },
                "spec": {
                    "schedulerName": "default-scheduler",
                    "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}],
                },
            },
        }
    )


NODE = orjson.dumps(
    {
        "type": "ADDED",
        "object": {
            "metadata": {"name": "n1", "uid": "n1"},
            "status": {"allocatable": {"cpu": "8", "memory": "8Gi", "pods": "10"}},
        },
    }
)


@BOUNDED
@given(
    st.dictionaries(
        st.sampled_from(["podium.dev/numa", "podium.dev/allocation", "other"]),
        st.text(max_size=40) | st.sampled_from(['{"zones":[0]}', '{"zones":"x"}', "single"]),
        max_size=3,
    ),
    st.sampled_from(HOSTILE_QUANTITIES) | st.text(max_size=12),
)
def test_hostile_pod_fails_alone_with_its_field_named(
    annotations: dict[str, str], cpu: str
) -> None:
    state = ClusterState(["default-scheduler"])
    state.apply_event(Kind.NODE, NODE)
    state.apply_event(Kind.POD, _pod("good", {}, "1"))
    change = state.apply_event(Kind.POD, _pod("bad", annotations, cpu))
    decisions = {d.uid: d for d in state.snapshot().schedule(["bad", "good"], PROFILE)}
    # The good pod is untouched by its neighbour.
    assert decisions["good"].code == Code.SUCCESS
    bad = decisions["bad"]
    if change.error is not None:
        assert change.error.startswith("Pod ns/bad: "), change.error
        assert bad.code != Code.SUCCESS
        assert bad.message.startswith("Pod ns/bad: "), bad.message


def test_huge_requests_make_the_pod_invalid_instead_of_wrapping() -> None:
    state = ClusterState(["default-scheduler"])
    state.apply_event(Kind.NODE, NODE)
    body = orjson.loads(_pod("big", {}, "1"))
    body["object"]["spec"]["containers"] = [
        {"name": f"c{i}", "resources": {"requests": {"memory": "5Ei"}}} for i in range(2)
    ]
    change = state.apply_event(Kind.POD, orjson.dumps(body))
    assert change.error is not None and "memory requests add up" in change.error
    (decision,) = state.snapshot().schedule(["big"], PROFILE)
    assert decision.code != Code.SUCCESS


@pytest.mark.parametrize("text", HOSTILE_QUANTITIES[:-2])
def test_each_hostile_quantity_names_the_pod_and_field(text: str) -> None:
    state = ClusterState(["default-scheduler"])
    change = state.apply_event(Kind.POD, _pod("q", {}, text))
    assert change.error is not None
    assert change.error.startswith("Pod ns/q: spec.containers[0].resources.requests.cpu: ")


@BOUNDED
@given(st.binary(max_size=200) | JSON.map(_dumps))
def test_bind_outcome_of_any_answer_is_known(body: bytes) -> None:
    class Decision:
        uid = "u"
        namespace = "ns"
        name = "p"
        node = "n1"
        allocation = None

    assert _outcome(Decision(), "n1", body) in ("bound", "dropped", "error")
