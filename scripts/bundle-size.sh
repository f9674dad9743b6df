#!/usr/bin/env bash
# Size of the Worker bundle as the production deploy would upload it (`wrangler deploy --dry-run
# --env production`: no login, no network): raw and gzip size of the wasm and of the JS.
# Budget: total gzip <= 600 KB (BUNDLE_MAX_GZIP, enforced by scripts/test.sh).
#   bash scripts/bundle-size.sh
#   -> web app: frontend/dist N B raw, N B gzip (static assets, outside the Worker bundle)
#   -> bundle: wasm N B raw, N B gzip; js N B raw, N B gzip; total gzip N B
# BUNDLE_KEEP=1 keeps the dry-run output directory.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_SEND_METRICS=false \
  WRANGLER_SEND_ERROR_REPORTS=false WRANGLER_HIDE_BANNER=true

[[ -d node_modules/wrangler ]] || bash scripts/setup.sh

tmp="$(mktemp -d "${TMPDIR:-/tmp}/agent-id-bundle.XXXXXX")"
if [[ -n "${BUNDLE_KEEP:-}" ]]; then
  echo "bundle-size: output kept in $tmp/dist" >&2
else
  trap 'rm -rf "$tmp"' EXIT
fi

# (wrangler runs the [build] command, i.e. scripts/build.sh, first)
if ! npx wrangler deploy --dry-run --env production --outdir "$tmp/dist" >"$tmp/deploy.log" 2>&1 </dev/null; then
  cat "$tmp/deploy.log" >&2
  echo "bundle-size: wrangler deploy --dry-run failed" >&2
  exit 1
fi
grep -E "Total Upload" "$tmp/deploy.log" | sed "s/^/wrangler: /" || true

sizes() { # find-predicates... -> "raw gzip" summed over the matching files
  local raw=0 gz=0 f
  while IFS= read -r -d '' f; do
    raw=$((raw + $(stat -c %s "$f")))
    gz=$((gz + $(gzip -9 -c "$f" | wc -c)))
  done < <(find "$tmp/dist" -type f "$@" -print0)
  echo "$raw $gz"
}
read -r wasm_raw wasm_gz < <(sizes -name '*.wasm')
read -r js_raw js_gz < <(sizes \( -name '*.js' -o -name '*.mjs' -o -name '*.cjs' \))
# The web app's static assets are uploaded apart from the Worker (Workers Static Assets): reported,
# not counted against the Worker budget.
web_raw=0 web_gz=0
while IFS= read -r -d '' f; do
  web_raw=$((web_raw + $(stat -c %s "$f")))
  web_gz=$((web_gz + $(gzip -9 -c "$f" | wc -c)))
done < <(find frontend/dist -type f -print0)
echo "web app: frontend/dist $web_raw B raw, $web_gz B gzip (static assets, outside the Worker bundle)"
echo "bundle: wasm $wasm_raw B raw, $wasm_gz B gzip; js $js_raw B raw, $js_gz B gzip; total gzip $((wasm_gz + js_gz)) B"
