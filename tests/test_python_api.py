"""docs/python-api.md: its example runs against the real app and prints numbers, and its table lists every endpoint.

The example is run as the reader would run it, a script in its own Python process, with the doc's URL
replaced by the test app's (tests/server.py starts `python app.py` on a free 127.0.0.1 port).
"""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.server import ROOT, api_client

DOC = ROOT / "docs" / "python-api.md"
DOC_URL = "http://127.0.0.1:7860/"
MEASURED = re.compile(r"[-+]?\d+\.\d+")  # a measurement (a count or t alone could be typed into the doc)


def example_code() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert len(blocks) == 1, f"{DOC.name} should hold one ```python example (the one this test runs), not {len(blocks)}"
    return blocks[0]


def test_the_example_prints_numbers(app_url, tmp_path):
    code = example_code()
    assert DOC_URL in code, f"the example should connect to {DOC_URL} (the URL `python app.py` prints)"
    script = tmp_path / "example.py"
    script.write_text(code.replace(DOC_URL, app_url))
    try:
        run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                             timeout=300)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the example in {DOC.name} did not finish within 300 s")
    assert run.returncode == 0, f"the example in {DOC.name} failed:\n{run.stderr[-3000:]}"
    lines = run.stdout.strip().splitlines()
    assert len(lines) >= 5, f"the example printed too little:\n{run.stdout}"
    assert "<" not in run.stdout and len(run.stdout) < 3000, f"the example printed HTML:\n{run.stdout[:500]}"
    unnumbered = [line for line in lines if not re.search(r"\d", line)]
    assert not unnumbered, f"every line the example prints should carry a number: {unnumbered}"
    assert len(MEASURED.findall(run.stdout)) >= 10, f"the example printed few measurements:\n{run.stdout}"


def test_the_table_lists_every_endpoint(app_url):
    text = DOC.read_text()
    api = api_client(app_url).view_api(return_format="dict", print_info=False)["named_endpoints"]
    missing = sorted(name for name in api if f"`{name}`" not in text)
    assert not missing, f"describe {missing} in the endpoint table of {DOC.name}"
    for name, info in api.items():
        for param in info["parameters"]:
            name_in_doc = f"`{param['parameter_name']}`"
            assert name_in_doc in text, f"{name}'s parameter {name_in_doc} is not in {DOC.name}"
