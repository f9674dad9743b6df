#!/usr/bin/env bash
# Prepare everything the build, `npm run dev` and `npm test` need. Idempotent; a second run only
# checks (about a second). Prints what it does on stderr.
#
#   1. Rust target wasm32-unknown-unknown (rustup; fallback: Debian rustc-web + self-built std)
#   2. worker-build 0.8.7 and wasm-bindgen CLI (= the crate's wasm-bindgen version) via cargo install
#   2b. the nightly toolchain and cargo-fuzz, for scripts/fuzz.sh
#   3. npm ci (when node_modules is missing or older than package-lock.json)
#   4. Python venv for the e2e tests (e2e/.venv), re-installed when e2e/requirements.txt changes
#   5. .dev.vars from .dev.vars.example (when absent)
#
# Environment: SETUP_SKIP_E2E=1 skips step 4.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

WORKER_BUILD_VERSION="0.8.7"
# The wasm-bindgen CLI must equal the crate's (pinned) wasm-bindgen version.
WASM_BINDGEN_VERSION="$(sed -nE 's/^wasm-bindgen[[:space:]]*=[[:space:]]*(\{[^}]*version[[:space:]]*=[[:space:]]*)?"=?([0-9][0-9.]*)".*/\2/p' Cargo.toml | head -n1)"
WASM_BINDGEN_VERSION="${WASM_BINDGEN_VERSION:-0.2.130}"
TOOLS_ENV="$ROOT/.tools/env"   # extra environment for the other scripts (fallback toolchain)

log() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }

export PATH="$HOME/.cargo/bin:$PATH"
# shellcheck disable=SC1090
[[ -f "$TOOLS_ENV" ]] && source "$TOOLS_ENV"

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

apt_updated=0
apt_install() {
  command -v apt-get >/dev/null || die "apt-get not available; install manually: $*"
  if [[ $apt_updated -eq 0 ]]; then
    log "apt-get update"
    as_root apt-get update -qq
    apt_updated=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@"
}

# ---------------------------------------------------------------------------------------------
# 1. wasm32 target
# ---------------------------------------------------------------------------------------------
have_wasm_std() {
  local sysroot
  sysroot="$(rustc --print sysroot 2>/dev/null)" || return 1
  compgen -G "$sysroot/lib/rustlib/wasm32-unknown-unknown/lib/libstd-*.rlib" >/dev/null
}

# Debian route (DESIGN.md "Toolchain facts"): rustc-web, cargo-web, rust-web-src (+ clippy, rustfmt), lld,
# std for wasm32 built once with -Zbuild-std and installed into /usr/lib/rustlib, the toolchain
# linked into rustup as `debian-web` and selected through .tools/env (RUSTUP_TOOLCHAIN).
debian_wasm_toolchain() {
  log "falling back to the Debian rustc-web toolchain"
  local lld
  lld="$(apt-cache search --names-only '^lld-[0-9]+$' 2>/dev/null | awk '{print $1}' | sort -t- -k2 -n | tail -n1)"
  [[ -n "$lld" ]] || lld="lld"
  apt_install rustc-web cargo-web rust-web-src rust-web-clippy rustfmt-web "$lld"
  local lld_bin
  if [[ "$lld" == lld-* ]]; then lld_bin="/usr/lib/llvm-${lld#lld-}/bin/lld"; else lld_bin="$(command -v lld)"; fi
  [[ -x "$lld_bin" ]] || die "lld not found after installing $lld"
  as_root mkdir -p /usr/lib/rustlib/x86_64-unknown-linux-gnu/bin
  as_root ln -sf "$lld_bin" /usr/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld

  if ! compgen -G "/usr/lib/rustlib/wasm32-unknown-unknown/lib/libstd-*.rlib" >/dev/null; then
    log "building std for wasm32-unknown-unknown with -Zbuild-std (once)"
    local tmp
    tmp="$(mktemp -d)"
    mkdir -p "$tmp/src"
    printf '[package]\nname = "stdprobe"\nversion = "0.0.0"\nedition = "2021"\n[lib]\ncrate-type = ["rlib"]\n[profile.release]\npanic = "abort"\n' >"$tmp/Cargo.toml"
    echo 'pub fn f() -> usize { std::vec![1u8].len() }' >"$tmp/src/lib.rs"
    (cd "$tmp" && RUSTC_BOOTSTRAP=1 /usr/bin/cargo build --release -Zbuild-std=std,panic_abort \
      --target wasm32-unknown-unknown) || die "building std for wasm32 failed"
    as_root mkdir -p /usr/lib/rustlib/wasm32-unknown-unknown/lib
    find "$tmp/target/wasm32-unknown-unknown/release/deps" -name '*.rlib' ! -name 'libstdprobe-*' \
      -exec cp {} /usr/lib/rustlib/wasm32-unknown-unknown/lib/ \;
    rm -rf "$tmp"
  fi
  if command -v rustup >/dev/null; then
    rustup toolchain list | grep -q '^debian-web' || rustup toolchain link debian-web /usr
  fi
  mkdir -p "$(dirname "$TOOLS_ENV")"
  echo 'export RUSTUP_TOOLCHAIN=debian-web' >"$TOOLS_ENV"
  export RUSTUP_TOOLCHAIN=debian-web
  have_wasm_std || die "wasm32 std still missing after the Debian fallback"
}

