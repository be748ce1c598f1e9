#!/usr/bin/env bash
# Fuzzes each decoder of the Rust core for a bounded time with cargo-fuzz (libFuzzer).
#
#   bash tools/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 60 s, every target)
#
# Needs a nightly toolchain (cargo-fuzz builds with sanitizers); installs cargo-fuzz if missing.
# The corpus grows in a scratch directory (PODIUM_FUZZ_DIR, default a temp dir): only the small
# seed corpus in fuzz/seeds is part of the repository. Crashing inputs are copied to
# fuzz/artifacts/<target>/ and make the script exit 1. Run it by hand, niced: not part of CI.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root/fuzz"

seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(quantity pod node node_resource_topology watch_event)
fi

if ! rustup toolchain list | grep -q '^nightly'; then
  echo "fuzz: a nightly toolchain is required: rustup toolchain install nightly" >&2
  exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install --locked cargo-fuzz
fi

work=${PODIUM_FUZZ_DIR:-$(mktemp -d -t podium-fuzz-XXXXXX)}
mkdir -p "$work"
echo "fuzz: ${seconds}s per target; corpus and logs in $work"
nice cargo +nightly fuzz build --release

status=0
printf '%-24s %8s %12s %10s %8s\n' target seconds execs exec/s crashes
for target in "${targets[@]}"; do
  corpus="$work/corpus/$target"
  artifacts="$work/artifacts/$target"
  mkdir -p "$corpus" "$artifacts"
  log="$work/$target.log"
  set +e
  nice cargo +nightly fuzz run --release "$target" "$corpus" "seeds/$target" -- \
    -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1
  code=$?
  set -e
  execs=$(grep -m1 '^stat::number_of_executed_units' "$log" | awk '{print $2}')
  rate=$(grep -m1 '^stat::average_exec_per_sec' "$log" | awk '{print $2}')
  crashes=$(find "$artifacts" -type f | wc -l)
  printf '%-24s %8s %12s %10s %8s\n' "$target" "$seconds" "${execs:-?}" "${rate:-?}" "$crashes"
  if [ "$code" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    status=1
    mkdir -p "$root/fuzz/artifacts/$target"
    cp "$artifacts"/* "$root/fuzz/artifacts/$target/" 2>/dev/null || true
    echo "fuzz: $target failed (exit $code); log: $log" >&2
    tail -30 "$log" >&2
  fi
done
exit "$status"
