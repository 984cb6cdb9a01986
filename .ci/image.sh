#!/usr/bin/env bash
# The Docker image's path without a Docker engine: read the Dockerfile, stage what its build stage
# COPYs, run its build-stage RUN lines (build the wheel, install it into a clean prefix) with a
# clean Debian Python 3.11 standing in for python:3.11-slim, then run the ENTRYPOINT from that
# prefix as the non-root user the image uses, with the image's ENV, and smoke-test it through a
# real MCP client: stdio (initialize, tools/list, a read) and Streamable HTTP on 0.0.0.0 with a
# bearer token (and refused without one). Secrets travel by environment only.
#
#   bash .ci/image.sh            (as root: creates the image's user, uid 10001, if missing)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"   # runs the MCP client, not the server
BASE_PYTHON="${BASE_PYTHON:-/usr/bin/python3.11}"
SMOKE="$ROOT/.ci/lib/smoke.py"
DOCKERFILE="$ROOT/Dockerfile"
log() { printf '[image.sh] %s\n' "$*" >&2; }

WORK="$(mktemp -d)"
chmod 755 "$WORK"   # the non-root user must reach the interpreter and the prefix
PIDS=()
# shellcheck disable=SC2317  # called through the EXIT trap
cleanup() {
    for p in "${PIDS[@]}"; do { kill "$p" && wait "$p"; } 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

# -- read the Dockerfile: stage 1 (build) and stage 2 (runtime) --------------------------------
stage=0
BUILD_COPY=()
BUILD_RUN=()
RUNTIME_ENV=()
ENTRYPOINT=""
USER_NAME=""
while IFS= read -r line; do
    case "$line" in
        FROM*) stage=$((stage + 1)) ;;
        COPY\ --from*) ;;
        COPY\ *) [ "$stage" = 1 ] && BUILD_COPY+=("${line#COPY }") ;;
        RUN\ *) [ "$stage" = 1 ] && BUILD_RUN+=("${line#RUN }") ;;
        ENV\ *) [ "$stage" = 2 ] && read -r -a words <<<"${line#ENV }" && RUNTIME_ENV+=("${words[@]}") ;;
        ENTRYPOINT\ *) ENTRYPOINT="${line#ENTRYPOINT }" ;;
        USER\ *) USER_NAME="${line#USER }" ;;
    esac
done <"$DOCKERFILE"
[ "${#BUILD_RUN[@]}" -gt 0 ] && [ -n "$ENTRYPOINT" ] && [ -n "$USER_NAME" ] ||
    { log "cannot read the build stage, ENTRYPOINT and USER from $DOCKERFILE"; exit 1; }

# -- build stage ---------------------------------------------------------------------------------
"$BASE_PYTHON" -m venv "$WORK/base"   # python:3.11-slim: an interpreter with pip and nothing else
SRC="$WORK/src"
mkdir -p "$SRC"
for spec in "${BUILD_COPY[@]}"; do
    read -r -a parts <<<"$spec"
    dest="${parts[-1]}"
    unset 'parts[-1]'
    for source in "${parts[@]}"; do
        case "$dest" in
            */ | .) mkdir -p "$SRC/$dest" && cp -R "$ROOT/$source" "$SRC/$dest" ;;
            *) mkdir -p "$(dirname "$SRC/$dest")" && cp -R "$ROOT/$source" "$SRC/$dest" ;;
        esac
    done
done
start=$SECONDS
for cmd in "${BUILD_RUN[@]}"; do
    # The image's / becomes $WORK; its pip is the clean interpreter's.
    local_cmd="$(sed -e "s#/dist#$WORK/dist#g" -e "s#/install#$WORK/install#g" -e "s#^pip #$WORK/base/bin/pip #" <<<"$cmd")"
    log "RUN $cmd"
    if ! (cd "$SRC" && eval "$local_cmd --disable-pip-version-check") >"$WORK/build.log" 2>&1; then
        tail -n 30 "$WORK/build.log" >&2; exit 1
    fi
done
log "wheel $(basename "$WORK"/dist/*.whl) built and installed into a clean prefix in $((SECONDS - start)) s"

# -- runtime stage -------------------------------------------------------------------------------
SITE="$(echo "$WORK"/install/lib/python3*/site-packages)"
DATA="$WORK/data"
mkdir -p "$DATA"
for kv in "${RUNTIME_ENV[@]}"; do
    export "${kv//=\/data/=$DATA}"
done
cd "$DATA"   # not the checkout: nothing of it may be importable
# COPY --from=build /install /usr/local: the prefix is where the interpreter finds everything.
export PATH="$WORK/install/bin:$PATH" PYTHONPATH="$SITE"
ENTRY="$("$PY" -c 'import json,sys; print(" ".join(json.loads(sys.argv[1])))' "$ENTRYPOINT")"

AS_USER=()
if [ "$(id -u)" = 0 ]; then
    id -u "$USER_NAME" >/dev/null 2>&1 || useradd --create-home --uid 10001 "$USER_NAME"
    chown "$USER_NAME" "$DATA"
    AS_USER=(runuser -u "$USER_NAME" --)
    log "running as $USER_NAME (uid $(id -u "$USER_NAME")), not root"
else
    log "running as $(id -un) (uid $(id -u)), not root"
fi
# The installed package must be what runs, not this checkout.
"${AS_USER[@]}" "$WORK/base/bin/python" -c 'import outperform_mcp, sys; assert "/install/" in outperform_mcp.__file__, outperform_mcp.__file__'
"${AS_USER[@]}" "$ENTRY" --version >&2

rc=0
"$PY" "$SMOKE" stdio -- "${AS_USER[@]}" "$ENTRY" --sandbox || rc=1

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT="$(free_port)"
# Off loopback without a token the server must refuse to start (exit 2), as `docker run -p` would.
if "${AS_USER[@]}" "$ENTRY" --sandbox --http --host 0.0.0.0 --port "$PORT" 2>"$WORK/refused.log"; then
    log "served HTTP on 0.0.0.0 without OUTPERFORM_MCP_TOKEN"; rc=1
elif ! grep -q "OUTPERFORM_MCP_TOKEN" "$WORK/refused.log"; then
    log "refused to serve without a token, but did not say how to fix it:"; cat "$WORK/refused.log" >&2; rc=1
fi
OUTPERFORM_MCP_TOKEN="$("$PY" -c 'import secrets; print(secrets.token_urlsafe(24))')"
export OUTPERFORM_MCP_TOKEN
"${AS_USER[@]}" "$ENTRY" --sandbox --http --host 0.0.0.0 --port "$PORT" >"$WORK/http.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 100); do
    "$PY" -c "import socket,sys; socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null && break
    kill -0 "${PIDS[-1]}" 2>/dev/null || break
    sleep 0.1
done
"$PY" "$SMOKE" http "http://127.0.0.1:$PORT/mcp" --bearer-env OUTPERFORM_MCP_TOKEN || rc=1
if grep -qF "$OUTPERFORM_MCP_TOKEN" "$WORK/http.log"; then
    log "the bearer token appears in the server's log"; rc=1
fi
[ "$rc" = 0 ] || { log "server log:"; tail -n 20 "$WORK/http.log" >&2; }
exit "$rc"
