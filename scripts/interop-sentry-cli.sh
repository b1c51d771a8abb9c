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
# The sentry runs ${SCORE_SECS:-90} s with --attestations (out of meshes, the default) while both
# nodes' own scores of it are read every 3 s from Lodestar's debug API: GossipSub's (js-gossipsub
# with Lodestar's topic parameters, P3 on attestation subnets among them) and Lodestar's
# req/resp peer score. Lodestar stops gossiping with a peer below -4000 and disconnects one
# below -20 (req/resp); ours must never go below 0.
target/debug/valtrack sentry --network "$dir" \
  --listen-addr 127.0.0.1 --discovery-port 0 --tcp-port 0 --quic-port 0 \
  --duration "${SCORE_SECS:-90}s" --revisit-interval 8s --recrawl-interval 4s --attestations --beacon-api "$a" \
  --sink "jsonl:$dir/events.jsonl" \
  --crawler-id interop --crawler-location loopback 2>"$dir/sentry.log" &
sentry=$!
trap 'kill "$sentry" 2>/dev/null || true; rm -rf "$dir"' EXIT
start=$SECONDS
while kill -0 "$sentry" 2>/dev/null; do
  sleep 3
  me=$(grep -o 'sentry started peer_id=[A-Za-z0-9]*' "$dir/sentry.log" | head -1 | cut -d= -f2 || true)
  [ -n "$me" ] || continue
  for u in "${urls[@]}"; do
    get "$u/eth/v1/lodestar/gossip-peer-score-stats" >"$dir/g.json" || echo '{}' >"$dir/g.json"
    get "$u/eth/v1/lodestar/lodestar-peer-score-stats" >"$dir/l.json" || echo '{}' >"$dir/l.json"
    python3 -c 'import json,sys; me,u,t,gf,lf=sys.argv[1:6]
def data(f):
    try: return json.load(open(f)).get("data") or []
    except ValueError: return []
gs=[x for x in data(gf) if x.get("peer_id")==me]; ls=[x for x in data(lf) if x.get("peer_id")==me]
if gs or ls: print(json.dumps({"t":int(t),"node":u,"gossip":gs[0] if gs else None,"lodestar":ls[0] if ls else None}))' \
      "$me" "$u" "$((SECONDS - start))" "$dir/g.json" "$dir/l.json" >>"$dir/scores.jsonl"
  done
done
wait "$sentry" || { cat "$dir/sentry.log" >&2; echo "FAILED: the sentry exited with an error" >&2; exit 1; }

# Node B's attester duties of the devnet's 8 validators in every epoch the attestations name.
b=${urls[1]}
python3 -c 'import json,sys; print("\n".join(sorted({str(json.loads(l)["target_epoch"]) for l in open(sys.argv[1]) if "\"kind\":\"attestation\"" in l})))' "$dir/events.jsonl" |
  while read -r epoch; do
    curl -sf --max-time 10 -X POST -H 'content-type: application/json' \
      -d '["0","1","2","3","4","5","6","7"]' "$b/eth/v1/validator/duties/attester/$epoch"
    echo
  done >"$dir/duties.jsonl"

python3 - "$dir/identities.jsonl" "$dir/events.jsonl" "$dir/duties.jsonl" "$dir/scores.jsonl" <<'PY'
import json, os, sys
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
    bad.append("no attestation recorded")
# How the nodes scored the sentry while it ran.
samples = [json.loads(l) for l in open(sys.argv[4])] if os.path.exists(sys.argv[4]) else []
for node in sorted({s["node"] for s in samples}) or ["(none)"]:
    mine = [s for s in samples if s["node"] == node]
    gossip = [s["gossip"] for s in mine if s["gossip"]]
    lode = [s["lodestar"] for s in mine if s["lodestar"]]
    g_scores = [x["gossip_score"] for x in lode]
    l_scores = [x["lodestar_score"] for x in lode]
    penalty = max((x.get("behaviour_penalty", 0) for x in gossip), default=0)
    invalid = max((t.get("invalid_message_deliveries", 0) for x in gossip for t in x["topics"].values()), default=0)
    in_mesh = sum(1 for x in gossip if any(t.get("in_mesh") for t in x["topics"].values()))
    span = f"{mine[0]['t']}-{mine[-1]['t']} s" if mine else "-"
    print(f"{node}: {len(mine)} score samples over {span}: gossip score min {min(g_scores, default=None)} "
          f"max {max(g_scores, default=None)}, Lodestar score min {min(l_scores, default=None)}, behaviour "
          f"penalty max {penalty}, invalid deliveries max {invalid}, samples in a mesh {in_mesh}")
    if len(lode) < 10:
        bad.append(f"{node}: only {len(lode)} score samples of the sentry")
    if min(g_scores + l_scores, default=0) < 0 or penalty > 0 or invalid > 0:
        bad.append(f"{node} scored the sentry below 0 (gossip {min(g_scores, default=None)}, "
                   f"Lodestar {min(l_scores, default=None)}, behaviour penalty {penalty}, invalid {invalid})")
print(f"{len(atts)} phase0 attestations recorded, validators {sorted({a.get('attester_index') for a in atts}, key=str)} "
      f"(node B's attester duties agree), evidence {sorted({a.get('evidence') for a in atts}, key=str)}")
if bad or failures:
    print("FAILED:", bad, failures)
    sys.exit(1)
print(f"sentry CLI vs Lodestar: {len(ids)} passed, 0 failed")
PY
