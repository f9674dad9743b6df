#!/usr/bin/env bash
# The client command scripts/conformance.sh hands to the MCP conformance suite. The suite appends
# the MCP server URL and names the scenario in MCP_CONFORMANCE_SCENARIO; this maps the scenario to
# an `agent-id mcp connect` invocation and nothing more (the logic is in the Rust client).
#
# The agent's key lives in the state directory the runner chose (XDG_CONFIG_HOME); a scenario's
# fake servers never see the agent-id server, so AGENT_ID_SERVER only names that directory.
set -euo pipefail
url="${!#}"
bin="${AGENT_ID_BIN:?AGENT_ID_BIN is set by scripts/conformance.sh}"
export AGENT_ID_SERVER="${AGENT_ID_SERVER:-http://127.0.0.1:9}"

case "${MCP_CONFORMANCE_SCENARIO:-}" in
  # The suite's fake AS accepts exactly this URL as a Client ID Metadata Document client_id.
  auth/basic-cimd) client_id="https://conformance-test.local/client-metadata.json" ;;
  *) client_id="agent-id-cli" ;;
esac

# Each scenario runs in a fresh state directory: the agent needs a key there first.
"$bin" keygen >/dev/null
exec "$bin" mcp connect --client-id "$client_id" --call-tool test-tool "$url"
