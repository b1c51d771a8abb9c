#!/usr/bin/env bash
# Runs a command against a real two-node Lodestar v1.5.1 devnet on loopback.
#
# usage: scripts/interop-lodestar.sh [COMMAND [ARGS...]]
#
# Installs Lodestar (once, into a cache folder), starts nodeA (8 genesis validators, all of
# them validating, Altair at epoch 0) and nodeB (no validators, nodeA as discv5 bootnode) on
# free ports, waits until both REST APIs answer, then runs COMMAND with
#   VALTRACK_LODESTAR_REST="http://127.0.0.1:PORT_A,http://127.0.0.1:PORT_B"
#   VALTRACK_LODESTAR_RUN_DIR=<scratch folder with nodeA.log, nodeB.log, data dirs>
# exported. Without COMMAND it runs the ignored interop tests of valtrack-sentry:
#   cargo test -p valtrack-sentry --test interop -- --ignored --nocapture --test-threads 1
# Exits with COMMAND's exit code. The nodes are always stopped on exit.
#
# env:
#   VALTRACK_SHARED_DIR     shared/ folder (default: <repo>/../shared, where CI puts it)
#   VALTRACK_LODESTAR_HOME  install cache (default: $HOME/.cache/valtrack/lodestar); the first
#                           install takes 1-2 minutes and ~390 MB
#   VALTRACK_KEEP_RUN_DIR=1 keep the scratch folder (logs, data dirs) after the run
#   VALTRACK_READY_TIMEOUT  seconds to wait for both REST APIs (default 90)
#
# Never export LODESTAR_* variables around this script: Lodestar reads each one as a flag
# (the script unsets any it inherits before starting the nodes).
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED_DIR=${VALTRACK_SHARED_DIR:-$REPO_ROOT/../shared}
LS_SRC=$SHARED_DIR/testnet/lodestar
LS_HOME=${VALTRACK_LODESTAR_HOME:-$HOME/.cache/valtrack/lodestar}
LS_ENTRY=lodestar/node_modules/@chainsafe/lodestar/lib/index.js
READY_TIMEOUT=${VALTRACK_READY_TIMEOUT:-90}
GENESIS_DELAY=12

log() { printf '[interop-lodestar] %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

for tool in curl python3 npm setsid; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found on PATH"
done
if [ ! -r "$LS_SRC/start-node.sh" ] || [ ! -r "$LS_SRC/install.sh" ]; then
  die "no Lodestar testnet scripts in $LS_SRC (set VALTRACK_SHARED_DIR to the shared/ folder)"
fi

# Every LODESTAR_* variable would become a Lodestar flag.
while IFS= read -r var; do
  case $var in
  LODESTAR_*)
    log "warning: unsetting $var (Lodestar would read it as a flag)"
    unset "$var"
    ;;
  esac
done < <(compgen -e)

# --- install (idempotent; built beside the cache and moved in only once complete) -------------

install_lodestar() {
  local parent tmp
  parent=$(dirname "$LS_HOME")
  mkdir -p "$parent"
  # Serialise concurrent first runs on one machine.
  exec 9>"$LS_HOME.lock"
  if command -v flock >/dev/null 2>&1; then
    flock 9
  fi
  if [ -f "$LS_HOME/$LS_ENTRY" ]; then
    exec 9>&-
    return 0
  fi
  tmp=$(mktemp -d "$LS_HOME.partial.XXXXXX")
  log "installing Lodestar v1.5.1 into $LS_HOME (takes 1-2 minutes)"
  local start=$SECONDS
  if ! bash "$LS_SRC/install.sh" "$tmp" >"$tmp.log" 2>&1; then
    tail -n 40 "$tmp.log" >&2 || true
    rm -rf "$tmp" "$tmp.log"
    die "Lodestar install failed"
  fi
  rm -rf "$tmp/yarn-cache" "$tmp.log" # ~270 MB, not needed to run
  chmod 755 "$tmp"                     # mktemp made it 0700
  rm -rf "$LS_HOME"
  mv "$tmp" "$LS_HOME"
  log "installed Lodestar in $((SECONDS - start)) s"
  exec 9>&-
}

if [ ! -f "$LS_HOME/$LS_ENTRY" ]; then
  install_lodestar
fi

# --- devnet -------------------------------------------------------------------------------------

RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/valtrack-lodestar.XXXXXX")
NODES=(nodeA nodeB)
CMD_PID=

# Lodestar's pid (session and process-group leader thanks to setsid), or nothing.
node_pid() {
  local f=$RUN_DIR/$1.pid
  [ -s "$f" ] && cat "$f"
}

# True while the process exists and is not a zombie (the nodes are reparented to pid 1, which
# may reap them late).
alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ $state != Z* ]]
}

# shellcheck disable=SC2317 # reached from the EXIT trap
group_alive() {
  local pids
  pids=$(pgrep -g "$1" 2>/dev/null) || return 1
  local p
  for p in $pids; do
    alive "$p" && return 0
  done
  return 1
}

