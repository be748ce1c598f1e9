"""CPU time and memory of another process (a scheduler under test), read from /proc."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
# /proc/<pid>/stat after the command's closing parenthesis: utime and stime are fields 14 and 15
# of the whole line, i.e. 11 and 12 of the rest.
_UTIME, _STIME = 11, 12


@dataclass(frozen=True, slots=True)
class Usage:
    cpu_seconds: float  # user + system, all threads, since the process started
    rss_mib: float  # resident now
    peak_rss_mib: float  # highest resident so far (VmHWM)


def usage(pid: int) -> Usage:
    """CPU seconds and RSS of process ``pid``; OSError if it is gone."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    cpu = (int(fields[_UTIME]) + int(fields[_STIME])) / _TICKS
    status = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        status[key] = value.strip()
    return Usage(
        cpu_seconds=cpu,
        rss_mib=_kib(status.get("VmRSS", "0 kB")) / 1024,
        peak_rss_mib=_kib(status.get("VmHWM", "0 kB")) / 1024,
    )


def _kib(value: str) -> int:
    return int(value.split(maxsplit=1)[0])
