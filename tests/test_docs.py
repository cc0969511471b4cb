"""The docs' pictures stay small and referenced, and the screenshot shrinker does what it says."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

from PIL import Image

from explorer.screenshots import shrink

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
BUDGET = 1_200_000  # bytes for all of docs/images together
EACH = 250_000


def test_the_docs_pictures_stay_within_their_budget():
    pictures = sorted(IMAGES.glob("*.png"))
    assert pictures, "docs/images holds the README's pictures"
    sizes = {path.name: path.stat().st_size for path in pictures}
    assert sum(sizes.values()) <= BUDGET, sizes
    assert max(sizes.values()) <= EACH, sizes
    for path in pictures:
        with Image.open(path) as image:
            assert image.mode == "P", f"{path.name} is not palette-encoded: run python -m explorer.screenshots"


def test_every_picture_is_shown_somewhere_and_every_shown_picture_exists():
    texts = [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    shown = set()
    for path in texts:
        for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", path.read_text()):
            target = (path.parent / link).resolve()
            assert target.is_file(), (path.name, link)
            shown.add(target)
    assert {p.resolve() for p in IMAGES.glob("*.png")} <= shown


def test_no_test_writes_screenshots_into_tracked_files():
    tracked = subprocess.run(["git", "ls-files", "tests"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not tracked:  # not a git checkout (an exported tree): nothing to check
        return
    assert not [name for name in tracked if name.endswith(".png")]


def test_shrink_crops_margins_and_uses_a_palette(tmp_path):
    page = Image.new("RGB", (400, 3000), "white")
    for x in range(50, 350):
        for y in range(100, 2000, 7):
            page.putpixel((x, y), (x % 256, y % 256, 90))
    source = tmp_path / "page.png"
    page.save(source)
    size = shrink(source, tmp_path / "small.png", max_height=500, colours=32)
    with Image.open(tmp_path / "small.png") as small:
        assert small.mode == "P" and small.size == (300, 500)
        assert len(small.getcolors(256)) <= 32
    assert size == (tmp_path / "small.png").stat().st_size
