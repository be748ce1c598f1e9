"""A plain watch on pods for the load benchmark: each event decoded in Python, with the moment
it arrived. (podium's own watch feeds the Rust cache instead; the bench and the bind-ceiling
binder want the objects themselves.)"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from podium.rawapi import open_stream

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

_HTTP_GONE = 410


class WatchGone(RuntimeError):
    """The watch fell too far behind (410 Gone): events were lost."""


async def watch(
    api: ApiClient,
    path: str,
    *,
    field_selector: str | None = None,
    opened: asyncio.Event | None = None,
) -> AsyncIterator[tuple[float, str, dict[str, Any]]]:
    """(monotonic arrival time, event type, object) for every object under ``path``: first
    ADDED for those that exist, then every change. Re-watches from the last resourceVersion
    when the stream ends or breaks; sets ``opened`` once the first stream is open."""
    resource_version = "0"
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=300)
    while True:
        query: dict[str, str | int | bool] = {
            "watch": True,
            "allowWatchBookmarks": True,
            "resourceVersion": resource_version,
        }
        if field_selector:
            query["fieldSelector"] = field_selector
        try:
            response = await open_stream(api, path, query, timeout)
        except (aiohttp.ClientError, TimeoutError):
            # A busy apiserver: try again from the last resourceVersion, losing nothing.
            await asyncio.sleep(0.5)
            continue
        if opened is not None:
            opened.set()
        try:
            buffer = b""
            async for chunk in _chunks(response):
                arrived = time.monotonic()
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if not line.strip():
                        continue
                    event = orjson.loads(line)
                    obj = event["object"]
                    if event["type"] == "ERROR":
                        if obj.get("code") == _HTTP_GONE:
                            raise WatchGone(f"{path}: {obj.get('message')}")
                        continue
                    resource_version = obj["metadata"].get("resourceVersion", resource_version)
                    if event["type"] != "BOOKMARK":
                        yield arrived, event["type"], obj
        finally:
            response.release()


async def _chunks(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """The stream's chunks until it ends or breaks (the caller re-watches either way)."""
    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
        async for chunk in response.content.iter_any():
            yield chunk
