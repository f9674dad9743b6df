#!/usr/bin/env bash
# Run agent-id locally: workerd via `wrangler dev --local` with a local SQLite-backed D1 and KV
# (state in .wrangler/state), listening on 127.0.0.1 only.
#
#   npm run dev                    # http://127.0.0.1:8787
#   PORT=8788 npm run dev
#   npm run dev -- --var LOG_LEVEL:info     (extra arguments go to wrangler dev)
#   AGENT_ID_WASM_OPT=0 npm run dev         (skip wasm-opt: ~2x faster rebuilds on src/ changes)
#
# Secrets and variables come from .dev.vars (created from .dev.vars.example by setup.sh).
# Nothing is contacted except 127.0.0.1 (no request.cf fetch, no metrics, no update check).
# wrangler rebuilds (scripts/build.sh) and reloads when files under src/ change.
# Fresh database: rm -rf .wrangler/state
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_SEND_METRICS=false \
  WRANGLER_SEND_ERROR_REPORTS=false WRANGLER_HIDE_BANNER=true

bash scripts/setup.sh
bash scripts/build.sh

wrangler=(node "$ROOT/node_modules/wrangler/bin/wrangler.js")   # = npx wrangler, without npm's startup

# Apply D1 migrations to the local database unless nothing changed since the last apply.
stamp=".wrangler/state/.agent-id-migrations-applied"
if [[ -f "$stamp" && -z "$(find migrations -newer "$stamp" -print -quit 2>/dev/null)" ]]; then
  echo "dev: local D1 migrations up to date" >&2
else
  echo "dev: wrangler d1 migrations apply DB --local (.wrangler/state)" >&2
  # stdin from /dev/null: wrangler does not ask for confirmation when not interactive.
  "${wrangler[@]}" d1 migrations apply DB --local </dev/null
  mkdir -p "$(dirname "$stamp")"
  touch "$stamp"
fi

echo "dev: wrangler dev --local on http://127.0.0.1:${PORT:-8787}" >&2
exec "${wrangler[@]}" dev --local --ip 127.0.0.1 --port "${PORT:-8787}" "$@"
