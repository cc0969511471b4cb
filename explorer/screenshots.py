"""Shrink browser screenshots into the small pictures the docs show: `python -m explorer.screenshots SRC DST`.

The browser tests write full-page PNGs when SCREENSHOT_DIR is set (a megabyte each). For docs/images/ each is
cropped to its content (the page's uniform margins go), cut to at most `max_height` pixels from the top, and
stored with a palette of `colours` colours: the text stays sharp (no resampling), the file shrinks ~10×, and a
refresh of the pictures adds tens of kilobytes to the repository instead of megabytes.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageChops

MAX_HEIGHT = 1400
COLOURS = 96


def shrink(source: Path, destination: Path, max_height: int = MAX_HEIGHT, colours: int = COLOURS) -> int:
    """Crop, cut and palette-encode one screenshot. Returns the size in bytes of what was written."""
    with Image.open(source) as opened:
        image = opened.convert("RGB")
    background = Image.new("RGB", image.size, image.getpixel((0, 0)))
    box = ImageChops.difference(image, background).getbbox()  # the content, without the uniform margins
    if box is not None:
        image = image.crop(box)
    image = image.crop((0, 0, image.width, min(image.height, max_height)))
    destination.parent.mkdir(parents=True, exist_ok=True)
    image.quantize(colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(destination, optimize=True)
    return destination.stat().st_size


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="a screenshot, or a folder of them (SCREENSHOT_DIR)")
    parser.add_argument("destination", type=Path, help="a file, or a folder (docs/images)")
    parser.add_argument("--names", nargs="*", help="only these file names from the source folder")
    parser.add_argument("--max-height", type=int, default=MAX_HEIGHT)
    parser.add_argument("--colours", type=int, default=COLOURS)
    args = parser.parse_args(argv)
    if args.source.is_dir():
        sources = sorted(p for p in args.source.glob("*.png") if not args.names or p.name in args.names)
        pairs = [(p, args.destination / p.name) for p in sources]
    else:
        pairs = [(args.source, args.destination / args.source.name if args.destination.is_dir() else args.destination)]
    if not pairs:
        raise SystemExit(f"no PNG screenshots in {args.source}")
    for source, destination in pairs:
        size = shrink(source, destination, args.max_height, args.colours)
        print(f"{destination}: {size / 1024:.0f} KiB (from {source.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
