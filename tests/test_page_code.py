"""The page's JavaScript and CSS live in .js/.css files beside the Python that loads them (explorer/ui/, explorer/)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE_FILES = sorted(p for p in (ROOT / "explorer").rglob("*") if p.suffix in (".js", ".css"))


def test_every_page_file_is_loaded_by_the_module_beside_it():
    assert PAGE_FILES
    for page_file in PAGE_FILES:
        loaders = [py for py in page_file.parent.glob("*.py") if f'with_name("{page_file.name}")' in py.read_text()]
        assert loaders, f"{page_file.relative_to(ROOT)} is loaded by no module beside it"


def test_no_python_string_holds_page_code():
    # A triple-quoted string that opens with JavaScript or CSS, e.g. `X_JS = """` or `CSS = f"""`.
    pattern = re.compile(r'^[A-Z_]*(JS|CSS)\s*=\s*f?"""', re.MULTILINE)
    for py in (ROOT / "explorer").rglob("*.py"):
        assert not pattern.search(py.read_text()), f"{py.relative_to(ROOT)} keeps page code in a string"


def test_page_files_are_found_from_another_working_directory(tmp_path):
    code = ("from explorer.ui import app, refresh, scrub; css = app.launch_options()['css']; "
            "assert '#reverse-gif' in css and '#lesson-nav' in css and '.sbs-tile' in scrub.VIEW_CSS; "
            "assert 'window.__explorerDrag' in refresh.press_shown(['denoising'])")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRADIO_ANALYTICS_ENABLED": "False"}
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, env=env, timeout=300)
