"""Write a ready Hugging Face Space folder: `python -m explorer.space DIR --hardware zerogpu|cpu-basic [--push REPO]`.

The folder holds the app, the explorer package, the weights (study and held-out images included), requirements
for the hardware and a README whose front matter Spaces reads; nothing else (no tests, screenshots or docs).
- zerogpu (free accounts may host up to 2 such Spaces): torch's default-index build (CUDA on Linux) and `spaces`;
  long jobs run in `spaces.GPU` functions (explorer/server/zerogpu.py), single steps on the Space's CPU.
- cpu-basic (a paid plan): torch's CPU build, as requirements.txt installs it.
With `--push REPO` (and a token: --token or HF_TOKEN) it uploads the folder with `huggingface_hub`, which puts
binary files in the Hub's large-file storage.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HARDWARE = ("zerogpu", "cpu-basic")
SPACES_VERSION = "0.51.3"  # the version explorer/server/zerogpu.py was written against
GRADIO_VERSION = "6.31.0"
LARGE_FILES = ("*.safetensors", "*.png", "*.jpg", "*.jpeg", "*.gif", "*.webp")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
DESCRIPTION = "Why diffusion models use a U-Net, shown on live trained models"


def pins(requirements: Path = ROOT / "requirements.txt") -> dict[str, str]:
    """name → version pinned in requirements.txt (torch without its local `+cpu` tag)."""
    found = {}
    for line in requirements.read_text().splitlines():
        match = re.match(r"\s*([A-Za-z0-9_.\-]+)==([^\s;+]+)", line)
        if match:
            found.setdefault(match.group(1).lower(), match.group(2))
    return found


def requirements_text(hardware: str) -> str:
    """requirements.txt for the Space: the project's pins; torch's build and `spaces` by hardware."""
    if hardware not in HARDWARE:
        raise ValueError(f"hardware must be one of {', '.join(HARDWARE)}, not {hardware!r}")
    lines = []
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if hardware == "zerogpu" and (line.startswith("--extra-index-url") or line.startswith("torch==")):
            continue
        lines.append(line)
    if hardware == "zerogpu":
        torch = pins()["torch"]
        header = ("# ZeroGPU: torch's default-index build (CUDA on Linux; ZeroGPU needs PyTorch 2.8 or newer) and the "
                  "`spaces` package.\n")
        lines = [f"torch=={torch}", f"spaces=={SPACES_VERSION}"] + lines
    else:
        header = "# CPU basic: torch's CPU build from PyTorch's CPU index, as the project's requirements.txt.\n"
    return header + "\n".join(lines) + "\n"


def readme_text(hardware: str, title: str = "U-Net Explorer") -> str:
    front = [
        "---",
        f"title: {title}",
        "emoji: 🔬",
        "colorFrom: blue",
        "colorTo: purple",
        "sdk: gradio",
        f"sdk_version: {pins().get('gradio', GRADIO_VERSION)}",
        'python_version: "3.11"',
        "app_file: app.py",
        f"short_description: {DESCRIPTION}",
        "license: apache-2.0",
        f"suggested_hardware: {'zero-a10g' if hardware == 'zerogpu' else 'cpu-basic'}",
        "tags:",
        "  - diffusion",
        "  - u-net",
        "  - education",
        "  - explainer",
        "---",
    ]
    where = ("Runs on ZeroGPU: clicks and single steps on the Space's CPU; the reverse process, the strip of t "
             "values, the Part-by-part measurements, the frequency sweep and the per-image curve in GPU calls, "
             "counted against each visitor's daily GPU quota."
             if hardware == "zerogpu" else "Runs on CPU basic (2 vCPU): every view on the CPU.")
    return ("\n".join(front) + f"\n\n# {title}\n\n{DESCRIPTION}: two real networks trained on Noto emoji, a plain "
            f"CNN and a small time-conditioned U-Net, running live behind the page.\n\n{where}\n")


def write_space(folder: Path, hardware: str, weights: Path = ROOT / "weights") -> Path:
    """Write the Space into `folder` (created; it must be empty or absent). Returns the folder."""
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise FileExistsError(f"{folder} is not empty: give a new or empty folder")
    requirements = requirements_text(hardware)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "app.py", folder / "app.py")
    shutil.copytree(ROOT / "explorer", folder / "explorer", ignore=IGNORED)
    shutil.copytree(weights, folder / "weights", ignore=IGNORED)
    (folder / "requirements.txt").write_text(requirements)
    (folder / "README.md").write_text(readme_text(hardware))
    (folder / ".gitattributes").write_text("".join(f"{pattern} filter=lfs diff=lfs merge=lfs -text\n"
                                                   for pattern in LARGE_FILES))
    return folder


def push(folder: Path, repo: str, token: str, hardware: str) -> str:
    """Upload `folder` to the Space `repo` (created if needed); returns its URL."""
    try:
        from huggingface_hub import HfApi
    except ImportError as error:
        raise SystemExit("pushing needs huggingface_hub: pip install huggingface_hub") from error
    api = HfApi(token=token)
    api.create_repo(repo, repo_type="space", space_sdk="gradio", exist_ok=True,
                    space_hardware=None if hardware == "zerogpu" else hardware)
    api.upload_folder(folder_path=str(folder), repo_id=repo, repo_type="space",
                      commit_message=f"U-Net Explorer for {hardware}")
    return f"https://huggingface.co/spaces/{repo}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a ready Hugging Face Space folder for the explorer.")
    parser.add_argument("folder", type=Path, help="a new or empty folder to write the Space into")
    parser.add_argument("--hardware", choices=HARDWARE, required=True,
                        help="zerogpu (free accounts: up to 2 such Spaces) or cpu-basic (a paid plan)")
    parser.add_argument("--weights", type=Path, default=ROOT / "weights", help="the weights folder to ship")
    parser.add_argument("--push", metavar="OWNER/NAME", help="upload the folder to this Space (needs a token)")
    parser.add_argument("--token", default=None, help="a Hugging Face write token (default: $HF_TOKEN)")
    args = parser.parse_args(argv)
    folder = write_space(args.folder, args.hardware, args.weights)
    print(f"wrote the {args.hardware} Space to {folder}")
    if args.push:
        token = args.token or os.environ.get("HF_TOKEN")
        if not token:
            parser.error("--push needs a token: --token or HF_TOKEN")
        print(f"pushed: {push(folder, args.push, token, args.hardware)}")


if __name__ == "__main__":
    main()
