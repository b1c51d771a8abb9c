#!/usr/bin/env python3
"""Floods a live sentry's open ports on loopback and prints what it kept doing.

    scripts/flood.py [--bin target/release/valtrack] [--flood-bin target/release/examples/flood]
                     [--scale 1.0] [--nodes 50] [--only NAME,...]

Starts `valtrack sim --attestations` (the simulated network, in its own process) and
`valtrack run` over its network directory with --attestations (the sentry, the API and the
metrics endpoint, all on loopback ports it picks), waits until it handshakes, then runs
each flood in turn, every loop bounded, traffic only to 127.0.0.1:

    discv5      malformed discv5 datagrams (random bytes, 0-1280 long) at the discv5 port
    quic        junk UDP packets at the QUIC port (random, and QUIC-long-header shaped)
    tcp-stall   TCP connections to the libp2p port that start multistream-select and stop
    gossip      a connected GossipSub peer publishing malformed, not-snappy, oversized and
                far-future attestations on all 64 subnets (valtrack-sim's flood example)
    frames      a connected GossipSub peer sending 13 MB frames, beyond GossipSub's limit
    rpc         abusive req/resp streams: silent, dripped a byte a second, 2^30-byte
                prefixes; oversize prefixes in answer to the sentry's own requests
    churn       inbound connections from fresh identities: noise, yamux, closed at once
    api-idle    idle TCP connections held open on the API port
    api-burst   concurrent GET /stats requests

The libp2p floods need the example built: cargo build --release -p valtrack-sim --example flood

For each: its volume, the sentry's RSS and CPU before / during / after, whether it went on
crawling, handshaking and taking attestations meanwhile (from its own /metrics), and what
became of the flood (connections the sentry closed, answers by status). Exit status 1 when
the sentry died, or took no attestation in the 10 s after a flood.
"""
import argparse
import os
import random
import re
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def proc_stats(pid):
    """(rss MiB, cpu seconds) of a process."""
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) / 1024
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss, (int(fields[11]) + int(fields[12])) / ticks


def metrics(addr):
    """Sums of the series the flood table watches, from the sentry's /metrics."""
    text = urllib.request.urlopen(f"http://{addr}/metrics", timeout=10).read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$", line)
        if not m:
            continue
        name, labels, value = m.group(1), m.group(2) or "", float(m.group(3))
        if name == "valtrack_handshakes_total" and 'result="ok"' not in labels:
            name = "valtrack_handshakes_failed"
        out[name] = out.get(name, 0) + value
    return out


WATCH = [
    ("handshakes ok", "valtrack_handshakes_total"),
    ("attestations", "valtrack_gossip_attestations_received_total"),
    ("FINDNODE", "valtrack_crawler_findnode_requests_total"),
]

# The sentry's defence counters, reported per flood when they moved.
DEFENCE = [
    ("rejected", "valtrack_gossip_rejected_total"),
    ("out-of-window", "valtrack_gossip_out_of_window_total"),
    ("peers banned", "valtrack_gossip_peers_banned_total"),
    ("banned conns closed", "valtrack_gossip_banned_connections_closed_total"),
]


