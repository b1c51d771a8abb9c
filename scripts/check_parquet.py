#!/usr/bin/env python3
"""Independent reader of a valtrack Parquet dataset (written by valtrack_sink::ParquetSink).

Reads each table under DIR as a Hive-partitioned dataset with pyarrow (files starting with
'.' or '_', such as in-progress `.part-*.parquet.tmp`, are skipped, as DuckDB and Spark do),
prints its row count and column types, and checks them:

    scripts/check_parquet.py DIR [TABLE=ROWS ...]

    scripts/check_parquet.py ./data discovery_events=50 metadata_events=50

Exits non-zero when an expected count differs, a table is missing, a core column has the
wrong type, or a file under DIR is not a readable Parquet file. Needs `pip install pyarrow`.
"""
import sys
from pathlib import Path

try:
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq
except ImportError:
    sys.exit("pyarrow is missing: python3 -m pip install pyarrow")

TABLES = ["discovery_events", "metadata_events", "validator_metadata_events", "validator_attributions",
          "peer_locations"]

COMMON = {
    "event_id": pa.string(),
    "crawler_id": pa.string(),
    "crawler_location": pa.string(),
    "timestamp": pa.timestamp("ms", tz="UTC"),
    "peer_id": pa.string(),
    "node_id": pa.string(),
    "enr": pa.string(),
}

SUBNETS = pa.list_(pa.uint8())

EXPECTED_TYPES = {
    "discovery_events": {**COMMON, "seq": pa.uint64(), "tcp_port": pa.uint16(), "udp_port": pa.uint16(),
                         "fork_digest": pa.string(), "attnets": SUBNETS, "syncnets": SUBNETS,
                         "cgc": pa.uint64(), "enr_issues": pa.list_(pa.string())},
    "metadata_events": {**COMMON, "status_head_slot": pa.uint64(), "metadata_attnets": SUBNETS,
                        "metadata_syncnets": SUBNETS, "subscribed_attnets": SUBNETS,
                        "protocols": pa.list_(pa.string()), "total_ms": pa.uint64(),
                        "goodbye_code": pa.uint64()},
    "validator_metadata_events": {**COMMON, "epoch": pa.uint64(), "long_lived_subnets": SUBNETS,
                                  "short_lived_subnets": SUBNETS,
                                  "matches_node_id_prediction": pa.bool_(),
                                  "estimated_validators": pa.uint64(), "confidence": pa.float32(),
                                  "attributed_validators": pa.uint64(), "vantage_points": pa.uint64(),
                                  "contested_validators": pa.uint64()},
    "validator_attributions": {**COMMON, "slot": pa.uint64(), "attester_index": pa.uint64(),
                           "first_seen_delay_ms": pa.int64()},
    "peer_locations": {**COMMON, "ip": pa.string(), "address_kind": pa.string(),
                       "latitude": pa.float64(), "longitude": pa.float64(), "asn": pa.uint32(),
                       "hosting": pa.bool_()},
}


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    root = Path(argv[1])
    expected = {}
    for arg in argv[2:]:
        table, _, rows = arg.partition("=")
        if table not in TABLES or not rows.isdigit():
            sys.exit(f"bad expectation {arg!r}: want TABLE=ROWS with TABLE one of {TABLES}")
        expected[table] = int(rows)

    failures = []
    for table in TABLES:
        path = root / table
        if not path.is_dir():
            if table in expected:
                failures.append(f"{table}: missing")
            continue
        files = sorted(p for p in path.rglob("*.parquet") if not p.name.startswith((".", "_")))
        for f in files:
            pq.ParquetFile(f).metadata  # raises on a footerless file
        dataset = ds.dataset(path, format="parquet", partitioning="hive")
        rows = dataset.count_rows()
        schema = dataset.schema
        print(f"{table}: {rows} rows in {len(files)} files")
        for field in schema:
            print(f"  {field.name}: {field.type}")
        for name, want in EXPECTED_TYPES[table].items():
            got = schema.field(name).type if name in schema.names else None
            if got is None or not got.equals(want):
                failures.append(f"{table}.{name}: type {got}, expected {want}")
        if table in expected and rows != expected[table]:
            failures.append(f"{table}: {rows} rows, expected {expected[table]}")
        if rows and "date" not in schema.names:
            failures.append(f"{table}: no hive 'date' partition")

    if failures:
        for f in failures:
            print("FAIL", f, file=sys.stderr)
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main(sys.argv)
