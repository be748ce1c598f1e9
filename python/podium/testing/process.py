"""A child process that never outlives its owner.

Each child runs in its own session, so it and anything it spawns form one process group that is
killed as a whole: SIGTERM, then SIGKILL after a grace period. The kill runs on ``stop()``, when
the owner is garbage-collected, at interpreter exit, and — through ``PR_SET_PDEATHSIG`` — by the
kernel when the Python process dies without running any of those (SIGKILL, ``os._exit``).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import subprocess
import sys
import time
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1
# Loaded in the parent: the child may only call async-signal-safe code before exec.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
_TERM_GRACE_SECONDS = 5.0
_KILL_WAIT_SECONDS = 5.0


class ProcessGroup:
    """A command started in a new session with its output appended to ``log``."""

    def __init__(
        self,
        argv: Sequence[str | Path],
        log: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.argv = [str(arg) for arg in argv]
        self.log = log
        with log.open("ab") as out:
            self._popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=None if env is None else dict(env),
                start_new_session=True,
                preexec_fn=functools.partial(_die_with_parent, os.getpid()),  # noqa: PLW1509
            )
        # The child called setsid(), so its pid is its process group id.
        self.pgid = self._popen.pid
        self._finalizer = weakref.finalize(self, _terminate, self._popen, self.pgid)

    @property
    def pid(self) -> int:
        return self._popen.pid

    def poll(self) -> int | None:
        """The exit code, or None while the main process runs."""
        return self._popen.poll()

    def stop(self) -> None:
        """Terminates the whole group; idempotent."""
        self._finalizer()

    def group_alive(self) -> bool:
        """Whether any process of the group still exists."""
        self._popen.poll()
        return _group_alive(self.pgid)

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the log, for error messages."""
        return log_tail(self.log, lines)


def log_tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of ``path`` (empty if it does not exist)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            data = handle.read()
    except FileNotFoundError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


def _terminate(popen: subprocess.Popen[bytes], pgid: int) -> None:
    # Runs from stop(), the GC or atexit: never raise, always reap.
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + _TERM_GRACE_SECONDS
    while time.monotonic() < deadline:
        popen.poll()
        if not _group_alive(pgid):
            return
        time.sleep(0.05)
    _signal_group(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        popen.wait(timeout=_KILL_WAIT_SECONDS)
    deadline = time.monotonic() + _KILL_WAIT_SECONDS
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
        popen.poll()


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _die_with_parent(parent: int) -> None:
    # Runs in the child between fork and exec. The kernel sends SIGKILL when the thread that
    # started the child exits, so even a SIGKILLed test run leaves no server behind. (Hence:
    # start these processes from a long-lived thread, such as the event loop's.)
    if _LIBC is None:
        return
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        # The parent died before prctl took effect.
        os._exit(1)
