#!/usr/bin/env python3
"""Fault test of a valtrack fleet on a real 3-node NATS JetStream cluster on loopback.

    scripts/fleet.py [--bin target/debug/valtrack] [--sim-nodes 30] [--duration 210]
                     [--freeze leader|follower] [--out DIR] [--keep]

Starts three `nats-server -js` clustered on 127.0.0.1 (ports picked at runtime), `valtrack
sim --attestations`, two sentries (`--sink nats --sink jsonl:DIR/sK.jsonl`, the JSON-lines
file being the test's own record of every event a sentry produced; `--stream-replicas 3`),
two `consumer --role tables` sharing one durable and one data directory, and one `consumer
--role tracker` on the same data directory. While the sentries publish it injects, at
--fault-a/b/c/d seconds:

    a  SIGKILL the server leading stream `valtrack`; restarted (same store, ports) 20 s later
    b  SIGSTOP a server (the stream's leader, or a follower) for 30 s, then SIGCONT
    c  SIGKILL one table consumer; restarted (same arguments) 5 s later
    d  SIGKILL the tracker consumer; restarted 5 s later

When the sentries have exited (their spool dirs must be empty), it waits until the durables
`valtrack-tables` and `valtrack-tracker` have nothing pending or unacknowledged, stops the
consumers with SIGINT, and reads every Parquet file under DIR/data: each event in the
sentries' JSON lines must be in discovery_events, metadata_events or validator_attributions
exactly once, and validator_metadata_events must hold one row per successful handshake, its
rows with attributions backed by 1 or 2 sentries, some by both (the tracker combines them).
Prints per phase (events stamped before the first fault, or after fault X and before the
next) the events accepted, written, duplicated and lost, each durable's longest stall (time
acking nothing: how long it took to resume; samples in DIR/durables.csv), and when the
restarted consumer was consuming again. Exit status 1 on a lost, duplicated or extra event,
an unreadable file, events left in a spool, undrained consumers, or a process that exited
when it should not have, or non-zero. DIR is removed unless --keep, --out or a failure.

Monitor queries: /jsz (meta_cluster.leader), and /jsz?streams=true&consumers=true, whose
account_details[].stream_detail[] lists, on each server holding a replica, the stream's
cluster.leader and each durable's cluster.leader, delivered, ack_floor, num_pending and
num_ack_pending (taken from the server leading the durable).
"""
import argparse
import bisect
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ports import free_ports  # noqa: E402  (also imported from here by leaf.py, pg.py)

try:
    import pyarrow.parquet as pq
except ImportError:
    sys.exit("pyarrow is missing: python3 -m pip install pyarrow")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STREAM = "valtrack"
DURABLES = ("valtrack-tables", "valtrack-tracker")
# Tables holding the sentries' own events, one row per event (the rest are derived by the
# consumer, with ids hashed from their source event's: see valtrack-sink/src/derive.rs).
SENTRY_TABLES = {"discovery_events", "metadata_events", "validator_attributions"}
DERIVED_TABLES = {"validator_metadata_events", "peer_locations"}
LOOPBACK = ["--listen-addr", "127.0.0.1", "--discovery-port", "0", "--tcp-port", "0", "--quic-port", "0"]
ENV = {**os.environ, "NO_COLOR": "1"}


