"""The tree as docs/architecture.md describes it, and the package's independence from the tests."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "explorer"


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name not in ("__init__.py", "__main__.py"))


def test_every_module_is_in_the_architecture_doc():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    missing = []
    for module in modules():
        folder = module.parent.relative_to(PACKAGE).as_posix()
        # A module is named by its file (`views/study.py`, or `study.py` in a row of its folder's modules), or a
        # whole package by its folder (`explorer/study/`).
        named = f"{module.name}`" in doc or (folder != "." and f"`explorer/{folder}/`" in doc)
        if not named:
            missing.append(module.relative_to(ROOT).as_posix())
    assert not missing, f"docs/architecture.md does not name {missing}"


def test_the_package_imports_nothing_from_the_tests():
    importing = [p.relative_to(ROOT).as_posix() for p in PACKAGE.rglob("*.py")
                 if re.search(r"^\s*(from tests\b|import tests\b)", p.read_text(), re.MULTILINE)]
    assert not importing, importing
