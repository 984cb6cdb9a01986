#!/usr/bin/env bash
# Prove .ci/conformance.sh and .ci/inspector.sh against the throwaway toy server.
# Also the template for wiring the real server into .ci/run: start it on a free
# loopback port, run the checks, stop it by PID.
#
#   bash tests/external/prove_toy.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
HERE="tests/external"

bash .ci/node.sh >/dev/null # install once up front (idempotent)

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

PIDS=()
# shellcheck disable=SC2317  # called through the EXIT trap
cleanup() { for p in "${PIDS[@]}"; do { kill "$p" && wait "$p"; } 2>/dev/null || true; done; }
trap cleanup EXIT

start_http() { # start_http PORT [toy args...]
    local port="$1"
    shift
    "$PY" "$HERE/toy_server.py" http "$port" "$@" >"${TMPDIR:-/tmp}/toy-$port.log" 2>&1 &
    PIDS+=("$!")
}

rc=0
PORT="$(free_port)"
start_http "$PORT"
bash .ci/conformance.sh "http://127.0.0.1:$PORT/mcp" || rc=1

bash .ci/inspector.sh --calls "$HERE/toy_calls.txt" stdio -- "$PY" "$HERE/toy_server.py" stdio || rc=1

# HTTP with a bearer token: the token travels by environment variable name only.
TOKEN_PORT="$(free_port)"
TOY_BEARER_TOKEN="toy-$RANDOM$RANDOM"
export TOY_BEARER_TOKEN
start_http "$TOKEN_PORT"
bash .ci/inspector.sh --calls "$HERE/toy_calls.txt" --bearer-env TOY_BEARER_TOKEN \
    http "http://127.0.0.1:$TOKEN_PORT/mcp" || rc=1

exit "$rc"
