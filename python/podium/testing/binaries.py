"""Builds the local-cluster binaries with the machine's Go, once, into a content-keyed cache.

The cache key hashes the Go module (``go.mod``, ``go.sum`` and every ``.go`` file), so editing
the module rebuilds and nothing else does. A file lock keeps two processes (pytest workers, a
benchmark and a test run) from building at once, and the result is renamed into place so a
half-built directory is never used.

Run ``python -m podium.testing.binaries`` to build ahead of time with visible progress.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

CACHE_DIR_ENV = "PODIUM_CACHE_DIR"
"""Overrides the cache root (default ``~/.cache/podium``)."""

TOOLS_DIR_ENV = "PODIUM_TOOLS_DIR"
"""Overrides where the Go modules live (default: ``tools/`` of the repository checkout)."""

_KEY_HEX_DIGITS = 16
_LOG_TAIL_LINES = 40
_MODULE_MARKER = ".module"
_KEEP_UNUSED_SECONDS = 2 * 24 * 3600
"""An older build of a module is removed once nothing asked for it for this long."""
# The status line must fit one terminal line, or each refresh scrolls.
_STEP_WIDTH = 40


class BuildError(RuntimeError):
    """A Go module could not be built; the message says why and what to do."""


@dataclass(frozen=True)
class GoTarget:
    """A Go module under ``tools/`` and the main packages to build in it.

    A package is ``./cmd/<name>`` in the module itself or the import path of a dependency's
    main package (pinned by the module's go.mod); each executable is named after the last
    element of its package path."""

    module: str
    packages: tuple[str, ...]

    @property
    def commands(self) -> tuple[str, ...]:
        return tuple(package.rstrip("/").rsplit("/", 1)[-1] for package in self.packages)


LOCALCLUSTER = GoTarget(
    "localcluster",
    ("./cmd/podium-apiserver", "./cmd/kube-scheduler", "./cmd/kube-controller-manager"),
)
JAEGER = GoTarget("jaeger", ("github.com/jaegertracing/jaeger/cmd/jaeger",))
HELM = GoTarget("helm", ("helm.sh/helm/v4/cmd/helm",))
KWOK = GoTarget("kwok", ("sigs.k8s.io/kwok/cmd/kwok",))


@dataclass(frozen=True)
class Binaries:
    """Paths of the built local-cluster executables."""

    directory: Path
    apiserver: Path
    kube_scheduler: Path
    controller_manager: Path


def tools_dir() -> Path:
    """The directory holding the Go modules: ``$PODIUM_TOOLS_DIR`` or the checkout's ``tools/``."""
    override = os.environ.get(TOOLS_DIR_ENV)
    if override:
        return Path(override)
    # python/podium/testing/binaries.py -> repository root
    return Path(__file__).resolve().parents[3] / "tools"


def cache_root() -> Path:
    """``$PODIUM_CACHE_DIR`` or ``~/.cache/podium``."""
    override = os.environ.get(CACHE_DIR_ENV)
    return Path(override) if override else Path.home() / ".cache" / "podium"


def module_dir(target: GoTarget) -> Path:
    """The Go module directory of ``target``; BuildError if the checkout does not have it."""
    directory = tools_dir() / target.module
    if not (directory / "go.mod").is_file():
        raise BuildError(
            f"Go module {target.module!r} not found at {directory} (no go.mod): podium.testing "
            f"builds its binaries from a repository checkout; set {TOOLS_DIR_ENV} to its tools/ "
            "directory"
        )
    return directory


def source_key(directory: Path) -> str:
    """First hex digits of a sha256 over go.mod, go.sum and the module's Go sources."""
    digest = hashlib.sha256()
    files = [directory / "go.mod", directory / "go.sum", *sorted(directory.rglob("*.go"))]
    for path in files:
        if not path.is_file():
            continue
        digest.update(path.relative_to(directory).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:_KEY_HEX_DIGITS]


def ensure_built(target: GoTarget, console: Console | None = None) -> Path:
    """Directory holding ``target``'s executables, building them first if not cached."""
    source = module_dir(target)
    final = cache_root() / "bin" / source_key(source)
    if _complete(final, target.commands):
        _mark_used(final)
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with _locked(final.with_name(f".{final.name}.lock")):
        # Another process may have built it while this one waited for the lock.
        if _complete(final, target.commands):
            return final
        go = shutil.which("go")
        if go is None:
            raise BuildError(
                f"cannot build the {target.module} binaries: the `go` command is not on PATH. "
                "Install Go (the version in "
                f"{source / 'go.mod'} or newer) and retry."
            )
        staging = Path(tempfile.mkdtemp(prefix=f".build-{final.name}-", dir=final.parent))
        try:
            _go_build(go, source, staging, target, console or Console(stderr=True))
            (staging / _MODULE_MARKER).write_text(target.module)
            staging.rename(final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _remove_older_builds(final, target)
    return final


def _mark_used(directory: Path) -> None:
    # The marker's mtime says when a build was last asked for: what _remove_older_builds keeps.
    with contextlib.suppress(OSError):
        (directory / _MODULE_MARKER).touch()


def _remove_older_builds(current: Path, target: GoTarget) -> None:
    # Each source change makes a new directory of a few hundred MB, so older builds of the
    # module go, but only once unused for a while: worktrees on another pin (a branch not yet
    # rebased onto a version bump) share this cache, and removing their build would make each
    # rebuild the other's in turn. A server still running from a removed directory is
    # unaffected (Linux keeps the open executable).
    cutoff = time.time() - _KEEP_UNUSED_SECONDS
    for marker in current.parent.glob(f"*/{_MODULE_MARKER}"):
        directory = marker.parent
        if directory == current or marker.read_text() != target.module:
            continue
        with contextlib.suppress(OSError):
            if marker.stat().st_mtime < cutoff:
                shutil.rmtree(directory, ignore_errors=True)


def ensure_binaries(console: Console | None = None) -> Binaries:
    """The podium-apiserver, kube-scheduler and kube-controller-manager executables, built on
    first use."""
    directory = ensure_built(LOCALCLUSTER, console)
    return Binaries(
        directory=directory,
        apiserver=directory / "podium-apiserver",
        kube_scheduler=directory / "kube-scheduler",
        controller_manager=directory / "kube-controller-manager",
    )


def ensure_jaeger(console: Console | None = None) -> Path:
    """The Jaeger v2 executable (an optional target: only the tracing end-to-end test needs
    it), built on first use."""
    return ensure_built(JAEGER, console) / "jaeger"


def ensure_helm(console: Console | None = None) -> Path:
    """The Helm executable (for the chart tests: lint, template, install), built on first use."""
    return ensure_built(HELM, console) / "helm"


def ensure_kwok(console: Console | None = None) -> Path:
    """The KWOK controller executable (a module of its own: only clusters with KWOK nodes need
    it), built on first use."""
    return ensure_built(KWOK, console) / "kwok"


def _complete(directory: Path, commands: Sequence[str]) -> bool:
    return all(os.access(directory / name, os.X_OK) for name in commands)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _go_build(go: str, source: Path, out: Path, target: GoTarget, console: Console) -> None:
    # -v names each package as it compiles: that is the progress shown as the current step.
    argv = [go, "build", "-trimpath", "-v", "-o", f"{out}{os.sep}", *target.packages]
    what = f"{target.module} ({', '.join(target.commands)})"
    started = time.monotonic()
    _say(console, f"building {what} with {go} into {out.parent}; the first build takes minutes")
    tail: deque[str] = deque(maxlen=_LOG_TAIL_LINES)
    with subprocess.Popen(
        argv,
        cwd=source,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    ) as process:
        reader = threading.Thread(target=_collect, args=(process, tail), daemon=True)
        reader.start()
        try:
            if console.is_terminal:
                with console.status(f"building {what}") as status:
                    while process.poll() is None:
                        step = tail[-1][-_STEP_WIDTH:] if tail else "resolving modules"
                        status.update(f"building {what} [{_elapsed(started)}] {step}")
                        time.sleep(0.2)
            process.wait()
        except BaseException:
            process.kill()
            process.wait()
            raise
        finally:
            reader.join()
    if process.returncode != 0:
        output = "\n".join(tail)
        raise BuildError(
            f"`{' '.join(argv)}` in {source} failed with exit code {process.returncode}:\n{output}"
        )
    _say(console, f"built {what} in {_elapsed(started)}")
    out.chmod(0o755)


def _say(console: Console, message: str) -> None:
    console.print(f"podium.testing: {message}", soft_wrap=True, markup=False, highlight=False)


def _collect(process: subprocess.Popen[str], tail: deque[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip():
            tail.append(line.rstrip())


def _elapsed(started: float) -> str:
    seconds = int(time.monotonic() - started)
    return f"{seconds // 60}:{seconds % 60:02d}"


def main(argv: Sequence[str] = ()) -> int:
    """Builds the local-cluster binaries (and KWOK with ``--kwok``, Jaeger with ``--jaeger``,
    Helm with ``--helm``); prints their directories."""
    unknown = [arg for arg in argv if arg not in ("--kwok", "--jaeger", "--helm")]
    if unknown:
        print(
            "usage: python -m podium.testing.binaries [--kwok] [--jaeger] [--helm]; "
            f"unknown: {unknown}"
        )
        return 2
    console = Console(stderr=True)
    try:
        binaries = ensure_binaries(console)
        print(binaries.directory)
        if "--kwok" in argv:
            print(ensure_kwok(console).parent)
        if "--jaeger" in argv:
            print(ensure_jaeger(console).parent)
        if "--helm" in argv:
            print(ensure_helm(console).parent)
    except BuildError as error:
        console.print(f"[red]error:[/red] {error}", markup=True, highlight=False)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
