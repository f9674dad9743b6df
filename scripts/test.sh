#!/usr/bin/env bash
# Run all tests of agent-id (`npm test`, and `.ci/run` on a clean clone):
#
#   1. scripts/setup.sh
#   2. cargo fmt --check
#   3. cargo clippy --workspace --all-targets -- -D warnings            (native: every crate)
#   4. cargo clippy --target wasm32-unknown-unknown --lib -- -D warnings  (the Worker, the protocol
#      crate and the client library, which all build for wasm32)
#   5. cargo nextest run --workspace + cargo test --workspace --doc   (or plain cargo test)
#   6. web app: type check and Vitest component tests (frontend/, `npm test`)
#   6b. fuzzing: scripts/fuzz.sh, every cargo-fuzz target for FUZZ_SECONDS (default 30) each;
#      SKIP_FUZZ=1 skips it (so does E2E_ONLY=1)
#   7. end to end: build the worker and the web app, start `wrangler dev --local` on free loopback
#      ports with fresh state under test-output/ (migrations applied first), wait for
#      GET /health = 200, run `e2e/.venv/bin/python -m pytest e2e`, then `npm test` in e2e/
#      (oauth4webapi, and the web app in headless Chromium; screenshots in
#      test-output/screenshots), then schemathesis against /openapi.json (run_schemathesis),
#      stop the servers.
#      Inside it: the MCP conformance suite's authorization-server scenarios against the main
#      server (scripts/conformance.sh authorization).
#   7b. MCP conformance: scripts/conformance.sh runs @modelcontextprotocol/conformance's client
#      scenarios (auth/dpop, auth/dpop-nonce, auth/basic-cimd) against `agent-id mcp connect`
#   8. bundle size (scripts/bundle-size.sh) within the 600 KB gzip budget (README "Bundle size
#      and cold start")
#
# Options (environment):  SKIP_E2E=1       stop after step 6b (fuzzing)
#                         E2E_ONLY=1       only steps 1, 7 and 8
#                         E2E_TIMEOUT      seconds for the e2e suite (default 1800)
#                         SCHEMATHESIS_EXAMPLES  generated cases per operation and phase (default 25)
#                         BUNDLE_MAX_GZIP  bundle budget in bytes (default 600000)
# Arguments are passed to pytest:  bash scripts/test.sh -k oauth -x   (npm test -- -k oauth)
#
# The e2e suite gets:     AGENT_ID_BASE_URL        main server (.dev.vars.example, all rate-limit buckets opened up)
#                         AGENT_ID_NONCE_BASE_URL  second server with DPOP_REQUIRE_NONCE=true
#                         AGENT_ID_NODRAIN_BASE_URL  third server without wrangler's request-body
#                                 draining: only for requests whose body is never sent (lying
#                                 Content-Length); an unread large body there breaks the next request
#                         AGENT_ID_DURABLE_BASE_URL  the same third server, which keeps replay markers in
#                                 Durable Objects (REPLAY_STORE=durable_object)
#                         AGENT_ID_DURABLE_STATE_DIR  its local state (--persist-to), read by the e2e test
#                         AGENT_ID_ENV_FILE        the dev-vars file both servers use (.dev.vars.example)
#                         AGENT_ID_TEST_OUTPUT     test-output/ (server logs: test-output/server-*.log)
#                         AGENT_ID_CLI             the `agent-id` binary (target/debug, built by build_cli_for_e2e)
#
# Reusable: `source scripts/test.sh` defines start_server / wait_healthy / stop_server without
# running anything (it also turns on `set -euo pipefail` in the sourcing shell);
# `bash scripts/test.sh serve [--var K:V ...]` starts one server (fresh state, PORT or a free
# port) in the foreground, e.g. for iterating on e2e tests.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/test-output"
ENV_FILE="$ROOT/.dev.vars.example"
HEALTH_TIMEOUT=60
# Worker bundle budget, gzip (wasm + JS as `wrangler deploy` uploads them): about 576 KB
# measured, so ~24 KB of room for the work in flight (a Durable Object class, the Analytics Engine
# sink, WebCrypto calls). A change that needs more must shrink something or raise this knowingly.
BUNDLE_MAX_GZIP="${BUNDLE_MAX_GZIP:-600000}"

# Offline wrangler: no request.cf fetch, no metrics/error reports, no update check.
export CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_SEND_METRICS=false \
  WRANGLER_SEND_ERROR_REPORTS=false WRANGLER_HIDE_BANNER=true
