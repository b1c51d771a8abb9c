#!/usr/bin/env python3
"""Soaks a sentry against a simulated network in another process, and prints what grew.

    scripts/soak.py [--bin target/release/valtrack] [--minutes 60] [--sim-nodes 100]
                    [--every 30] [--out DIR]

Starts `valtrack sim --attestations` (the simulated network alone) and `valtrack run` over
its network directory with --attestations (sentry, Parquet tables, tracker store, all on
loopback), then every --every seconds samples the sentry (RSS, open descriptors, threads,
live tokio tasks, tracker DB size, data dir size, handshakes, attestations) and the simulated
network's RSS. Prints the samples as a table and the growth per 10 minutes over the warm-up
(the first 10 minutes) and the two halves of the rest; writes soak.csv and soak.svg (RSS, tasks and descriptors over
time) under --out. Exit status 1 when a process died.
"""
import argparse
import csv
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def proc(pid):
    """(rss MiB, open fds, threads, cpu seconds) of a live process."""
    with open(f"/proc/{pid}/status") as f:
        status = f.read()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
    threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return rss, fds, threads, cpu


def metrics(addr):
    text = urllib.request.urlopen(f"http://{addr}/metrics", timeout=10).read().decode()
    out = {}
    for line in text.splitlines():
        m = re.match(r"([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$", line)
        if m and not line.startswith("#"):
            name, labels = m.group(1), m.group(2) or ""
            if name == "valtrack_handshakes_total" and 'result="ok"' not in labels:
                continue
            out[name] = out.get(name, 0) + float(m.group(3))
    return out


def du(path):
    total = 0
    for d, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(d, f))
            except OSError:
                pass
    return total / 2**20


