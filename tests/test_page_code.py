"""The page's JavaScript and CSS live in .js/.css files beside the Python that loads them (explorer/ui/, explorer/):
no Python string holds a script or a style sheet, however short, and a view's HTML sets no fixed look in a `style`
attribute (only CSS custom properties, `style="--w:64px"`, which the CSS files read). Each guard has a companion that
plants the violation and shows the guard fails."""
from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "explorer"

# What only a script says: an arrow function, a DOM call, a declaration, an event listener.
SCRIPT = re.compile(r"=>|\bfunction\s*\(|\bdocument\.|\bwindow\.|addEventListener|querySelector"
                    r"|\b(const|let|var)\s+\w+\s*=")
# What only a style sheet says: a rule, selector { property: value }.
STYLE_RULE = re.compile(r"[\w#.\]\)*-]\s*\{\s*[a-z-]+\s*:[^}]*\}")
STYLE_ATTRIBUTE = re.compile(r"""style\s*=\s*(["'])(.*?)\1""", re.DOTALL)


def string_texts(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string literal of a module with its line, an f-string with each {…} read as 0; docstrings left out."""
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    inside_fstrings = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
    texts = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            texts.append((node.lineno, "".join(part.value if isinstance(part, ast.Constant) else "0"
                                               for part in node.values)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings \
                and id(node) not in inside_fstrings:
            texts.append((node.lineno, node.value))
    return texts


def page_code(source: str) -> list[str]:
    """What a Python module's strings hold that belongs in a .js or .css file."""
    found = []
    for line, text in string_texts(ast.parse(source)):
        if SCRIPT.search(text):
            found.append(f"line {line}: a script: {text[:60]!r}")
        if STYLE_RULE.search(text):
            found.append(f"line {line}: a style sheet: {text[:60]!r}")
        for _, declarations in STYLE_ATTRIBUTE.findall(text):
            fixed = [part.strip() for part in re.split(r";(?![^(]*\))", declarations)  # not inside url(…)
                     if part.strip() and not part.strip().startswith("--")]
            if fixed:
                found.append(f"line {line}: a fixed look in a style attribute: {'; '.join(fixed)[:60]!r}")
    return found


def unloaded(folder_files: list[Path]) -> list[Path]:
    """The .js/.css files that no Python module beside them reads (`with_name("<file>")`)."""
    return [page_file for page_file in folder_files
            if not any(f'with_name("{page_file.name}")' in py.read_text() for py in page_file.parent.glob("*.py"))]


def test_no_python_string_holds_page_code():
    found = {py.relative_to(ROOT).as_posix(): page_code(py.read_text()) for py in sorted(PACKAGE.rglob("*.py"))}
    assert not {path: problems for path, problems in found.items() if problems}


def test_the_page_code_guard_catches_one_line_scripts_style_sheets_and_style_attributes():
    planted = '''
FOLLOW_JS = "(name) => SPATIAL.includes(name) ? name : undefined"
PRESS = "document.getElementById('x').click()"
SHEET = "#views .tab { display: none; }"
def picture(width, data):
    return (f'<div class="frame" style="position: relative; width: {width}px">'
            '<span style="color: #4b5563">'
            f'<img src="data:image/png;base64,{data}" style="--w:{width}px;--exact:url(data:image/png;base64,{data})">')
'''
    found = page_code(planted)
    assert [problem.split(":")[0] for problem in found] == ["line 2", "line 3", "line 4", "line 6", "line 6"], found
    assert "position: relative; width: 0px" in found[3] and "color: #4b5563" in found[4]
    docstring_only = page_code('"""A docstring may say (x) => x and style="color: red"."""\nTEXT = "t => 0"\n')
    assert [problem.split(":")[0] for problem in docstring_only] == ["line 2"]
    assert page_code('NOTE = "Pick a block, then press Enter {twice}"\nLABEL = f"t = {1}: style"\n') == []


def test_every_page_file_is_loaded_by_the_module_beside_it():
    page_files = sorted(p for p in PACKAGE.rglob("*") if p.suffix in (".js", ".css"))
    assert page_files
    assert not unloaded(page_files), unloaded(page_files)


def test_the_loader_guard_catches_a_page_file_nobody_reads(tmp_path):
    (tmp_path / "tab.py").write_text('CSS = Path(__file__).with_name("tab.css").read_text()\n')
    (tmp_path / "tab.css").write_text("a { color: red; }\n")
    (tmp_path / "orphan.js").write_text("() => 1\n")
    assert unloaded([tmp_path / "tab.css", tmp_path / "orphan.js"]) == [tmp_path / "orphan.js"]


def test_page_files_are_found_from_another_working_directory(tmp_path):
    code = ("from explorer.ui import app, refresh, scrub; css = app.launch_options()['css']; "
            "assert '#reverse-gif' in css and '#lesson-nav' in css and '.sbs-tile' in scrub.VIEW_CSS; "
            "assert '.pixel-figures' in css; "
            "assert 'window.__explorerDrag' in refresh.press_shown(['denoising']); "
            "assert 'const pressButton' in refresh.press_shown(['denoising'])")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRADIO_ANALYTICS_ENABLED": "False"}
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, env=env, timeout=300)