export WRANGLER_LOG_PATH="$OUT/wrangler-logs"
export PATH="$HOME/.cargo/bin:$PATH"
# shellcheck disable=SC1091
[[ -f "$ROOT/.tools/env" ]] && source "$ROOT/.tools/env"

# Every bucket of security.md's rate-limit table opened up for the e2e run (all requests come from
# 127.0.0.1 and the suite registers and logs in many agents per minute); limits stay enabled.
E2E_RATE_LIMIT_CONFIG='{"agent_register":"100000/60","agent_login":"100000/60","agent_login_agent":"100000/60","overseer_register":"100000/60","overseer_login":"100000/60","overseer_login_email":"100000/60","malice":"100000/60","malice_agent":"100000/60","token":"100000/60","token_ip":"100000/60","webhook":"100000/60","revoke":"100000/60","revoke_ip":"100000/60","introspect":"100000/60","introspect_ip":"100000/60","authorize_agent":"100000/60","email_verification_send":"100000/60","password_reset":"100000/60","password_reset_email":"100000/60","email_token":"100000/60","verify_http_signature":"100000/60"}'

log() { printf '\n=== test: %s\n' "$*" >&2; }
note() { printf 'test: %s\n' "$*" >&2; }

wrangler() { node "$ROOT/node_modules/wrangler/bin/wrangler.js" "$@"; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# port_free PORT: nothing listens on 127.0.0.1:PORT (so a health answer must come from our server).
port_free() {
  python3 -c 'import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()' "$1"
}

SERVER_PIDS=()

# prepare_state: apply the D1 migrations once per run into test-output/state/.migrated (the
# template every server's fresh state is copied from).
prepare_state() {
  local template="$OUT/state/.migrated"
  if [[ -f "$template/.done" && -z "$(find "$ROOT/migrations" -newer "$template/.done" -print -quit)" ]]; then
    return 0
  fi
  rm -rf "$template"
  mkdir -p "$template"
  if ! (cd "$ROOT" && wrangler d1 migrations apply DB --local --persist-to "$template" </dev/null) \
    >"$OUT/migrations.log" 2>&1; then
    cat "$OUT/migrations.log" >&2
    note "D1 migrations failed"
    return 1
  fi
  touch "$template/.done"
}

# start_server NAME PORT [--var KEY:VALUE ...] [other wrangler dev args]
# Fresh local state in test-output/state/NAME (migrated), log in test-output/server-NAME.log,
# variables from $ENV_FILE plus PUBLIC_BASE_URL and the given args.
# NO_BODY_DRAIN=1 start_server ...: without wrangler dev's request-body-draining middleware (see
# run_e2e). Sets SERVER_PID, the process-group leader: stop_server ends wrangler and workerd.
start_server() {
  local name="$1" port="$2"
  shift 2
  local persist="$OUT/state/$name" logf="$OUT/server-$name.log" inspector
  local -a envs=()
  [[ "${NO_BODY_DRAIN:-0}" == 1 ]] && envs=(WRANGLER_DISABLE_REQUEST_BODY_DRAINING=true)
  port_free "$port" || { note "port 127.0.0.1:$port is already in use"; return 1; }
  prepare_state
  rm -rf "$persist"
  cp -a "$OUT/state/.migrated" "$persist"
  inspector="$(free_port)"
  # setsid: own process group, so wrangler and its workerd children can be stopped together.
  (cd "$ROOT" && exec env "${envs[@]}" setsid node "$ROOT/node_modules/wrangler/bin/wrangler.js" \
    dev --local --ip 127.0.0.1 --port "$port" --inspector-port "$inspector" --persist-to "$persist" \
    --env-file "$ENV_FILE" --var "PUBLIC_BASE_URL:http://127.0.0.1:$port" \
    --show-interactive-dev-session=false "$@") >"$logf" 2>&1 </dev/null &
  SERVER_PID=$!
  SERVER_PIDS+=("$SERVER_PID")
  note "started $name (pid $SERVER_PID) on http://127.0.0.1:$port, log $logf"
}

# wait_healthy PORT PID [NAME]: until GET /health answers 200 (at most $HEALTH_TIMEOUT s).
wait_healthy() {
  local port="$1" pid="$2" name="${3:-server}" code start=$SECONDS
  while (( SECONDS - start < HEALTH_TIMEOUT )); do
    if ! kill -0 "$pid" 2>/dev/null; then
      note "$name (pid $pid) exited before it was healthy; log:"
      tail -n 60 "$OUT/server-$name.log" >&2 || true
      return 1
    fi
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/health" || true)"
    if [[ "$code" == 200 ]]; then
      note "$name healthy after $(( SECONDS - start ))s"
      return 0
    fi
    sleep 0.3
  done
  note "$name not healthy after ${HEALTH_TIMEOUT}s (last status $code); log:"
  tail -n 60 "$OUT/server-$name.log" >&2 || true
  return 1
}

# stop_server PID: TERM the process group (wrangler + workerd), KILL what is left after 10 s.
stop_server() {
  local pid="$1" _
  alive() { kill -0 -- "-$pid" 2>/dev/null || kill -0 "$pid" 2>/dev/null; }
  alive || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    alive || break
    sleep 0.2
  done
  if alive; then
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

stop_all_servers() {
  local pid
  for pid in "${SERVER_PIDS[@]+"${SERVER_PIDS[@]}"}"; do stop_server "$pid"; done
  SERVER_PIDS=()
}

# The loopback recording mail server (e2e/mail_recorder.mjs): the Worker's production Resend
# mailer sends to it (MAIL_API_URL), and tests read the messages from AGENT_ID_MAIL_RECORDER_URL.
# Sets MAIL_RECORDER_VARS, the --var arguments pointing a server at it; stopped with the servers.
MAIL_RECORDER_KEY="re_e2e_recorder_key"
MAIL_RECORDER_VARS=()
start_mail_recorder() {
  local port start=$SECONDS
  port="$(free_port)"
  mkdir -p "$OUT"
  (cd "$ROOT" && exec setsid node e2e/mail_recorder.mjs "$port" "$MAIL_RECORDER_KEY") \
    >"$OUT/mail-recorder.log" 2>&1 </dev/null &
  SERVER_PIDS+=("$!")
  until curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/health"; do
    (( SECONDS - start < 20 )) || { note "mail recorder did not start; log:"; cat "$OUT/mail-recorder.log" >&2; return 1; }
    sleep 0.2
  done
  export AGENT_ID_MAIL_RECORDER_URL="http://127.0.0.1:$port"
  MAIL_RECORDER_VARS=(--var "MAIL_PROVIDER:resend" --var "MAIL_API_URL:$AGENT_ID_MAIL_RECORDER_URL"
    --var "MAIL_API_KEY:$MAIL_RECORDER_KEY" --var "MAIL_FROM:Agent-ID <no-reply@agent-id.test>")
  note "mail recorder on $AGENT_ID_MAIL_RECORDER_URL"
}

# start_paddle_recorder: the loopback recording Paddle API (e2e/paddle_recorder.mjs) on a free
# port, so the Worker's Paddle calls (customer creation, cancellation, portal sessions) get
# Paddle's answers and tests read them back. Sets PADDLE_RECORDER_URL and PADDLE_RECORDER_KEY
# (exported for pytest and node) and adds its PID to SERVER_PIDS (stop_all_servers ends it).
start_paddle_recorder() {
  local port logf="$OUT/paddle-recorder.log" start=$SECONDS
  port="$(free_port)"
  PADDLE_RECORDER_KEY="pdl_e2e_apikey_$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
  PADDLE_RECORDER_URL="http://127.0.0.1:$port"
  mkdir -p "$OUT"
  (cd "$ROOT" && exec setsid node e2e/paddle_recorder.mjs "$port" "$PADDLE_RECORDER_KEY") >"$logf" 2>&1 </dev/null &
  SERVER_PIDS+=("$!")
  until curl -s -o /dev/null --max-time 2 "$PADDLE_RECORDER_URL/__recorder/calls"; do
    (( SECONDS - start < 20 )) || { note "paddle recorder did not start; log:"; cat "$logf" >&2; return 1; }
    sleep 0.2
  done
  export PADDLE_RECORDER_URL PADDLE_RECORDER_KEY
  note "paddle recorder on $PADDLE_RECORDER_URL (log $logf)"
}

run_e2e() {
  log "e2e: build the worker"
  (cd "$ROOT" && bash scripts/build.sh)

  mkdir -p "$OUT"
  rm -rf "$OUT/state"

  local port nonce_port raw_port main_pid nonce_pid raw_pid rc=0
  start_mail_recorder
  start_paddle_recorder
  local -a common=(--var "RATE_LIMIT_CONFIG:$E2E_RATE_LIMIT_CONFIG"
    "${MAIL_RECORDER_VARS[@]}"
    --var "CIMD_ALLOW_LOOPBACK:true"
  )
  # Paddle's API is the recorder on main and nonce. Not on nodrain, whose tests need no Paddle:
  # with sign-up's deferred customer creation calling out there, its durable-object burst tests
  # got "503 Your worker restarted mid-request" from wrangler dev (3 runs of 3; 0 without).
  local -a paddle=(--var "PADDLE_API_URL:$PADDLE_RECORDER_URL" --var "PADDLE_API_KEY:$PADDLE_RECORDER_KEY")
  port="$(free_port)"
  nonce_port="$(free_port)"
  raw_port="$(free_port)"
  log "e2e: start wrangler dev --local: main 127.0.0.1:$port, nonce $nonce_port, nodrain $raw_port"
  start_server main "$port" "${common[@]}" "${paddle[@]}"
  main_pid=$SERVER_PID
  start_server nonce "$nonce_port" "${common[@]}" "${paddle[@]}" --var "DPOP_REQUIRE_NONCE:true"
  nonce_pid=$SERVER_PID
  # wrangler dev drains every unread request body before sending the response (a dev-only
  # middleware; without it an unread large body breaks the next request through its proxy with a
  # 503 "Your worker restarted mid-request"). A request with a lying Content-Length therefore
  # hangs on main and nonce; tests of that case (security G05) use this third server.
  # It also keeps its replay markers in Durable Objects (REPLAY_STORE=durable_object): the replay
  # and concurrency tests of e2e/test_replay_stores.py run against main (D1) and this server.
  NO_BODY_DRAIN=1 start_server nodrain "$raw_port" "${common[@]}" --var "REPLAY_STORE:durable_object"
  raw_pid=$SERVER_PID
  wait_healthy "$port" "$main_pid" main
  wait_healthy "$nonce_port" "$nonce_pid" nonce
  wait_healthy "$raw_port" "$raw_pid" nodrain

  export AGENT_ID_BASE_URL="http://127.0.0.1:$port"
  export AGENT_ID_NONCE_BASE_URL="http://127.0.0.1:$nonce_port"
  export AGENT_ID_NODRAIN_BASE_URL="http://127.0.0.1:$raw_port"
  export AGENT_ID_DURABLE_BASE_URL="http://127.0.0.1:$raw_port"
  export AGENT_ID_DURABLE_STATE_DIR="$OUT/state/nodrain"
  export AGENT_ID_ENV_FILE="$ENV_FILE"
  export AGENT_ID_TEST_OUTPUT="$OUT"

  build_cli_for_e2e

  if [[ -f "$ROOT/e2e/requirements.txt" ]]; then
    log "e2e: pytest e2e (AGENT_ID_BASE_URL=$AGENT_ID_BASE_URL)"
    (cd "$ROOT" && timeout "${E2E_TIMEOUT:-1800}" e2e/.venv/bin/python -m pytest e2e -q \
      -p no:cacheprovider --junitxml "$OUT/e2e-junit.xml" "$@") || rc=$?
    # pytest exits 5 when a `-k` filter selects nothing: that is not a failure of the suites
    # that follow (node, schemathesis), which still run.
    if [[ $rc -eq 5 && $# -gt 0 ]]; then
      note "e2e: the pytest filter selected no tests"
      rc=0
    fi
  else
    note "no e2e/requirements.txt yet: end-to-end stage = health check only"
  fi
  if [[ $rc -eq 0 && -f "$ROOT/e2e/package.json" ]]; then
    log "e2e: npm test in e2e/"
    (cd "$ROOT/e2e" && { [[ -f node_modules/.package-lock.json && ! package-lock.json -nt node_modules/.package-lock.json ]] \
        || npm ci --no-audit --no-fund; } && timeout "${E2E_TIMEOUT:-1800}" npm test) || rc=$?
  fi

  if [[ $rc -eq 0 ]]; then
    run_conformance_authorization || rc=$?
  fi
  if [[ $rc -eq 0 ]]; then
    run_web_bot_auth_interop || rc=$?
  fi
  if [[ $rc -eq 0 ]]; then
    run_schemathesis "$AGENT_ID_BASE_URL" || rc=$?
  fi

  log "e2e: stop servers"
  stop_all_servers
  return "$rc"
}

# --- agent-id CLI for e2e (e2e/test_cli.py) -------------------------------------------------
# build_cli_for_e2e: build the `agent-id` binary (debug: the e2e tests drive its behaviour, not its
# speed) and export its path as AGENT_ID_CLI for pytest.
build_cli_for_e2e() {
  log "e2e: cargo build -p agent-id-cli (AGENT_ID_CLI for e2e/test_cli.py)"
  (cd "$ROOT" && cargo build -p agent-id-cli --bin agent-id)
  export AGENT_ID_CLI="${CARGO_TARGET_DIR:-$ROOT/target}/debug/agent-id"
}
# --- end agent-id CLI for e2e ----------------------------------------------------------------

# --- MCP conformance, authorization-server scenarios (issue 10) -----------------------------
# @modelcontextprotocol/conformance's `authorization` scenarios against the main e2e server (the
# suite's authorization URL is consented by an agent's DPoP proof; scripts/conformance.sh).
run_conformance_authorization() {
  log "e2e: MCP conformance authorization-server scenarios against $AGENT_ID_BASE_URL"
  (cd "$ROOT" && bash scripts/conformance.sh authorization)
}
# --- end MCP conformance, authorization-server scenarios -------------------------------------

# --- Web Bot Auth (issue 14) ---------------------------------------------------------------
# Cloudflare's `web-bot-auth` crate (crates.io, a dev-dependency of agent-id-client) verifies a
# request signed by our SDK, with the keys it discovers from the card and fetches from the key
# directory of the real wasm over loopback (crates/agent-id-client/tests/web_bot_auth_interop.rs).
run_web_bot_auth_interop() {
  case "$AGENT_ID_BASE_URL" in
    http://127.0.0.1:*) ;;
    *) note "web-bot-auth interop: refusing non-loopback base URL $AGENT_ID_BASE_URL"; return 1 ;;
  esac
  log "e2e: Cloudflare web-bot-auth verifies SDK signatures with keys from $AGENT_ID_BASE_URL"
  (cd "$ROOT" && timeout 900 cargo test -q -p agent-id-client --test web_bot_auth_interop -- \
    --ignored --test-threads 1)
}
# --- end Web Bot Auth ------------------------------------------------------------------------

# schemathesis (PyPI) against the real wasm: the document the server serves at /openapi.json is the
# contract, and every generated request must get a documented status, content type, header set and
# body, and never a 5xx. Three passes: anonymous, with an overseer session, with an agent session
# (the session's own logout excluded, so it lasts the pass); each uses the fixed seed, a fixed
# number of cases per operation and phase, one worker, a hard time limit, and loopback only.
# Reports: test-output/schemathesis-<pass>.xml (JUnit), .ndjson and .log; `SCHEMATHESIS_EXAMPLES`
# (default 20) sets the cases per operation and phase, `SCHEMATHESIS_TIMEOUT` the seconds per pass.
run_schemathesis() {
  local base="$1" examples="${SCHEMATHESIS_EXAMPLES:-20}" rc=0 pass session total=0 n
  case "$base" in
    http://127.0.0.1:*) ;;
    *) note "schemathesis: refusing non-loopback base URL $base"; return 1 ;;
  esac
  local -a common=(
    --url "$base"
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance
    --phases examples,coverage,fuzzing,stateful --max-examples "$examples" --seed 20260101
    --generation-database none --workers 1 --request-timeout 20 --max-redirects 0 --no-color
  )
  for pass in anonymous overseer agent; do
    local -a extra=()
    if [[ $pass != anonymous ]]; then
      session="$(cd "$ROOT/e2e" && .venv/bin/python schemathesis_session.py "$pass" "$base")" || return 1
      extra=(-H "Authorization: Bearer $session" --exclude-operation-id "${pass}Logout")
    fi
    log "e2e: schemathesis ($pass) $base/openapi.json, --max-examples $examples, seed 20260101"
    # Run in test-output/: schemathesis keeps its crash cache (for `schemathesis replay`) in ./.schemathesis.
    (cd "$OUT" && timeout "${SCHEMATHESIS_TIMEOUT:-600}" "$ROOT/e2e/.venv/bin/python" -m schemathesis.cli run \
      "$base/openapi.json" "${common[@]}" "${extra[@]}" \
      --report junit,ndjson --report-junit-path "$OUT/schemathesis-$pass.xml" \
      --report-ndjson-path "$OUT/schemathesis-$pass.ndjson" >"$OUT/schemathesis-$pass.log" 2>&1) || rc=$?
    sed -n '/^====* \(FAILURES\|WARNINGS\|SUMMARY\)/,$p' "$OUT/schemathesis-$pass.log" | grep -v '^\s*$' | tail -n 60 >&2
    n="$(sed -nE 's/^ *([0-9]+) generated.*/\1/p' "$OUT/schemathesis-$pass.log" | tail -n 1)"
    total=$((total + ${n:-0}))
    [[ $rc -eq 0 ]] || break
  done
  note "schemathesis: $total generated test cases in total"
  return "$rc"
}

T0=$SECONDS
on_exit() {
  local rc=$?
  stop_all_servers
  if [[ $rc -eq 130 || $rc -eq 143 ]]; then
    note "interrupted"
  elif [[ $rc -ne 0 ]]; then
    note "FAILED (exit $rc) after $((SECONDS - T0))s (server logs, if any: test-output/)"
  fi
  return "$rc"
}

main() {
  cd "$ROOT"
  T0=$SECONDS
  trap on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  log "setup"
  bash scripts/setup.sh

  if [[ "${E2E_ONLY:-0}" != 1 ]]; then
    log "cargo fmt --check"
    cargo fmt --all -- --check

    log "cargo clippy --workspace --all-targets -- -D warnings"
    cargo clippy --workspace --all-targets -- -D warnings

    log "cargo clippy --target wasm32-unknown-unknown --lib -- -D warnings (Worker, protocol, client)"
    cargo clippy --target wasm32-unknown-unknown -p agent-id -p agent-id-protocol -p agent-id-client \
      --lib -- -D warnings

    if cargo nextest --version >/dev/null 2>&1; then
      log "cargo nextest run --workspace"
      cargo nextest run --workspace --no-tests=warn
      log "cargo test --workspace --doc"
      cargo test --workspace --doc
    else
      log "cargo test --workspace"
      cargo test --workspace
    fi

    log "web app: type check and Vitest (frontend/)"
    (cd frontend && { [[ -f node_modules/.package-lock.json && ! package-lock.json -nt node_modules/.package-lock.json ]] \
        || npm ci --no-audit --no-fund; } && npm run typecheck && npm test)
  fi

  if [[ "${E2E_ONLY:-0}" != 1 && "${SKIP_FUZZ:-0}" != 1 ]]; then
    log "fuzz: scripts/fuzz.sh ${FUZZ_SECONDS:-30} (SKIP_FUZZ=1 skips)"
    bash scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
  fi

  if [[ "${SKIP_E2E:-0}" != 1 ]]; then
    run_e2e "$@"

    # --- MCP conformance (issue 11): the suite's own fake AS and MCP server, loopback only ---
    log "MCP conformance: scripts/conformance.sh (client scenarios against agent-id mcp connect)"
    bash scripts/conformance.sh
    # --- end MCP conformance ---

    log "bundle size (wrangler deploy --dry-run; budget ${BUNDLE_MAX_GZIP} B gzip)"
    local out line total
    out="$(bash scripts/bundle-size.sh)"
    echo "$out"
    line="$(tail -n 1 <<<"$out")"
    total="$(sed -nE 's/.*total gzip ([0-9]+) B.*/\1/p' <<<"$line")"
    if [[ -z "$total" || "$total" -gt "$BUNDLE_MAX_GZIP" ]]; then
      note "bundle over budget (or size unknown): ${total:-?} B gzip > $BUNDLE_MAX_GZIP B"
      return 1
    fi
  fi

  log "all tests passed in $((SECONDS - T0))s"
}

serve() {
  cd "$ROOT"
  bash scripts/setup.sh
  bash scripts/build.sh
  mkdir -p "$OUT"
  local port="${PORT:-$(free_port)}"
  trap on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  start_server serve "$port" "$@"
  wait_healthy "$port" "$SERVER_PID" serve
  note "serving http://127.0.0.1:$port (log test-output/server-serve.log); Ctrl-C stops"
  wait "$SERVER_PID"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  if [[ "${1:-}" == serve ]]; then
    shift
    serve "$@"
  else
    main "$@"
  fi
fi
