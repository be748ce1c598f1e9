"""Load a kind into a ``ClusterState`` from list pages, exactly as the reflector does.

begin_relist → apply_list per page → end_relist (``podium.watch.Reflector._list``). Only the core
calls are timed: reading a page (here from a file, in production from the socket) is I/O the
reflector overlaps with the core anyway.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from podium._core import ClusterState, Kind


@dataclass(slots=True)
class LoadTiming:
    kind: str
    pages: int = 0
    items: int = 0
    bytes: int = 0
    core_seconds: float = 0.0  # begin_relist + every apply_list + end_relist
    wall_seconds: float = 0.0  # the same plus reading the pages
    error_count: int = 0
    errors: list[str] = field(default_factory=list)  # the first few


class ListProtocolError(RuntimeError):
    """The core's answer does not match the pages it was given."""


def load_kind(state: ClusterState, kind: Kind, pages: Iterable[bytes]) -> LoadTiming:
    timing = LoadTiming(kind=kind.name)
    started = time.perf_counter()
    t = time.perf_counter()
    state.begin_relist(kind)
    timing.core_seconds += time.perf_counter() - t
    continue_token: str | None = None
    for body in pages:
        t = time.perf_counter()
        page = state.apply_list(kind, body)
        timing.core_seconds += time.perf_counter() - t
        timing.pages += 1
        timing.items += page.items
        timing.bytes += len(body)
        timing.error_count += len(page.errors)
        # Keep at most a few messages: one bad generator bug would otherwise fill the report.
        timing.errors.extend(page.errors[: max(0, 5 - len(timing.errors))])
        continue_token = page.continue_token
    if continue_token:
        raise ListProtocolError(f"{kind.name}: last page still had continue={continue_token!r}")
    t = time.perf_counter()
    state.end_relist(kind)
    timing.core_seconds += time.perf_counter() - t
    timing.wall_seconds = time.perf_counter() - started
    return timing
