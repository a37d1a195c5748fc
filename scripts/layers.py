#!/usr/bin/env python3
"""`make lint`'s structure check: no import circle between the files of a crate, and no import against the
layer order that ARCHITECTURE.md declares (its "Layers" block), between crates and inside each crate.

Imports are read as text: `use` trees and inline `crate::`/`super::`/`self::` paths, each resolved to the
module file it names (the longest path that is a file). A parent's `mod child;` is a declaration, not an
import. `cargo metadata` gives the crates' dependencies (normal, build and dev).

Usage: layers.py [ROOT]   (exits 1 naming each circle and each import against the order)
"""

import json
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))


def read_layers():
    """The "Layers" block of ARCHITECTURE.md: `crates:` lines (lowest first) and, per crate, `<crate>:`
    lines (lowest first) of module groups separated by spaces; `crate` names the crate root file."""
    text = open(os.path.join(ROOT, "ARCHITECTURE.md"), encoding="utf-8").read()
    block = re.search(r"```text layers\n(.*?)```", text, re.S)
    if not block:
        sys.exit("ARCHITECTURE.md has no ```text layers block: the layer order must be declared there")
    crates, modules, test_only = [], {}, set()
    for line in block.group(1).splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, rest = line.partition(":")
        groups = rest.split()
        if name.strip() == "crates":
            crates.append(groups)
        elif name.strip() == "test-only":
            test_only.update(groups)
        else:
            modules.setdefault(name.strip(), []).append(groups)
    return crates, modules, test_only


def workspace():
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps", "--locked"],
        cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    return meta["packages"]


def strip_comments(line):
    # Comments and doc links are not imports; a `//` inside a string is rare enough in import lines.
    return line.split("//", 1)[0]


def expand_use(tree):
    """`a::{b, c::{d, e}}` -> ['a::b', 'a::c::d', 'a::c::e']."""
    tree = re.sub(r"\s+", "", tree)
    brace = tree.find("{")
    if brace < 0:
        return [tree.split(" as ", 1)[0]]
    prefix, inner = tree[:brace], tree[brace + 1:tree.rfind("}")]
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(inner):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
    parts.append(inner[start:])
    out = []
    for part in parts:
        if part:
            out += [prefix + p for p in expand_use(part)]
    return out


class Crate:
    def __init__(self, name, src):
        self.name, self.src = name, src
        self.files = {}  # module path (tuple) -> file path
        for dirpath, _, filenames in os.walk(src):
            for f in filenames:
                # A package's main.rs beside its lib.rs is a binary crate of its own (it imports the lib by name).
                if f == "main.rs" and dirpath == src and "lib.rs" in filenames:
                    continue
                if f.endswith(".rs"):
                    path = os.path.join(dirpath, f)
                    self.files[self.module_of(path)] = path

    def module_of(self, path):
        rel = os.path.relpath(path, self.src)[:-3].split(os.sep)
        if rel[-1] in ("mod", "lib", "main"):
            rel = rel[:-1]
        return tuple(rel)

    def resolve(self, segments):
        for n in range(len(segments), -1, -1):
            if tuple(segments[:n]) in self.files:
                return tuple(segments[:n])
        return None

    def imports(self, module):
        """(line number, text, target module) for each path in `module`'s file that names another file."""
        path = self.files[module]
        found, statement, start = [], None, 0
        inline, depth = [], 0  # inline `mod name {` blocks open at this line: (name, depth inside)
        for number, raw in enumerate(open(path, encoding="utf-8"), 1):
            line = strip_comments(raw)
            opened = re.match(r"\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*\{", line)
            depth += line.count("{") - line.count("}")
            if opened:
                inline.append((opened.group(1), depth))
            while inline and depth < inline[-1][1]:
                inline.pop()
            here = list(module) + [name for name, _ in inline]
            paths, at = [], number  # `at`: the line a finding is reported at (a `use` at its first line)
            if statement is not None:
                statement += line
                if ";" not in line:
                    continue
                paths, statement, at = expand_use(statement.split(";", 1)[0]), None, start
            else:
                m = re.match(r"\s*(?:pub(?:\([^)]*\))?\s+)?use\s+(.*)", line)
                if m:
                    if ";" not in m.group(1):
                        statement, start = m.group(1), number
                        continue
                    paths = expand_use(m.group(1).split(";", 1)[0])
                else:
                    paths = re.findall(r"(?<![:\w])(\w+(?:::\w+)+)", line)
            for p in paths:
                segments = [s for s in p.split("::") if s]
                head = segments[0]
                if head == "crate":
                    base, rest = [], segments[1:]
                elif head == "super":
                    base, rest = here[:-1], segments[1:]
                    while rest and rest[0] == "super":
                        base, rest = base[:-1], rest[1:]
                elif head == "self":
                    base, rest = here, segments[1:]
                elif tuple(here + [head]) in self.files:
                    base, rest = here, segments  # a child module named without a prefix: `sweep::run`
                else:
                    continue
                target = self.resolve(base + [s for s in rest if s != "*"])
                if target is not None and target != module:
                    found.append((at, p, target))
        return found


