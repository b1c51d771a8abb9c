#!/usr/bin/env python3
"""Fault test of consumers writing one PostgreSQL database (`valtrack consumer --database`).

    scripts/pg.py [--bin target/debug/valtrack] [--topology ha|split] [--duration 100]
                  [--kill-at 25] [--pause-at 45] [--pause-for 30] [--out DIR] [--keep]

Starts a throwaway PostgreSQL cluster (scripts/pg-cluster), one `nats-server -js`, `valtrack
sim --attestations`, one sentry (`--sink nats --sink jsonl:DIR/s1.jsonl`, the JSON-lines
file being the test's record of every event it produced) and the consumers of --topology:

    ha     two `consumer --role all --database URL`, each with its own durable: both write
           every event into the same tables and tracker at once (a standby that is live)
    split  two `consumer --role tables` sharing one durable (the events split between them)
           and one `consumer --role tracker`, all on the same database

The first consumer serves the API (--api-listen) from the database. While the sentry runs,
it SIGKILLs the last consumer at --kill-at s (restarted 5 s later, same arguments) and
stops the database server at --pause-at s for --pause-for s (the consumers must keep
running: their messages stay unacknowledged and are written when it is back); during the
outage it sends the last consumer SIGINT, then a second one, which must make it exit at once
with status 130 (it is restarted). Once the
sentry exited and every durable drained, it stops the consumers (SIGINT) and checks with
psql that
  * every event of the sentry's copy is a row of its table (none lost; the event id is the
    primary key, so none is twice), and no row is of an event the sentry did not make;
  * validator_metadata_events holds one row per successful handshake;
  * the tracker applied every event exactly once: the attestations and handshakes the
    tracker counted per peer add up to the rows of their tables;
  * GET /stats and GET /peers answer from the database with its peer count.
Prints a table of the figures. Exit status 1 on any failure.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fleet import LOOPBACK, ROOT, Proc, free_ports, get_json, logged_port, read_jsonl, sim_network, spool_events  # noqa: E402
from leaf import durable_state  # noqa: E402

NATS = os.environ.get("NATS_SERVER") or "nats-server"
PG_CLUSTER = os.path.join(ROOT, "scripts", "pg-cluster")


def psql(url, sql):
    """Rows of `sql` as lists of strings."""
    out = subprocess.run(["psql", url, "-AtX", "-F", "\t", "-c", sql], check=True,
                         capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    debug = os.path.join(ROOT, "target/debug/valtrack")
    ap.add_argument("--bin", default=debug if os.path.exists(debug) else os.path.join(ROOT, "target/release/valtrack"))
    ap.add_argument("--topology", choices=["ha", "split"], default="ha")
    ap.add_argument("--sim-nodes", type=int, default=30)
    ap.add_argument("--duration", type=int, default=100, help="seconds the sentry runs")
    ap.add_argument("--kill-at", type=float, default=25, help="s: SIGKILL the second consumer")
    ap.add_argument("--pause-at", type=float, default=45, help="s: stop the database server")
    ap.add_argument("--pause-for", type=float, default=30, help="s the database stays stopped")
    ap.add_argument("--drain-timeout", type=float, default=120)
    ap.add_argument("--out", help="work directory (default: a temp dir, removed unless --keep)")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if not args.kill_at + 5 < args.pause_at < args.pause_at + args.pause_for < args.duration:
        sys.exit("need kill-at + 5 < pause-at and pause-at + pause-for < duration")
    work = args.out or tempfile.mkdtemp(prefix="valtrack-pg-")
    os.makedirs(work, exist_ok=True)
    # its own temp dir: pg-cluster hands it to the postgres user, who may not enter `work`
    pgdir = tempfile.mkdtemp(prefix="valtrack-pg-cluster-")
    url = subprocess.run([PG_CLUSTER, "start", pgdir], check=True, capture_output=True, text=True).stdout.strip()
    client, monitor = free_ports(2)
    nats_url = f"nats://127.0.0.1:{client}"
    nats = Proc("nats", [NATS, "-js", "-a", "127.0.0.1", "-p", str(client), "-m", str(monitor),
                         "-sd", os.path.join(work, "js")], os.path.join(work, "nats.log"))
    net = os.path.join(work, "net")
    sim = Proc("sim", [args.bin, "sim", "--sim-nodes", str(args.sim_nodes), "--attestations", "--out", net],
               os.path.join(work, "sim.log"))
    procs, consumers, failed, figures, early = [nats, sim], [], [], [], []
    t0 = time.time()

    def say(what):
        print(f"{time.time() - t0:5.0f} s  {what}", flush=True)

    def watch():
        for p in procs:
            why = p.problem()
            if why:
                sys.exit(f"FAILED: {why}; logs in {work}")

    def sleep_until(t):
        while time.time() < t:
            watch()
            time.sleep(min(0.5, max(0.0, t - time.time())))

    try:
        nats.start()
        deadline = time.time() + 20
        while get_json(monitor, "/jsz") is None and time.time() < deadline:
            time.sleep(0.2)
        network = sim_network(sim, net)
        if args.topology == "ha":
            plan = [("all-1", "all", "pg-a"), ("all-2", "all", "pg-b")]
        else:
            plan = [("tracker", "tracker", "pg-tracker"), ("tables-1", "tables", "pg-tables"),
                    ("tables-2", "tables", "pg-tables")]
        for k, (name, role, durable) in enumerate(plan):
            argv = [args.bin, "-n", nats_url, "consumer", "--role", role, "--name", durable,
                    "--database", url, "--ack-wait", "20s", *network]
            if k == 0:
                # port 0: the consumer logs the port it bound (a port picked here and
                # released may be taken by someone else before the consumer binds it)
                argv += ["--api-listen", "127.0.0.1:0"]
            consumers.append(Proc(name, argv, os.path.join(work, f"{name}.log")).start())
            procs.append(consumers[-1])
        api = logged_port(consumers[0], r"tracker API listening.*addr=127\.0\.0\.1:(\d+)")
        if api is None:
            sys.exit(f"FAILED: {consumers[0].name} logged no API address in 60 s; logs in {work}")
        durables = sorted({d for _, _, d in plan})
        sentry = Proc("s1", [args.bin, "-n", nats_url, "sentry", *network, "--attestations", *LOOPBACK,
                             "--crawler-id", "s1", "--sink", "nats", "--sink", f"jsonl:{work}/s1.jsonl",
                             "--spool-dir", f"{work}/spool-s1", "--revisit-interval", "12s",
                             "--duration", f"{args.duration}s"],
                      os.path.join(work, "s1.log"), may_exit=True).start()
        procs.append(sentry)
        t0 = time.time()
        say(f"{args.topology}: {len(consumers)} consumers on {url}, sentry runs {args.duration} s; work dir {work}")

        victim = consumers[-1]
        sleep_until(t0 + args.kill_at)
        victim.send(signal.SIGKILL)
        victim.p.wait()
        say(f"SIGKILL consumer {victim.name}")
        sleep_until(time.time() + 5)
        victim.start()
        say(f"   {victim.name} restarted")

        sleep_until(t0 + args.pause_at)
        subprocess.run([PG_CLUSTER, "pause", pgdir], check=True)
        paused = time.time()
        say("database server stopped")
        # Ctrl-C while the database is down: the consumer waits for its writes; a second
        # Ctrl-C exits at once (130), losing nothing (its messages were not acknowledged).
        sleep_until(paused + min(8, args.pause_for / 3))
        victim.send(signal.SIGINT)
        sleep_until(time.time() + 3)
        if victim.alive():
            second = time.time()
            victim.send(signal.SIGINT)
            try:
                victim.p.wait(timeout=5)
                early.append(("second SIGINT with the database down: exit status, s to exit",
                                f"{victim.p.returncode}, {time.time() - second:.1f}"))
                if victim.p.returncode != 130:
                    failed.append(f"{victim.name} exited {victim.p.returncode} on a second SIGINT, not 130")
            except subprocess.TimeoutExpired:
                failed.append(f"{victim.name} still ran 5 s after a second SIGINT")
                victim.send(signal.SIGKILL)
                victim.p.wait()
        else:
            early.append(("SIGINT with the database down: exit status (nothing was pending)", victim.p.returncode))
        say(f"SIGINT twice consumer {victim.name}; restarted")
        victim.start()
        sleep_until(paused + args.pause_for)
        subprocess.run([PG_CLUSTER, "resume", pgdir], check=True)
        say(f"   database server started again after {time.time() - paused:.0f} s")

        while sentry.alive() and time.time() < t0 + args.duration + 120:
            sleep_until(time.time() + 1)
        if sentry.alive():
            failed.append("the sentry still ran 120 s after --duration")
            sentry.stop()
        say("sentry exited; draining")
        deadline = time.time() + args.drain_timeout
        left = None
        while time.time() < deadline:
            watch()
            left = {d: durable_state(monitor, d) for d in durables}
            if all(v == (0, 0) for v in left.values()):
                left = None
                break
            time.sleep(1)
        if left:
            failed.append(f"durables not drained after {args.drain_timeout:g} s: {left}")
        stats = get_json(api, "/stats", timeout=5)
        page = get_json(api, "/peers?limit=1", timeout=5)
        say("stopping the consumers (SIGINT)")
        for c in consumers:
            c.stop(signal.SIGINT)
            if c.p.returncode != 0:
                failed.append(f"consumer {c.name} exited with status {c.p.returncode} on SIGINT")
        logs = "".join(c.log_text() for c in consumers)
        retried = logs.count("database write failed; retrying")
        waited = "database unreachable at start; waiting for it" in victim.log_text()
        resumed = logs.count("database writes resumed")
        if not retried or not resumed:
            failed.append(f"no consumer retried through the outage (retry lines {retried}, resumed lines {resumed})")

        events, lines, bad = read_jsonl(os.path.join(work, "s1.jsonl"))
        spooled, _ = spool_events(os.path.join(work, "spool-s1"))
        if bad or not lines:
            failed.append(f"s1.jsonl: {bad} unparsable lines, {lines} lines")
        if spooled:
            failed.append(f"{len(spooled)} events left in the sentry's spool")
        ids = {}
        for table in ("discovery_events", "metadata_events", "validator_attributions"):
            rows = psql(url, f"SELECT event_id FROM {table}")
            ids[table] = [r[0] for r in rows]
        written = [i for t in ids.values() for i in t]
        in_tables = set(written)
        lost = [i for i in events if i not in in_tables]
        extra = in_tables - set(events)
        dup = len(written) - len(in_tables)
        handshakes = sum(1 for e in events.values() if e[2])
        derived = int(psql(url, "SELECT count(*) FROM validator_metadata_events")[0][0])
        delivered, ok, failed_hs, peers = (int(x) for x in psql(url, (
            "SELECT coalesce(sum((record->>'attestations_delivered')::bigint), 0), "
            "coalesce(sum((record->>'handshakes_ok')::bigint), 0), "
            "coalesce(sum((record->>'handshakes_failed')::bigint), 0), count(*) FROM tracker_peers"))[0])
        applied = int(psql(url, "SELECT count(*) FROM tracker_applied")[0][0])
        figures = [
            ("events the sentry produced", len(events)),
            ("rows of them in the tables", len(written)),
            ("lost", len(lost)),
            ("duplicated", dup),
            ("extra", len(extra)),
            ("successful handshakes / validator_metadata_events", f"{handshakes} / {derived}"),
            ("attestation rows / attestations the tracker counted", f"{len(ids['validator_attributions'])} / {delivered}"),
            ("metadata rows / handshakes the tracker counted", f"{len(ids['metadata_events'])} / {ok + failed_hs}"),
            ("events the tracker applied (sentry's + derived)", applied),
            ("peers in tracker_peers / in GET /stats / GET /peers total",
             f"{peers} / {(stats or {}).get('peers')} / {(page or {}).get('total')}"),
            ("consumer log lines: write failed / resumed", f"{retried} / {resumed}"),
            ("consumer started during the outage waited for the database", waited),
            *early,
        ]
        if not waited:
            failed.append(f"{victim.name}, restarted during the outage, did not say it waited for the database")
        if lost or dup or extra:
            failed.append(f"{len(lost)} lost, {dup} duplicated, {len(extra)} extra events")
        if derived != handshakes:
            failed.append(f"validator_metadata_events has {derived} rows, not one per successful handshake ({handshakes})")
        if delivered != len(ids["validator_attributions"]):
            failed.append(f"the tracker counted {delivered} attestations for {len(ids['validator_attributions'])} rows")
        if ok + failed_hs != len(ids["metadata_events"]):
            failed.append(f"the tracker counted {ok + failed_hs} handshakes for {len(ids['metadata_events'])} rows")
        if not ids["validator_attributions"]:
            failed.append("no attestations were written (is --attestations working?)")
        if stats is None or stats.get("peers") != peers or (page or {}).get("total") != peers:
            failed.append(f"the API did not answer from the database: /stats {json.dumps(stats)[:200]}")
    finally:
        for p in reversed(procs):
            p.stop(signal.SIGTERM if p is nats else signal.SIGINT, timeout=30)
        if failed or args.keep or args.out:
            subprocess.run([PG_CLUSTER, "pause", pgdir], check=False, capture_output=True)
        else:
            subprocess.run([PG_CLUSTER, "stop", pgdir], check=False)

    print("\n| what | figure |\n|---|---:|")
    for what, n in figures:
        print(f"| {what} | {n} |")
    if args.keep or args.out or failed:
        print(f"logs in {work}; the database: scripts/pg-cluster resume {pgdir}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    if failed:
        print("FAILED:\n  " + "\n  ".join(failed))
        sys.exit(1)
    print("OK: every event written and applied exactly once")


if __name__ == "__main__":
    main()
