#!/usr/bin/env bash
# What `kill -9` costs valtrack's journaled Parquet tables, at several write rates: rows
# accepted (the writer printed them) against rows on disk after the restart publishes the
# journals. Runs `examples/crash_bound.rs` (release by default); loopback and temp files only.
#   scripts/crash-bound.sh [RATE ...]   (default: 100 1000 3000 10000 events/s; 3 kills each)
set -euo pipefail
cd "$(dirname "$0")/.."
# PROFILE=dev for a quicker build (the figures are about loss, not speed).
profile=${PROFILE:-release}
cargo build --profile "$profile" --quiet --example crash_bound
bin=target/$([ "$profile" = dev ] && echo debug || echo "$profile")/examples/crash_bound
rates=("$@"); [ ${#rates[@]} -gt 0 ] || rates=(100 1000 3000 10000)
printf '| events/s | kill after | accepted | on disk after restart | lost | lost, seconds of rows |\n|---|---|---|---|---|---|\n'
for rate in "${rates[@]}"; do
  for after in 3.3 7.7 12.1; do
    dir=$(mktemp -d)
    "$bin" "$dir/data" "$rate" > "$dir/accepted" &
    pid=$!
    sleep "$after"
    kill -9 "$pid"; wait "$pid" 2>/dev/null || true
    accepted=$(tail -n1 "$dir/accepted")
    on_disk=$("$bin" "$dir/data" --recover)
    lost=$((accepted - on_disk))
    printf '| %s | %s s | %s | %s | %s | %s |\n' "$rate" "$after" "$accepted" "$on_disk" "$lost" \
      "$(python3 -c "print(f'{$lost/$rate:.2f}')")"
    rm -rf "$dir"
  done
done
