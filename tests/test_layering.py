"""The package's folders form layers: a module imports only from its own folder or from folders
below it, and no chain of imports comes back to where it started. Read from the source with
`ast` (imports inside functions count: they are what hid the last cycle), so the check needs
nothing to run and names the offending line.

    errors < system < kernels < layers < models, optim < data < losses, metrics < plots
           < tasks < diagnostics, gradcheck < predict < train < cli < npcae/__init__.py, __main__
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "npcae"
LAYERS = [("errors",), ("system",), ("kernels",), ("layers",), ("models", "optim"), ("data",),
          ("losses", "metrics"), ("plots",), ("tasks",), ("diagnostics", "gradcheck"), ("predict",),
          ("train",), ("cli", "_moved"), ("__main__", "")]      # "": npcae/__init__.py
LEVEL = {name: level for level, names in enumerate(LAYERS) for name in names}


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name):
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports(path):
    """(line, imported module) for every npcae import in the file, wherever it sits."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names
                        if alias.name.split(".")[0] == "npcae")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            if source.split(".")[0] != "npcae":
                continue
            for alias in node.names:      # `from . import core` imports the module npcae.x.core
                yield node.lineno, (f"{source}.{alias.name}" if is_module(f"{source}.{alias.name}")
                                    else source)


def folder(module):
    """The top folder (or module) of npcae a module lives in: npcae.train.trainer -> train."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


FILES = sorted(PACKAGE.rglob("*.py"))
GRAPH = {module_name(path): [(line, target) for line, target in imports(path)] for path in FILES}


def test_every_folder_has_a_layer():
    assert {folder(module) for module in GRAPH} <= set(LEVEL), set(map(folder, GRAPH)) - set(LEVEL)


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_module_imports_a_folder_above_its_own(module):
    upward = [f"line {line}: {target}" for line, target in GRAPH[module]
              if folder(target) != folder(module) and LEVEL[folder(target)] >= LEVEL[folder(module)]]
    assert not upward, f"{module} imports from its level or above: {upward}"


def test_no_import_cycle():
    # Importing npcae.a.b runs npcae/a/__init__.py first: that edge is real too, except into a
    # package the importing module is inside (already running), and the root's (imported first).
    edges = {module: {target for _, target in targets} for module, targets in GRAPH.items()}
    for module, targets in edges.items():
        inside = {".".join(module.split(".")[:n]) for n in range(1, module.count(".") + 2)}
        for target in list(targets):
            parts = target.split(".")
            targets |= {".".join(parts[:n]) for n in range(2, len(parts))} - inside
    state, path = {}, []

    def visit(module):
        state[module] = "open"
        path.append(module)
        for target in sorted(edges.get(module, ())):
            if state.get(target) == "open":
                cycle = path[path.index(target):] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module)


def test_the_check_sees_an_import_inside_a_function(tmp_path):
    source = tmp_path / "npcae" / "data" / "probe.py"
    source.parent.mkdir(parents=True)
    source.write_text("def f():\n    from ..train import trainer\n")
    global PACKAGE
    real, PACKAGE = PACKAGE, tmp_path / "npcae"
    try:
        (tmp_path / "npcae" / "train").mkdir()
        (tmp_path / "npcae" / "train" / "trainer.py").write_text("")
        assert list(imports(source)) == [(2, "npcae.train.trainer")]
    finally:
        PACKAGE = real
