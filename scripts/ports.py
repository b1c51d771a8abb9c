#!/usr/bin/env python3
"""Free loopback ports for programs that must be told their port before they start
(nats-server, PostgreSQL, Lodestar, Prometheus).

    python3 scripts/ports.py N [--udp]    prints N distinct free ports, space-separated

They are drawn below the kernel's ephemeral range (/proc/sys/net/ipv4/ip_local_port_range):
a port the kernel hands out for bind(0) or an outbound connection may be taken by any
process between our check and the program's bind, and a CI run failed on exactly that.
Below the range only another explicit choice like this one can collide. A program that can
bind port 0 and report the port it got should do that instead (`logged_port` in fleet.py).
"""

import random
import socket
import sys


def ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_ports(n, udp=False):
    """n distinct ports of 127.0.0.1 free for TCP (and UDP with `udp`) right now."""
    low = max(ephemeral_low(), 10001)
    rng = random.Random()
    ports, held = [], []
    try:
        for _ in range(1000):
            if len(ports) == n:
                break
            port = rng.randrange(10000, low)
            if port in ports:
                continue
            socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM)]
            if udp:
                socks.append(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
            try:
                for s in socks:
                    s.bind(("127.0.0.1", port))
            except OSError:
                for s in socks:
                    s.close()
                continue
            held += socks
            ports.append(port)
    finally:
        for s in held:
            s.close()
    if len(ports) < n:
        sys.exit(f"found only {len(ports)} of {n} free ports below {low}")
    return ports


if __name__ == "__main__":
    args = sys.argv[1:]
    udp = "--udp" in args
    args = [a for a in args if a != "--udp"]
    if len(args) != 1 or not args[0].isdigit() or int(args[0]) < 1:
        sys.exit("usage: ports.py N [--udp]")
    print(*free_ports(int(args[0]), udp))
