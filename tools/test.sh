#!/usr/bin/env bash
# Runs every check and test: Rust (tests, clippy), Python (ruff, mypy, import layers, stub check,
# pytest unit + integration against a real local kube-apiserver).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash tools/bootstrap.sh
py=.venv/bin/python

step() { printf '\n== %s\n' "$*"; }

step "rustfmt"
cargo fmt --check
step "cargo test"
cargo test --quiet
step "cargo clippy"
cargo clippy --quiet --all-targets -- -D warnings
step "ruff"
.venv/bin/ruff format --check python tests bench examples
.venv/bin/ruff check python tests bench examples
step "mypy (strict)"
.venv/bin/mypy
step "import layers"
.venv/bin/lint-imports
step "stubs match the Rust core"
$py -m mypy.stubtest podium._core
step "local cluster, KWOK, Jaeger and Helm binaries (built once, cached under ~/.cache/podium)"
$py -m podium.testing.binaries --kwok --jaeger --helm
step "pytest"
set +e
$py -m pytest -p no:cacheprovider -q "$@"
code=$?
set -e
if [ "$code" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$code"
