#!/usr/bin/env bash
# Runs the `valtrack sentry` CLI against the Lodestar devnet started by interop-lodestar.sh
# (which exports VALTRACK_LODESTAR_REST) and checks its events against the nodes' REST APIs:
# given only node A's ENR as bootnode, the sentry must discover and handshake every node, and
# (with --attestations) record the phase0 attestations the nodes' validators publish.
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
get "$a/eth/v1/beacon/genesis" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["genesis_validators_root"])' >"$dir/genesis_validators_root.txt"
enr=$(get "$a/eth/v1/node/identity" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["enr"])')
for u in "${urls[@]}"; do get "$u/eth/v1/node/identity"; echo; done >"$dir/identities.jsonl"

cargo build -q --locked --bin valtrack
cargo run -q --locked --bin valtrack -- sentry --network "$dir" --bootnodes "$enr" \
  --listen-addr 127.0.0.1 --discovery-port 0 --tcp-port 0 --quic-port 0 \
  --duration 30s --revisit-interval 8s --recrawl-interval 4s --attestations --sink "jsonl:$dir/events.jsonl" \
  --crawler-id interop --crawler-location loopback

python3 - "$dir/identities.jsonl" "$dir/events.jsonl" <<'PY'
import json, sys
ids = [json.loads(l)["data"] for l in open(sys.argv[1]) if l.strip()]
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
# Real phase0 attestations (Lodestar 1.5.1 predates Electra): recorded raw, from a devnet
# node, with the slot, committee and aggregation bit, the validator left unresolved.
atts = [e for e in events if e["kind"] == "attestation"]
peers = {node["peer_id"] for node in ids}
for a in atts:
    if a["form"] != "phase0" or a["peer_id"] not in peers or a.get("attester_index") is not None \
            or a.get("aggregation_bit") is None or not 0 <= a["subnet"] < 64:
        bad.append(f"attestation event off: {a}")
if not atts:
    bad.append("no attestation recorded in 30 s")
print(f"{len(atts)} phase0 attestations recorded, evidence {sorted({a.get('evidence') for a in atts}, key=str)}")
if bad or failures:
    print("FAILED:", bad, failures)
    sys.exit(1)
print(f"sentry CLI vs Lodestar: {len(ids)} passed, 0 failed")
PY
