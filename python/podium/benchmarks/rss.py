"""Resident memory of this process, in MiB."""

from __future__ import annotations

import os
import resource
import sys

_PAGE = os.sysconf("SC_PAGE_SIZE")


def peak_rss_mib() -> float:
    """Highest RSS so far (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def current_rss_mib() -> float:
    """RSS now, from ``/proc/self/statm`` (resident pages); the peak where /proc is absent."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            resident = int(f.read().split()[1])
    except OSError:
        return peak_rss_mib()
    return resident * _PAGE / (1024 * 1024)
