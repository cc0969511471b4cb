"""Who may import whom in explorer/ (docs/architecture.md, "Floors"): the import graph has no cycle, and no module
imports one from a floor above its own. Each guard has a companion that plants the violation and shows it fails."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "explorer"

# Bottom first. A module may import modules of its own floor (without a cycle) and of the floors below, never above.
# A name is a module or a package (every module in it), inside explorer/.
FLOORS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("vocabulary", ("probe", "diffusion", "formatting", "metrics", "memory", "devices", "emoji_names")),
    ("models and data", ("unet", "naive", "singlescale", "denoiser", "diffusers_unet", "data", "weights", "knockouts",
                         "render")),
    ("analysis and words", ("analysis", "diagram", "explanations", "model_card", "diffusers_folder")),
    ("commands", ("train", "train_diffusers", "evaluate", "evaluate_diffusers", "sample", "study", "space",
                  "screenshots")),
    ("views", ("views",)),
    ("lesson", ("lesson",)),
    ("server", ("server",)),
    ("page", ("ui",)),
    ("tools", ("bench", "bench_proofs", "bench_denoisers")),
)


def module_names(package: Path) -> dict[str, Path]:
    """Dotted names inside the package ("views.kept", "views.proofs" for its __init__) → their files."""
    names = {}
    for path in package.rglob("*.py"):
        parts = list(path.relative_to(package).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            names[".".join(parts)] = path
    return names


def imports(package: Path) -> dict[str, set[str]]:
    """module → the modules of the package it imports (`from a import b` names the module a.b where there is one)."""
    names = module_names(package)
    prefix = package.name + "."
    graph = {}
    for name, path in names.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                    and node.module.startswith(prefix):
                base = node.module.removeprefix(prefix)
                for alias in node.names:
                    found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in names else base)
            elif isinstance(node, ast.Import):
                found |= {alias.name.removeprefix(prefix) for alias in node.names if alias.name.startswith(prefix)}
        graph[name] = {target for target in found if target in names and target != name}
    return graph


def floor_of(name: str, floors=FLOORS) -> int | None:
    for index, (_, members) in enumerate(floors):
        if any(name == member or name.startswith(member + ".") for member in members):
            return index
    return None


def upward(graph: dict[str, set[str]], floors=FLOORS) -> list[str]:
    """Imports from a floor to a higher one, and modules on no floor."""
    problems = [f"{name} is on no floor" for name in sorted(graph) if floor_of(name, floors) is None]
    for name in sorted(graph):
        for target in sorted(graph[name]):
            low, high = floor_of(name, floors), floor_of(target, floors)
            if low is not None and high is not None and high > low:
                problems.append(f"{name} ({floors[low][0]}) imports {target} ({floors[high][0]})")
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles, each as the path that closes it (depth-first search)."""
    found, state = [], {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for target in sorted(graph.get(name, ())):
            if state.get(target) == "open":
                found.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return found


def test_the_import_graph_has_no_cycle():
    assert not cycles(imports(PACKAGE))


def test_no_module_imports_from_a_floor_above_its_own():
    assert not upward(imports(PACKAGE))


def test_the_floors_name_only_what_exists_or_may_come():
    """Every floor entry is a module or package here (or a model module another change is adding)."""
    names = module_names(PACKAGE)
    expected_later = {"bench_denoisers", "evaluate_diffusers"}
    missing = [member for _, members in FLOORS for member in members
               if member not in names and member not in expected_later]
    assert not missing, missing


def _plant(tmp_path: Path, files: dict[str, str]) -> Path:
    package = tmp_path / "explorer"
    for path, text in files.items():
        (package / path).parent.mkdir(parents=True, exist_ok=True)
        (package / path).write_text(text)
    return package


def test_the_guards_catch_an_upward_import_and_a_cycle(tmp_path):
    package = _plant(tmp_path, {
        "__init__.py": "",
        "probe.py": "from explorer.views import kept\n",              # the vocabulary importing a view
        "views/__init__.py": "",
        "views/kept.py": "from explorer.views.memo import Kept\n",
        "views/memo.py": "def f():\n    from explorer.views import kept\n",  # a cycle, even inside a function
        "ui/__init__.py": "",
        "ui/app.py": "import explorer.views.kept\nfrom explorer.ui import nowhere\n",
        "extra.py": "",                                                # on no floor
    })
    graph = imports(package)
    assert graph["ui.app"] == {"views.kept", "ui"}
    assert cycles(graph) == [["views.kept", "views.memo", "views.kept"]]
    assert upward(graph) == ["extra is on no floor", "probe (vocabulary) imports views.kept (views)"]
