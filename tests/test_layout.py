"""The tree as docs/architecture.md describes it, the size of the page's functions, the packages' public names, and
the package's independence from the tests. Each guard has a companion that plants the violation it exists to catch
and shows that the guard then fails."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "explorer"
DOC = ROOT / "docs" / "architecture.md"
MAX_UI_FUNCTION_LINES = 80  # a tab's layout, handlers and wiring table each fit on a screen


def modules(package: Path) -> list[Path]:
    return sorted(p for p in package.rglob("*.py") if p.name not in ("__init__.py", "__main__.py"))


# --- every module is in docs/architecture.md --------------------------------------------------------------------

def documented(doc: str) -> set[str]:
    """What the doc's tables name in their first column, as paths inside explorer/: each module (`views/levels.py`;
    a bare `levels.py` after it in the same cell is in the same folder) and each package named whole
    (`explorer/study/`: every module in it)."""
    names = set()
    for line in doc.splitlines():
        if not line.startswith("|"):
            continue
        folder = ""
        for name in re.findall(r"`([^`]+)`", line.split("|")[1]):
            name = name.removeprefix("explorer/")
            if name.endswith("/"):
                names.add(name)
            elif name.endswith(".py"):
                if "/" in name:
                    folder = name.rsplit("/", 1)[0] + "/"
                    names.add(name)
                else:
                    names.add(folder + name)
    return names


def undocumented(package: Path, doc: str) -> list[str]:
    """The modules of `package` that the doc does not name (a module by its path, or its package named whole)."""
    names = documented(doc)
    missing = []
    for module in modules(package):
        path = module.relative_to(package).as_posix()
        if path not in names and not any(path.startswith(name) for name in names if name.endswith("/")):
            missing.append(path)
    return missing


def test_every_module_is_in_the_architecture_doc():
    missing = undocumented(PACKAGE, DOC.read_text())
    assert not missing, f"docs/architecture.md does not name {missing}"


def test_the_doc_guard_catches_a_module_in_a_subfolder(tmp_path):
    """A module in a subfolder whose folder the doc mentions (views/, views/denoising/) is still caught."""
    doc = DOC.read_text()
    package = tmp_path / "explorer"
    for path in ("views/levels.py", "views/denoising/compute.py", "views/denoising/planted.py", "views/planted.py",
                 "analysis/planted.py", "ui/planted/deeper.py"):
        (package / path).parent.mkdir(parents=True, exist_ok=True)
        (package / path).write_text("")
    assert undocumented(package, doc) == ["analysis/planted.py", "ui/planted/deeper.py",
                                          "views/denoising/planted.py", "views/planted.py"]


# --- no function of the page is longer than a screen --------------------------------------------------------------

def long_functions(folder: Path, limit: int = MAX_UI_FUNCTION_LINES) -> list[str]:
    """Functions (nested ones too) of `folder`'s modules longer than `limit` lines, with their length."""
    found = []
    for module in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([node.lineno] + [decorator.lineno for decorator in node.decorator_list])
                length = node.end_lineno - first + 1
                if length > limit:
                    found.append(f"{module.relative_to(folder).as_posix()}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_function_in_the_ui_is_longer_than_80_lines():
    assert not long_functions(PACKAGE / "ui"), long_functions(PACKAGE / "ui")


def test_the_length_guard_catches_a_long_function(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_UI_FUNCTION_LINES))
    (tmp_path / "tab.py").write_text(f"def build():\n{body}\n\n\ndef short():\n    return 1\n")
    (tmp_path / "sub").mkdir()
    indented = body.replace("\n", "\n    ")
    (tmp_path / "sub" / "deep.py").write_text(f"class A:\n    def method(self):\n    {indented}\n")
    assert long_functions(tmp_path) == [f"sub/deep.py:2 method ({MAX_UI_FUNCTION_LINES + 1} lines)",
                                        f"tab.py:1 build ({MAX_UI_FUNCTION_LINES + 1} lines)"]


# --- a package's __init__ re-exports public names only -------------------------------------------------------------

def private_reexports(init: Path) -> list[str]:
    """Names starting with "_" that a package's __init__ imports or lists in __all__ (a module's own helpers stay
    its own: a test that needs one imports it from that module)."""
    tree = ast.parse(init.read_text())
    names = [alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
             for alias in node.names]
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(target, "id", "") == "__all__" for target in node.targets):
            names += [element.value for element in getattr(node.value, "elts", [])
                      if isinstance(element, ast.Constant)]
    return sorted({name for name in names if name.startswith("_") and not name.startswith("__")})


def test_no_package_re_exports_private_names():
    found = {init.relative_to(ROOT).as_posix(): private_reexports(init) for init in PACKAGE.rglob("__init__.py")}
    assert not {path: names for path, names in found.items() if names}


def test_the_reexport_guard_catches_a_private_name(tmp_path):
    init = tmp_path / "__init__.py"
    init.write_text('from explorer.views.proofs.compute import _noise_batch, attention\n'
                    '__all__ = ["_times", "attention", "__version__"]\n')
    assert private_reexports(init) == ["_noise_batch", "_times"]


# --- the package never imports the tests ---------------------------------------------------------------------------

def imports_tests(folder: Path) -> list[str]:
    return [p.relative_to(folder).as_posix() for p in sorted(folder.rglob("*.py"))
            if re.search(r"^\s*(from tests\b|import tests\b)", p.read_text(), re.MULTILINE)]


def test_the_package_imports_nothing_from_the_tests():
    assert not imports_tests(PACKAGE), imports_tests(PACKAGE)


def test_the_tests_guard_catches_an_import_of_the_tests(tmp_path):
    (tmp_path / "views").mkdir()
    (tmp_path / "views" / "planted.py").write_text("def f():\n    from tests.server import running_app\n")
    assert imports_tests(tmp_path) == ["views/planted.py"]


# --- the page finds no component by its elem_id: the app hands typed layouts across -------------------------------

LOOKUP = re.compile(r"\.blocks\.values\(\)|\bdemo\.blocks\b|\.elem_id\s*==|getattr\([^)]*[\"']elem_id[\"']")


def elem_id_lookups(folder: Path) -> list[str]:
    return [f"{py.relative_to(folder).as_posix()}:{number}" for py in sorted(folder.rglob("*.py"))
            for number, line in enumerate(py.read_text().splitlines(), 1) if LOOKUP.search(line)]


def test_no_component_is_looked_up_by_its_elem_id():
    assert not elem_id_lookups(PACKAGE / "ui"), elem_id_lookups(PACKAGE / "ui")


def test_the_lookup_guard_catches_a_search_through_the_blocks(tmp_path):
    (tmp_path / "tab.py").write_text(
        "def find(demo):\n"
        "    by_id = {b.elem_id: b for b in demo.blocks.values() if getattr(b, 'elem_id', None)}\n"
        "    return next(b for b in demo.fns if b.elem_id == 'rf-block')\n")
    assert elem_id_lookups(tmp_path) == ["tab.py:2", "tab.py:3"]
