#!/usr/bin/env bash
# Runs schemathesis (PyPI) against the tracker API a `valtrack run --network sim` serves,
# from the API's own /openapi.json: every response must match the documented schema, status
# codes and content types, nothing may answer 5xx, methods the description does not list are
# 405, and schema-violating input is refused. Admin key given, so both views are exercised.
#
#   scripts/schemathesis.sh [VALTRACK_BINARY] [DATABASE_URL]   (default: target/debug/valtrack)
#
# With DATABASE_URL, the run writes to that PostgreSQL database (`--database`) and the API
# answers from it.
#
# Left out: `positive_data_acceptance`, because the API refuses `from` after `to` with 400 (a
# constraint across two parameters that OpenAPI 3.0 cannot state).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/valtrack}
database=()
if [ -n "${2:-}" ]; then database=(--database "$2"); fi
python3 -c 'import schemathesis' 2>/dev/null || python3 -m pip install --quiet schemathesis
st=$(command -v st || echo "$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/st")
dir=$(mktemp -d)
key=schemathesis-admin-key-0123456789
echo "$key" >"$dir/keys"
"$bin" run --network sim --sim-nodes 20 --duration 600s --api-listen 127.0.0.1:0 \
  --api-keys-file "$dir/keys" --data-dir "$dir/data" "${database[@]}" >"$dir/run.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
api=""
for _ in $(seq 1 120); do
  api=$(sed -n 's/.*tracker API listening addr=\([0-9.:]*\).*/\1/p' "$dir/run.log" | head -1)
  [ -n "$api" ] && break
  sleep 0.5
done
[ -n "$api" ] || { cat "$dir/run.log"; echo "the API did not start"; exit 1; }
# Let the simulated network fill the tracker so answers have content.
sleep 15
"$st" run "http://$api/openapi.json" --checks all --exclude-checks positive_data_acceptance \
  -H "X-API-Key: $key" --max-examples 100 --seed 1 --generation-deterministic --no-color
