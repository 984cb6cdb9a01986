#!/usr/bin/env bash
# What the Dockerfile does, without Docker (no engine runs on CI machines): build the wheel,
# install it with the postgres extra into a clean prefix, and run it from there: the emulator
# alone, then `--http --workers 2` on a fresh PostgreSQL schema, answering tools/list through
# both workers; the schema is dropped afterwards.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
WORK="$(mktemp -d)"
URL="${OUTPERFORM_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test}"
SCHEMA="ci_$(date +%s)_$$"
PIDS=()
# shellcheck disable=SC2317  # called through the EXIT trap
cleanup() {
    for p in "${PIDS[@]}"; do { kill "$p" && wait "$p"; } 2>/dev/null || true; done
    "$PY" -c "import psycopg,sys; c=psycopg.connect(sys.argv[1], autocommit=True); c.execute('DROP SCHEMA IF EXISTS \"' + sys.argv[2] + '\" CASCADE')" "$URL" "$SCHEMA" || true
    rm -rf "$WORK"
}
trap cleanup EXIT

"$PY" -m pip wheel --quiet --no-deps --wheel-dir "$WORK/dist" .
python3 -m venv "$WORK/prefix"
"$WORK/prefix/bin/pip" install --quiet "$(ls "$WORK"/dist/*.whl)[postgres]"
BIN="$WORK/prefix/bin/outperform-mcp"
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

EPORT="$(free_port)"
env -i PATH="$PATH" HOME="$WORK" "$BIN" sandbox --port "$EPORT" >"$WORK/emulator.log" 2>&1 &
PIDS+=("$!")
"$PY" -c "import psycopg,sys; c=psycopg.connect(sys.argv[1], autocommit=True); c.execute('CREATE SCHEMA \"' + sys.argv[2] + '\"')" "$URL" "$SCHEMA"

PORT="$(free_port)"
for _ in $(seq 300); do grep -q "emulator at " "$WORK/emulator.log" 2>/dev/null && break; sleep 0.1; done
BASE="$(sed -n 's/^OutPerform API emulator at //p' "$WORK/emulator.log")"
[ -n "$BASE" ] || { echo "the installed emulator did not start:"; cat "$WORK/emulator.log"; exit 1; } >&2
env -i PATH="$PATH" HOME="$WORK" OUTPERFORM_DATA_DIR="$WORK/data" \
    OUTPERFORM_BASE_URL="$BASE" \
    OUTPERFORM_CLIENT_ID=sandbox-client OUTPERFORM_CLIENT_SECRET=sandbox-secret \
    OUTPERFORM_DATABASE_URL="$URL?options=-csearch_path%3D$SCHEMA" \
    "$BIN" --http --port "$PORT" --workers 2 >"$WORK/server.log" 2>&1 &
PIDS+=("$!")
"$PY" - "$PORT" "$WORK/server.log" <<'PYEOF'
import sys, time, httpx
port, log = sys.argv[1], sys.argv[2]
url = f"http://127.0.0.1:{port}/mcp"
headers = {"accept": "application/json, text/event-stream", "content-type": "application/json",
           "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list"}
body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}}}
deadline = time.monotonic() + 30
while True:
    try:
        answer = httpx.post(url, json=body, headers=headers, timeout=5)
        break
    except httpx.TransportError:
        if time.monotonic() > deadline:
            sys.exit("the installed wheel did not start serving:\n" + open(log).read())
        time.sleep(0.1)
assert answer.status_code == 200, (answer.status_code, answer.text[:300])
for _ in range(20):  # spread over both workers
    assert httpx.post(url, json=body, headers=headers, timeout=5).status_code == 200
text = open(log).read()
workers = text.count("serving MCP on")
assert workers == 2, text
# The wheel carries the catalogue and sources that match it: listed without importing every toolset.
assert "catalogue.json is" not in text, text
print(f"installed wheel: --workers 2 on PostgreSQL answered tools/list ({workers} workers)")
PYEOF
