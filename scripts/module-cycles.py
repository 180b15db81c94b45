#!/usr/bin/env python3
"""Fails if any crate of the workspace has a cycle among its modules.

Within each module, its child modules and its own items (what its file defines itself) are the
nodes; a node depends on another when its code names it (`crate::…`, `super::…`, `self::…`, in
`use` statements and in paths). A module's re-exports (`pub use child::X`) and its `mod`
declarations are its façade, not a dependency. A cycle among siblings (a ↔ b, or a child that
uses its parent's items while those use the child) is what "an import running back up" means:
the test command runs this, and it prints each cycle with the references that make it.
"""

import re
import sys
from pathlib import Path

CRATES = ["domain", "engine", "app", "server", "face-engine", "face-index", "bench", "frontend"]


def modules_of(src: Path):
    """Module path (tuple) -> file, for every module of the crate rooted at src."""
    modules = {}
    for file in src.rglob("*.rs"):
        rel = file.relative_to(src).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] in ("lib", "main") and len(parts) == 1:
            parts = []
        elif parts[-1] == "mod":
            parts = parts[:-1]
        modules[tuple(parts)] = file
    return modules


def strip(code: str) -> str:
    """The code without comments and string literals (their text names nothing)."""
    code = re.sub(r"//[^\n]*", "", code)
    code = re.sub(r"/\*.*?\*/", "", code, flags=re.S)
    code = re.sub(r'r#*"(?:.|\n)*?"#*', '""', code)
    code = re.sub(r'"(?:\\.|[^"\\])*"', '""', code)
    return code


def expand_use(tree: str):
    """The paths of a use tree such as `super::{a::b, c::{d, e}}`, as lists of segments."""
    tree = tree.strip()
    if "{" not in tree:
        path = [s for s in tree.split("::") if s]
        if path and " as " in path[-1]:
            path[-1] = path[-1].split(" as ")[0].strip()
        return [path]
    head, rest = tree.split("{", 1)
    inner = rest[: rest.rindex("}")]
    prefix = [s for s in head.split("::") if s]
    parts, depth, current = [], 0, ""
    for ch in inner:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    paths = []
    for part in parts:
        if part.strip():
            for sub in expand_use(part):
                paths.append(prefix + sub)
    return paths


def references(code: str, here: tuple):
    """(absolute path, is_reexport) for every path this module names."""
    found = []
    for m in re.finditer(r"\b(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", code):
        reexport = bool(m.group(1))
        for path in expand_use(m.group(2)):
            found.append((path, reexport))
    body = re.sub(r"\b(pub(?:\([^)]*\))?\s+)?use\s+[^;]+;", "", code)
    for m in re.finditer(r"\b((?:crate|super|self)(?:::\w+)+)", body):
        found.append((m.group(1).split("::"), False))
    resolved = []
    for path, reexport in found:
        if not path or path[0] not in ("crate", "super", "self"):
            continue
        base = list(here)
        rest = list(path)
        if rest[0] == "crate":
            base, rest = [], rest[1:]
        while rest and rest[0] in ("super", "self"):
            if rest[0] == "super":
                base = base[:-1]
            rest = rest[1:]
        resolved.append((tuple(base + rest), reexport))
    return resolved


def reexports_of(modules):
    """(module, name) -> the absolute path a module's `pub use` re-exports under that name."""
    exported = {}
    for here, file in modules.items():
        code = strip(file.read_text())
        for m in re.finditer(r"\bpub(?:\([^)]*\))?\s+use\s+([^;]+);", code):
            for path in expand_use(m.group(1)):
                if not path or path[-1] == "*":
                    continue
                for target, _ in references("use " + "::".join(path) + ";", here):
                    exported[(here, path[-1])] = target
    return exported


def resolve(target, modules, exported):
    """A path through the re-exports it names, to where its item is defined."""
    for _ in range(16):
        module = max(
            (target[:n] for n in range(len(target) + 1) if target[:n] in modules), key=len
        )
        if len(target) > len(module) and (module, target[len(module)]) in exported:
            target = exported[(module, target[len(module)])] + target[len(module) + 1 :]
        else:
            return target
    return target


def check(crate: str) -> list:
    src = Path(crate) / "src"
    if not src.exists():
        return []
    modules = modules_of(src)
    exported = reexports_of(modules)
    # Within each parent: node = child module name, or "" for the parent's own items.
    edges = {}
    why = {}
    for here, file in modules.items():
        code = strip(file.read_text())
        for target, reexport in references(code, here):
            if not reexport:
                target = resolve(target, modules, exported)
            # The module the path lands in: its longest prefix that is a module.
            module = max(
                (target[:n] for n in range(len(target) + 1) if target[:n] in modules),
                key=len,
            )
            names_item = len(target) > len(module)
            # Compare `here` and `module` at the level of their closest common parent.
            common = 0
            while common < min(len(here), len(module)) and here[common] == module[common]:
                common += 1
            parent = here[:common]
            source = here[common] if len(here) > common else ""
            if len(module) > common:
                dest = module[common]
            elif names_item or len(module) == common:
                dest = ""
            else:
                continue
            if source == dest:
                continue
            if source == "" and reexport:
                continue  # a module's façade
            edges.setdefault(parent, {}).setdefault(source, set()).add(dest)
            why.setdefault((parent, source, dest), []).append(f"{file}: {'::'.join(target)}")
    cycles = []
    for parent, graph in edges.items():
        seen, stack = set(), []

        def visit(node):
            if node in stack:
                loop = stack[stack.index(node):] + [node]
                cycles.append((crate, parent, loop))
                return
            if node in seen:
                return
            seen.add(node)
            stack.append(node)
            for nxt in sorted(graph.get(node, ())):
                visit(nxt)
            stack.pop()

        for node in sorted(graph):
            visit(node)
    reported = []
    for crate_name, parent, loop in cycles:
        name = lambda n: "::".join(parent + ((n,) if n else ())) or "crate"
        lines = [f"{crate_name}: {' -> '.join(name(n) or '(its own items)' for n in loop)}"]
        for a, b in zip(loop, loop[1:]):
            for line in why.get((parent, a, b), [])[:3]:
                lines.append(f"    {line}")
        reported.append("\n".join(lines))
    return reported


def main():
    problems = [p for crate in CRATES for p in check(crate)]
    if problems:
        print("module cycles:\n" + "\n".join(sorted(set(problems))))
        sys.exit(1)
    print(f"no module cycles in {', '.join(CRATES)}")


if __name__ == "__main__":
    main()
