#!/usr/bin/env bash
# Run the MCP conformance server scenarios that apply to any server
# (@modelcontextprotocol/conformance@0.2.0-alpha.12) at protocol versions
# 2025-11-25 and 2026-07-28 against a running streamable-HTTP MCP server.
#
#   bash .ci/conformance.sh URL [--out DIR] [--era 2025-11-25|2026-07-28]... [--strict]
#                               [--wait SECONDS] [--timeout MS]
#
#   URL       e.g. http://127.0.0.1:8765/mcp. Must be a loopback URL (the
#             dns-rebinding-protection scenario requires it) and must NOT require
#             authentication: the suite cannot send an Authorization header.
#   --out     keep raw results here (default: a fresh mktemp dir)
#   --era     run only this era (repeatable; default both)
#   --strict  also fail on WARNING checks (spec SHOULDs)
#   --wait    seconds to wait for the server to answer initialize (default 30)
#
# Prints one PASS/FAIL/SKIP line per (era, scenario) and closes with
# "conformance: N passed, N failed, N skipped". Exits non-zero if any counted
# scenario fails. tools-call-simple-text and tools-call-error are never run or
# counted (they pass on any server); see .ci/README.md for the scenario list.
set -euo pipefail

CI_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [ $# -lt 1 ] || [ "${1:0:1}" = "-" ]; then
    sed -n '2,22p' "${BASH_SOURCE[0]}" >&2
    exit 2
fi
URL="$1"
shift

NODE="$(bash "$CI_DIR/node.sh")"
CLI="$CI_DIR/node/node_modules/@modelcontextprotocol/conformance/dist/index.js"

exec "$NODE" "$CI_DIR/lib/conformance.mjs" --url "$URL" --cli "$CLI" "$@"
