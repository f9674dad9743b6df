#!/usr/bin/env bash
# What agent-id-client adds to a wasm32 consumer, with and without the `fetch` transport.
#
# Builds examples/wasm_consumer.rs (a cdylib linking every identity and consent call) for
# wasm32-unknown-unknown with the workspace's release profile, runs the wasm-bindgen CLI on it
# (the size a Worker ships) and wasm-opt -O when node_modules/binaryen is there, and prints raw
# and gzip -9 sizes. Usage: bash crates/agent-id-client/scripts/wasm-size.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$ROOT"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
WASM_OPT="$ROOT/node_modules/binaryen/bin/wasm-opt"
built="${CARGO_TARGET_DIR:-$ROOT/target}/wasm32-unknown-unknown/release/examples/wasm_consumer.wasm"

measure() { # name, cargo feature flags...
  local name="$1"; shift
  cargo build -q -p agent-id-client --example wasm_consumer --target wasm32-unknown-unknown \
    --release "$@"
  mkdir -p "$OUT/$name"
  wasm-bindgen --target web --out-dir "$OUT/$name" "$built"
  local wasm="$OUT/$name/wasm_consumer_bg.wasm"
  if [[ -x "$WASM_OPT" ]]; then
    "$WASM_OPT" "$wasm" -o "$wasm.opt" -O --strip-producers --enable-mutable-globals \
      --enable-sign-ext --enable-nontrapping-float-to-int --enable-bulk-memory \
      --enable-multivalue --enable-reference-types
    mv "$wasm.opt" "$wasm"
  fi
  printf '%-22s %9d B   gzip -9 %8d B\n' "$name" "$(stat -c %s "$wasm")" \
    "$(gzip -9 -c "$wasm" | wc -c)"
}

measure "with fetch transport"
measure "without transport" --no-default-features
