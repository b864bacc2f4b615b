"""The package's imports run one way, down the layers named in the README's Architecture section.

A module may import from its own layer or any layer below it, never from one
above; and no set of modules imports itself in a circle. Imports are read
with ``ast`` (module level and inside functions alike), so a lazy import
inside a command body counts the same as one at the top of the file.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "traceana"

#: low -> high; a module belongs to the first layer whose prefix it matches
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "core",
        (
            "traceana.errors",
            "traceana._version",
            "traceana._console",
            "traceana._atomic",
            "traceana.units",
            "traceana.schema",
        ),
    ),
    (
        "config",
        (
            "traceana.filters",
            "traceana.tags",
            "traceana.slos",
            "traceana.config_schema",
            "traceana.config",
            "traceana.openslo",
        ),
    ),
    ("store", ("traceana.store",)),
    ("engines", ("traceana.engines",)),
    ("ingest", ("traceana.ingest",)),
    ("metrics", ("traceana.metrics",)),
    ("simulate", ("traceana.simulate",)),
    ("report", ("traceana.report", "traceana.compare", "traceana.rules")),
    ("cli", ("traceana.cli", "traceana.__main__")),
]


def _modules() -> dict[str, Path]:
    out = {}
    for f in ROOT.rglob("*.py"):
        parts = list(f.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Modules of traceana that ``name`` imports (a ``from pkg import mod`` counts as pkg.mod)."""
    pkg = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            subs = {f"{base}.{a.name}" for a in node.names} & MODULES.keys()
            found.update(
                subs
            )  # `from pkg import mod` imports mod (and runs pkg's __init__, which is pkg's own affair)
            if len(subs) < len(node.names):
                found.add(base)  # a name defined in base itself
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def layer_of(module: str) -> int | None:
    for i, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return i
    return None


def test_every_module_has_a_layer():
    # the package root re-exports the public API: it is the one module above every layer
    unplaced = sorted(m for m in MODULES if m != "traceana" and layer_of(m) is None)
    assert not unplaced, f"modules in no layer (add them to LAYERS and the README): {unplaced}"


def test_no_import_from_a_higher_layer():
    bad = []
    for mod, targets in GRAPH.items():
        lm = layer_of(mod)
        if lm is None:
            continue
        for t in targets:
            lt = layer_of(t) if t != "traceana" else len(LAYERS)
            if lt is not None and lt > lm:
                bad.append(
                    f"{mod} ({LAYERS[lm][0]}) imports {t} ({LAYERS[lt][0] if lt < len(LAYERS) else 'the package root'})"
                )
    assert not bad, "imports that run up the layers:\n" + "\n".join(sorted(bad))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
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
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _package_graph() -> dict[str, set[str]]:
    """Imports between the package's top-level parts (``traceana.ingest.adapters.x`` counts as ``traceana.ingest``)."""

    def unit(m: str) -> str:
        return ".".join(m.split(".")[:2])

    g: dict[str, set[str]] = {}
    for m, ts in GRAPH.items():
        g.setdefault(unit(m), set()).update(unit(t) for t in ts if unit(t) != unit(m))
    return g


@pytest.mark.parametrize("graph", ["modules", "packages"])
def test_no_import_circle(graph):
    g = GRAPH if graph == "modules" else _package_graph()
    cycles = _cycles(g)
    assert not cycles, f"import circles among {graph}: {cycles}"


def test_the_checker_sees_a_circle_and_an_upward_import():
    # the checks above must be able to fail: a made-up graph with both faults
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]
    assert layer_of("traceana.report.build") > layer_of("traceana.store")
    assert layer_of("traceana.ingest.adapters.bench.aiperf") == layer_of("traceana.ingest")
