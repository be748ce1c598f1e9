"""Run a function in a fresh process: its own RSS, and a crash or hang that is reported, not fatal.

A case that panics in the core or runs past its time limit becomes a failed row in the report
while the sweep goes on.
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

T = TypeVar("T")
A = TypeVar("A")

_spawn = multiprocessing.get_context("spawn")


class IsolatedFailure(RuntimeError):
    def __init__(self, kind: str, detail: str) -> None:
        self.kind = kind  # crashed | timeout | error
        self.detail = detail
        super().__init__(f"{kind}: {detail}")


def _child(fn: Callable[[Any], Any], arg: Any, conn: Connection) -> None:
    try:
        result: tuple[bool, Any] = (True, fn(arg))
    except BaseException as err:  # everything goes back to the parent
        result = (False, f"{type(err).__name__}: {err}\n{traceback.format_exc()}")
    conn.send(result)
    conn.close()


def run_isolated(fn: Callable[[A], T], arg: A, timeout: float) -> T:
    """``fn(arg)`` in a spawned process; ``fn`` must be importable (module level)."""
    receiver, sender = _spawn.Pipe(duplex=False)
    process = _spawn.Process(target=_child, args=(fn, arg, sender), daemon=True)
    process.start()
    sender.close()
    try:
        if not receiver.poll(timeout):
            raise IsolatedFailure("timeout", f"no result after {timeout:.0f}s")
        try:
            ok, value = receiver.recv()
        except EOFError as err:
            process.join(5)
            raise IsolatedFailure("crashed", f"exit code {process.exitcode}") from err
    finally:
        if process.is_alive():
            process.terminate()
            process.join(5)
            if process.is_alive():
                process.kill()
        process.join()
        receiver.close()
    if not ok:
        raise IsolatedFailure("error", str(value))
    result: T = value
    return result
