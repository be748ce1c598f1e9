#!/usr/bin/env bash
# Installs what podium needs into ./.venv: Python deps and the package itself, with its Rust core
# built by maturin. Idempotent; sourced by tools/demo.sh and tools/test.sh.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

need() { command -v "$1" >/dev/null 2>&1 || { echo "podium: '$1' is required but not found ($2)" >&2; exit 1; }; }
need python3 "Python >= 3.11"
need cargo "Rust toolchain, e.g. from rustup"
need go "Go >= 1.26, to build the local kube-apiserver once"

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# Editable install: maturin builds the Rust extension (release profile) into python/podium/.
.venv/bin/python -m pip install --quiet -e ".[dev,bench]"
# The example Python plugins (entry points in group podium.plugins), used by the plugin tests.
.venv/bin/python -m pip install --quiet --no-deps -e examples/podium-plugins-example
