"""The code's layout: no import cycle, scoring never imports training, and every public name imports.

The import graph is read from the source (module-level imports and those inside functions
alike, since a cycle hidden inside a function is still a cycle), from `fabscore` modules to
`fabscore` modules, as the files name them.
"""
from __future__ import annotations

import ast
import importlib
import importlib.metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ROOTS = {"fabscore": REPO / "inference", "fabscore.training": REPO / "training"}


def module_files() -> dict[str, Path]:
    """Module name -> file, for every module of the package (training under its own root)."""
    out = {}
    for prefix, root in ROOTS.items():
        for path in root.rglob("*.py"):
            rel = path.relative_to(root).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            if prefix == "fabscore" and parts[:1] == ["training"]:
                continue
            out[".".join([prefix, *parts])] = path
    return out


def imports_of(name: str, path: Path, modules: set[str]) -> set[str]:
    """The package modules that module `name` imports, anywhere in its file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in modules}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for a in node.names:  # `from pkg import module` names a module; `from module import name` the module
                found.add(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base)
    return {m for m in found if m in modules and m != name}


def graph() -> dict[str, set[str]]:
    files = module_files()
    return {name: imports_of(name, path, set(files)) for name, path in files.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle():
    edges = graph()
    assert len(edges) > 50  # the walk found the package
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges))


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_scoring_never_imports_training():
    edges = graph()
    scoring = [m for m in edges if not m.startswith("fabscore.training")]
    assert not {m: sorted(t for t in edges[m] if t.startswith("fabscore.training")) for m in scoring
                if any(t.startswith("fabscore.training") for t in edges[m])}


PUBLIC = [
    ("fabscore", ["load_detector", "Detector", "ArticleScore", "SentenceScore", "__version__"]),
    ("fabscore.head", ["LinearHead"]),
    ("fabscore.cli", ["main"]),
    ("fabscore.evidence", ["EvidenceCheck", "EvidenceIndex", "EvidenceError", "build", "build_from_texts", "load",
                           "load_checker", "resolve_evidence"]),
    ("fabscore.io.report", ["write_html"]),
    ("fabscore.training.train", ["TrainSettings", "train"]),
    ("fabscore.training.fit.feature_cache", ["FeatureCache"]),
    ("fabscore.training.eval.evaluate", ["evaluate"]),
]


@pytest.mark.parametrize("module,names", PUBLIC)
def test_public_names_import(module, names):
    mod = importlib.import_module(module)
    for name in names:
        assert getattr(mod, name) is not None, f"{module}.{name}"


def test_entry_points_load():
    eps = importlib.metadata.entry_points()
    scripts = [ep for ep in eps.select(group="console_scripts") if ep.name == "fabscore"]
    commands = list(eps.select(group="fabscore.commands"))
    assert len(scripts) == 1 and callable(scripts[0].load())
    assert {ep.name for ep in commands} == {"train", "evaluate"} and all(callable(ep.load()) for ep in commands)
