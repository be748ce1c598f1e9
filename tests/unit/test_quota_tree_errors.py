"""A bad ``podium.dev/parent`` is logged by the cache once, naming the object and the
annotation; scheduling goes on (the quota is a root meanwhile)."""

from __future__ import annotations

import logging
from typing import Any
from unittest.mock import MagicMock

import orjson
import pytest

from podium._core import Kind
from podium.cache import Cache


def _quota(namespace: str, parent: str | None) -> bytes:
    metadata: dict[str, Any] = {"name": "q", "namespace": namespace}
    if parent is not None:
        metadata["annotations"] = {"podium.dev/parent": parent}
    body = {"metadata": metadata, "spec": {"min": {"nvidia.com/gpu": 1}}}
    return orjson.dumps({"type": "ADDED", "object": body})


def test_a_bad_parent_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    cache = Cache(MagicMock(), ["podium"], MagicMock())
    caplog.set_level(logging.WARNING, logger="podium.cache")
    for namespace, parent in (("a", "b"), ("b", "a"), ("c", None)):
        cache._on_change(cache.state.apply_event(Kind.ELASTIC_QUOTA, _quota(namespace, parent)))
    warnings = [r.getMessage() for r in caplog.records]
    # Watched one by one, a arrives before its parent: a root until b comes (a list applies
    # its pages first and logs once at the end).
    assert warnings == [
        "ElasticQuota a/q: metadata.annotations[podium.dev/parent]: no ElasticQuota in "
        "namespace b; the quota is a root meanwhile",
        "ElasticQuota a/q: metadata.annotations[podium.dev/parent]: a cycle (a → b → a); "
        "the quota is a root meanwhile",
        "ElasticQuota b/q: metadata.annotations[podium.dev/parent]: a cycle (b → a → b); "
        "the quota is a root meanwhile",
    ]
    assert [q.parent for q in cache.state.quotas()] == [None, None, None]
    # Fixed: b under c. Nothing more to say; a is under b now.
    cache._on_change(cache.state.apply_event(Kind.ELASTIC_QUOTA, _quota("b", "c")))
    assert len(caplog.records) == 3
    assert {q.namespace: q.parent for q in cache.state.quotas()} == {"a": "b", "b": "c", "c": None}