class Sentry:
    def __init__(self, binary, nodes):
        self.dir = tempfile.mkdtemp(prefix="valtrack-flood-")
        env = {**os.environ, "NO_COLOR": "1"}
        self.sim_log = open(os.path.join(self.dir, "sim.log"), "w+")
        self.net = os.path.join(self.dir, "net")
        self.sim = subprocess.Popen(
            [binary, "sim", "--sim-nodes", str(nodes), "--attestations", "--out", self.net],
            stdout=subprocess.PIPE, stderr=self.sim_log, env=env, text=True)
        m = re.search(r"--genesis-time (\d+)", self.sim.stdout.readline())
        if not m:
            self.sim.kill()
            sys.exit(f"valtrack sim did not start; see {self.dir}/sim.log")
        self.genesis = m.group(1)
        self.log = open(os.path.join(self.dir, "run.log"), "w+")
        self.proc = subprocess.Popen(
            [binary, "run", "--network", self.net, "--genesis-time", self.genesis,
             "--attestations", "--listen-addr", "127.0.0.1", "--discovery-port", "0",
             "--tcp-port", "0", "--quic-port", "0", "--duration", "3600s",
             "--metrics-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
             "--data-dir", os.path.join(self.dir, "data")],
            stdout=subprocess.DEVNULL, stderr=self.log, env=env)
        deadline = time.time() + 120
        self.ports = {}
        while time.time() < deadline and len(self.ports) < 6:
            self.log.seek(0)
            text = self.log.read()
            for key, pattern in [("metrics", r"metrics listening.*addr=([0-9.:]+)"),
                                 ("api", r"tracker API listening.*addr=([0-9.:]+)"),
                                 ("peer_id", r"sentry started peer_id=(\w+)"),
                                 ("tcp", r"listen=\[/ip4/127\.0\.0\.1/tcp/(\d+)"),
                                 ("quic", r"/udp/(\d+)/quic-v1"),
                                 ("discv5", r"discv5=127\.0\.0\.1:(\d+)")]:
                m = re.search(pattern, text)
                if m:
                    self.ports[key] = m.group(1)
            time.sleep(0.5)
        if len(self.ports) < 6:
            self.stop()
            sys.exit(f"the sentry did not start: {self.ports}\n{text}")

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        for p in (self.proc, self.sim):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def flood_discv5(s, scale):
    n = int(200_000 * scale)
    port = int(s.ports["discv5"])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start = time.time()
    for i in range(n):
        sock.sendto(random.randbytes(random.randint(0, 1280)), ("127.0.0.1", port))
        if i % 2000 == 0 and time.time() - start > 30:
            n = i + 1
            break
    return f"{n:,} datagrams in {time.time() - start:.1f} s"


def flood_quic(s, scale):
    n = int(70_000 * scale)
    port = int(s.ports["quic"])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start = time.time()
    for i in range(n):
        if i % 2:  # long header, version 1, random connection ids and junk
            pkt = bytes([0xC0 | random.randint(0, 0x3F)]) + b"\x00\x00\x00\x01" + random.randbytes(1200)
        else:
            pkt = random.randbytes(random.randint(1, 1500))
        sock.sendto(pkt, ("127.0.0.1", port))
    return f"{n:,} packets in {time.time() - start:.1f} s"


def flood_tcp_stall(s, scale):
    n = int(1000 * scale)
    port = int(s.ports["tcp"])
    conns = []
    for _ in range(n):
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        c.sendall(b"\x13/multistream/1.0.0\n")  # then nothing: no protocol, no noise
        c.setblocking(False)
        conns.append(c)
    start = time.time()
    closed = set()
    while time.time() - start < 75 and len(closed) < n:
        for i, c in enumerate(conns):
            if i in closed:
                continue
            try:
                if c.recv(4096) == b"":
                    closed.add(i)
            except BlockingIOError:
                pass
            except OSError:
                closed.add(i)
        time.sleep(1)
    took = time.time() - start
    for c in conns:
        c.close()
    return f"{n:,} stalled connections; the sentry closed {len(closed):,} within {took:.0f} s"


FLOOD_BIN = None


