#!/usr/bin/env bash
# Installs podium and runs the demo end to end on a live local cluster: kube-apiserver,
# kube-controller-manager and KWOK nodes (some with GPUs and taints), Deployments, Jobs and gangs
# that run and finish, and a summary.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash tools/bootstrap.sh
exec .venv/bin/podium dev "$@"