def wait_for(log, pattern, what, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        log.seek(0)
        m = re.search(pattern, log.read())
        if m:
            return m.group(1)
        time.sleep(0.5)
    log.seek(0)
    sys.exit(f"{what} did not start:\n{log.read()[-4000:]}")


def chart(rows, path):
    """An SVG of RSS (sentry, sim), live tasks and open fds over time, each scaled to its max."""
    series = [("sentry RSS MiB", "rss", "#1f77b4"), ("sim RSS MiB", "sim_rss", "#aaaaaa"),
              ("live tasks", "tasks", "#d62728"), ("open fds", "fds", "#2ca02c"),
              ("tracker MiB", "tracker", "#9467bd")]
    w, h, pad = 900, 360, 50
    t_max = max(r["t"] for r in rows) or 1
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h + 120}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h + 120}" fill="white"/>',
           f'<text x="{pad}" y="20" font-size="14">valtrack soak: each series scaled to its '
           'maximum (value at right)</text>',
           f'<line x1="{pad}" y1="{h}" x2="{w - pad}" y2="{h}" stroke="black"/>',
           f'<text x="{w - pad}" y="{h + 16}" text-anchor="end">{t_max / 60:.0f} min</text>',
           f'<text x="{pad}" y="{h + 16}">0</text>']
    for i, (label, key, colour) in enumerate(series):
        top = max(r[key] for r in rows) or 1
        pts = " ".join(f"{pad + (w - 2 * pad) * r['t'] / t_max:.1f},"
                       f"{h - (h - 40) * r[key] / top:.1f}" for r in rows)
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{pts}"/>')
        out.append(f'<text x="{pad}" y="{h + 36 + 16 * i}" fill="{colour}">{label}: '
                   f'{rows[0][key]:.0f} → {rows[-1][key]:.0f} (max {top:.0f})</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out))


def growth(rows, key, lo, hi):
    """Change of `key` per 10 minutes between times lo and hi (seconds)."""
    a = min(rows, key=lambda r: abs(r["t"] - lo))
    b = min(rows, key=lambda r: abs(r["t"] - hi))
    return (b[key] - a[key]) / max(b["t"] - a["t"], 1) * 600


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/valtrack"))
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--sim-nodes", type=int, default=100)
    ap.add_argument("--every", type=float, default=30)
    ap.add_argument("--out", default=None, help="where soak.csv and soak.svg go (default: a temp dir)")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="valtrack-soak-")
    out_dir = args.out or work
    os.makedirs(out_dir, exist_ok=True)
    env = {**os.environ, "NO_COLOR": "1"}
    sim_log = open(os.path.join(work, "sim.log"), "w+")
    net = os.path.join(work, "net")
    sim = subprocess.Popen([args.bin, "sim", "--sim-nodes", str(args.sim_nodes), "--attestations",
                            "--out", net], stdout=subprocess.PIPE, stderr=sim_log, env=env, text=True)
    line = sim.stdout.readline()
    m = re.search(r"--genesis-time (\d+)", line)
    if not m:
        sim.kill()
        sim_log.seek(0)
        sys.exit(f"valtrack sim did not start: {line!r}\n{sim_log.read()}")
    genesis = m.group(1)
    run_log = open(os.path.join(work, "run.log"), "w+")
    data = os.path.join(work, "data")
    seconds = int(args.minutes * 60)
    run = subprocess.Popen(
        [args.bin, "run", "--network", net, "--genesis-time", genesis, "--attestations",
         "--listen-addr", "127.0.0.1", "--discovery-port", "0", "--tcp-port", "0",
         "--quic-port", "0", "--metrics-listen", "127.0.0.1:0", "--data-dir", data,
         "--duration", f"{seconds + 120}s"],
        stdout=subprocess.DEVNULL, stderr=run_log, env=env)
    procs = [sim, run]
    try:
        addr = wait_for(run_log, r"metrics listening.*addr=([0-9.:]+)", "valtrack run")
        print(f"soak: {args.minutes:g} min, {args.sim_nodes} simulated nodes in pid {sim.pid}, "
              f"sentry pid {run.pid}, samples every {args.every:g} s; logs in {work}", flush=True)
        header = ("min", "RSS MiB", "fds", "threads", "tasks", "tracker MiB", "data MiB",
                  "handshakes", "attestations", "sentry CPU %", "sim RSS MiB")
        print("| " + " | ".join(header) + " |")
        print("|" + "---:|" * len(header))
        rows, start, last_cpu = [], time.time(), None
        while time.time() - start <= seconds:
            if run.poll() is not None or sim.poll() is not None:
                break
            rss, fds, threads, cpu = proc(run.pid)
            m = metrics(addr)
            t = time.time() - start
            cpu_pct = 0.0 if last_cpu is None else (cpu - last_cpu[1]) / max(t - last_cpu[0], 1e-9) * 100
            last_cpu = (t, cpu)
            row = {"t": t, "rss": rss, "fds": fds, "threads": threads,
                   "tasks": m.get("valtrack_runtime_alive_tasks", 0),
                   "tracker": os.path.getsize(os.path.join(data, "tracker.redb")) / 2**20
                   if os.path.exists(os.path.join(data, "tracker.redb")) else 0,
                   "data": du(data), "handshakes": m.get("valtrack_handshakes_total", 0),
                   "attestations": m.get("valtrack_gossip_attestations_received_total", 0),
                   "cpu": cpu_pct, "sim_rss": proc(sim.pid)[0]}
            rows.append(row)
            print(f"| {t / 60:.1f} | {rss:.0f} | {fds} | {threads} | {row['tasks']:.0f} | "
                  f"{row['tracker']:.1f} | {row['data']:.1f} | {row['handshakes']:.0f} | "
                  f"{row['attestations']:.0f} | {cpu_pct:.0f} | {row['sim_rss']:.0f} |", flush=True)
            time.sleep(max(0.0, args.every - (time.time() - start - t)))
        died = [name for name, p in (("valtrack sim", sim), ("valtrack run", run)) if p.poll() is not None]
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    if not rows:
        sys.exit(f"no sample taken; logs in {work}")
    with open(os.path.join(out_dir, "soak.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    chart(rows, os.path.join(out_dir, "soak.svg"))
    end = rows[-1]["t"]
    print()
    warm = min(600, end / 3)
    mid = (warm + end) / 2
    print(f"| per 10 min | warm-up (0-{warm / 60:.0f} min) | {warm / 60:.0f}-{mid / 60:.0f} min | "
          f"{mid / 60:.0f}-{end / 60:.0f} min |")
    print("|---|---:|---:|---:|")
    for label, key in (("sentry RSS MiB", "rss"), ("open fds", "fds"), ("threads", "threads"),
                       ("live tasks", "tasks"), ("tracker MiB", "tracker"), ("data MiB", "data"),
                       ("sim RSS MiB", "sim_rss")):
        print(f"| {label} | {growth(rows, key, 0, warm):+.1f} | {growth(rows, key, warm, mid):+.1f} | "
              f"{growth(rows, key, mid, end):+.1f} |")
    run_log.seek(0)
    stopped = [l for l in run_log.read().splitlines() if "stopped:" in l or "written to" in l]
    for l in stopped[-2:]:
        print(l.split("valtrack: ", 1)[-1])
    print(f"\nsoak.csv and soak.svg in {out_dir}; logs in {work}")
    if died:
        print(f"FAILED: {', '.join(died)} died; see the logs")
        sys.exit(1)


if __name__ == "__main__":
    main()
