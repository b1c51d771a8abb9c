#!/usr/bin/env python3
"""Writes the seed inputs of every fuzz target into fuzz/corpus/<target>/seed-*, from real
bytes kept in the repository: the mainnet bootnode ENRs, Lodestar 1.5.1's response captures,
the network presets, the committees example of the beacon API docs, and events a simulated
sentry printed (fuzz/seeds/events.jsonl).

    python3 fuzz/seed.py        (from the repository root)
"""
import base64
import json
import os
import re
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def snappy_raw(data):
    """Raw snappy, literals only (what a compressor may emit for incompressible data)."""
    out, n = bytearray(), len(data)
    while True:  # varint of the uncompressed length
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            break
    for i in range(0, len(data), 60):
        lit = data[i:i + 60]
        out.append((len(lit) - 1) << 2)
        out += lit
    return bytes(out)


def main():
    src = open(os.path.join(ROOT, "valtrack-core/src/network/bootnodes.rs")).read()
    enrs = re.findall(r'"(enr:[A-Za-z0-9_-]+)"', src)
    for i, e in enumerate(enrs):
        put("enr_text", f"mainnet-{i}", e)
        body = e[4:] + "=" * (-len(e[4:]) % 4)
        put("enr_rlp", f"mainnet-{i}", base64.urlsafe_b64decode(body))
    put("network_dir", "bootnodes", b"\x01" + ("# mainnet\n" + "\n".join(f'- "{e}"' for e in enrs[:3])).encode())

    # rpc_chunk: pick byte = (type << 1) | response; types: 0 StatusV1, 1 StatusV2,
    # 2 MetaDataV1, 3 MetaDataV2, 4 MetaDataV3, 5 Ping, 6 Goodbye, 7 error chunk
    cap = os.path.join(ROOT, "valtrack-sentry/testdata/lodestar-capture")
    kinds = {"status_v1": 0, "metadata_v2": 3, "ping": 5}
    for name in sorted(os.listdir(cap)):
        if not name.endswith(".hex"):
            continue
        raw = bytes.fromhex("".join(open(os.path.join(cap, name)).read().split()))
        kind = kinds[name.rsplit("_response", 1)[0]]
        put("rpc_chunk", "lodestar-" + name[:-4], bytes([(kind << 1) | 1]) + raw)
        put("rpc_chunk", "lodestar-request-" + name[:-4], bytes([kind << 1]) + raw[1:])

    # gossip: Electra SingleAttestation (240 bytes) and phase0 Attestation, raw snappy
    data = struct.pack("<QQ", 64, 3) + b"\x11" * 32 + struct.pack("<Q", 1) + b"\x22" * 32 + struct.pack("<Q", 2) + b"\x33" * 32
    single = struct.pack("<QQ", 3, 12345) + data + b"\x44" * 96
    phase0 = struct.pack("<I", 228) + data + b"\x44" * 96 + b"\x05"
    put("gossip_attestation", "single-electra", b"\x83" + snappy_raw(single))
    put("gossip_attestation", "phase0", b"\x03" + snappy_raw(phase0))

    # ssz_differential: pick byte (0 StatusV1, 1 StatusV2, 2 MetaDataV2, 3 MetaDataV3,
    # 4 phase0 Attestation, 5 SingleAttestation) + SSZ bytes
    status = b"\x8c\x9f\x62\xfe" + b"\x01" * 32 + struct.pack("<Q", 7) + b"\x02" * 32 + struct.pack("<Q", 300)
    put("ssz_differential", "status-v1", b"\x00" + status)
    put("ssz_differential", "status-v2", b"\x01" + status + struct.pack("<Q", 280))
    put("ssz_differential", "metadata-v2", b"\x02" + struct.pack("<Q", 5) + bytes.fromhex("004040480000c180") + b"\x0f")
    put("ssz_differential", "metadata-v3", b"\x03" + struct.pack("<Q", 5) + bytes.fromhex("004040480000c180") + b"\x0f" + struct.pack("<Q", 8))
    put("ssz_differential", "attestation", b"\x04" + phase0)
    put("ssz_differential", "single-attestation", b"\x05" + single)

    for i, t in enumerate(["/eth2/8c9f62fe/beacon_attestation_17/ssz_snappy",
                           "/eth2/bb09a0b0/beacon_block/ssz_snappy",
                           "/eth2/8c9f62fe/sync_committee_3/ssz_snappy",
                           "/eth2/8c9f62fe/data_column_sidecar_127/ssz_snappy"]):
        put("topic", str(i), t)

    events = os.path.join(ROOT, "fuzz", "seeds", "events.jsonl")
    seen = {}
    for line in open(events):
        kind = json.loads(line)["kind"]
        seen[kind] = seen.get(kind, 0) + 1
        if seen[kind] <= 3:
            put("event_json", f"{kind}-{seen[kind]}", line.strip())

    # the sink's targets: the NATS spool (segment, then 0xff and the cursor file) and API
    # request targets
    ev = open(events, "rb").read()
    put("spool", "events", ev)
    put("spool", "events-cursor", ev + b"\xff" + b"0 0\n")
    put("spool", "torn-tail", ev[:-20])
    put("spool", "cursor-mid", ev + b"\xff" + b"0 200\n")
    peer = json.loads(ev.splitlines()[0])["peer_id"]
    for i, t in enumerate(["validators?from=2026-01-01T00:00:00Z&to=1999999999999&limit=5",
                           "peers?limit=10&offset=2", f"peers/{peer}", "stats", "healthz",
                           "openapi.json", "validators?from=abc", "peers/xyz"]):
        put("api_target", str(i), t)

    src = open(os.path.join(ROOT, "valtrack-core/src/committees.rs")).read()
    for i, j in enumerate(re.findall(r'br#"(\{.*?\})"#', src, re.S)):
        put("committees_json", str(i), b"\x03" + j.encode())

    presets = os.path.join(ROOT, "valtrack-core/src/network/presets")
    for name in sorted(os.listdir(presets)):
        put("network_dir", "config-" + name, b"\x00" + open(os.path.join(presets, name), "rb").read())
    put("network_dir", "gvr", b"\x03" + b"0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95\n")


if __name__ == "__main__":
    main()
