#!/usr/bin/env bash
# Build the Worker: Rust crate -> wasm -> build/worker/shim.mjs (+ build/index_bg.wasm, index.js)
# with worker-build, using only local tools (nothing is downloaded):
#   WASM_BINDGEN_BIN  ~/.cargo/bin/wasm-bindgen      (cargo install wasm-bindgen-cli, = crate version)
#   WASM_OPT_BIN      node_modules/binaryen/bin/wasm-opt   (npm binaryen 132.0.0)
#   ESBUILD_BIN       node_modules/.bin/esbuild        (wrangler's own esbuild)
# BUILD_VERSION=<crate version>+<short git sha | dev> is baked in (option_env!("BUILD_VERSION")).
# Also builds the web app (frontend/ -> frontend/dist) when its sources changed; that build ships
# openapi/openapi.json, minified, as frontend/dist/openapi.json, which the Worker serves at
# /openapi.json from its ASSETS binding (frontend/plugins/openapi-document.ts).
#
# Called by wrangler ([build] command in wrangler.toml) on `wrangler dev` / `wrangler deploy`.
# When nothing changed since the last build it returns immediately; AGENT_ID_FORCE_BUILD=1 forces.
# AGENT_ID_WASM_OPT=0 skips wasm-opt (npm binaryen runs under node: ~10-20 s per build; faster
# edit-reload loops, larger wasm; a later build without it re-optimises).
# wasm-opt runs here, not in worker-build, so its flags are ours (WASM_OPT_FLAGS below): the
# shipped module has no name section (about 58 KB gzip of function names, used only by profilers
# and stack traces). AGENT_ID_WASM_NAMES=1 keeps the names, for a readable V8 CPU profile.
# Honours CARGO_TARGET_DIR. Run scripts/setup.sh first on a new machine.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf 'build: %s\n' "$*" >&2; }
die() { printf 'build: ERROR: %s\n' "$*" >&2; exit 1; }

export PATH="$HOME/.cargo/bin:$PATH"
# shellcheck disable=SC1091
[[ -f .tools/env ]] && source .tools/env

# --- frontend/dist ------------------------------------------------------------------------------
build_frontend() {
  [[ -f frontend/package.json ]] || die "frontend/package.json is missing"
  if [[ ! -f frontend/node_modules/.package-lock.json || frontend/package-lock.json -nt frontend/node_modules/.package-lock.json ]]; then
    log "frontend: npm ci"
    (cd frontend && npm ci --no-audit --no-fund)
  fi
  local newer=""
  if [[ -f frontend/dist/index.html ]]; then
    newer="$(find frontend openapi -path frontend/node_modules -prune -o -path frontend/dist -prune -o \
      -type f -newer frontend/dist/index.html -print -quit)"
  fi
  if [[ ! -f frontend/dist/index.html || ! -f frontend/dist/openapi.json || -n "$newer" ]]; then
    log "frontend: npm run build"
    (cd frontend && npm run build)
  else
    log "frontend: up to date"
  fi
  [[ -f frontend/dist/index.html ]] || die "frontend build did not produce frontend/dist/index.html"
  [[ -f frontend/dist/openapi.json ]] || die "frontend build did not produce frontend/dist/openapi.json"
}

build_frontend

# --- tools ----------------------------------------------------------------------------------------
WASM_BINDGEN_BIN="$(command -v wasm-bindgen || true)"
[[ -n "$WASM_BINDGEN_BIN" ]] || die "wasm-bindgen CLI not found; run scripts/setup.sh"
command -v worker-build >/dev/null || die "worker-build not found; run scripts/setup.sh"
WASM_OPT_BIN="$ROOT/node_modules/binaryen/bin/wasm-opt"
[[ -x "$WASM_OPT_BIN" ]] || die "$WASM_OPT_BIN missing; run scripts/setup.sh (npm ci)"
ESBUILD_BIN="$(readlink -f "$ROOT/node_modules/.bin/esbuild" 2>/dev/null || true)"
[[ -n "$ESBUILD_BIN" && -x "$ESBUILD_BIN" ]] || die "node_modules/.bin/esbuild missing; run scripts/setup.sh (npm ci)"
export WASM_BINDGEN_BIN WASM_OPT_BIN ESBUILD_BIN

# --- version --------------------------------------------------------------------------------------
crate_version="$(sed -n '/^\[package\]/,/^\[/{s/^version[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p}' Cargo.toml | head -n1)"
[[ -n "$crate_version" ]] || die "cannot read the package version from Cargo.toml"
sha="$(git rev-parse --short HEAD 2>/dev/null || true)"
export BUILD_VERSION="${crate_version}+${sha:-dev}"

# --- up to date? ----------------------------------------------------------------------------------
stamp="build/.agent-id-build-stamp"
# worker-build always keeps the name section (it passes --debuginfo to wasm-opt), so it runs
# without wasm-opt and the module is optimised below.
wb_args=(--release --no-opt)
# -O (speed and size, as worker-build's default; -Oz saves only ~2.5 KB gzip more), then drop the
# debug/name and producers sections. The features are the ones worker-build enables: what rustc
# emits for wasm32-unknown-unknown and workerd runs, nothing newer.
WASM_OPT_FLAGS=(-O --strip-producers
  --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int
  --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling)
if [[ "${AGENT_ID_WASM_NAMES:-0}" == 1 ]]; then
  WASM_OPT_FLAGS+=(--debuginfo)
else
  WASM_OPT_FLAGS+=(--strip-debug)
fi
[[ "${AGENT_ID_WASM_OPT:-1}" == 0 ]] && WASM_OPT_FLAGS=()
stamp_want="$BUILD_VERSION $(worker-build --version) $("$WASM_BINDGEN_BIN" --version) ${wb_args[*]} opt=${WASM_OPT_FLAGS[*]:-none} target=${CARGO_TARGET_DIR:-}"
if [[ "${AGENT_ID_FORCE_BUILD:-0}" != 1 && -f build/worker/shim.mjs && -f "$stamp" \
      && "$(cat "$stamp")" == "$stamp_want" ]]; then
  inputs=(Cargo.toml scripts/build.sh)
  for p in Cargo.lock src build.rs crates migrations; do [[ -e "$p" ]] && inputs+=("$p"); done
  if [[ -z "$(find "${inputs[@]}" -newer "$stamp" -print -quit)" ]]; then
    log "worker up to date ($BUILD_VERSION), skipping (AGENT_ID_FORCE_BUILD=1 to force)"
    exit 0
  fi
fi

# --- build ----------------------------------------------------------------------------------------
log "worker-build ${wb_args[*]} (BUILD_VERSION=$BUILD_VERSION)"
start=$(date +%s)
rm -f "$stamp"
worker-build "${wb_args[@]}"
[[ -f build/worker/shim.mjs ]] || die "worker-build did not produce build/worker/shim.mjs"
wasm="$(find build -maxdepth 1 -name '*.wasm' -print -quit)"
[[ -n "$wasm" ]] || die "worker-build produced no .wasm in build/"
if [[ ${#WASM_OPT_FLAGS[@]} -gt 0 ]]; then
  log "wasm-opt ${WASM_OPT_FLAGS[*]}"
  "$WASM_OPT_BIN" "$wasm" -o "$wasm.opt" "${WASM_OPT_FLAGS[@]}"
  mv "$wasm.opt" "$wasm"
fi
echo "$stamp_want" >"$stamp"
log "done in $(( $(date +%s) - start ))s: build/worker/shim.mjs${wasm:+, $wasm $(stat -c %s "$wasm") B}"
