#!/usr/bin/env bash
# The uv-run install paths, end to end:
#   1. the Claude Desktop bundle: the pinned MCPB CLI (@anthropic-ai/mcpb@2.1.2) validates
#      mcpb/manifest.json, packs the bundle (manifest, server.py, pyproject.toml, the package and
#      prompts) into build/outperform-mcp.mcpb and prints its info; the packed file is unpacked
#      and started the way a host starts it (the manifest's mcp_config: `uv run` in the bundle),
#      in --sandbox, and its tools/list must be exactly the manifest's tools;
#   2. `uvx --from <this checkout> outperform-mcp --sandbox`, the README's line for any client.
# uv is pinned (PyPI uv==0.13.9) and may not download Python builds (UV_PYTHON_DOWNLOADS=never).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
SMOKE="$ROOT/.ci/lib/smoke.py"
UV_PIN="uv==0.13.9"
log() { printf '[bundle.sh] %s\n' "$*" >&2; }

NODE="$(bash .ci/node.sh)"
MCPB=("$NODE" "$ROOT/.ci/node/node_modules/@anthropic-ai/mcpb/dist/cli/cli.js")

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"$PY" -m pip install --quiet --disable-pip-version-check "$UV_PIN" 2>"$WORK/pip.log" ||
    { cat "$WORK/pip.log" >&2; exit 1; }
UV_BIN="$(dirname "$PY")"
export PATH="$UV_BIN:$PATH" UV_PYTHON_DOWNLOADS=never UV_CACHE_DIR="$WORK/uv-cache" UV_NO_PROGRESS=1
export OUTPERFORM_DATA_DIR="$WORK/data"
log "$(uv --version)"

# -- 1. the MCPB bundle --------------------------------------------------------------------------
"${MCPB[@]}" validate mcpb/manifest.json
STAGE="$WORK/stage"
mkdir -p "$STAGE"
cp mcpb/manifest.json mcpb/server.py mcpb/.mcpbignore pyproject.toml README.md "$STAGE/"
cp -R outperform_mcp prompts "$STAGE/"
mkdir -p build
rm -f build/outperform-mcp.mcpb
"${MCPB[@]}" pack "$STAGE" build/outperform-mcp.mcpb >"$WORK/pack.log" 2>&1 || { cat "$WORK/pack.log" >&2; exit 1; }
"${MCPB[@]}" info build/outperform-mcp.mcpb
if unzip -l build/outperform-mcp.mcpb | grep -E '__pycache__|\.pyc$|\.venv/'; then
    log "the bundle carries build leftovers"; exit 1
fi
"${MCPB[@]}" unpack build/outperform-mcp.mcpb "$WORK/unpacked" >/dev/null
start=$SECONDS
USER_CONFIG_CLIENT_ID=ci-bundle-client USER_CONFIG_CLIENT_SECRET=ci-bundle-secret USER_CONFIG_INSTANCE_ID="" \
    "$PY" "$SMOKE" mcpb "$WORK/unpacked" --sandbox
log "bundle started with uv and answered in $((SECONDS - start)) s (first start installs its dependencies)"

# -- 2. uvx --from <path> ------------------------------------------------------------------------
start=$SECONDS
"$PY" "$SMOKE" stdio -- uvx --from "$ROOT" outperform-mcp --sandbox
log "uvx path answered in $((SECONDS - start)) s"