def logged_port(proc, pattern, timeout=60):
    """The port a Proc logged (first group of `pattern`) once it has bound port 0; None if
    it exits or logs none in `timeout` s."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = re.search(pattern, proc.log_text())
        if m:
            return int(m.group(1))
        if not proc.alive():
            return None
        time.sleep(0.2)
    return None


def sim_network(sim, net):
    """Starts `valtrack sim` (a Proc writing its network to `net`); the arguments that
    crawl it, from the command line it prints."""
    line = sim.start(stdout=subprocess.PIPE).p.stdout.readline()
    genesis = line.split("--genesis-time")[-1].strip()
    if not genesis.isdigit():
        sys.exit(f"FAILED: valtrack sim did not start: {line!r}; see {sim.log_path}")
    return ["--network", net, "--genesis-time", genesis]


def get_json(port, query, timeout=1.0):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{query}", timeout=timeout) as r:
            return json.load(r)
    except (OSError, ValueError):
        return None


class Proc:
    """A child process that can be killed and started again with the same arguments."""

    def __init__(self, name, argv, log, may_exit=False):
        self.name, self.argv, self.log_path, self.may_exit = name, argv, log, may_exit
        self.p, self.stopping, self.frozen = None, False, False

    def start(self, stdout=None):
        self.stopping = False
        with open(self.log_path, "a") as log:
            self.p = subprocess.Popen(self.argv, stdout=stdout or log, stderr=log, env=ENV,
                                      start_new_session=True, text=True)
        return self

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def send(self, sig):
        if sig in (signal.SIGKILL, signal.SIGINT, signal.SIGTERM):
            self.stopping = True
        self.frozen = sig == signal.SIGSTOP
        if self.alive():
            self.p.send_signal(sig)

    def problem(self):
        """Why this process's exit (if it has exited) was not expected, or None."""
        if self.alive() or self.p is None or self.stopping or (self.may_exit and self.p.returncode == 0):
            return None
        return f"{self.name} exited with status {self.p.returncode}"

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self, sig=signal.SIGINT, timeout=60):
        if not self.alive():
            return
        self.send(signal.SIGCONT)  # a frozen process takes no signal but SIGKILL
        self.send(sig)
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


