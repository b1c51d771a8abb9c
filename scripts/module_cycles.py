#!/usr/bin/env python3
"""Import cycles between the top-level modules of a crate.

Reads every `crate::a::b` path (in `use` trees, with nested braces, and inline paths) in
each file under SRC, maps the file to its top-level module (`src/network/config.rs` ->
`network`) and the path to the top-level module it names, and prints the module graph's
strongly connected components of more than one module. Test code is skipped (files named
`tests.rs`/`test_util.rs` and everything after a `#[cfg(test)]` line), as it is compiled
only into tests. Exit status 1 when there is a cycle.

    scripts/module_cycles.py valtrack-core/src
"""
import re
import sys
from pathlib import Path


def top_module(src: Path, f: Path) -> str:
    rel = f.relative_to(src).with_suffix("")
    parts = rel.parts
    if parts[0] in ("lib", "main"):
        return "(root)"
    return parts[0]


def strip(text: str) -> str:
    text = re.sub(r"//[^\n]*", "", text)  # line comments (doc comments included)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    return text


def use_tree_heads(tree: str) -> list[str]:
    """The first segments named by a use tree following `crate::`."""
    tree = tree.strip()
    if tree.startswith("{"):
        depth, item, heads = 0, "", []
        for ch in tree[1:]:
            if ch == "{":
                depth += 1
            elif ch == "}":
                if depth == 0:
                    break
                depth -= 1
            if ch == "," and depth == 0:
                heads += use_tree_heads(item)
                item = ""
            else:
                item += ch
        heads += use_tree_heads(item)
        return heads
    m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", tree)
    return [m.group(0)] if m else []


def main() -> int:
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "valtrack-core/src")
    modules = {top_module(src, f) for f in src.rglob("*.rs")}
    edges: dict[str, set[str]] = {}
    for f in sorted(src.rglob("*.rs")):
        if f.name in ("tests.rs", "test_util.rs"):
            continue
        text = f.read_text()
        cut = text.find("#[cfg(test)]")
        if cut >= 0:
            text = text[:cut]
        text = strip(text)
        me = top_module(src, f)
        for m in re.finditer(r"\bcrate::", text):
            for head in use_tree_heads(text[m.end():]):
                if head in modules and head != me:
                    edges.setdefault(me, set()).add(head)
    # Tarjan's strongly connected components
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            sccs.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(modules):
        if v not in index:
            visit(v)
    cycles = [sorted(c) for c in sccs if len(c) > 1]
    n_edges = sum(len(v) for v in edges.values())
    print(f"{src}: {len(modules)} modules, {n_edges} edges between them")
    for c in cycles:
        print("cycle:", " <-> ".join(c))
        for a in c:
            print(f"  {a} -> {', '.join(sorted(b for b in edges.get(a, ()) if b in c))}")
    if not cycles:
        print("no import cycles")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
