#!/usr/bin/env python3
"""Fault test of a remote sentry site: a sentry publishing through a NATS leaf node whose
link to the JetStream hub is cut and restored.

    scripts/leaf.py [--bin target/debug/valtrack] [--duration 40] [--cut-at 10] [--cut-for 12]
                    [--out DIR] [--keep]

Starts a JetStream hub (one nats-server, `domain: hub`, a leafnodes port), a leaf node made
from the shipped `server/leaf.conf` (its ports and hub URLs rewritten to the local ones),
`valtrack sim`, one sentry that publishes through the leaf (`--sink nats --sink
jsonl:DIR/s1.jsonl`, the JSON-lines copy being the test's own record), and `valtrack consumer`
on the hub. At --cut-at seconds it SIGKILLs the hub (the leaf's link goes down: the sentry,
still connected to the leaf, finds no stream and spools), restarts it --cut-for seconds
later on the same store, and once the sentry has exited and the consumer drained, checks
that every event of the copy is in Parquet exactly once and the spool is empty; a second
sentry with the same --crawler-id, through the leaf, must be refused. Exit status 1 on any
failure. Ports are free ones picked at runtime; everything stays on loopback.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fleet import ENV, LOOPBACK, ROOT, SENTRY_TABLES, Proc, free_ports, get_json, read_jsonl, read_parquet, sim_network, spool_events  # noqa: E402

NATS = os.environ.get("NATS_SERVER") or "nats-server"


def leaf_conf(client, monitor, hub_leaf):
    """server/leaf.conf with local ports and the hub's leafnode URL."""
    with open(os.path.join(ROOT, "server", "leaf.conf")) as f:
        text = f.read()
    text = re.sub(r"(?m)^listen: .*$", f"listen: 127.0.0.1:{client}", text)
    text = re.sub(r"(?m)^http: .*$", f"http: 127.0.0.1:{monitor}", text)
    text = re.sub(r"nats-leaf://nats-\d\.example:7422", f"nats-leaf://127.0.0.1:{hub_leaf}", text)
    return text


