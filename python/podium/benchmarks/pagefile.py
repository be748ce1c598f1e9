"""Pages generated once per cluster, kept on disk, read back one at a time.

Generating 600,000 realistic pods in Python takes far longer than the core needs to load them, and
every case (one per workload) needs the same cluster in a fresh process. So the pages are written
once to a frame file (8-byte little-endian length, then the page) and each case streams them back,
like a reflector receiving them from the network: one page in memory at a time.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

_LENGTH = struct.Struct("<Q")


@dataclass(frozen=True, slots=True)
class PageFile:
    path: Path
    pages: int
    size: int  # bytes of JSON, frames excluded


def write_pages(path: Path, pages: Iterable[bytes]) -> PageFile:
    count = size = 0
    with path.open("wb") as out:
        for page in pages:
            out.write(_LENGTH.pack(len(page)))
            out.write(page)
            count += 1
            size += len(page)
    return PageFile(path=path, pages=count, size=size)


def read_pages(path: Path) -> Iterator[bytes]:
    with path.open("rb") as src:
        while header := src.read(_LENGTH.size):
            (length,) = _LENGTH.unpack(header)
            page = src.read(length)
            if len(page) != length:
                raise ValueError(f"{path}: truncated page ({len(page)} of {length} bytes)")
            yield page
