#!/usr/bin/env bash
# List tools and call read tools of an MCP server with the MCP Inspector CLI
# (@modelcontextprotocol/inspector@2.12.0 --cli), over stdio or streamable HTTP,
# at each protocol era (legacy = 2025-11-25 handshake, modern = 2026-07-28).
#
#   bash .ci/inspector.sh [options] stdio -- COMMAND [ARGS...]
#   bash .ci/inspector.sh [options] http URL
#
# options:
#   --calls FILE        tool calls, one per line ('#' comments and blank lines ignored):
#                         tool_name {"json": "arguments"}     sent verbatim (--tool-args-json)
#                         tool_name key=value key2=value      sent as --tool-arg pairs (the
#                                                             Inspector JSON-parses values:
#                                                             limit=5 is a number)
#                         tool_name                           no arguments
#   --era ERA           legacy | modern | auto (repeatable; default: legacy and modern)
#   --cwd DIR           working directory of the stdio server (default: current)
#   --pass-env NAME     copy $NAME into the stdio server's environment (repeatable).
#                       The Inspector gives a stdio child only a minimal environment
#                       (PATH, HOME, ...), so anything the server needs must be passed.
#   --bearer-env NAME   HTTP: send "Authorization: Bearer $NAME"
#   --header-env H=NAME HTTP: send header H with the value of $NAME (repeatable)
#   --no-read-coverage  do not fail when a tool with readOnlyHint=true is missing
#                       from the calls file (default: fail, so new read tools get called)
#   --label TEXT        prefix for the result lines (default: the transport)
#   --wait SECONDS      HTTP: wait this long for the URL to answer at all (default 30)
#   --timeout MS        kill one Inspector run after this long (default 30000)
#
# Secrets are never put on argv: values are read from the environment by NAME and
# written to a 0600 Inspector --config file in a private temp dir, removed on exit.
# Fails (exit 1) if tools/list fails, if any call exits non-zero or returns
# isError: true, if a called tool is not advertised, or on missing read-tool coverage.
# Closes with "inspector: N passed, N failed".
set -euo pipefail

CI_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
    sed -n '2,33p' "${BASH_SOURCE[0]}" >&2
    exit 2
fi

NODE="$(bash "$CI_DIR/node.sh")"
INSPECTOR="$CI_DIR/node/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js"

exec "$NODE" "$CI_DIR/lib/inspector.mjs" --inspector "$INSPECTOR" "$@"