class Cluster:
    def __init__(self, work):
        ports = free_ports(9)
        self.client, self.route, self.monitor = ports[0:3], ports[3:6], ports[6:9]
        self.urls = ",".join(f"nats://127.0.0.1:{p}" for p in self.client)
        routes = ",".join(f"nats://127.0.0.1:{p}" for p in self.route)
        self.servers = [Proc(f"n{k + 1}", [
            os.environ.get("NATS_SERVER") or "nats-server", "-js", "-a", "127.0.0.1", "-p", str(self.client[k]),
            "--server_name", f"n{k + 1}", "--cluster_name", "valtrack",
            "--cluster", f"nats://127.0.0.1:{self.route[k]}", "--routes", routes,
            "-sd", os.path.join(work, f"store-n{k + 1}"), "-m", str(self.monitor[k])],
            os.path.join(work, f"n{k + 1}.log")) for k in range(3)]

    def by_name(self, name):
        return next(s for s in self.servers if s.name == name)

    def wait_meta_leader(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            views = [get_json(m, "/jsz") for m in self.monitor]
            if all(v and v.get("meta_cluster", {}).get("leader") for v in views):
                return views[0]["meta_cluster"]["leader"]
            time.sleep(0.5)
        sys.exit("the cluster elected no JetStream meta leader")

    def state(self):
        """(stream leader, {durable: its consumer_detail}) as the servers see them; each
        durable's entry comes from the server leading it when that one answers."""
        leader, durables, from_leader = None, {}, set()
        for s, port in zip(self.servers, self.monitor):
            if not s.alive() or s.frozen:
                continue
            d = get_json(port, "/jsz?streams=true&consumers=true") or {}
            for acc in d.get("account_details", []):
                for st in acc.get("stream_detail") or []:
                    if st.get("name") != STREAM:
                        continue
                    said = (st.get("cluster") or {}).get("leader")
                    leader = said if said == s.name or not leader else leader  # its own word first
                    for c in st.get("consumer_detail") or []:
                        own = (c.get("cluster") or {}).get("leader") == s.name
                        if own or c["name"] not in from_leader:
                            durables[c["name"]] = c
                        if own:
                            from_leader.add(c["name"])
        return leader, durables


class Run:
    """Waiting, while watching the processes and sampling the durables (into durables.csv)."""

    def __init__(self, cluster, procs, work):
        self.cluster, self.procs = cluster, procs
        self.problems, self.acked, self.watches, self.resumed = [], {d: [] for d in DURABLES}, [], []
        self.csv = open(os.path.join(work, "durables.csv"), "w")
        self.csv.write("time,durable,delivered_stream_seq,ack_floor_stream_seq,num_ack_pending,num_pending\n")

    def tick(self):
        for p in self.procs:
            why = p.problem()
            if why and why not in self.problems:
                print(f"  {why}", flush=True)
                self.problems.append(why)
        _, durables = self.cluster.state()
        now = time.time()
        for d, c in durables.items():
            delivered, pending = c["delivered"]["stream_seq"], c["num_ack_pending"]
            self.csv.write(f"{now:.1f},{d},{delivered},{c['ack_floor']['stream_seq']},{pending},{c['num_pending']}\n")
            if d in self.acked:  # messages acked so far (the consumer takes every subject)
                self.acked[d].append((now, delivered - pending))
        for w in list(self.watches):  # (process, log offset, restarted at)
            if "consuming" in w[0].log_text()[w[1]:]:
                self.resumed.append((w[0].name, now - w[2]))
                self.watches.remove(w)
        return durables

    def sleep_until(self, t):
        """Waits until time t; SystemExit at once when a process exited that should not have."""
        while time.time() < t:
            self.tick()
            if self.problems:
                sys.exit(f"FAILED: {'; '.join(self.problems)}; logs in {self.csv.name.rsplit('/', 1)[0]}")
            time.sleep(min(0.5, max(0.0, t - time.time())))

    def longest_stall(self, durable, a, b):
        """Longest time in [a, b) in which the durable acked nothing (from its first ack)."""
        samples = self.acked[durable]
        moves = [t for (t, f), (_, f0) in zip(samples[1:], samples) if f > f0]
        if not moves:
            return None
        points = [max(a, moves[0])] + [t for t in moves if max(a, moves[0]) < t < b] + [b]
        return max(y - x for x, y in zip(points, points[1:])) if b > points[0] else None


def spool_events(spool_dir):
    """(event ids, bytes) of the events left in a sentry's spool segments."""
    ids, size = [], 0
    for name in sorted(os.listdir(spool_dir)) if os.path.isdir(spool_dir) else []:
        if name.startswith("seg-"):
            path = os.path.join(spool_dir, name)
            size += os.path.getsize(path)
            with open(path, errors="replace") as f:
                for line in f:
                    try:
                        ids.append(json.loads(line)["event_id"])
                    except (ValueError, KeyError):
                        ids.append(None)  # a line cut short: still an event not delivered
    return ids, size


def read_jsonl(path):
    """{event id: (crawler, timestamp ms, successful handshake?)}, lines, unparsable lines."""
    events, lines, bad = {}, 0, 0
    if not os.path.exists(path):
        return events, lines, bad
    with open(path, errors="replace") as f:
        for line in f:
            lines += 1
            try:
                e = json.loads(line)
                events[e["event_id"]] = (e["crawler_id"], e["timestamp"],
                                         e["kind"] == "metadata" and e.get("metadata") is not None)
            except (ValueError, KeyError):
                bad += 1
    return events, lines, bad


def read_parquet(data_dir):
    """({table: Counter of event ids}, Counter of crawler ids in sentry tables, unreadable)."""
    ids, crawlers, unreadable = {}, Counter(), []
    for d, dirs, files in os.walk(data_dir):
        dirs[:] = [x for x in dirs if not x.startswith((".", "_"))]
        for name in files:
            if not name.endswith(".parquet") or name.startswith((".", "_")):
                continue
            path = os.path.join(d, name)
            parts = os.path.relpath(path, data_dir).split(os.sep)
            table = next((p for p in parts if p in SENTRY_TABLES | DERIVED_TABLES), parts[0])
            try:
                t = pq.ParquetFile(path).read(columns=["event_id", "crawler_id"])
            except Exception as e:  # any reader error is a finding
                unreadable.append(f"{path}: {e}")
                continue
            ids.setdefault(table, Counter()).update(t.column("event_id").to_pylist())
            if table in SENTRY_TABLES:
                crawlers.update(t.column("crawler_id").to_pylist())
    return ids, crawlers, unreadable


def vantage_points(data_dir):
    """Counter of vantage_points over the validator_metadata_events rows with attributions."""
    out = Counter()
    for d, dirs, files in os.walk(data_dir):
        dirs[:] = [x for x in dirs if not x.startswith((".", "_"))]
        if "validator_metadata_events" not in os.path.relpath(d, data_dir).split(os.sep):
            continue
        for name in files:
            if name.endswith(".parquet") and not name.startswith((".", "_")):
                t = pq.ParquetFile(os.path.join(d, name)).read(columns=["attributed_validators", "vantage_points"])
                for n, k in zip(t.column("attributed_validators").to_pylist(), t.column("vantage_points").to_pylist()):
                    if n:
                        out[k] += 1
    return out


def inject_faults(args, cluster, consumer, tracker, run, t0):
    """Faults a to d, each at its time; the phases they start, as (label, time)."""
    def say(what):
        print(f"{time.time() - t0:5.0f} s  {what}", flush=True)

    phases = []
    run.sleep_until(t0 + args.fault_a)
    leader = cluster.state()[0] or "n1"
    victim = cluster.by_name(leader)
    victim.send(signal.SIGKILL)
    phases.append((f"a: leader {leader} killed {args.down:g} s", time.time()))
    say(f"a: SIGKILL {leader}, the stream leader")
    run.sleep_until(time.time() + args.down)
    victim.start()
    say(f"   {leader} restarted")

    run.sleep_until(t0 + args.fault_b)
    leader = cluster.state()[0] or "n1"
    victim = next(s for s in cluster.servers if (s.name == leader) == (args.freeze == "leader"))
    victim.send(signal.SIGSTOP)
    phases.append((f"b: {args.freeze} {victim.name} frozen {args.frozen:g} s", time.time()))
    say(f"b: SIGSTOP {victim.name} (stream leader {leader})")
    run.sleep_until(time.time() + args.frozen)
    victim.send(signal.SIGCONT)
    say(f"   SIGCONT {victim.name}")

    for label, at, victim in (("c", args.fault_c, consumer), ("d", args.fault_d, tracker)):
        run.sleep_until(t0 + at)
        victim.send(signal.SIGKILL)
        victim.p.wait()
        phases.append((f"{label}: consumer {victim.name} killed {args.consumer_down:g} s", time.time()))
        say(f"{label}: SIGKILL consumer {victim.name}")
        run.sleep_until(time.time() + args.consumer_down)
        run.watches.append((victim, len(victim.log_text()), time.time()))
        victim.start()
        say(f"   {victim.name} restarted")
    return phases


def drain(run, timeout):
    """Waits until every durable has nothing pending or unacknowledged; what is left, if not."""
    deadline, durables = time.time() + timeout, {}
    while time.time() < deadline:
        durables = run.tick()
        if all(d in durables and durables[d]["num_pending"] == 0 and durables[d]["num_ack_pending"] == 0
               for d in DURABLES):
            return None
        time.sleep(1)
    return f"consumers not drained after {timeout:g} s: " + ", ".join(
        f"{d} pending {durables[d]['num_pending']}, unacked {durables[d]['num_ack_pending']}"
        if d in durables else f"{d} missing (durables: {', '.join(durables) or 'none'})" for d in DURABLES)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    debug = os.path.join(ROOT, "target/debug/valtrack")
    ap.add_argument("--bin", default=debug if os.path.exists(debug) else os.path.join(ROOT, "target/release/valtrack"))
    ap.add_argument("--sim-nodes", type=int, default=30)
    ap.add_argument("--out", help="work directory (default: a temp dir, removed unless --keep)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--duration", type=int, default=210, help="seconds the sentries run")
    ap.add_argument("--fault-a", type=float, default=40, help="s after the sentries start: kill the stream leader")
    ap.add_argument("--down", type=float, default=20, help="s the killed server stays down")
    ap.add_argument("--fault-b", type=float, default=90, help="s: freeze a server")
    ap.add_argument("--freeze", choices=["leader", "follower"], default="leader")
    ap.add_argument("--frozen", type=float, default=30, help="s the server stays frozen")
    ap.add_argument("--fault-c", type=float, default=150, help="s: kill a table consumer")
    ap.add_argument("--fault-d", type=float, default=180, help="s: kill the tracker consumer")
    ap.add_argument("--consumer-down", type=float, default=5)
    ap.add_argument("--drain-timeout", type=float, default=120)
    args = ap.parse_args()
    if not (args.fault_a + args.down < args.fault_b and args.fault_b + args.frozen < args.fault_c
            and args.fault_c + args.consumer_down < args.fault_d
            and args.fault_d + args.consumer_down < args.duration):
        sys.exit("faults overlap or end after --duration: need a+down < b, b+frozen < c, "
                 "c+consumer-down < d, d+consumer-down < duration")
    work = args.out or tempfile.mkdtemp(prefix="valtrack-fleet-")
    os.makedirs(work, exist_ok=True)
    net, data = os.path.join(work, "net"), os.path.join(work, "data")
    cluster = Cluster(work)
    sim = Proc("sim", [args.bin, "sim", "--sim-nodes", str(args.sim_nodes), "--attestations", "--out", net],
               os.path.join(work, "sim.log"))
    procs = cluster.servers + [sim]
    run = Run(cluster, procs, work)
    phases, failed, sentries, consumers = [], [], [], []
    try:
        for s in cluster.servers:
            s.start()
        print(f"cluster: {cluster.urls} (monitor ports {cluster.monitor}); meta leader "
              f"{cluster.wait_meta_leader()}; work dir {work}", flush=True)
        network = sim_network(sim, net)
        for name, role, d in (("tables-1", "tables", data), ("tables-2", "tables", data),
                              ("tracker", "tracker", data)):
            argv = [args.bin, "-n", cluster.urls, "consumer", "--role", role,
                    "--data-dir", d, "--stream-replicas", "3", *network]
            consumers.append(Proc(name, argv, os.path.join(work, f"{name}.log")).start())
            procs.append(consumers[-1])
        for k in (1, 2):
            argv = [args.bin, "-n", cluster.urls, "sentry", *network, "--attestations", *LOOPBACK,
                    "--crawler-id", f"s{k}", "--crawler-location", f"loc{k}", "--sink", "nats",
                    "--sink", f"jsonl:{work}/s{k}.jsonl", "--spool-dir", f"{work}/spool-s{k}",
                    "--stream-replicas", "3", "--revisit-interval", "12s", "--duration", f"{args.duration}s"]
            sentries.append(Proc(f"s{k}", argv, os.path.join(work, f"s{k}.log"), may_exit=True).start())
            procs.append(sentries[-1])
        phases.append(("before faults", t0 := time.time()))
        print(f"{len(sentries)} sentries and {len(consumers)} consumers started; sentries run "
              f"{args.duration} s", flush=True)

        phases += inject_faults(args, cluster, consumers[0], consumers[2], run, t0)
        while any(s.alive() for s in sentries) and time.time() < t0 + args.duration + 120:
            run.sleep_until(time.time() + 1)
        sentries_done = time.time()
        for s in sentries:
            if s.alive():
                failed.append(f"sentry {s.name} still running 120 s after --duration")
                s.stop()
        print(f"{time.time() - t0:5.0f} s  sentries exited; draining", flush=True)
        undrained = drain(run, args.drain_timeout)
        failed += [undrained] if undrained else []
        print(f"{time.time() - t0:5.0f} s  stopping the consumers (SIGINT)", flush=True)
        for c in consumers:
            c.stop(signal.SIGINT)
            if c.p.returncode != 0:
                failed.append(f"consumer {c.name} exited with status {c.p.returncode} on SIGINT")
        run.tick()
        failed += run.problems
    finally:
        run.csv.close()
        for p in reversed(procs):
            p.stop(signal.SIGTERM if p in cluster.servers else signal.SIGINT, timeout=30)

    # What the sentries produced, what the spools kept, what the tables hold.
    events, accepted, spooled = {}, Counter(), set()
    for s in sentries:
        ev, lines, bad = read_jsonl(os.path.join(work, f"{s.name}.jsonl"))
        events.update(ev)
        accepted[s.name] = lines
        if bad or not lines:
            failed.append(f"{s.name}.jsonl: {bad} unparsable lines" if lines else f"{s.name}.jsonl missing or empty")
        ids, size = spool_events(os.path.join(work, f"spool-{s.name}"))
        spooled.update(ids)
        print(f"spool-{s.name}: {len(ids)} events left in {size} bytes of segments")
        if ids:
            failed.append(f"{len(ids)} events left in spool-{s.name}")
    tables, crawlers, unreadable = read_parquet(data)
    failed += [f"unreadable: {u}" for u in unreadable]
    written = sum((tables.get(t, Counter()) for t in SENTRY_TABLES), Counter())
    extra = set(written) - set(events)
    for t, ids in sorted(tables.items()):
        dup = sum(1 for n in ids.values() if n > 1)
        print(f"{t}: {sum(ids.values())} rows, {len(ids)} ids, {dup} duplicated")
        if dup and t not in SENTRY_TABLES:
            failed.append(f"{dup} duplicated ids in derived table {t}")
    handshakes = sum(1 for e in events.values() if e[2])
    derived = len(tables.get("validator_metadata_events", ()))
    print(f"validator_metadata_events: {derived} rows for {handshakes} successful handshakes")
    if derived != handshakes:
        failed.append(f"validator_metadata_events has {derived} ids, not one per successful handshake ({handshakes})")
    # The tracker combines the two sentries' attributions: estimates say how many back them.
    backing = vantage_points(data)
    print(f"validator_metadata_events with attributions, by vantage points backing them: {dict(sorted(backing.items()))}")
    if any(k < 1 or k > len(sentries) for k in backing):
        failed.append(f"vantage_points outside 1..{len(sentries)}: {dict(backing)}")
    if not backing.get(len(sentries)):
        failed.append(f"no estimate backed by all {len(sentries)} sentries: {dict(backing)}")
    for s in sentries:
        print(f"{s.name}: {accepted[s.name]} events in its jsonl, {crawlers[s.name]} rows in the sentry tables")
        if not crawlers[s.name]:
            failed.append(f"no events of sentry {s.name} in the tables")

    # Per phase: each event in the phase its sentry stamped it in (the first phase takes
    # anything earlier); each durable's longest stand-still from the phase start to the next.
    starts = [t for _, t in phases]
    ends = starts[1:] + [sentries_done]
    in_phase = {i: bisect.bisect_right(starts, e[1] / 1000) - 1 for i, e in events.items()}
    header = ([s.name + " accepted" for s in sentries] + ["written", "duplicated", "lost", "in spool"]
              + [d + " longest stall s" for d in DURABLES])
    print("\n| phase | " + " | ".join(header) + " |")
    print("|---|" + "---:|" * len(header))
    for k, label in enumerate([label for label, _ in phases] + ["overall"]):
        ids = [i for i in events if k == len(phases) or max(in_phase[i], 0) == k]
        per = Counter(events[i][0] for i in ids)
        lost = sum(1 for i in ids if i not in written and i not in spooled)
        dup = sum(1 for i in ids if written[i] > 1)
        a, b = (starts[0], sentries_done) if k == len(phases) else (starts[k], ends[k])
        stalls = [run.longest_stall(d, a, b) for d in DURABLES]
        print(f"| {label} | " + " | ".join(str(per[s.name]) for s in sentries)
              + f" | {sum(1 for i in ids if i in written)} | {dup} | {lost} | "
              f"{sum(1 for i in ids if i in spooled)} | "
              + " | ".join("-" if x is None else f"{x:.1f}" for x in stalls) + " |")
    print(f"\nextra (in the tables, in no sentry's jsonl): {len(extra)}")
    print("consumer restarts: " + (", ".join(f"{n} consuming {t:.1f} s after its restart" for n, t in run.resumed)
                                  or "none consuming again"))
    if not run.resumed:
        failed.append("the restarted table consumer never logged `consuming`")
    if lost or dup or extra:  # the overall row's
        failed.append(f"{lost} lost, {dup} duplicated, {len(extra)} extra events")
    if args.keep or args.out or failed:
        print(f"logs, data and durables.csv in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    if failed:
        print("FAILED:\n  " + "\n  ".join(failed))
        sys.exit(1)
    print("OK: every event written exactly once")


if __name__ == "__main__":
    main()