# shellcheck disable=SC2317 # reached from the EXIT trap
stop_nodes() {
  local pids=() name pid
  for name in "${NODES[@]}"; do
    pid=$(node_pid "$name") || continue
    pids+=("$pid")
  done
  [ ${#pids[@]} -gt 0 ] || return 0
  # One SIGTERM each: the process group (setsid made the node its leader), else the pid. A
  # second signal would make Lodestar skip its graceful shutdown.
  for pid in "${pids[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  done
  local deadline=$((SECONDS + 10)) left
  while :; do
    left=()
    for pid in "${pids[@]}"; do
      if alive "$pid" || group_alive "$pid"; then left+=("$pid"); fi
    done
    [ ${#left[@]} -gt 0 ] || return 0
    [ "$SECONDS" -lt "$deadline" ] || break
    sleep 0.2
  done
  for pid in "${left[@]}"; do
    log "node pid $pid did not stop within 10 s: SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  done
}

# The command, if still running (the script was interrupted): SIGTERM to its process group,
# SIGKILL after 10 s.
# shellcheck disable=SC2317 # reached from the EXIT trap
stop_command() {
  [ -n "${CMD_PID:-}" ] || return 0
  log "stopping the command (pid $CMD_PID)"
  kill -TERM -- "-$CMD_PID" 2>/dev/null || kill -TERM "$CMD_PID" 2>/dev/null || true
  local deadline=$((SECONDS + 10))
  while group_alive "$CMD_PID" && [ "$SECONDS" -lt "$deadline" ]; do
    sleep 0.2
  done
  kill -KILL -- "-$CMD_PID" 2>/dev/null || true
  wait "$CMD_PID" 2>/dev/null || true
}

# shellcheck disable=SC2317 # reached from the EXIT trap
print_logs() {
  local name
  for name in "${NODES[@]}"; do
    [ -f "$RUN_DIR/$name.log" ] || continue
    printf '\n----- last 40 lines of %s.log -----\n' "$name" >&2
    # strip colour codes
    tail -n 40 "$RUN_DIR/$name.log" | sed 's/\x1b\[[0-9;]*m//g' >&2 || true
  done
}

# shellcheck disable=SC2317 # reached from the EXIT trap
cleanup() {
  local rc=$1
  trap - EXIT INT TERM
  stop_command
  stop_nodes
  if [ "$rc" -ne 0 ]; then
    print_logs
  fi
  if [ "${VALTRACK_KEEP_RUN_DIR:-0}" = 1 ]; then
    log "kept $RUN_DIR"
  else
    rm -rf "$RUN_DIR"
  fi
  exit "$rc"
}
trap 'cleanup $?' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Four distinct free ports (below the ephemeral range: see scripts/ports.py); the p2p ones
# are free for TCP and UDP alike.
read -r P2P_A REST_A P2P_B REST_B < <(python3 "$REPO_ROOT/scripts/ports.py" 4 --udp)
[ -n "${REST_B:-}" ] || die "could not pick free ports"

start_node() {
  LS_HOME=$LS_HOME RUN_DIR=$RUN_DIR bash "$LS_SRC/start-node.sh" "$@" >/dev/null
}

# Bounded GET of a REST path; prints the body.
rest_get() {
  curl -sf --max-time 2 "http://127.0.0.1:$1$2"
}

# Waits until the node answers /eth/v1/node/identity; fails early if it died.
wait_ready() {
  local name=$1 port=$2 pid
  pid=$(node_pid "$name") || die "$name has no pid file"
  while ! rest_get "$port" /eth/v1/node/identity >/dev/null; do
    alive "$pid" || die "$name (pid $pid) exited before its REST API answered"
    [ "$SECONDS" -lt "$READY_DEADLINE" ] || die "$name REST API not up within $READY_TIMEOUT s"
    sleep 0.5
  done
}

READY_DEADLINE=$((SECONDS + READY_TIMEOUT))
GENESIS_TIME=$(($(date +%s) + GENESIS_DELAY))
log "run dir $RUN_DIR; genesis time $GENESIS_TIME"
log "nodeA p2p $P2P_A rest $REST_A; nodeB p2p $P2P_B rest $REST_B"

start_node nodeA "$P2P_A" "$REST_A" --genesisValidators 8 --startValidators 0..7 \
  --genesisTime "$GENESIS_TIME" --params.ALTAIR_FORK_EPOCH 0
wait_ready nodeA "$REST_A"
ENR_A=$(rest_get "$REST_A" /eth/v1/node/identity |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["enr"])')
[[ $ENR_A == enr:* ]] || die "nodeA identity has no ENR"

start_node nodeB "$P2P_B" "$REST_B" --genesisValidators 8 \
  --genesisTime "$GENESIS_TIME" --params.ALTAIR_FORK_EPOCH 0 \
  --bootnodes "$ENR_A" --network.connectToDiscv5Bootnodes
wait_ready nodeB "$REST_B"
log "both nodes answer (after $((SECONDS + READY_TIMEOUT - READY_DEADLINE)) s)"

# --- the command ----------------------------------------------------------------------------------

export VALTRACK_LODESTAR_REST="http://127.0.0.1:$REST_A,http://127.0.0.1:$REST_B"
export VALTRACK_LODESTAR_RUN_DIR=$RUN_DIR
if [ $# -eq 0 ]; then
  set -- cargo test -p valtrack-sentry --test interop -- \
    --ignored --nocapture --test-threads 1
fi
log "running: $*"
cd "$REPO_ROOT"
# The command runs in its own process group (set -m) so that a signal to this script stops it
# and everything it started (cargo and the test binary) before the nodes are stopped; waiting
# in the background lets the INT/TERM traps run at once.
set -m
"$@" <&0 &
CMD_PID=$!
set +m
status=0
wait "$CMD_PID" || status=$?
CMD_PID=
if [ "$status" -ne 0 ]; then
  log "command exited with $status"
fi
exit "$status"
