#!/usr/bin/env bash
# Runs the cargo fuzz targets under fuzz/ and prints a table of what each did.
#
#   scripts/fuzz.sh [-runs N] [-time SECONDS] [-jobs J] [TARGET ...]
#
# Each target runs until N executions (default 10,000,000) or SECONDS (default 1800), from
# its kept corpus (fuzz/corpus/TARGET, grown in place) with the seeds first; J targets at
# once (default 1). A crash leaves its input under fuzz/artifacts/TARGET/: turn it into a
# fix plus a copy under fuzz/regressions/TARGET/, which `cargo test` replays
# (valtrack-core/tests/fuzz_corpus.rs, valtrack-sink/tests/it/fuzz_corpus.rs).
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`); installs the
# latter when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=10000000
time=1800
jobs=1
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    -runs) runs="$2"; shift 2 ;;
    -time) time="$2"; shift 2 ;;
    -jobs) jobs="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
[ -d fuzz/corpus ] || python3 fuzz/seed.py
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cd fuzz && cargo +nightly fuzz list)
fi
(cd fuzz && cargo +nightly fuzz build)
logs=$(mktemp -d)
run_one() {
  local t=$1
  (cd fuzz && cargo +nightly fuzz run "$t" "corpus/$t" -- -runs="$runs" -max_total_time="$time" \
    -print_final_stats=1 -rss_limit_mb=4096 -timeout=10) >"$logs/$t.log" 2>&1 || true
}
export -f run_one
export runs time logs
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one {}'
printf '| %-20s | %12s | %8s | %6s | %7s | %8s | %-7s |\n' target execs "exec/s" cov features corpus crashes
printf '|%s|%s|%s|%s|%s|%s|%s|\n' ---------------------- -------------- ---------- -------- --------- ---------- ---------
status=0
for t in "${targets[@]}"; do
  log="$logs/$t.log"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
  cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
  crashes=$(find "fuzz/artifacts/$t" -type f 2>/dev/null | wc -l)
  if grep -qE 'ERROR: libFuzzer|SUMMARY: |panicked' "$log"; then
    crashes="$crashes (see $log)"
    status=1
  fi
  printf '| %-20s | %12s | %8s | %6s | %7s | %8s | %-7s |\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$corpus" "$crashes"
done
exit $status