if have_wasm_std; then
  log "ok: rust $(rustc --version | awk '{print $2}') with wasm32-unknown-unknown"
else
  log "rustup target add wasm32-unknown-unknown"
  if ! { command -v rustup >/dev/null && rustup target add wasm32-unknown-unknown && have_wasm_std; }; then
    debian_wasm_toolchain
  fi
fi

# ---------------------------------------------------------------------------------------------
# 2. worker-build and wasm-bindgen CLI, exact versions
# ---------------------------------------------------------------------------------------------
if [[ "$(worker-build --version 2>/dev/null || true)" == "$WORKER_BUILD_VERSION" ]]; then
  log "ok: worker-build $WORKER_BUILD_VERSION"
else
  log "cargo install worker-build --version $WORKER_BUILD_VERSION (takes a few minutes, once)"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --force
fi

if [[ "$(wasm-bindgen --version 2>/dev/null || true)" == "wasm-bindgen $WASM_BINDGEN_VERSION" ]]; then
  log "ok: wasm-bindgen $WASM_BINDGEN_VERSION"
else
  # Without --locked: one crate of its lock file is no longer in the registry.
  log "cargo install wasm-bindgen-cli --version $WASM_BINDGEN_VERSION (takes a few minutes, once)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# ---------------------------------------------------------------------------------------------
# 2b. nightly toolchain and cargo-fuzz (scripts/fuzz.sh; libFuzzer needs nightly's sanitizer flags)
# ---------------------------------------------------------------------------------------------
if rustup run nightly rustc --version >/dev/null 2>&1; then
  log "ok: $(rustup run nightly rustc --version)"
else
  log "rustup toolchain install nightly --profile minimal"
  { command -v rustup >/dev/null && rustup toolchain install nightly --profile minimal; } \
    || die "the nightly toolchain is required for scripts/fuzz.sh and could not be installed (rustup toolchain install nightly --profile minimal)"
fi
if cargo +nightly fuzz --version >/dev/null 2>&1; then
  log "ok: $(cargo +nightly fuzz --version)"
else
  log "cargo install cargo-fuzz --locked (takes a few minutes, once)"
  cargo install cargo-fuzz --locked
fi

# ---------------------------------------------------------------------------------------------
# 3. npm packages (wrangler, binaryen)
# ---------------------------------------------------------------------------------------------
command -v node >/dev/null || die "node (>= 20.3) is required"
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  log "npm ci"
  npm ci --no-audit --no-fund
else
  log "ok: node_modules up to date ($(node --version))"
fi

# ---------------------------------------------------------------------------------------------
# 4. Python venv for the end-to-end tests
# ---------------------------------------------------------------------------------------------
if [[ "${SETUP_SKIP_E2E:-0}" != 1 && -f e2e/requirements.txt ]]; then
  stamp="e2e/.venv/.requirements.sha256"
  want="$(sha256sum e2e/requirements.txt | awk '{print $1}')"
  if [[ ! -x e2e/.venv/bin/python ]]; then
    log "python3 -m venv e2e/.venv"
    python3 -m venv e2e/.venv || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  fi
  if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]]; then
    log "pip install -r e2e/requirements.txt"
    e2e/.venv/bin/python -m pip install --quiet --disable-pip-version-check -r e2e/requirements.txt
    echo "$want" >"$stamp"
  else
    log "ok: e2e/.venv matches e2e/requirements.txt"
  fi
fi

# Headless Chromium for the web app's browser tests (Debian's package; playwright-core drives it,
# no browser download). CHROMIUM_PATH points elsewhere when set.
if [[ "${SETUP_SKIP_E2E:-0}" != 1 ]]; then
  if [[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]]; then
    log "ok: chromium ($("${CHROMIUM_PATH:-/usr/bin/chromium}" --version 2>/dev/null || echo present))"
  else
    apt_install chromium fonts-liberation
  fi
fi

# ---------------------------------------------------------------------------------------------
# 5. .dev.vars
# ---------------------------------------------------------------------------------------------
if [[ ! -f .dev.vars ]]; then
  log "cp .dev.vars.example .dev.vars (development values only)"
  cp .dev.vars.example .dev.vars
else
  log "ok: .dev.vars exists"
fi

log "done"
