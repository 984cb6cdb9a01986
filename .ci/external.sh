#!/usr/bin/env bash
# External MCP checks against the real server in --sandbox mode: the conformance suite at both
# protocol versions, then the Inspector CLI calling every read tool over HTTP (with and without
# a bearer token) and over stdio. Secrets travel by environment only.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-$ROOT/.venv/bin/python}"

bash .ci/node.sh >/dev/null

DATA="$(mktemp -d)"
export OUTPERFORM_DATA_DIR="$DATA"
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

PIDS=()
# shellcheck disable=SC2317  # called through the EXIT trap
cleanup() {
    for p in "${PIDS[@]}"; do { kill "$p" && wait "$p"; } 2>/dev/null || true; done
    rm -rf "$DATA"
}
trap cleanup EXIT

start_http() { # start_http PORT  (environment decides the token)
    "$PY" -m outperform_mcp.cli --sandbox --http --port "$1" >"$DATA/server-$1.log" 2>&1 &
    PIDS+=("$!")
}

rc=0
PORT="$(free_port)"
unset OUTPERFORM_MCP_TOKEN
start_http "$PORT"
bash .ci/conformance.sh "http://127.0.0.1:$PORT/mcp" || rc=1
bash .ci/inspector.sh --calls .ci/read-tools.calls http "http://127.0.0.1:$PORT/mcp" || rc=1

TOKEN_PORT="$(free_port)"
OUTPERFORM_MCP_TOKEN="$("$PY" -c 'import secrets; print(secrets.token_urlsafe(24))')"
export OUTPERFORM_MCP_TOKEN
start_http "$TOKEN_PORT"
bash .ci/inspector.sh --calls .ci/read-tools.calls --bearer-env OUTPERFORM_MCP_TOKEN \
    http "http://127.0.0.1:$TOKEN_PORT/mcp" || rc=1
unset OUTPERFORM_MCP_TOKEN

bash .ci/inspector.sh --calls .ci/read-tools.calls --pass-env OUTPERFORM_DATA_DIR \
    stdio -- "$PY" -m outperform_mcp.cli --sandbox || rc=1

if [ "$rc" -ne 0 ]; then
    echo "external checks failed; server logs:" >&2
    tail -n 20 "$DATA"/server-*.log >&2 || true
fi
exit "$rc"
