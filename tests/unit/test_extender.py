"""The extender protocol without kube-scheduler: request shapes in both node modes, scores
scaled to 0..10, malformed requests answered 400 with the field named (the e2e test with the
real kube-scheduler is tests/integration/test_extender_e2e.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio

from podium._core import ClusterState, Kind, Profile
from podium.config import default_config
from podium.extender import (
    MAX_EXTENDER_PRIORITY,
    BindArgs,
    Extender,
    ExtenderArgs,
    ExtenderInputError,
    ExtenderServer,
)


def node(name: str, cpu: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "uid": f"uid-{name}"},
        "spec": spec,
        "status": {"allocatable": {"cpu": cpu, "memory": "16Gi", "pods": "110"}},
    }


POD = {
    "metadata": {"name": "web", "namespace": "ns", "uid": "u-web"},
    "spec": {
        "schedulerName": "default-scheduler",
        "containers": [{"name": "c", "resources": {"requests": {"cpu": "3"}}}],
    },
}
NODES = [
    node("small", "2"),
    node("big", "16"),
    node("mid", "8"),
    node("off", "16", unschedulable=True),
]


def extender() -> Extender:
    state = ClusterState(["podium"])
    state.apply_list(Kind.NODE, orjson.dumps({"items": NODES}))
    return Extender(state, Profile(default_config().profiles[0].core_spec()), api=None)


@pytest_asyncio.fixture
async def server() -> AsyncIterator[str]:
    running = ExtenderServer(extender(), "127.0.0.1", 0, prefix="/podium")
    await running.start()
    yield f"http://127.0.0.1:{running.port}/podium"
    await running.stop()


async def test_filter_by_names_keeps_what_podium_allows() -> None:
    names = ["small", "big", "mid", "off", "ghost"]
    args = ExtenderArgs.parse(orjson.dumps({"Pod": POD, "NodeNames": names}))
    answer = await extender().filter(args)
    assert answer["NodeNames"] == ["big", "mid"]
    assert answer["FailedNodes"] == {
        "small": "Insufficient cpu",
        "off": "node(s) were unschedulable",
        "ghost": "node(s) not in podium's cache",
    }
    assert answer["Error"] == ""
    assert "Nodes" not in answer


async def test_filter_with_full_nodes_returns_full_nodes() -> None:
    args = ExtenderArgs.parse(orjson.dumps({"Pod": POD, "Nodes": {"items": NODES}}))
    answer = await extender().filter(args)
    assert [n["metadata"]["name"] for n in answer["Nodes"]["items"]] == ["big", "mid"]
    assert answer["Nodes"]["items"][0] == NODES[1], "sent back as received"
    assert "NodeNames" not in answer


async def test_prioritize_scales_podium_scores_to_ten() -> None:
    args = ExtenderArgs.parse(orjson.dumps({"Pod": POD, "NodeNames": ["mid", "big", "small"]}))
    scores = {h["Host"]: h["Score"] for h in await extender().prioritize(args)}
    assert scores["big"] == MAX_EXTENDER_PRIORITY, "the best node gets the top score"
    assert scores["mid"] == 1, "the worst feasible node gets the lowest nonzero score"
    assert scores["small"] == 0, "infeasible for podium"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{", "ExtenderArgs: not valid JSON"),
        (b"[]", "ExtenderArgs: must be a JSON object"),
        (b'{"NodeNames": []}', "ExtenderArgs.Pod: must be a Pod object"),
        (b'{"Pod": {}, "NodeNames": [1]}', "ExtenderArgs.NodeNames: must be a list of strings"),
        (b'{"Pod": {}}', "neither NodeNames nor Nodes"),
        (b'{"Pod": {}, "Nodes": {"items": [{}]}}', "Nodes.items[0].metadata.name: missing"),
    ],
)
def test_malformed_args_name_the_field(body: bytes, expected: str) -> None:
    with pytest.raises(ExtenderInputError, match=None) as info:
        ExtenderArgs.parse(body)
    assert expected in str(info.value)


def test_malformed_bind_args_name_the_field() -> None:
    with pytest.raises(ExtenderInputError, match=r"ExtenderBindingArgs\.PodUID"):
        BindArgs.parse(b'{"PodName": "a", "PodNamespace": "b", "Node": "n"}')
    args = BindArgs.parse(b'{"PodName": "a", "PodNamespace": "b", "PodUID": "u", "Node": "n"}')
    assert (args.name, args.namespace, args.uid, args.node) == ("a", "b", "u", "n")


async def test_http_verbs_and_errors(server: str) -> None:
    async with aiohttp.ClientSession() as session:
        body = orjson.dumps({"Pod": POD, "NodeNames": ["small", "big"]})
        async with session.post(f"{server}/filter", data=body) as response:
            assert response.status == 200
            assert (await response.json())["NodeNames"] == ["big"]
        async with session.post(f"{server}/prioritize", data=body) as response:
            assert response.status == 200
            assert await response.json() == [
                {"Host": "small", "Score": 0},
                {"Host": "big", "Score": MAX_EXTENDER_PRIORITY},
            ]
        bad_pod = dict(POD, spec={"containers": [{"resources": {"requests": {"cpu": "1x"}}}]})
        bad = orjson.dumps({"Pod": bad_pod, "NodeNames": ["big"]})
        async with session.post(f"{server}/filter", data=bad) as response:
            assert response.status == 400
            error = (await response.json())["Error"]
            assert (
                "ExtenderArgs.Pod: Pod ns/web: spec.containers[0].resources.requests.cpu" in error
            )
        async with session.post(f"{server}/bind", data=b"{}") as response:
            assert response.status == 400
            assert "ExtenderBindingArgs.PodName" in (await response.json())["Error"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--profile", "nope"], "--profile: no profile 'nope' (profiles: podium)"),
        (["--listen", "bad"], "invalid address 'bad': expected host:port"),
        (["--tls-cert-file", "x.crt"], "--tls-cert-file and --tls-key-file go together"),
    ],
)
def test_cli_refuses_bad_options(args: list[str], expected: str) -> None:
    from typer.testing import CliRunner

    from podium.cli import app

    result = CliRunner().invoke(app, ["extender", *args])
    assert result.exit_code == 2
    assert expected in result.output
