#!/usr/bin/env python3
"""Floods a live sentry's open ports on loopback and prints what it kept doing.

    scripts/flood.py [--bin target/release/valtrack] [--scale 1.0] [--only NAME,...]

Starts `valtrack run --network sim --attestations` (the sentry, its simulated network, the
API and the metrics endpoint, all on loopback ports it picks), waits until it handshakes,
then runs each flood in turn, every loop bounded, traffic only to 127.0.0.1:

    discv5      malformed discv5 datagrams (random bytes, 0-1280 long) at the discv5 port
    quic        junk UDP packets at the QUIC port (random, and QUIC-long-header shaped)
    tcp-stall   TCP connections to the libp2p port that start multistream-select and stop
    api-idle    idle TCP connections held open on the API port
    api-burst   concurrent GET /stats requests

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


class Sentry:
    def __init__(self, binary, nodes):
        self.dir = tempfile.mkdtemp(prefix="valtrack-flood-")
        self.log = open(os.path.join(self.dir, "run.log"), "w+")
        self.proc = subprocess.Popen(
            [binary, "run", "--network", "sim", "--sim-nodes", str(nodes), "--attestations",
             "--duration", "3600s", "--metrics-listen", "127.0.0.1:0",
             "--api-listen", "127.0.0.1:0", "--data-dir", os.path.join(self.dir, "data")],
            stdout=subprocess.DEVNULL, stderr=self.log, env={**os.environ, "NO_COLOR": "1"})
        deadline = time.time() + 120
        self.ports = {}
        while time.time() < deadline and len(self.ports) < 5:
            self.log.seek(0)
            text = self.log.read()
            for key, pattern in [("metrics", r"metrics listening.*addr=([0-9.:]+)"),
                                 ("api", r"tracker API listening.*addr=([0-9.:]+)"),
                                 ("tcp", r"listen=\[/ip4/127\.0\.0\.1/tcp/(\d+)"),
                                 ("quic", r"/udp/(\d+)/quic-v1"),
                                 ("discv5", r"discv5=127\.0\.0\.1:(\d+)")]:
                m = re.search(pattern, text)
                if m:
                    self.ports[key] = m.group(1)
            time.sleep(0.5)
        if len(self.ports) < 5:
            self.stop()
            sys.exit(f"the sentry did not start: {self.ports}\n{text}")

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


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
          ("api-idle", flood_api_idle), ("api-burst", flood_api_burst)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/valtrack"))
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies every flood's volume")
    ap.add_argument("--nodes", type=int, default=50, help="simulated nodes")
    ap.add_argument("--only", default="", help="comma-separated flood names")
    args = ap.parse_args()
    only = [x for x in args.only.split(",") if x]
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
                # Attestations flow all the time (handshakes come in bursts once an epoch):
                # none in the 10 s after a flood means the sentry stopped working.
                if label == "attestations" and after == 0:
                    failed = True
            cpu = 100 * (cpu1 - cpu0) / max(t1 - t0, 1e-9)
            rows.append((name, outcome, f"{rss0:.0f} / {peak[0]:.0f} / {rss2:.0f}", f"{cpu:.0f} %",
                         "; ".join(kept), f"{t1 - t0:.0f} s"))
    finally:
        s.stop()
    print(f"sentry: valtrack run --network sim --sim-nodes {args.nodes} --attestations (scale {args.scale})")
    print("| flood | volume and outcome | RSS MiB before / peak / 10 s after | sentry CPU during | kept doing (during / 10 s after) | took |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