def group_of(module, groups):
    """The index of the layer whose group names `module` (longest prefix wins), or None."""
    best, best_len = None, -1
    for i, layer in enumerate(groups):
        for g in layer:
            parts = () if g == "crate" else tuple(g.split("::"))
            if module[:len(parts)] == parts and len(parts) > best_len:
                best, best_len = i, len(parts)
    return best


def circles(graph):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    crate_layers, module_layers, test_only = read_layers()
    problems = []
    packages = workspace()
    names = {p["name"] for p in packages}
    crate_rank = {}
    for i, layer in enumerate(crate_layers):
        for name in layer:
            crate_rank[name] = i
    for p in packages:
        if p["name"] not in crate_rank:
            problems.append(f"crate {p['name']} is in no layer: add it to the `crates:` lines of ARCHITECTURE.md's layers")
    for p in packages:
        for dep in p["dependencies"]:
            if dep.get("kind") != "dev" and dep["name"] in test_only:
                problems.append(f"{p['name']} depends on {dep['name']}, which is test code only: "
                                f"only dev-dependencies may name it (ARCHITECTURE.md, Layers)")
            if dep.get("kind") == "dev":
                continue  # tests are not rooms of the house: a crate's tests may use the test kit built on it
            if dep["name"] in names and dep["name"] != p["name"] and p["name"] in crate_rank and dep["name"] in crate_rank:
                if crate_rank[dep["name"]] >= crate_rank[p["name"]]:
                    kind = dep.get("kind") or "normal"
                    problems.append(f"{p['name']} depends on {dep['name']} ({kind}): against the layer order, "
                                    f"a crate depends only on crates in layers below its own")
    for p in packages:
        src = os.path.join(os.path.dirname(p["manifest_path"]), "src")
        crate = Crate(p["name"], src)
        groups = module_layers.get(p["name"])
        graph = {}
        for module in sorted(crate.files):
            for number, text, target in crate.imports(module):
                graph.setdefault(module, set()).add(target)
                if groups is None:
                    continue
                here, there = group_of(module, groups), group_of(target, groups)
                if here is None or there is None:
                    continue
                if there > here:
                    rel = os.path.relpath(crate.files[module], ROOT)
                    problems.append(f"{rel}:{number}: imports {text} ({'::'.join(target) or 'the crate root'}), "
                                    f"a layer above its own in {p['name']}'s order (ARCHITECTURE.md, Layers)")
        if groups is None and len(crate.files) > 1:
            problems.append(f"{p['name']} has {len(crate.files)} module files but no layers: declare its order "
                            f"in ARCHITECTURE.md's layers (`{p['name']}: ...` lines, lowest first)")
        if groups is not None:
            for module in sorted(crate.files):
                if group_of(module, groups) is None:
                    rel = os.path.relpath(crate.files[module], ROOT)
                    problems.append(f"{rel} is in no layer of {p['name']}: place it in ARCHITECTURE.md's layers")
        for circle in circles(graph):
            files = [os.path.relpath(crate.files[m], ROOT) for m in circle]
            ties = [f"{os.path.relpath(crate.files[a], ROOT)} -> {os.path.relpath(crate.files[b], ROOT)}"
                    for a in circle for b in sorted(graph.get(a, ())) if b in circle]
            problems.append(f"import circle in {p['name']}: {', '.join(files)} ({'; '.join(ties)})")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"layers: {len(packages)} crates, no import circle, no import against the declared order")


if __name__ == "__main__":
    main()
