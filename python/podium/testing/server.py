"""Lifecycle shared by the local servers (apiserver, kube-scheduler, Jaeger).

A server gets a private temp directory for its state and log, is started on free loopback ports
(retried with new ports if another process took one first), is ready once its own probe says so,
and is always torn down as a whole process group: on ``stop()``, on leaving a ``with``/``async
with`` block for any reason, on garbage collection and at interpreter exit.
"""

from __future__ import annotations

import abc
import asyncio
import http.client
import shutil
import ssl
import tempfile
import time
import urllib.request
import weakref
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from podium.testing.ports import free_ports
from podium.testing.process import ProcessGroup

_PORT_ATTEMPTS = 3
_POLL_SECONDS = 0.1
_PROBE_TIMEOUT_SECONDS = 2.0
_ADDRESS_IN_USE = "address already in use"


class ServerStartError(RuntimeError):
    """A local server exited or did not become ready; the message carries its log tail."""


class LocalServer(abc.ABC):
    """Base of the local servers: subclasses say how to launch and how to probe readiness."""

    #: Human name used in messages and the temp directory.
    name: str = "server"
    #: How many free loopback ports ``_argv`` needs.
    port_count: int = 1

    def __init__(self, *, workdir: Path | None = None, start_timeout: float = 120.0) -> None:
        if workdir is None:
            workdir = Path(tempfile.mkdtemp(prefix=f"podium-{self.name}-"))
            # Removed with the server, however the owner goes away.
            self._workdir_cleanup: weakref.finalize[..., LocalServer] | None = weakref.finalize(
                self, shutil.rmtree, workdir, ignore_errors=True
            )
        else:
            workdir.mkdir(parents=True, exist_ok=True)
            self._workdir_cleanup = None
        self.workdir = workdir
        self.log = workdir / f"{self.name}.log"
        self.start_timeout = start_timeout
        self.process: ProcessGroup | None = None
        self.ports: list[int] = []

    # -- subclass hooks ------------------------------------------------------------------------

    @abc.abstractmethod
    def _argv(self, ports: Sequence[int]) -> list[str]:
        """The command line, given ``port_count`` free ports."""

    @abc.abstractmethod
    def _ready(self) -> bool:
        """One non-blocking-ish readiness probe (a short HTTP request at most)."""

    def _prepare(self) -> None:  # noqa: B027 (an optional hook, empty by default)
        """Called once before the first launch, off the event loop in ``start_async``: find or
        build the executable, write config files and the like."""

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Self:
        """Starts the server and blocks until it is ready."""
        try:
            self._prepare()
            for attempt in range(1, _PORT_ATTEMPTS + 1):
                self._launch()
                deadline = time.monotonic() + self.start_timeout
                while not self._check(deadline, attempt):
                    time.sleep(_POLL_SECONDS)
                if self._running():
                    return self
        except BaseException:
            self.stop(remove_workdir=False)
            raise
        raise AssertionError("unreachable: the last attempt raises")

    async def start_async(self) -> Self:
        """Starts the server without blocking the event loop."""
        try:
            await asyncio.to_thread(self._prepare)
            for attempt in range(1, _PORT_ATTEMPTS + 1):
                # Launched on the loop's thread: the child dies with the thread that started it.
                self._launch()
                deadline = time.monotonic() + self.start_timeout
                # Polls another process: there is no in-process event to wait on.
                while not await asyncio.to_thread(self._check, deadline, attempt):  # noqa: ASYNC110
                    await asyncio.sleep(_POLL_SECONDS)
                if self._running():
                    return self
        except BaseException:
            self.stop(remove_workdir=False)
            raise
        raise AssertionError("unreachable: the last attempt raises")

    def stop(self, *, remove_workdir: bool = True) -> None:
        """Kills the server's process group (idempotent) and removes its temp directory."""
        if self.process is not None:
            self.process.stop()
        if remove_workdir and self._workdir_cleanup is not None:
            self._workdir_cleanup()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await self.start_async()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    # -- internals -----------------------------------------------------------------------------

    def _launch(self) -> None:
        if self.process is not None:
            self.process.stop()
        self.ports = free_ports(self.port_count)
        self.process = ProcessGroup(self._argv(self.ports), self.log)

    def _running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _check(self, deadline: float, attempt: int) -> bool:
        """True once ready; False to poll again; raises when the server failed.

        A server that exited because a port was taken meanwhile returns True with the process
        gone, so the caller retries with fresh ports."""
        process = self.process
        assert process is not None
        code = process.poll()
        if code is not None:
            tail = process.log_tail()
            if _ADDRESS_IN_USE in tail.lower() and attempt < _PORT_ATTEMPTS:
                return True
            raise ServerStartError(
                f"{self.name} exited with code {code} before it was ready "
                f"(command: {' '.join(process.argv)}); log {self.log}:\n{tail}"
            )
        if self._ready():
            return True
        if time.monotonic() > deadline:
            raise ServerStartError(
                f"{self.name} not ready after {self.start_timeout:.0f}s "
                f"(command: {' '.join(process.argv)}); log {self.log}:\n{process.log_tail()}"
            )
        return False


def http_ok(url: str, *, token: str | None = None, expect: bytes | None = None) -> bool:
    """Whether GET ``url`` answers 200 (and, if given, exactly ``expect``); TLS unverified."""
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(
            request, timeout=_PROBE_TIMEOUT_SECONDS, context=_UNVERIFIED_TLS
        ) as response:
            body: bytes = response.read()
            return bool(response.status == 200 and (expect is None or body.strip() == expect))
    except (OSError, http.client.HTTPException):
        return False


def _unverified_tls() -> ssl.SSLContext:
    # The local servers use self-signed serving certificates on loopback.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


_UNVERIFIED_TLS = _unverified_tls()
