"""CPU and memory of a process, from /proc: the figures the load benchmark reports."""

from __future__ import annotations

import os
import time

import pytest

from podium.benchmarks.procstat import usage


def test_usage_of_a_busy_process_grows_and_peak_bounds_resident() -> None:
    before = usage(os.getpid())
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:
        pass
    after = usage(os.getpid())
    assert after.cpu_seconds >= before.cpu_seconds + 0.1
    assert 0 < after.rss_mib <= after.peak_rss_mib


def test_usage_of_a_missing_process_raises() -> None:
    with pytest.raises(OSError):
        usage(2**22 + 7)  # above the kernel's largest pid
