"""Plain names for the emoji images, from their file names (the code points) and Unicode's own character names.

`1f353` is "strawberry", `00a9-fe0f` is "copyright sign"; a sequence joins its parts ("man + laptop").
An emoji newer than this Python's Unicode tables keeps its code as its name.
"""
from __future__ import annotations

import unicodedata
from functools import lru_cache

# Joiners and selectors that carry no name of their own.
SILENT = {0x200D, 0xFE0F, 0xFE0E, 0x20E3}
SKIN_TONES = {0x1F3FB: "light skin tone", 0x1F3FC: "medium-light skin tone", 0x1F3FD: "medium skin tone",
              0x1F3FE: "medium-dark skin tone", 0x1F3FF: "dark skin tone"}


@lru_cache(maxsize=4096)
def emoji_name(stem: str) -> str:
    """'1f353' → 'strawberry'; the stem itself when a code point is unknown or the stem is not hex codes."""
    try:
        points = [int(part, 16) for part in stem.split("-")]
    except ValueError:
        return stem
    parts = []
    for point in points:
        if point in SILENT:
            continue
        if point in SKIN_TONES:
            parts.append(SKIN_TONES[point])
            continue
        try:
            name = unicodedata.name(chr(point))
        except (ValueError, OverflowError):
            return stem
        if name.startswith("REGIONAL INDICATOR SYMBOL LETTER "):
            if parts and parts[-1].startswith("flag ") and len(parts[-1]) == 6:
                parts[-1] += name[-1]  # the second letter of a flag's country code
            else:
                parts.append("flag " + name[-1])
            continue
        parts.append(name.lower())
    return " + ".join(parts) or stem


def image_label(stem: str) -> str:
    """How the app names a held-out image in text: the name, then the file's code."""
    name = emoji_name(stem)
    return f"the {name} ({stem})" if name != stem else stem


def on_image(stem: str | None) -> str:
    """The words that say a number was measured on one image: "on this image, the strawberry (1f353)"."""
    return f"on this image, {image_label(stem)}" if stem else "on this image"
