"""List+watch of one resource into the Rust ``ClusterState``, like client-go's reflector.

Bodies and watch lines stay bytes: the core parses each object once. The reflector lists in pages
(``limit``/``continue``), then watches from the list's resourceVersion with bookmarks, and relists
when the apiserver says the resourceVersion is gone (410). Other failures back off and re-watch
from the last resourceVersion seen, so a flaky connection costs no relist.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp

from podium._core import CoreError, EventType
from podium.rawapi import ApiStatusError, open_stream

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

    from podium._core import Change, ClusterState, Kind

log = logging.getLogger(__name__)

HTTP_GONE = 410
HTTP_NOT_FOUND = 404


@dataclass(frozen=True)
class Resource:
    """Where a kind lives in the API."""

    kind: Kind
    path: str
    # A CRD that may not be installed: a 404 waits and retries quietly instead of erroring.
    optional: bool = False


@dataclass
class ReflectorOptions:
    page_size: int = 500
    # Server-side watch timeout; the client reconnects after it. Randomised like client-go so
    # many reflectors don't reconnect in lockstep.
    watch_timeout: int = 300
    min_backoff: float = 0.5
    max_backoff: float = 30.0


class ResourceVersionGone(Exception):
    """The watch's resourceVersion is too old: relist."""


class StreamCorrupt(Exception):
    """A watch line could not be read: an event may be lost, so relist."""


ChangeHandler = Callable[["Change"], None]
VanishedHandler = Callable[[list[str]], None]
RelistHandler = Callable[["Kind"], None]
# (namespace, name, uid, message) of a pod on a node that podium could not read whole.
BoundPodErrorHandler = Callable[[str, str, str, str], None]


class Reflector:
    def __init__(
        self,
        api: ApiClient,
        state: ClusterState,
        resource: Resource,
        on_change: ChangeHandler,
        on_vanished: VanishedHandler,
        on_relist: RelistHandler | None = None,
        options: ReflectorOptions | None = None,
        on_bound_pod_error: BoundPodErrorHandler | None = None,
    ) -> None:
        """``on_bound_pod_error``: told of listed pods on a node that podium could not read
        whole (a watch tells it through ``on_change``)."""
        self._api = api
        self._state = state
        self._resource = resource
        self._on_change = on_change
        self._on_vanished = on_vanished
        self._on_relist = on_relist
        self._on_bound_pod_error = on_bound_pod_error
        self._options = options or ReflectorOptions()
        self.synced = asyncio.Event()
        self.resource_version = ""
        self.relists = 0
        # Lines applied by the current watch (a broken connection that made progress restarts
        # the backoff).
        self._watched_events = 0

    @property
    def resource(self) -> Resource:
        return self._resource

    async def run(self) -> None:
        """List, then watch forever. Returns only by cancellation."""
        backoff = self._options.min_backoff
        need_list = True
        while True:
            self._watched_events = 0
            try:
                if need_list:
                    await self._list()
                    need_list = False
                await self._watch()
                backoff = self._options.min_backoff
            except ResourceVersionGone:
                log.info(
                    "%s: resourceVersion %s gone, relisting", self._path, self.resource_version
                )
                need_list = True
            except (StreamCorrupt, CoreError) as err:
                # What the apiserver sent cannot be read (a cut or hostile stream, a page the
                # core rejects). Relist after a backoff: it must neither stop the cache nor spin.
                log.error("%s: %s; relisting in %.1fs", self._path, err, backoff)  # noqa: TRY400
                need_list = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._options.max_backoff)
            except ApiStatusError as err:
                if err.status == HTTP_GONE:
                    need_list = True
                    continue
                if err.status == HTTP_NOT_FOUND and self._resource.optional:
                    # The CRD is not installed (yet): nothing to cache, and that is fine.
                    if not self.synced.is_set():
                        log.info("%s: not served; treating as empty", self._path)
                        self.synced.set()
                    await asyncio.sleep(self._options.max_backoff)
                    continue
                log.warning("%s: %s; retrying in %.1fs", self._path, err, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._options.max_backoff)
            except (aiohttp.ClientError, TimeoutError, ConnectionError) as err:
                if self._watched_events:
                    # The connection worked and then broke: start the backoff over, or a
                    # flapping network would push every reconnect towards max_backoff.
                    backoff = self._options.min_backoff
                log.warning("%s: %r; retrying in %.1fs", self._path, err, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._options.max_backoff)

    @property
    def _path(self) -> str:
        return self._resource.path

    async def _list(self) -> None:
        """A full paginated list; objects not seen again are dropped from the cache."""
        kind = self._resource.kind
        self._state.begin_relist(kind)
        continue_token: str | None = None
        resource_version = ""
        timeout = aiohttp.ClientTimeout(total=120, sock_connect=10)
        try:
            while True:
                query: dict[str, str | int | bool] = {"limit": self._options.page_size}
                if continue_token:
                    query["continue"] = continue_token
                response = await open_stream(self._api, self._path, query, timeout)
                try:
                    body = await response.read()
                finally:
                    response.release()
                page = self._state.apply_list(kind, body)
                for error in page.errors:
                    log.error("%s: %s", self._path, error)
                if self._on_bound_pod_error is not None:
                    for namespace, name, uid, error in page.bound_pod_errors:
                        self._on_bound_pod_error(namespace, name, uid, error)
                resource_version = page.resource_version
                continue_token = page.continue_token
                if not continue_token:
                    break
        finally:
            # A half-done relist must still close, or the next one would see stale marks; objects
            # not yet re-seen are dropped, and the next list brings them back.
            vanished = self._state.end_relist(kind)
        self.resource_version = resource_version
        self.relists += 1
        if vanished:
            self._on_vanished(vanished)
        if self._on_relist is not None:
            self._on_relist(kind)
        self.synced.set()

    async def _watch(self) -> None:
        watch_timeout = self._options.watch_timeout + random.randint(0, 60)
        query: dict[str, str | int | bool] = {
            "watch": True,
            "allowWatchBookmarks": True,
            "resourceVersion": self.resource_version,
            "timeoutSeconds": watch_timeout,
        }
        # No total timeout: the stream is long-lived; a silent connection is cut by sock_read.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=watch_timeout + 30)
        response = await open_stream(self._api, self._path, query, timeout)
        try:
            buffer = b""
            async for chunk in response.content.iter_any():
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.strip():
                        self._apply(line)
            if buffer.strip():
                self._apply(buffer)
        finally:
            response.release()

    def _apply(self, line: bytes) -> None:
        self._watched_events += 1
        try:
            change = self._state.apply_event(self._resource.kind, line)
        except CoreError as err:
            raise StreamCorrupt(f"unreadable watch line ({len(line)} bytes): {err}") from err
        if change.event == EventType.ERROR:
            if change.status_code == HTTP_GONE:
                raise ResourceVersionGone
            log.warning("%s: watch error %s", self._path, change.status_code)
            return
        if change.resource_version:
            self.resource_version = change.resource_version
        if change.error:
            log.error("%s: %s", self._path, change.error)
        if change.event != EventType.BOOKMARK:
            self._on_change(change)
