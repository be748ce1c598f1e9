"""Shared test setup: markers by directory, and one local cluster per session.

Tests under ``tests/integration`` are marked ``integration`` and those under ``tests/e2e``
``e2e`` automatically. When any selected test needs the cluster, its binaries are built right
after collection (outside every test's timeout); a build failure makes those tests ERROR with
the build's message: nothing is skipped silently.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
import pytest_asyncio
from kubernetes_asyncio.client import ApiClient, CoreV1Api, V1Namespace, V1ObjectMeta

from podium.kubeclient import api_client
from podium.testing.binaries import (
    Binaries,
    BuildError,
    ensure_binaries,
    ensure_helm,
    ensure_jaeger,
    ensure_kwok,
)
from podium.testing.cluster import LocalCluster
from podium.testing.crds import delete_elastic_quotas, install_crds
from podium.testing.jaeger import Jaeger
from podium.testing.live_cluster import LiveCluster
from podium.testing.nodes import delete_nodes

TEST_NODE_LABEL = "podium.dev/test"

_TESTS = Path(__file__).parent
_MARK_BY_DIRECTORY = {"integration": "integration", "e2e": "e2e"}
_BINARIES = pytest.StashKey["Binaries | BuildError"]()
_JAEGER = pytest.StashKey["Path | BuildError"]()
_HELM = pytest.StashKey["Path | BuildError"]()
_KWOK = pytest.StashKey["Path | BuildError"]()
_T = TypeVar("_T")
_LIVE_FIXTURES = frozenset(
    {"kwok_binary", "live_cluster", "live_api", "live_namespace", "live_node_labels"}
)
_CLUSTER_FIXTURES = (
    frozenset({"binaries", "cluster", "api", "crds", "namespace", "node_labels"}) | _LIVE_FIXTURES
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # tryfirst: markers must exist before `-m` deselection looks at them.
    for item in items:
        try:
            directory = item.path.relative_to(_TESTS).parts[0]
        except ValueError:
            continue
        mark = _MARK_BY_DIRECTORY.get(directory)
        if mark is not None:
            item.add_marker(mark)


def pytest_collection_finish(session: pytest.Session) -> None:
    used: set[str] = set()
    for item in session.items:
        used.update(getattr(item, "fixturenames", ()))
    if _CLUSTER_FIXTURES & used:
        session.config.stash[_BINARIES] = _build(ensure_binaries)
    if _LIVE_FIXTURES & used:
        session.config.stash[_KWOK] = _build(ensure_kwok)
    if "jaeger" in used:
        session.config.stash[_JAEGER] = _build(ensure_jaeger)
    if "helm_binary" in used:
        session.config.stash[_HELM] = _build(ensure_helm)


def _build(build: Callable[[], _T]) -> _T | BuildError:
    try:
        return build()
    except BuildError as error:
        return error


def _built(
    request: pytest.FixtureRequest,
    key: pytest.StashKey[_T | BuildError],
    build: Callable[[], _T],
) -> _T:
    built = request.config.stash.get(key, None)
    if built is None:
        built = _build(build)
    if isinstance(built, BuildError):
        raise built
    return built


@pytest.fixture(scope="session")
def binaries(request: pytest.FixtureRequest) -> Binaries:
    """The local-cluster executables (built after collection; a build error fails the test)."""
    return _built(request, _BINARIES, ensure_binaries)


@pytest.fixture(scope="session")
def jaeger_binary(request: pytest.FixtureRequest) -> Path:
    """The Jaeger executable: an optional build, made only when a selected test needs it."""
    return _built(request, _JAEGER, ensure_jaeger)


@pytest.fixture(scope="session")
def helm_binary(request: pytest.FixtureRequest) -> Path:
    """The Helm executable (for the chart's tests), built only when a selected test needs it."""
    return _built(request, _HELM, ensure_helm)


@pytest.fixture(scope="session")
def kwok_binary(request: pytest.FixtureRequest) -> Path:
    """The KWOK controller executable (its own Go module), built after collection when a
    selected test needs the live cluster."""
    return _built(request, _KWOK, ensure_kwok)


@pytest.fixture
def jaeger(jaeger_binary: Path) -> Iterator[Jaeger]:
    """A fresh in-memory Jaeger for one test."""
    with Jaeger(binary=jaeger_binary) as running:
        yield running


@pytest.fixture(scope="session")
def cluster(binaries: Binaries) -> Iterator[LocalCluster]:
    """One apiserver for the whole session; tests isolate themselves by namespace/labels."""
    with LocalCluster(binaries=binaries) as running:
        yield running


@pytest_asyncio.fixture(scope="session")
async def api(cluster: LocalCluster) -> AsyncIterator[ApiClient]:
    """An admin client for ``cluster`` without a client-side rate limit."""
    client = await api_client(cluster.kubeconfig, qps=0.0, burst=256)
    async with client:
        yield client


@pytest_asyncio.fixture(scope="session")
async def crds(api: ApiClient) -> list[str]:
    """podium's CRDs (deploy/crds) installed and served; returns their names."""
    return await install_crds(api)


@pytest_asyncio.fixture
async def namespace(api: ApiClient) -> AsyncIterator[str]:
    """A fresh namespace for one test, deleted after it."""
    name = f"test-{uuid.uuid4().hex[:10]}"
    core = CoreV1Api(api)
    await core.create_namespace(V1Namespace(metadata=V1ObjectMeta(name=name)))
    yield name
    # No namespace controller runs, so deleting the namespace alone would leave its pods for
    # the next scheduler to find: remove them at once (grace 0: no kubelet would confirm).
    await core.delete_collection_namespaced_pod(name, grace_period_seconds=0)
    await delete_elastic_quotas(api, name)
    await core.delete_namespace(name)


@pytest_asyncio.fixture
async def node_labels(api: ApiClient) -> AsyncIterator[dict[str, str]]:
    """Labels to put on a test's nodes; every node carrying them is deleted after the test.

    Nodes are cluster-wide: without this a test's nodes would offer capacity to later tests."""
    labels = {TEST_NODE_LABEL: uuid.uuid4().hex[:10]}
    yield labels
    await delete_nodes(api, label_selector=f"{TEST_NODE_LABEL}={labels[TEST_NODE_LABEL]}")


@pytest.fixture(scope="session")
def live_cluster(binaries: Binaries, kwok_binary: Path) -> Iterator[LiveCluster]:
    """A second apiserver for the session, with kube-controller-manager and KWOK: for tests of
    what controllers and kubelets do (Deployments, Jobs, garbage collection, volume binding,
    pods running). Give it KWOK nodes (``make_kwok_node``): the node lifecycle controller runs,
    so a static node, which never heartbeats, is tainted unreachable after two minutes."""
    with LiveCluster(binaries=binaries, kwok_binary=kwok_binary) as running:
        yield running


@pytest_asyncio.fixture(scope="session")
async def live_api(live_cluster: LiveCluster) -> AsyncIterator[ApiClient]:
    """An admin client for ``live_cluster`` without a client-side rate limit."""
    client = await api_client(live_cluster.kubeconfig, qps=0.0, burst=256)
    async with client:
        yield client


@pytest_asyncio.fixture
async def live_namespace(live_api: ApiClient) -> AsyncIterator[str]:
    """A fresh namespace of ``live_cluster`` for one test; deleting it after the test is
    enough: the namespace controller empties it."""
    name = f"test-{uuid.uuid4().hex[:10]}"
    core = CoreV1Api(live_api)
    await core.create_namespace(V1Namespace(metadata=V1ObjectMeta(name=name)))
    yield name
    await core.delete_namespace(name)


@pytest_asyncio.fixture
async def live_node_labels(live_api: ApiClient) -> AsyncIterator[dict[str, str]]:
    """``node_labels`` for ``live_cluster``: its nodes carrying them are deleted after the test."""
    labels = {TEST_NODE_LABEL: uuid.uuid4().hex[:10]}
    yield labels
    await delete_nodes(live_api, label_selector=f"{TEST_NODE_LABEL}={labels[TEST_NODE_LABEL]}")
