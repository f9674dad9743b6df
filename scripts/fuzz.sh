#!/usr/bin/env bash
# Run every cargo-fuzz target of fuzz/ for a fixed budget and fail on any crash, timeout, leak or
# out-of-memory, printing the reproducer's path.
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET]      (default 30 when CI=true, else 60)
#   FUZZ_TARGETS="strict_json form_body" bash scripts/fuzz.sh 10     (a subset)
#
# Builds once (`cargo +nightly fuzz build`: release, debug assertions, AddressSanitizer), then
# runs each target's binary over its working corpus (fuzz/corpus/<target>, kept between runs,
# git-ignored) and its committed seeds (fuzz/seeds/<target>, read-only), with a per-input timeout,
# an RSS limit and leak detection. Reproducers land in fuzz/artifacts/<target>/, logs in
# test-output/fuzz/. Replay one with
#   fuzz/target/x86_64-unknown-linux-gnu/release/<target> <reproducer>
# The summary table gives libFuzzer's final stats (executions, peak RSS) per target.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ="$ROOT/fuzz"
LOGS="$ROOT/test-output/fuzz"
export PATH="$HOME/.cargo/bin:$PATH"

if [[ $# -gt 0 ]]; then
  BUDGET="$1"
elif [[ "${CI:-}" == true ]]; then
  BUDGET=30
else
  BUDGET=60
fi
[[ "$BUDGET" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: SECONDS_PER_TARGET must be a positive integer (got '$BUDGET')" >&2; exit 2; }
PER_INPUT_TIMEOUT="${FUZZ_TIMEOUT:-10}"   # seconds for one input before it counts as a hang
RSS_LIMIT_MB="${FUZZ_RSS_LIMIT_MB:-1024}"

note() { printf 'fuzz: %s\n' "$*" >&2; }

rustup run nightly rustc --version >/dev/null 2>&1 \
  || { note "the nightly toolchain is missing: run scripts/setup.sh (or rustup toolchain install nightly --profile minimal)"; exit 1; }
cargo +nightly fuzz --version >/dev/null 2>&1 \
  || { note "cargo-fuzz is missing: run scripts/setup.sh (or cargo install cargo-fuzz --locked)"; exit 1; }

cd "$FUZZ"
T0=$SECONDS
note "cargo +nightly fuzz build"
cargo +nightly fuzz build
BUILD_SECS=$((SECONDS - T0))
TRIPLE="$(rustc +nightly -vV | sed -n 's/^host: //p')"
BIN_DIR="$FUZZ/target/$TRIPLE/release"

read -r -a TARGETS <<<"${FUZZ_TARGETS:-$(cargo +nightly fuzz list | tr '\n' ' ')}"
mkdir -p "$LOGS"
failed=0
rows=()
for target in "${TARGETS[@]}"; do
  corpus="$FUZZ/corpus/$target" artifacts="$FUZZ/artifacts/$target/" log="$LOGS/$target.log"
  seeds="$FUZZ/seeds/$target"
  [[ -x "$BIN_DIR/$target" ]] || { note "no such target: $target"; exit 2; }
  [[ -d "$seeds" ]] || { note "no seeds for $target (expected $seeds)"; exit 2; }
  mkdir -p "$corpus" "$artifacts"
  note "$target: ${BUDGET}s (log $log)"
  start=$SECONDS rc=0
  "$BIN_DIR/$target" "$corpus" "$seeds" \
    -max_total_time="$BUDGET" -timeout="$PER_INPUT_TIMEOUT" -rss_limit_mb="$RSS_LIMIT_MB" \
    -detect_leaks=1 -print_final_stats=1 -artifact_prefix="$artifacts" >"$log" 2>&1 || rc=$?
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)"
  rss="$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n1)"
  files="$(find "$corpus" -type f | wc -l)"
  if [[ $rc -eq 0 ]]; then
    result=ok
  else
    failed=1
    result="FAILED (exit $rc)"
    note "$target failed (exit $rc); end of its log:"
    tail -n 40 "$log" >&2
    reproducer="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n1)"
    note "reproducer: ${reproducer:-none written, see $log}"
  fi
  rows+=("$(printf '%-18s %8ss %12s %8s %10s %8s  %s' "$target" "$((SECONDS - start))" \
    "${execs:-?}" "$(( ${execs:-0} / (SECONDS - start > 0 ? SECONDS - start : 1) ))" "$files" "${rss:-?}" "$result")")
done

printf '\n%-18s %9s %12s %8s %10s %8s  %s\n' target time executions exec/s corpus rss_mb result
printf '%s\n' "${rows[@]}"
printf 'build %ss, total %ss (budget %ss per target)\n' "$BUILD_SECS" "$((SECONDS - T0))" "$BUDGET"
exit "$failed"
