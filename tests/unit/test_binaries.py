"""The cached Go build of podium.testing.binaries, on tiny throwaway modules."""

from __future__ import annotations

import io
import os
import subprocess
import time
from pathlib import Path

import pytest
from rich.console import Console

from podium.testing import binaries
from podium.testing.binaries import BuildError, GoTarget, ensure_built, source_key

pytestmark = pytest.mark.timeout(180)

HELLO = 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello from podium") }\n'


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tools/ dir with module ``hello`` (./cmd/hello), and a private cache."""
    root = tmp_path / "tools"
    module = root / "hello"
    (module / "cmd" / "hello").mkdir(parents=True)
    (module / "go.mod").write_text("module example.com/hello\n\ngo 1.22\n")
    (module / "cmd" / "hello" / "main.go").write_text(HELLO)
    monkeypatch.setenv(binaries.TOOLS_DIR_ENV, str(root))
    monkeypatch.setenv(binaries.CACHE_DIR_ENV, str(tmp_path / "cache"))
    return root


TARGET = GoTarget("hello", ("./cmd/hello",))
QUIET = Console(file=io.StringIO(), force_terminal=False)


def test_builds_once_into_a_directory_keyed_by_the_sources(tools: Path, tmp_path: Path) -> None:
    directory = ensure_built(TARGET, QUIET)
    assert directory == tmp_path / "cache" / "bin" / source_key(tools / "hello")
    output = subprocess.run([directory / "hello"], capture_output=True, text=True, check=True)
    assert output.stdout == "hello from podium\n"

    marker = directory / "hello"
    stamp = marker.stat().st_mtime_ns
    assert ensure_built(TARGET, QUIET) == directory
    assert marker.stat().st_mtime_ns == stamp  # cached: not rebuilt

    (tools / "hello" / "cmd" / "hello" / "main.go").write_text(HELLO.replace("hello", "bye"))
    rebuilt = ensure_built(TARGET, QUIET)
    assert rebuilt != directory
    assert not list(rebuilt.parent.glob(".build-*"))  # staging directories are gone
    # Used a moment ago (another worktree may still be on it): kept.
    assert directory.exists()

    # Unused for longer than the keep period: the next build of the module removes it.
    long_ago = time.time() - binaries._KEEP_UNUSED_SECONDS - 60
    os.utime(directory / ".module", (long_ago, long_ago))
    (tools / "hello" / "cmd" / "hello" / "main.go").write_text(HELLO.replace("hello", "ciao"))
    newest = ensure_built(TARGET, QUIET)
    assert not directory.exists()  # the outdated, unused build of the same module is removed
    assert rebuilt.exists() and newest.exists()


def test_compile_error_is_reported_with_the_go_output(tools: Path) -> None:
    (tools / "hello" / "cmd" / "hello" / "main.go").write_text("package main\nfunc main() {\n")
    with pytest.raises(BuildError, match=r"(?s)exit code 1:.*main\.go"):
        ensure_built(TARGET, QUIET)


def test_missing_go_is_a_clear_error(tools: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tools))
    with pytest.raises(BuildError, match="the `go` command is not on PATH"):
        ensure_built(TARGET, QUIET)


def test_missing_module_names_the_override(tools: Path) -> None:
    with pytest.raises(BuildError, match=r"Go module 'nope' not found .* PODIUM_TOOLS_DIR"):
        ensure_built(GoTarget("nope", ("./cmd/x",)), QUIET)


def test_command_names_come_from_package_paths() -> None:
    target = GoTarget("m", ("./cmd/podium-apiserver", "github.com/jaegertracing/jaeger/cmd/jaeger"))
    assert target.commands == ("podium-apiserver", "jaeger")
