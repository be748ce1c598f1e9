"""Waiting in tests against a live apiserver: poll a check until it holds, or fail saying what
never happened."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def until(
    check: Callable[[], Awaitable[bool]], what: str, limit: float = 60.0, every: float = 0.2
) -> None:
    """Awaits ``check`` every ``every`` seconds until it returns true; AssertionError naming
    ``what`` after ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(every)
    raise AssertionError(f"timed out after {limit:.0f}s waiting for {what}")
