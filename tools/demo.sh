#!/usr/bin/env bash
# Installs podium and runs the demo end to end on an embedded local cluster: kube-apiserver,
# fake nodes (some with GPUs and taints), a mixed workload, and a summary.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash tools/bootstrap.sh
exec .venv/bin/podium dev "$@"
