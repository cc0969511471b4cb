"""Gradio's internals are touched from one module (explorer/server/internals.py), listed there, and checked against
the tested versions at start-up."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from explorer.server import internals

ROOT = Path(__file__).resolve().parent.parent
FENCE = ROOT / "explorer" / "server" / "internals.py"
# Gradio's private modules and the private names of its objects that this app reaches (see internals.INTERNALS).
PRIVATE_MODULES = {"route_utils", "processing_utils", "networking", "context", "state_holder", "utils", "blocks",
                   "queueing", "events", "components.plot"}
PRIVATE_NAMES = {"PlotData", "LocalContext", "SessionState", "StateHolder", "GradioUploadFile",
                 "GradioMultiPartParser", "get_upload_folder", "save_pil_to_cache", "url_ok"}
PRIVATE_ATTRIBUTES = {"fns", "_queue", "process_api", "_data", "_id", "state_holder", "session_data",
                      "config_values", "state_data"}


def private_touches(source: str, objects: bool = True) -> list[str]:
    """Where `source` (Python) imports a private Gradio module or name or, with `objects` (a module that handles
    Gradio's objects), reads a private attribute: one in PRIVATE_ATTRIBUTES, any `x._name` of an object other than
    self/cls, or the same through getattr/setattr."""
    found = []
    for node in ast.walk(ast.parse(source)):
        where = f"line {getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("gradio."):
                    found.append(f"{where}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "gradio":
            module = node.module.removeprefix("gradio").lstrip(".")
            names = {alias.name for alias in node.names}
            if module in PRIVATE_MODULES or names & (PRIVATE_MODULES | PRIVATE_NAMES):
                found.append(f"{where}: from {node.module} import {', '.join(sorted(names))}")
        elif isinstance(node, ast.Attribute) and objects:
            private = node.attr.startswith("_") and not node.attr.startswith("__")
            owner = node.value.id if isinstance(node.value, ast.Name) else None
            if node.attr in PRIVATE_ATTRIBUTES or (private and owner not in ("self", "cls")):
                found.append(f"{where}: .{node.attr}")
            if owner in ("gr", "gradio") and node.attr in PRIVATE_MODULES | PRIVATE_NAMES:
                found.append(f"{where}: {owner}.{node.attr}")
        elif (objects and isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "setattr", "hasattr", "delattr") and len(node.args) >= 2
              and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
            name = node.args[1].value
            if name in PRIVATE_ATTRIBUTES or (name.startswith("_") and not name.startswith("__")):
                found.append(f"{where}: {node.func.id}(…, {name!r})")
    return found


def sources() -> list[Path]:
    return sorted((ROOT / "explorer").rglob("*.py")) + [ROOT / "app.py"]


def handles_gradio_objects(path: Path) -> bool:
    """app.py, explorer/ui/ and explorer/server/: the only modules that import gradio (docs/architecture.md)."""
    return path.name == "app.py" or path.parent.name in ("ui", "server")


def test_the_installed_versions_are_the_tested_ones():
    assert internals.check() == []


def test_an_untested_gradio_is_refused_with_what_to_do():
    with pytest.raises(internals.UntestedFramework, match=r"gradio 7\.0\.0 \(tested: 6\.31\.x.*requirements\.txt"):
        internals.check({"gradio": "7.0.0", "plotly": "7.1.0"}, environ={})
    with pytest.raises(internals.UntestedFramework, match="plotly is missing"):
        internals.check({"gradio": "6.31.2", "plotly": None}, environ={})
    assert internals.check({"gradio": "6.31.2", "plotly": "7.1.9"}, environ={}) == []


def test_the_override_starts_anyway_with_a_warning():
    with pytest.warns(RuntimeWarning, match="tested with other versions"):
        problems = internals.check({"gradio": "6.40.0", "plotly": "7.1.0"}, environ={internals.OVERRIDE: "1"})
    assert len(problems) == 1


def test_the_scan_sees_each_kind_of_touch():
    """The scan below would catch each way the app used to reach in (so that it can fail)."""
    touches = [
        "from gradio import route_utils", "from gradio.context import LocalContext",
        "from gradio.components.plot import PlotData", "import gradio.networking",
        "demo.fns[0].concurrency_id = 'x'", "demo._queue.push = push", "demo.process_api = checked",
        "data = evt._data", "data = getattr(evt, '_data', None)", "key = state._id", "gr.processing_utils.x()",
    ]
    for source in touches:
        assert private_touches(source), source
    assert private_touches("self._lock = 1\nimport gradio as gr\nfrom gradio import Error\nx.__name__") == []


def test_only_the_fence_touches_gradio_internals():
    assert private_touches(FENCE.read_text())  # the fence itself does
    outside = {path.relative_to(ROOT).as_posix(): private_touches(path.read_text(), handles_gradio_objects(path))
               for path in sources() if path != FENCE}
    assert {name: found for name, found in outside.items() if found} == {}


def test_every_file_that_touches_an_internal_is_listed():
    """The listed places exist, and the page's script touches Plotly's internals only where it is listed."""
    listed = {part.strip() for item in internals.INTERNALS for part in item.where.split(",")}
    for name in listed:
        assert (ROOT / "explorer" / name).is_file(), name
    assert listed == {"server/internals.py", "ui/scrub.js", "ui/keys.js"}
    plotly_private = re.compile(r"\._fullLayout|\._offset|\._length|\.l2p\b")
    scripts = {path.relative_to(ROOT / "explorer").as_posix() for path in (ROOT / "explorer").rglob("*.js")
               if plotly_private.search(path.read_text())}
    assert scripts <= listed, scripts - listed


def test_the_plotly_fallback_is_one_function():
    """scrub.js reads the curves' geometry through Plotly's public layout and the plot area's rectangle; its
    private reads sit in one function, used only when the public ones are missing."""
    text = (ROOT / "explorer" / "ui" / "scrub.js").read_text()
    script = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
    body = script.split("function privateAxes", 1)
    assert len(body) == 2, "no privateAxes fallback function"
    outside = body[0] + body[1].split("\n}\n", 1)[1]
    assert not re.search(r"\._fullLayout|\._offset|\._length|\.l2p\b", outside)


def test_harden_refuses_to_start_on_an_untested_gradio(monkeypatch):
    from explorer.server import lanes, limits

    monkeypatch.setattr(internals, "installed", lambda package: "9.9.9")
    monkeypatch.delenv(internals.OVERRIDE, raising=False)
    with pytest.raises(SystemExit, match="framework internals"):
        limits.harden(object(), lanes.Lanes())


# --- the fence decides nothing: no import circle through it (issue 30) ---------------------------------------------

def server_imports(sources: dict[str, str]) -> dict[str, set[str]]:
    """module name -> the explorer.server modules it imports (at any depth of the file), from their sources."""
    graph = {}
    for name, source in sources.items():
        found = set()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and node.module == "explorer.server":
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("explorer.server."):
                found.add(node.module.split(".")[2])
            elif isinstance(node, ast.Import):
                found |= {alias.name.split(".")[2] for alias in node.names
                          if alias.name.startswith("explorer.server.")}
        graph[name] = found & set(sources)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle of `graph`, each as the path that closes it."""
    found = []

    def walk(node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                found.append(path[path.index(nxt):] + [nxt])
            elif len(path) < len(graph):
                walk(nxt, path + [nxt])

    for start in sorted(graph):
        walk(start, [start])
    return found


def server_sources() -> dict[str, str]:
    return {path.stem: path.read_text() for path in (ROOT / "explorer" / "server").glob("*.py")
            if path.stem != "__init__"}


def test_the_server_has_no_import_circle_and_the_fence_imports_none_of_it():
    graph = server_imports(server_sources())
    assert graph["internals"] == set(), "internals.py applies what the lanes decide; it imports none of them"
    assert circles(graph) == []


def test_the_circle_guard_sees_a_planted_circle():
    planted = {**server_sources()}
    planted["internals"] += "\n\ndef planted():\n    from explorer.server.lanes import LONG_LANE\n"
    graph = server_imports(planted)
    assert graph["internals"] == {"lanes"}
    assert any(circle[0] == "internals" or "internals" in circle for circle in circles(graph))
