"""The package's shape, read from its source with ``ast``: no import cycle, no private
name crossing a module boundary, imports at the top, a thin command line."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "minisyn"
# imported where they are used, because they are optional or slow to import
OPTIONAL = {"matplotlib", "mpl_toolkits", "tqdm", "pooch", "cupy", "cupyx"}


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(tree, name, is_package):
    """``(module imported, node)`` for every import of a minisyn module in ``tree``
    (anywhere: top level or inside a function)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:                                      # relative import
                pkg = name.split(".") if is_package else name.split(".")[:-1]
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join(pkg + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield (sub if sub in MODULES else base), node


def import_graph():
    graph = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text())
        edges = {m for m, _ in imported_modules(tree, name, path.name == "__init__.py") if m in MODULES}
        graph[name] = edges - {name}
    return graph


def find_cycle(graph):
    """One cycle of ``graph`` as a list of nodes, or None (depth-first search)."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_cycle_finder_finds_a_cycle_and_accepts_a_tree():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_module_of_the_package_imports_itself_back():
    graph = import_graph()
    assert "minisyn.experiments.kit" in graph["minisyn.cli"]        # the walk sees `from pkg import module`
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("folder", ["minisyn", "demos"])
def test_no_private_name_is_imported_from_another_module(folder):
    offenders = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("minisyn"):
                offenders += [f"{path.relative_to(ROOT)}: {a.name} from {node.module}"
                              for a in node.names if a.name.startswith("_") and a.name != "__version__"]
    assert not offenders, offenders


def test_imports_sit_at_the_top_of_each_module_except_optional_ones():
    offenders = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text())
        top = set(map(id, tree.body))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top:
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                if any(n.split(".")[0] not in OPTIONAL for n in names):
                    offenders.append(f"{name}:{node.lineno} imports {', '.join(names)} inside a function")
    assert not offenders, "\n".join(offenders)


def test_demos_do_not_edit_sys_path_or_use_the_command_line_module():
    for path in sorted((ROOT / "demos").glob("*.py")):
        text = path.read_text()
        assert "sys.path" not in text, path.name
        assert "minisyn.cli" not in text, path.name


def test_the_command_line_module_is_the_parser_and_the_registry_only():
    lines = (PACKAGE / "cli.py").read_text().splitlines()
    assert len(lines) < 200