def durable_state(monitor, name):
    """(num_pending, num_ack_pending) of durable `name` on the hub, or None."""
    js = get_json(monitor, "/jsz?streams=true&consumers=true")
    for acc in (js or {}).get("account_details", []):
        for s in acc.get("stream_detail", []):
            for c in s.get("consumer_detail", []) or []:
                if c.get("name") == name:
                    return c["num_pending"], c["num_ack_pending"]
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    debug = os.path.join(ROOT, "target/debug/valtrack")
    ap.add_argument("--bin", default=debug if os.path.exists(debug) else os.path.join(ROOT, "target/release/valtrack"))
    ap.add_argument("--duration", type=int, default=40, help="seconds the sentry runs")
    ap.add_argument("--cut-at", type=float, default=10)
    ap.add_argument("--cut-for", type=float, default=12)
    ap.add_argument("--out")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    work = args.out or tempfile.mkdtemp(prefix="valtrack-leaf-")
    os.makedirs(work, exist_ok=True)
    hub_client, hub_leaf, hub_mon, leaf_client, leaf_mon = free_ports(5)
    with open(os.path.join(work, "hub.conf"), "w") as f:
        f.write(f"server_name: hub\nlisten: 127.0.0.1:{hub_client}\nhttp: 127.0.0.1:{hub_mon}\n"
                f"jetstream {{ store_dir: \"{work}/hub-js\", domain: hub }}\n"
                f"leafnodes {{ listen: 127.0.0.1:{hub_leaf} }}\n")
    with open(os.path.join(work, "leaf.conf"), "w") as f:
        f.write(leaf_conf(leaf_client, leaf_mon, hub_leaf))
    hub = Proc("hub", [NATS, "-c", f"{work}/hub.conf"], f"{work}/hub.log")
    leaf = Proc("leaf", [NATS, "-c", f"{work}/leaf.conf"], f"{work}/leaf.log")
    net, data = f"{work}/net", f"{work}/data"
    sim = Proc("sim", [args.bin, "sim", "--sim-nodes", "10", "--attestations", "--out", net], f"{work}/sim.log")
    procs, failed = [hub, leaf, sim], []
    via_leaf, on_hub = f"nats://127.0.0.1:{leaf_client}", f"nats://127.0.0.1:{hub_client}"
    try:
        hub.start()
        leaf.start()
        deadline = time.time() + 20
        while not (get_json(leaf_mon, "/leafz") or {}).get("leafs"):
            if time.time() > deadline:
                sys.exit(f"FAILED: the leaf never connected to the hub; see {work}/leaf.log")
            time.sleep(0.2)
        network = sim_network(sim, net)
        sentry_args = [args.bin, "-n", via_leaf, "sentry", *network, "--attestations", *LOOPBACK,
                       "--crawler-id", "site-a", "--crawler-location", "remote", "--sink", "nats",
                       "--revisit-interval", "6s"]
        sentry = Proc("s1", [*sentry_args, "--sink", f"jsonl:{work}/s1.jsonl", "--spool-dir", f"{work}/spool",
                             "--duration", f"{args.duration}s"], f"{work}/s1.log", may_exit=True).start()
        consumer = Proc("consumer", [args.bin, "-n", on_hub, "consumer", *network, "--data-dir", data],
                        f"{work}/consumer.log").start()
        procs += [sentry, consumer]
        t0 = time.time()
        time.sleep(4)
        twin = subprocess.run([*sentry_args, "--spool-dir", f"{work}/spool-twin", "--duration", "2s"],
                              env=ENV, capture_output=True, text=True, timeout=60)
        if twin.returncode != 1 or "crawler id `site-a` is in use" not in twin.stderr:
            failed.append(f"a second sentry with the same id through the leaf was not refused "
                          f"(exit {twin.returncode}): {twin.stderr.strip()[-300:]}")
        else:
            print(f"{time.time() - t0:5.0f} s  a second sentry site-a through the leaf: refused")
        time.sleep(max(0.0, t0 + args.cut_at - time.time()))
        hub.send(signal.SIGKILL)
        hub.p.wait()
        print(f"{time.time() - t0:5.0f} s  hub SIGKILLed: the leaf's link is down", flush=True)
        time.sleep(args.cut_for)
        hub.start()
        print(f"{time.time() - t0:5.0f} s  hub restarted", flush=True)
        sentry.p.wait(timeout=args.duration + 120)
        print(f"{time.time() - t0:5.0f} s  sentry exited with status {sentry.p.returncode}", flush=True)
        if sentry.p.returncode != 0:
            failed.append(f"the sentry exited with status {sentry.p.returncode}")
        deadline = time.time() + 120
        while durable_state(hub_mon, "valtrack-consumer") != (0, 0):
            if time.time() > deadline:
                failed.append(f"consumer not drained: {durable_state(hub_mon, 'valtrack-consumer')}")
                break
            time.sleep(1)
        consumer.stop()
        if consumer.p.returncode != 0:
            failed.append(f"the consumer exited with status {consumer.p.returncode}")
    finally:
        for p in procs:
            p.stop(signal.SIGKILL if p is sim else signal.SIGINT, timeout=30)

    events, lines, bad = read_jsonl(f"{work}/s1.jsonl")
    left, size = spool_events(f"{work}/spool")
    tables, _, unreadable = read_parquet(data)
    written = sum((tables.get(t, Counter()) for t in SENTRY_TABLES), Counter())
    lost = set(events) - set(written)
    dup = [i for i, n in written.items() if n > 1]
    extra = set(written) - set(events)
    log = open(f"{work}/s1.log", errors="replace").read()
    outages = log.count("outage started")
    replayed = re.findall(r"outage over, spool drained.*?replayed=(\d+)", log)
    print(f"sentry through the leaf: {lines} events; outages {outages}, replayed after them "
          f"{', '.join(replayed) or 'none'}; in Parquet {len(written)}, lost {len(lost)}, "
          f"duplicated {len(dup)}, extra {len(extra)}; left in the spool {len(left)} ({size} bytes)")
    failed += [f"{n} {what}" for n, what in ((len(lost), "lost"), (len(dup), "duplicated"),
                                              (len(extra), "extra"), (len(left), "left in the spool"),
                                              (bad, "unparsable lines"), (len(unreadable), "unreadable files")) if n]
    if not lines:
        failed.append("the sentry wrote no events")
    if not outages:
        failed.append("the sentry saw no outage: the cut did not reach it")
    if failed:
        print("FAILED:\n  " + "\n  ".join(failed) + f"\nlogs in {work}")
        sys.exit(1)
    print("OK: every event of the remote sentry written exactly once")
    if not (args.out or args.keep):
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
