#!/usr/bin/env python3
"""Fails when sibling modules of a crate import each other in a cycle.

A module may use its parent (a child of `read_model` uses `super::ReadModel`)
and the parent may use its children: that is how Rust modules nest. What makes
code hard to read is two siblings that need each other (`incoming` using
`pipeline` and `pipeline` using `incoming`), directly or round a longer loop.
This check reads every `crate::`, `super::` and `self::` path in each crate's
`src/` outside test-only modules (`#[cfg(test)] mod x;` files and inline
`#[cfg(test)] mod x { ... }` blocks: tests may use anything), keeps the edges
between siblings (a path into a sibling's descendant
counts as the sibling), and reports every cycle it finds.

    deploy/check-module-cycles.py [services/*/src ...]

Exit status 1 when a cycle exists, 0 otherwise. Run by deploy/test.sh.
"""

import re
import sys
from pathlib import Path

PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z_0-9]*)+)")
GROUP = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z_0-9]*)*)::\{([^}]*)\}")


def module_of(src: Path, file: Path) -> tuple:
    """The module path of a file: src/a/b.rs and src/a/b/mod.rs are ("a", "b")."""
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts.pop()
    return tuple(parts)


TEST_MOD = re.compile(r"#\[cfg\(test\)\]\s*(?:pub(?:\([a-z]+\))?\s+)?mod\s+(\w+)\s*([;{])")


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def without_tests(text: str):
    """`text` without inline test modules, and the names of test-only module files."""
    files, out, at = [], [], 0
    for match in TEST_MOD.finditer(text):
        if match.start() < at:
            continue
        if match.group(2) == ";":
            files.append(match.group(1))
            continue
        out.append(text[at : match.start()])
        depth, i = 1, match.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        at = i
    out.append(text[at:])
    return "".join(out), files


def targets(module: tuple, text: str):
    """Every absolute module path `text` (the source of `module`) refers to."""
    found = []
    for match in GROUP.finditer(text):
        root, prefix = match.group(1), match.group(2)
        for item in match.group(3).split(","):
            item = item.strip().split(" as ")[0].split("::")[0].strip()
            if item and item not in ("self", "*"):
                found.append((root, prefix + "::" + item))
    for match in PATH.finditer(text):
        found.append((match.group(1), match.group(2)))
    for root, rest in found:
        names = [n for n in rest.split("::") if n]
        if root == "crate":
            base = ()
        elif root == "self":
            base = module
        else:
            base = module[:-1]
            while names and names[0] == "super":
                base = base[:-1]
                names.pop(0)
        yield base + tuple(names)


def sibling_edge(modules: set, source: tuple, target: tuple):
    """The (from, to) siblings a reference from `source` to `target` links."""
    # The longest prefix of `target` that is a module.
    while target and target not in modules:
        target = target[:-1]
    if not target:
        return None
    # Climb both to their children of the nearest common ancestor.
    common = 0
    while common < min(len(source), len(target)) and source[common] == target[common]:
        common += 1
    if common == len(source) or common == len(target):
        return None  # one is an ancestor of the other
    return source[: common + 1], target[: common + 1]


def cycles(edges: dict):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return out


def check(src: Path) -> list:
    files = {module_of(src, f): f for f in src.rglob("*.rs")}
    modules = set(files)
    texts, tests = {}, set()
    for module, file in files.items():
        texts[module], test_files = without_tests(strip_comments(file.read_text(encoding="utf-8")))
        tests.update(module + (name,) for name in test_files)
    edges = {}
    for module, text in texts.items():
        if any(module[: len(t)] == t for t in tests):
            continue
        for target in targets(module, text):
            edge = sibling_edge(modules, module, target)
            if edge and edge[0] != edge[1]:
                edges.setdefault(edge[0], set()).add(edge[1])
    return [
        " -> ".join("::".join(m) for m in component)
        for component in cycles(edges)
    ]


def main(argv):
    roots = [Path(a) for a in argv[1:]] or sorted(Path("services").glob("*/src"))
    found = False
    for src in roots:
        for cycle in check(src):
            found = True
            print(f"{src}: modules import each other: {cycle}")
    if not found:
        print(f"no module cycles in {len(roots)} crates")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
