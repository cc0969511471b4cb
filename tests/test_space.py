"""`python -m explorer.space DIR --hardware …`: the folder's contents, its requirements, and the app starting from
it."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from explorer import space
from tests.server import _answers, _stop, free_port

STANDIN = Path(__file__).with_name("standin")


@pytest.fixture(scope="module", params=space.HARDWARE)
def written(request, tmp_path_factory) -> tuple[str, Path]:
    folder = tmp_path_factory.mktemp(request.param) / "space"
    subprocess.run([sys.executable, "-m", "explorer.space", str(folder), "--hardware", request.param],
                   cwd=space.ROOT, check=True, capture_output=True, timeout=120)
    return request.param, folder


def requirements(folder: Path) -> dict[str, Requirement]:
    found = {}
    for line in (folder / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith(("#", "--")):
            requirement = Requirement(line)  # raises on anything pip would not parse
            found.setdefault(requirement.name.lower(), requirement)
    return found


def test_the_folder_holds_the_app_the_package_and_the_weights_and_nothing_else(written):
    hardware, folder = written
    assert sorted(path.name for path in folder.iterdir()) == [".gitattributes", "README.md", "app.py", "explorer",
                                                              "requirements.txt", "weights"]
    shipped = {path.relative_to(folder / "weights") for path in (folder / "weights").rglob("*") if path.is_file()}
    source = {path.relative_to(space.ROOT / "weights") for path in (space.ROOT / "weights").rglob("*")
              if path.is_file() and not path.name.startswith(".")}
    assert shipped == source
    assert any(path.parts[0] == "study" for path in shipped) and any(path.parts[0] == "heldout" for path in shipped)
    assert (folder / "explorer" / "server" / "zerogpu.py").is_file()
    assert not list(folder.rglob("__pycache__")) and not list(folder.rglob("test_*.py"))
    assert not (folder / "tests").exists() and not (folder / "docs").exists()
    assert "*.safetensors filter=lfs" in (folder / ".gitattributes").read_text()


def test_the_readme_front_matter_fits_the_hardware(written):
    hardware, folder = written
    text = (folder / "README.md").read_text()
    front = dict(line.split(": ", 1) for line in text.split("---")[1].strip().splitlines() if ": " in line)
    assert front["sdk"] == "gradio" and front["app_file"] == "app.py" and front["python_version"] == '"3.11"'
    assert front["sdk_version"] == space.pins()["gradio"]
    assert front["suggested_hardware"] == ("zero-a10g" if hardware == "zerogpu" else "cpu-basic")


def test_the_requirements_parse_and_pin_the_project_versions(written):
    hardware, folder = written
    found = requirements(folder)
    project = space.pins()
    for name, version in project.items():
        assert name in found, f"{name} missing"
        assert str(found[name].specifier).lstrip("=").split("+")[0] == version
    text = (folder / "requirements.txt").read_text()
    if hardware == "zerogpu":
        assert str(found["spaces"].specifier) == f"=={space.SPACES_VERSION}"
        assert "download.pytorch.org/whl/cpu" not in text and "+cpu" not in text  # the CUDA build
    else:
        assert "spaces" not in found
        assert "--extra-index-url https://download.pytorch.org/whl/cpu" in text and "torch==" + project["torch"] + \
            "+cpu" in text


def test_the_app_starts_from_the_folder(written):
    hardware, folder = written
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": ""}
    if hardware == "zerogpu":
        env.update(PYTHONPATH=str(STANDIN), SPACES_ZERO_GPU="true")  # the stand-in `spaces` (no ZeroGPU here)
    log = folder.parent / "app.log"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "app.py"], cwd=folder, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        url, deadline = f"http://127.0.0.1:{port}/", time.monotonic() + 300
        while not _answers(url):
            assert process.poll() is None, f"the app died: {log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no answer in 300 s: {log.read_text()[-3000:]}"
            time.sleep(0.5)
    finally:
        _stop(process)


def test_an_unknown_hardware_or_a_full_folder_is_refused(tmp_path):
    with pytest.raises(ValueError, match="hardware must be one of"):
        space.requirements_text("t4-small")
    (tmp_path / "something").write_text("x")
    with pytest.raises(FileExistsError, match="not empty"):
        space.write_space(tmp_path, "cpu-basic")
