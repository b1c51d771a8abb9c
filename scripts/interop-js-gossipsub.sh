#!/usr/bin/env bash
# A js-gossipsub 14 node (an independent GossipSub implementation) scores a valtrack sentry.
#
# usage: scripts/interop-js-gossipsub.sh
#
# Installs the judge's npm packages (scripts/js-gossipsub/package-lock.json, `npm ci`) once
# into a cache folder keyed by the lock file's hash, copies the judge there, and runs
#   cargo test --workspace --test it a_js_gossipsub -- --ignored --nocapture
# (the workspace's features, so the build of scripts/check's test step is reused) with
# VALTRACK_JS_GOSSIPSUB set to that folder. Exits with the test's exit code.
#
# env:
#   VALTRACK_JS_GOSSIPSUB_HOME  install cache (default: $HOME/.cache/valtrack/js-gossipsub);
#                               ~45 MB, a few seconds to install
#   VALTRACK_SCORE_SLOTS        half-second slots the judge scores (default 120)
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC=$REPO_ROOT/scripts/js-gossipsub
CACHE=${VALTRACK_JS_GOSSIPSUB_HOME:-$HOME/.cache/valtrack/js-gossipsub}
log() { printf '[interop-js-gossipsub] %s\n' "$*" >&2; }
for tool in node npm sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || {
    log "error: $tool not found on PATH"
    exit 1
  }
done
key=$(cat "$SRC/package.json" "$SRC/package-lock.json" | sha256sum | cut -c1-16)
dir=$CACHE/$key
if [ ! -f "$dir/node_modules/@chainsafe/libp2p-gossipsub/package.json" ]; then
  mkdir -p "$CACHE"
  tmp=$(mktemp -d "$CACHE/partial.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  cp "$SRC/package.json" "$SRC/package-lock.json" "$tmp/"
  log "installing the judge's npm packages into $dir"
  (cd "$tmp" && npm ci --no-audit --no-fund --loglevel=error >&2)
  rm -rf "$dir"
  mv "$tmp" "$dir"
  trap - EXIT
fi
cp "$SRC/judge.mjs" "$SRC/polyfill.mjs" "$dir/"
log "node $(node --version), js-gossipsub $(node -p "require('$dir/node_modules/@chainsafe/libp2p-gossipsub/package.json').version")"
cd "$REPO_ROOT"
VALTRACK_JS_GOSSIPSUB=$dir exec cargo test --workspace --locked --test it a_js_gossipsub -- \
  --ignored --nocapture
