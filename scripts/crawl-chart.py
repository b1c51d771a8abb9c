#!/usr/bin/env python3
"""Draws the crawl bench's curve: time to 90/99/100 % coverage against DHT size.

    VALTRACK_CRAWL_NODES=1000,2000,5000,10000,20000 cargo bench --bench crawl | tee crawl.txt
    scripts/crawl-chart.py crawl.txt docs/crawl.svg [--png docs/crawl.png]

Reads the rows of "enumeration, defaults" from the bench's table and writes an SVG (and, with
--png, a PNG rendered by headless Chromium). A dotted line shows linear growth from the
smallest size's time to 100 %, so superlinear growth is visible at a glance.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile


def parse(text):
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 8 or cells[1] != "enumeration, defaults":
            continue
        try:
            n = int(cells[0])
        except ValueError:
            continue

        def secs(cell):
            m = re.match(r"([\d.]+) s", cell)
            return float(m.group(1)) if m else None

        rows.append({"n": n, "90": secs(cells[3]), "99": secs(cells[4]), "100": secs(cells[5])})
    rows.sort(key=lambda r: r["n"])
    return rows


def svg(rows):
    w, h, pad = 900, 420, 60
    n_max = max(r["n"] for r in rows)
    first = rows[0]
    linear_end = first["100"] * n_max / first["n"] if first["100"] else 0
    t_max = max([linear_end] + [r[k] or 0 for r in rows for k in ("90", "99", "100")]) or 1

    def x(n):
        return pad + (w - 2 * pad) * n / n_max

    def y(t):
        return h - (h - 50) * t / t_max

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h + 90}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h + 90}" fill="white"/>',
           f'<text x="{pad}" y="22" font-size="15">valtrack crawler: time to cover a '
           'mainnet-shaped discv5 DHT (2 cores, DHT in the same process)</text>',
           f'<line x1="{pad}" y1="{h}" x2="{w - pad}" y2="{h}" stroke="black"/>',
           f'<line x1="{pad}" y1="{h}" x2="{pad}" y2="50" stroke="black"/>',
           f'<text x="{w / 2}" y="{h + 36}" text-anchor="middle">records in the DHT</text>',
           f'<text x="16" y="{(h + 50) / 2}" transform="rotate(-90 16 {(h + 50) / 2})" '
           'text-anchor="middle">seconds</text>']
    for r in rows:
        out.append(f'<line x1="{x(r["n"]):.1f}" y1="{h}" x2="{x(r["n"]):.1f}" y2="{h + 5}" '
                   'stroke="black"/>')
        out.append(f'<text x="{x(r["n"]):.1f}" y="{h + 18}" text-anchor="middle">'
                   f'{r["n"]:,}</text>')
    step = 10 if t_max > 40 else 5
    for t in range(0, int(t_max) + 1, step):
        out.append(f'<text x="{pad - 6}" y="{y(t) + 4:.1f}" text-anchor="end">{t}</text>')
        out.append(f'<line x1="{pad}" y1="{y(t):.1f}" x2="{w - pad}" y2="{y(t):.1f}" '
                   'stroke="#eeeeee"/>')
    out.append(f'<line x1="{x(first["n"]):.1f}" y1="{y(first["100"] or 0):.1f}" '
               f'x2="{x(n_max):.1f}" y2="{y(linear_end):.1f}" stroke="#999999" '
               'stroke-dasharray="4 4"/>')
    series = [("100 %", "100", "#d62728"), ("99 %", "99", "#1f77b4"), ("90 %", "90", "#2ca02c")]
    for i, (label, key, colour) in enumerate(series):
        pts = [(r["n"], r[key]) for r in rows if r[key] is not None]
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
                   + " ".join(f"{x(n):.1f},{y(t):.1f}" for n, t in pts) + '"/>')
        for n, t in pts:
            out.append(f'<circle cx="{x(n):.1f}" cy="{y(t):.1f}" r="3" fill="{colour}"/>')
        last = pts[-1] if pts else (0, 0)
        out.append(f'<text x="{pad + 10}" y="{60 + 16 * i}" fill="{colour}">time to {label} '
                   f'({last[1]:.1f} s at {last[0]:,})</text>')
    out.append(f'<text x="{pad + 10}" y="{60 + 16 * len(series)}" fill="#999999">linear from '
               f'{first["n"]:,} records</text>')
    out.append("</svg>")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("table", help="the crawl bench's output")
    ap.add_argument("svg", help="the SVG to write")
    ap.add_argument("--png", help="also render a PNG with headless Chromium")
    args = ap.parse_args()
    with open(args.table) as f:
        rows = parse(f.read())
    if len(rows) < 2:
        sys.exit(f"{args.table}: fewer than two sizes of 'enumeration, defaults' rows")
    with open(args.svg, "w") as f:
        f.write(svg(rows))
    if args.png:
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                            f"--user-data-dir={profile}", f"--screenshot={os.path.abspath(args.png)}",
                            "--window-size=900,510", "file://" + os.path.abspath(args.svg)],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=120)
    print(f"{len(rows)} sizes drawn to {args.svg}" + (f" and {args.png}" if args.png else ""))


if __name__ == "__main__":
    main()