def run_flood_bin(s, kind, *extra):
    """Runs valtrack-sim's flood example against the sentry; its JSON report."""
    import json
    cmd = [FLOOD_BIN, kind, "--network", s.net, "--genesis-time", s.genesis,
           "--peer-id", s.ports["peer_id"], "--addr", f"/ip4/127.0.0.1/tcp/{s.ports['tcp']}",
           *map(str, extra)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        return {"error": out.stderr.strip()[-500:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def flood_gossip(s, scale):
    ids = max(1, int(20 * scale))
    r = run_flood_bin(s, "gossip", "--rate", 5000, "--seconds", 20, "--identities", ids)
    if "error" in r:
        return f"flood failed: {r['error']}"
    dropped = [d for d in r["dropped_after_s"] if d is not None]
    kept = len(r["dropped_after_s"]) - len(dropped)
    return (f"{ids} flooders in turn, each 5,000 msg/s for 20 s or until dropped: "
            f"{r['published']:,} junk messages published ({' / '.join(map(str, r['by_kind']))} "
            f"malformed SSZ / not snappy / 4 KiB decompressed / far future); "
            + (f"each dropped after {min(dropped):.2f}-{max(dropped):.2f} s" if dropped else "")
            + (f", {kept} NOT dropped" if kept else "")
            + f"; {r['redials_closed']} of {r['redials']} redials closed at once")


def flood_frames(s, scale):
    r = run_flood_bin(s, "frames", "--seconds", max(5, int(20 * scale)))
    if "error" in r:
        return f"flood failed: {r['error']}"
    after = r["dropped_after_s"][0]
    return (f"{r['frames']} frames of 13 MB handed to GossipSub ({r['refused']} refused); "
            f"connection {'dropped after ' + str(after) + ' s' if after is not None else 'kept'}")


def flood_rpc(s, scale):
    n = max(30, int(1500 * scale))
    r = run_flood_bin(s, "rpc", "--count", n, "--concurrency", 200, "--seconds", 60)
    if "error" in r:
        return f"flood failed: {r['error']}"
    names = ["silent", "drip", "2^30 prefix"]
    parts = []
    for i, name in enumerate(names):
        parts.append(f"{name}: {r['opened'][i]} opened, {r['refused'][i]} refused, "
                     f"{r['closed_by_target'][i]} closed by the sentry (longest {r['longest_s'][i]} s)")
    return (f"{n:,} streams, 200 at once; " + "; ".join(parts)
            + f"; {r['hostile_answers']} of the sentry's requests answered with 2^30 prefixes; "
            f"connection {'still up' if r['connected_at_end'] else 'closed'} at the end")


def flood_churn(s, scale):
    n = int(5000 * scale)
    r = run_flood_bin(s, "churn", "--count", n, "--concurrency", 100)
    if "error" in r:
        return f"flood failed: {r['error']}"
    return (f"{n:,} inbound connections from fresh identities, 100 at once: "
            f"{r['completed']:,} completed noise and yamux, {r['failed']:,} failed, in {r['elapsed_s']:.1f} s")


def raise_fd_limit(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, want), hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def flood_api_idle(s, scale):
    n = int(20_000 * scale)
    n = min(n, raise_fd_limit(n + 1000) - 500)
    host, port = s.ports["api"].rsplit(":", 1)
    conns, established = [], 0
    for _ in range(n):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex((host, int(port)))  # SYN sent; the kernel queues what the API has not accepted
        conns.append(c)
    time.sleep(2)
    for c in conns:
        try:
            c.getpeername()
            established += 1
        except OSError:
            pass
    # While they are held, the API still answers.
    t0 = time.time()
    try:
        ok = urllib.request.urlopen(f"http://{s.ports['api']}/healthz", timeout=30).status == 200
    except Exception:
        ok = False
    answer = f"/healthz {'answered' if ok else 'did NOT answer'} in {time.time() - t0:.2f} s"
    time.sleep(12)  # past the 10 s header timeout
    dropped = 0
    for c in conns:
        try:
            if c.recv(1) == b"":
                dropped += 1
        except BlockingIOError:
            pass
        except OSError:
            dropped += 1
        c.close()
    return (f"{len(conns):,} idle sockets opened ({established:,} established); {answer}; "
            f"{dropped:,} closed by the API after 12 s")


def flood_api_burst(s, scale):
    n = int(1000 * scale)
    codes = {}
    lock = threading.Lock()

    def one():
        try:
            code = urllib.request.urlopen(f"http://{s.ports['api']}/stats", timeout=60).status
        except urllib.error.HTTPError as e:
            code = e.code
        except Exception as e:  # refused, reset
            code = type(e).__name__
        with lock:
            codes[code] = codes.get(code, 0) + 1

    threads = [threading.Thread(target=one) for _ in range(n)]
    start = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return f"{n:,} concurrent GET /stats in {time.time() - start:.1f} s: " + ", ".join(
        f"{k}: {v}" for k, v in sorted(codes.items(), key=str))


FLOODS = [("discv5", flood_discv5), ("quic", flood_quic), ("tcp-stall", flood_tcp_stall),
          ("gossip", flood_gossip), ("frames", flood_frames), ("rpc", flood_rpc),
          ("churn", flood_churn), ("api-idle", flood_api_idle), ("api-burst", flood_api_burst)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/valtrack"))
    ap.add_argument("--flood-bin", default=os.path.join(ROOT, "target/release/examples/flood"),
                    help="valtrack-sim's flood example, for the libp2p floods")
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies every flood's volume")
    ap.add_argument("--nodes", type=int, default=50, help="simulated nodes")
    ap.add_argument("--only", default="", help="comma-separated flood names")
    args = ap.parse_args()
    only = [x for x in args.only.split(",") if x]
    unknown = [x for x in only if x not in dict(FLOODS)]
    if unknown:
        sys.exit(f"unknown flood {', '.join(unknown)}: {', '.join(n for n, _ in FLOODS)}")
    global FLOOD_BIN
    FLOOD_BIN = args.flood_bin
    libp2p = {"gossip", "frames", "rpc", "churn"}
    if (not only or libp2p & set(only)) and not os.access(FLOOD_BIN, os.X_OK):
        sys.exit(f"{FLOOD_BIN} is missing: cargo build --release -p valtrack-sim --example flood")
    s = Sentry(args.bin, args.nodes)
    failed = False
    rows = []
    try:
        # Warm up: the crawl and the first handshakes are done.
        deadline = time.time() + 120
        while time.time() < deadline and metrics(s.ports["metrics"]).get("valtrack_handshakes_total", 0) < args.nodes / 2:
            time.sleep(1)
        time.sleep(5)
        for name, flood in FLOODS:
            if only and name not in only:
                continue
            m0, (rss0, cpu0), t0 = metrics(s.ports["metrics"]), proc_stats(s.proc.pid), time.time()
            peak = [rss0]
            done = threading.Event()

            def sample():
                while not done.wait(0.5):
                    if s.alive():
                        peak[0] = max(peak[0], proc_stats(s.proc.pid)[0])

            sampler = threading.Thread(target=sample)
            sampler.start()
            outcome = flood(s, args.scale)
            done.set()
            sampler.join()
            if not s.alive():
                rows.append((name, outcome, "DIED", "", "", ""))
                failed = True
                break
            m1, (rss1, cpu1), t1 = metrics(s.ports["metrics"]), proc_stats(s.proc.pid), time.time()
            time.sleep(10)
            m2, (rss2, _) = metrics(s.ports["metrics"]), proc_stats(s.proc.pid)
            kept = []
            for label, key in WATCH:
                during, after = m1.get(key, 0) - m0.get(key, 0), m2.get(key, 0) - m1.get(key, 0)
                kept.append(f"{label} +{during:.0f} / +{after:.0f}")
            for label, key in DEFENCE:
                moved = m2.get(key, 0) - m0.get(key, 0)
                if moved:
                    outcome += f"; sentry: {label} +{moved:.0f}"
                # Attestations flow all the time (handshakes come in bursts once an epoch):
                # none in the 10 s after a flood means the sentry stopped working.
                if label == "attestations" and after == 0:
                    failed = True
            cpu = 100 * (cpu1 - cpu0) / max(t1 - t0, 1e-9)
            rows.append((name, outcome, f"{rss0:.0f} / {peak[0]:.0f} / {rss2:.0f}", f"{cpu:.0f} %",
                         "; ".join(kept), f"{t1 - t0:.0f} s"))
    finally:
        s.stop()
    print(f"sentry: valtrack run --attestations over valtrack sim --sim-nodes {args.nodes} "
          f"(another process; scale {args.scale}); logs in {s.dir}")
    print("| flood | volume and outcome | RSS MiB before / peak / 10 s after | sentry CPU during | kept doing (during / 10 s after) | took |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
