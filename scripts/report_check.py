#!/usr/bin/env python3
"""Checks the numbers `valtrack report` embedded in its HTML against DuckDB queries over the
same Parquet files.

    report_check.py DATA_DIR REPORT_HTML    exit 0 when every number agrees

"Latest" is the row with the greatest (timestamp, event_id) of each peer, as in the report.
"""
import json
import os
import re
import sys

import duckdb


def main():
    data_dir, html = sys.argv[1], sys.argv[2]
    page = open(html, encoding="utf-8").read()
    m = re.search(r'<script type="application/json" id="valtrack-report-data">(.*?)</script>', page, re.S)
    if not m:
        sys.exit("no report data in the page")
    report = json.loads(m.group(1))
    db = duckdb.connect()

    def table(name):
        if not any(f.endswith(".parquet") and not f.startswith(".")
                   for _, _, files in os.walk(os.path.join(data_dir, name)) for f in files):
            return None
        return f"read_parquet('{data_dir}/{name}/*/*.parquet', hive_partitioning = true)"

    def q(sql):
        return db.execute(sql).fetchall()

    def counts(rows):
        return {str(k): int(v) for k, v in rows}

    def latest(t, cols):
        return (f"SELECT {cols} FROM {t} QUALIFY row_number() OVER "
                f"(PARTITION BY peer_id ORDER BY timestamp DESC, event_id DESC) = 1")

    problems = []

    def same(what, mine, theirs):
        if mine != theirs:
            problems.append(f"{what}: report {theirs!r} != duckdb {mine!r}")

    rows = {}
    for name in ["discovery_events", "metadata_events", "validator_metadata_events",
                 "validator_attributions", "peer_locations"]:
        t = table(name)
        rows[name] = q(f"SELECT count(*) FROM {t}")[0][0] if t else 0
    same("rows", rows, {k: v for k, v in report["rows"]})

    t = table("discovery_events")
    same("nodes_discovered", q(f"SELECT count(DISTINCT peer_id) FROM {t}")[0][0] if t else 0,
         report["nodes_discovered"])

    t = table("metadata_events")
    if t:
        ok = latest(f"(SELECT * FROM {t} WHERE error_kind IS NULL)",
                    "peer_id, coalesce(client_name, 'unknown') AS client, "
                    "coalesce(client_name, 'unknown') || ' ' || coalesce(client_version, 'unknown') AS version, "
                    "coalesce(status_fork_digest, 'unknown') AS digest, "
                    "coalesce(CAST(metadata_custody_group_count AS VARCHAR), 'none') AS cgc, "
                    "coalesce(CAST(len(metadata_attnets) AS VARCHAR), 'unknown') AS attnets")
        same("peers_handshaken", q(f"SELECT count(*) FROM ({ok})")[0][0], report["peers_handshaken"])
        for col, key in [("client", "clients"), ("version", "versions"), ("digest", "fork_digests"),
                         ("cgc", "cgc"), ("attnets", "attnets")]:
            same(key, counts(q(f"SELECT {col}, count(*) FROM ({ok}) GROUP BY 1")), counts(report[key]))
        same("failures_by_kind",
             counts(q(f"SELECT error_kind, count(*) FROM {t} WHERE error_kind IS NOT NULL GROUP BY 1")),
             counts(report["failures_by_kind"]))

    t = table("validator_metadata_events")
    if t:
        est = latest(t, "peer_id, estimated_validators AS v, method")
        bins = ("CASE WHEN v >= 64 THEN '64+' WHEN v >= 32 THEN '32-63' WHEN v >= 16 THEN '16-31' "
                "WHEN v >= 8 THEN '8-15' WHEN v >= 4 THEN '4-7' WHEN v >= 2 THEN '2-3' "
                "WHEN v = 1 THEN '1' ELSE '0' END")
        mine = counts(q(f"SELECT {bins}, count(*) FROM ({est}) GROUP BY 1"))
        same("validators_per_node", mine, {k: v for k, v in counts(report["validators_per_node"]).items() if v})
        same("validators_total", int(q(f"SELECT coalesce(sum(v), 0) FROM ({est})")[0][0]),
             report["validators_total"])
        same("estimate_methods", counts(q(f"SELECT method, count(*) FROM ({est}) GROUP BY 1")),
             counts(report["estimate_methods"]))
        top = q(f"SELECT peer_id, v FROM ({est}) ORDER BY v DESC, peer_id LIMIT 20")
        same("top_nodes", [(p, int(v)) for p, v in top],
             [(n["peer_id"], n["estimated_validators"]) for n in report["top_nodes"]])

    t = table("validator_attributions")
    if t:
        same("evidence", counts(q(f"SELECT coalesce(evidence, 'none'), count(*) FROM {t} GROUP BY 1")),
             counts(report["evidence"]))
        d = ("CASE WHEN first_seen_delay_ms >= 24000 THEN '24s+' WHEN first_seen_delay_ms >= 12000 THEN '12-24s' "
             "WHEN first_seen_delay_ms >= 6000 THEN '6-12s' WHEN first_seen_delay_ms >= 4000 THEN '4-6s' "
             "WHEN first_seen_delay_ms >= 2000 THEN '2-4s' WHEN first_seen_delay_ms >= 1000 THEN '1-2s' "
             "ELSE '<1s' END")
        same("delays", counts(q(f"SELECT {d}, count(*) FROM {t} GROUP BY 1")),
             {k: v for k, v in counts(report["delays"]).items() if v})

    t = table("peer_locations")
    if t:
        loc = latest(t, "peer_id, coalesce(country, 'unknown') AS country, hosting")
        same("countries", counts(q(f"SELECT country, count(*) FROM ({loc}) GROUP BY 1")),
             counts(report["countries"]))
        same("hosting", counts(q(f"SELECT CASE WHEN hosting THEN 'hosting' ELSE 'not hosting' END, count(*) "
                                 f"FROM ({loc}) GROUP BY 1")), counts(report["hosting"]))

    if problems:
        print("\n".join(problems))
        sys.exit(1)
    checked = sum(1 for v in rows.values() if v)
    print(f"report numbers agree with DuckDB over {sum(rows.values())} rows in {checked} tables")


if __name__ == "__main__":
    main()
