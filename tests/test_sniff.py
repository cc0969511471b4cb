"""Uploads are told apart by their first bytes, before any decoder runs (issue 29): an ICO holding a 9000×9000 PNG
is refused by name with resident memory unchanged, where Pillow's ICO plugin decoded it inside `Image.open`."""
from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib

import pytest
from PIL import Image

from explorer.data import ImageError, load_image, sniff_format
from tests.server import ROOT


def png_of_zeros(side: int) -> bytes:
    """A valid side×side RGB PNG of black pixels, written row by row (never the whole image in memory)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer, row, parts = zlib.compressobj(9), b"\x00" * (1 + 3 * side), []
    for _ in range(side):
        parts.append(packer.compress(row))
    parts.append(packer.flush())
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


def icon(png: bytes, kind: int = 1) -> bytes:
    """An ICO (kind 1) or CUR (kind 2) holding one PNG image that claims 256×256 in its directory."""
    return struct.pack("<HHH", 0, kind, 1) + struct.pack("<BBBBHHII", 0, 0, 0, 0, 1, 32, len(png), 22) + png


@pytest.mark.parametrize("kind,name", [(1, "ICO"), (2, "CUR")])
def test_icons_are_named_by_their_first_bytes(kind, name):
    data = icon(png_of_zeros(16), kind)
    assert sniff_format(data[:64]) == name
    with pytest.raises(ImageError, match="images are not accepted"):
        load_image(data)


def test_a_format_is_named_without_opening_it():
    for fmt in ("PNG", "JPEG", "GIF", "WEBP", "TIFF", "BMP"):
        data = io.BytesIO()
        Image.new("RGB", (8, 8)).save(data, fmt)
        assert sniff_format(data.getvalue()[:64]) == fmt
    assert sniff_format(b"hello, this is text") is None
    with pytest.raises(ImageError, match="not an image that can be read"):
        load_image(b"hello, this is text")


MEASURE = """
import resource, sys
sys.path.insert(0, {root!r})
from explorer.data import ImageError, load_image
data = open({path!r}, "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    load_image(data)
except ImageError as error:
    print(str(error))
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""


def test_an_ico_holding_a_9000_pixel_png_is_refused_within_50_mib(tmp_path):
    png = png_of_zeros(9000)
    path = tmp_path / "huge.ico"
    path.write_bytes(icon(png))
    assert path.stat().st_size < 400_000  # the file: 308 KB
    out = subprocess.run([sys.executable, "-c", MEASURE.format(root=str(ROOT), path=str(path))],
                         capture_output=True, text=True, timeout=120, check=True).stdout.splitlines()
    assert "ICO (icon) images are not accepted" in out[0]
    assert float(out[1]) <= 50, f"peak resident memory grew by {out[1]} MiB"
