#!/usr/bin/env bash
# Runs the `valtrack sentry` CLI against the Lodestar devnet started by interop-lodestar.sh
# (which exports VALTRACK_LODESTAR_REST) and checks its events against the nodes' REST APIs:
# given only node A's ENR as bootnode (in the network directory's bootstrap_nodes.txt), the
# sentry must discover and handshake every node, and (with --attestations) record the phase0
# attestations the nodes' validators publish, naming each validator from node A's committees
# (--beacon-api); node B's attester duties (another endpoint, another node) check the names.
#   usage: scripts/interop-lodestar.sh scripts/interop-sentry-cli.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${VALTRACK_LODESTAR_REST:?run me through scripts/interop-lodestar.sh}"
IFS=, read -r -a urls <<<"$VALTRACK_LODESTAR_REST"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
get() { curl -sf --max-time 10 "$1"; }
a=${urls[0]}
# A consensus config directory from node A's own REST API (JSON is YAML).
get "$a/eth/v1/config/spec" | python3 -c 'import json,sys; json.dump(json.load(sys.stdin)["data"], sys.stdout)' >"$dir/config.yaml"
# The genesis state Lodestar's dev mode wrote (genesis time and validators root: the network
# clock times attestations and picks the epochs whose committees are fetched).
: "${VALTRACK_LODESTAR_RUN_DIR:?run me through scripts/interop-lodestar.sh}"
cp "$VALTRACK_LODESTAR_RUN_DIR/nodeA/genesis.ssz" "$dir/genesis.ssz"
# Node A's ENR as the directory's bootnode list (read by the sentry since no --bootnodes is given).
enr=$(get "$a/eth/v1/node/identity" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["enr"])')
printf '# node A\n%s\n' "$enr" >"$dir/bootstrap_nodes.txt"
for u in "${urls[@]}"; do get "$u/eth/v1/node/identity"; echo; done >"$dir/identities.jsonl"

cargo build -q --locked --bin valtrack
cargo run -q --locked --bin valtrack -- sentry --network "$dir" \
  --listen-addr 127.0.0.1 --discovery-port 0 --tcp-port 0 --quic-port 0 \
  --duration 30s --revisit-interval 8s --recrawl-interval 4s --attestations --beacon-api "$a" \
  --sink "jsonl:$dir/events.jsonl" \
  --crawler-id interop --crawler-location loopback

# Node B's attester duties of the devnet's 8 validators in every epoch the attestations name.
b=${urls[1]}
python3 -c 'import json,sys; print("\n".join(sorted({str(json.loads(l)["target_epoch"]) for l in open(sys.argv[1]) if "\"kind\":\"attestation\"" in l})))' "$dir/events.jsonl" |
  while read -r epoch; do
    curl -sf --max-time 10 -X POST -H 'content-type: application/json' \
      -d '["0","1","2","3","4","5","6","7"]' "$b/eth/v1/validator/duties/attester/$epoch"
    echo
  done >"$dir/duties.jsonl"

python3 - "$dir/identities.jsonl" "$dir/events.jsonl" "$dir/duties.jsonl" <<'PY'
import json, sys
ids = [json.loads(l)["data"] for l in open(sys.argv[1]) if l.strip()]
seats = {}
for l in open(sys.argv[3]):
    if l.strip():
        for d in json.loads(l)["data"]:
            seats[(int(d["slot"]), int(d["committee_index"]), int(d["validator_committee_index"]))] = int(d["validator_index"])
events = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
def subnets(hexstr):
    b = bytes.fromhex(hexstr[2:] if hexstr.startswith("0x") else hexstr)
    return [i for i in range(len(b) * 8) if b[i // 8] >> (i % 8) & 1]
found = {e["peer_id"] for e in events if e["kind"] == "discovery" and e["reason"] == "first_seen"}
ok = {}
for e in events:
    if e["kind"] == "metadata" and not e.get("error"):
        ok.setdefault(e["peer_id"], []).append(e)
failures = [e["error"] for e in events if e["kind"] == "metadata" and e.get("error")]
bad = []
for node in ids:
    pid = node["peer_id"]
    if pid not in found:
        bad.append(f"{pid}: not discovered")
        continue
    if pid not in ok:
        bad.append(f"{pid}: never handshaken")
        continue
    md = ok[pid][-1]
    want = subnets(node["metadata"]["attnets"])
    if md["metadata"]["attnets"] != want:
        bad.append(f"{pid}: attnets {md['metadata']['attnets']} != REST {want}")
    if md["client"]["kind"] != "lodestar" or md["muxer"] != "mplex":
        bad.append(f"{pid}: client/muxer {md['client']['kind']}/{md['muxer']}")
    print(f"{pid}: discovered, {len(ok[pid])} handshakes, attnets {want}, digest {md['status']['fork_digest']}")
# Real phase0 attestations (Lodestar 1.5.1 predates Electra): from a devnet node, with the
# slot, committee and aggregation bit, and the validator named from node A's committees:
# one of the devnet's 8 validators, the one node B's committees seat there.
atts = [e for e in events if e["kind"] == "attestation"]
peers = {node["peer_id"] for node in ids}
for a in atts:
    if a["form"] != "phase0" or a["peer_id"] not in peers \
            or a.get("aggregation_bit") is None or not 0 <= a["subnet"] < 64:
        bad.append(f"attestation event off: {a}")
    seat = (a["slot"], a["committee_index"], a.get("aggregation_bit"))
    if a.get("attester_index") is None:
        bad.append(f"attestation not resolved: {a}")
    elif a["attester_index"] not in range(8) or seats.get(seat) != a["attester_index"]:
        bad.append(f"attestation at {seat} names validator {a['attester_index']}, node B's duties {seats.get(seat)}")
if not atts:
    bad.append("no attestation recorded in 30 s")
print(f"{len(atts)} phase0 attestations recorded, validators {sorted({a.get('attester_index') for a in atts}, key=str)} "
      f"(node B's attester duties agree), evidence {sorted({a.get('evidence') for a in atts}, key=str)}")
if bad or failures:
    print("FAILED:", bad, failures)
    sys.exit(1)
print(f"sentry CLI vs Lodestar: {len(ids)} passed, 0 failed")
PY
