"""The emoji data: fetching and preparing it, the held-out split, and loading any image.

`python -m explorer.data prepare` fetches the npm package `emoji-datasource-google`
(Noto emoji, Apache-2.0), composites its 64×64 RGBA images on white and writes them to
`data/emoji/`. Any folder of images works for training: `ImageFolder` loads it.

The split: a hash of the file name sets about 6 % of the emoji aside (`hashed_out`); the rest train.
`python -m explorer.data check-split` then compares every set-aside image with every training image
and its left-right mirror (training flips images); the near copies it finds are listed in
weights/heldout_excluded.json and belong to neither split (`is_held_out`, `is_training`).
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import io
import json
import re
import shutil
import subprocess
import tarfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from explorer.memory import give_back

PACKAGE = "emoji-datasource-google"
PACKAGE_VERSION = "16.0.0"
IMAGE_FOLDER_IN_PACKAGE = "package/img/google/64/"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
SKIN_TONES = {"1f3fb", "1f3fc", "1f3fd", "1f3fe", "1f3ff"}
HELD_OUT_PERCENT = 6
EXCLUDED_FILE = Path(__file__).resolve().parent.parent / "weights" / "heldout_excluded.json"
# image_distance at or below which a set-aside image counts as a copy of a training image (or its mirror). On the
# emoji the distances fall in two groups: copies differ by resampling only (at most 0.1 grey levels), the closest
# distinct emoji are 2.9 apart (1f600 and 1f603). 1.0 sits in the gap, ten times above the largest copy.
NEAR_COPY_DISTANCE = 1.0
MAX_PIXELS = 90_000_000       # what an image may claim in its header (a JPEG is decoded scaled down)
DECODE_BUDGET = 160 * 2**20   # bytes one decode may allocate: a 40-megapixel RGB PNG, any JPEG photo
LARGE_DECODE = 16 * 2**20     # decodes above this run one at a time, and give their memory back after
# Formats taken, told apart by their content (Pillow's own identification), never by the file's name. HEIF
# counts when a plugin (pillow-heif) registers it. The rest (JPEG 2000, ICO/CUR, PSD, TGA …) are refused by their
# first bytes (`sniff_format`), before any decoder runs: JPEG 2000 took +720 MiB and seconds of CPU from a 3 KB file,
# an ICO decodes the largest image it holds whatever its header says.
ACCEPTED_FORMATS = ("PNG", "JPEG", "MPO", "GIF", "WEBP", "TIFF", "BMP", "AVIF", "HEIF")
ACCEPTED_TEXT = "PNG, JPEG, GIF, WebP, TIFF, BMP or AVIF"
FORMAT_NAMES = {"JPEG2000": "JPEG 2000", "ICO": "ICO (icon)", "CUR": "CUR (cursor)", "ICNS": "ICNS (icon)",
                "PSD": "Photoshop (PSD)", "EPS": "EPS", "TGA": "TGA", "PCX": "PCX", "DDS": "DDS", "QOI": "QOI"}
# Bytes per pixel that a format's decoder allocates beyond Pillow's image (measured at 3000×3000 and 2000×2000:
# WebP 16.7 and AVIF 10.7 bytes per pixel at the peak, where Pillow's RGB image is 4).
DECODER_EXTRA = {"WEBP": 13, "AVIF": 7, "HEIF": 7}
RLE_BMP_PIXELS = 1_000_000    # Pillow decodes RLE BMPs in Python, up to ~0.2 µs a pixel: 9000×9000 took 15 s


class ImageError(ValueError):
    """An input that cannot be used as an image; the message says why, for the user."""


def split_key(name: str) -> str:
    """The part of a file name that decides its split: skin-tone variants of one emoji share it."""
    stem = Path(name).stem.lower()
    return "-".join(part for part in stem.split("-") if part not in SKIN_TONES)


def hashed_out(name: str, percent: int = HELD_OUT_PERCENT) -> bool:
    """The first rule of the split: a hash of the file name (skin tones removed) puts `percent` % of names aside."""
    digest = hashlib.sha256(split_key(name).encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < percent


@functools.lru_cache(maxsize=8)
def excluded_names(path: Path = EXCLUDED_FILE) -> frozenset[str]:
    """Names that the hash set aside but that are near-copies of a training image: in neither split."""
    if not Path(path).is_file():
        return frozenset()
    return frozenset(entry["name"] for entry in json.loads(Path(path).read_text())["excluded"])


def is_training(name: str, percent: int = HELD_OUT_PERCENT) -> bool:
    """In the training split: every name the hash does not set aside (the split the shipped models trained on)."""
    return not hashed_out(name, percent)


def is_held_out(name: str, percent: int = HELD_OUT_PERCENT) -> bool:
    """In the held-out split: set aside by the hash and not excluded as a near-copy of a training image."""
    return hashed_out(name, percent) and Path(name).name not in excluded_names()


def image_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference per pixel and channel, on the 0–255 scale, over the last three dimensions.

    a, b: (..., 3, H, W) uint8 or float images, broadcast against each other. 0 means identical;
    one grey level everywhere is 1.
    """
    return (a.float() - b.float()).abs().mean(dim=(-3, -2, -1))


@dataclass
class Nearest:
    """For each query image: its nearest reference image (or that image's left-right mirror)."""

    distance: torch.Tensor  # (Q,) image_distance to it
    index: torch.Tensor     # (Q,) index into the reference images
    mirrored: torch.Tensor  # (Q,) bool: the mirror was the nearer one


def nearest_images(query: torch.Tensor, reference: torch.Tensor, mirror: bool = True, chunk: int = 256) -> Nearest:
    """The exact nearest reference image of every query image under `image_distance`, mirrors included.

    query (Q, 3, H, W), reference (R, 3, H, W). Comparing every pair at full size costs minutes for the
    emoji, so a cheap lower bound prunes first: the distance between 4×4 block means never exceeds
    the full distance, and only references whose bound beats the best distance found so far are compared.
    """
    q, r = query.float(), reference.float()
    if mirror:
        r = torch.cat([r, r.flip(-1)])
    factor = 4 if q.shape[-1] % 4 == 0 and q.shape[-2] % 4 == 0 else 1
    pool = torch.nn.functional.avg_pool2d
    q_small, r_small = pool(q, factor).flatten(1), pool(r, factor).flatten(1)
    bound = torch.cdist(q_small, r_small, p=1) / q_small.shape[1]  # (Q, R or 2R)
    distance = torch.empty(len(q))
    index = torch.empty(len(q), dtype=torch.long)
    for i in range(len(q)):
        order = bound[i].argsort()
        best, best_index = float("inf"), -1
        for start in range(0, len(order), chunk):
            candidates = order[start:start + chunk]
            candidates = candidates[bound[i, candidates] < best]
            if len(candidates) == 0:
                break
            d = image_distance(r[candidates], q[i])
            j = int(d.argmin())
            if float(d[j]) < best:
                best, best_index = float(d[j]), int(candidates[j])
        distance[i], index[i] = best, best_index
    count = len(reference)
    return Nearest(distance, index % count, index >= count)


def composite_on_white(image: Image.Image) -> Image.Image:
    """Any PIL image → RGB, transparent parts on white."""
    if image.mode in ("RGBA", "LA", "P", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if array.max() > 255 else 255.0
        return Image.fromarray(np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8)).convert("RGB")
    if image.mode == "F":
        array = np.asarray(image, dtype=np.float64)
        span = max(array.max() - array.min(), 1e-12)
        return Image.fromarray(((array - array.min()) / span * 255.0 + 0.5).astype(np.uint8)).convert("RGB")
    return image.convert("RGB")


# Pillow keeps 3- and 4-band images at 4 bytes a pixel; these modes take less.
BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
EXIF_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
                  4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270,
                  7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}
WORK_SCALE = 4  # the centre square is first shrunk to WORK_SCALE × size, then filtered down to size
_LARGE_DECODES = threading.Lock()  # one large decode at a time: concurrent uploads cannot add up their peaks


def _needs_rgba(image: Image.Image) -> bool:
    """Palette, 1-bit and transparent images are converted to RGBA at full size before they are shrunk."""
    return image.mode in ("1", "P", "PA") or "transparency" in image.info


def decode_cost(image: Image.Image, full_size: tuple[int, int] | None = None) -> int:
    """Bytes that decoding and shrinking `image` (opened, not yet loaded) allocates at its peak.

    full_size: the size before `draft` scaled a JPEG down (libjpeg still reads it at full size).
    """
    width, height = image.size
    pixels = width * height
    cost = pixels * BYTES_PER_PIXEL.get(image.mode, 4)
    if _needs_rgba(image):
        cost += pixels * 4
    if _needs_rgba(image) or image.mode in ("RGBA", "LA"):
        cost += pixels * 4  # resize premultiplies alpha into a copy (RGBa, La)
    cost += pixels * DECODER_EXTRA.get(image.format, 0)
    if image.format in ("JPEG", "MPO") and image.info.get("progressive"):
        # libjpeg keeps every DCT coefficient (2 bytes) of a progressive JPEG at full resolution, even when
        # draft() scales the output: per component, 2 bytes per pixel times its share of the samples.
        full_width, full_height = full_size or image.size
        sampling = [layer[1] * layer[2] for layer in getattr(image, "layer", [])] or [1]  # (id, h, v, table)
        cost += 2 * full_width * full_height * sum(sampling) // max(sampling)
    return cost


def _without_paths(text: str) -> str:
    """An error's text without the absolute paths in it: messages reach the user, the server's folders do not."""
    return re.sub(r"(?<![\w.:/])/(?:[^\s'\"/]+/)+[^\s'\"]*", "…", text)


# The first bytes of each format: an upload is told apart by these before any decoder runs (Pillow's ICO plugin
# decodes the largest image an icon holds inside `Image.open`: a 308 KB ICO holding a 9000×9000 PNG took +616 MiB).
SIGNATURES = (
    (0, b"\x89PNG\r\n\x1a\n", "PNG"), (0, b"\xff\xd8\xff", "JPEG"), (0, b"GIF87a", "GIF"), (0, b"GIF89a", "GIF"),
    (0, b"II*\x00", "TIFF"), (0, b"MM\x00*", "TIFF"), (0, b"II+\x00", "TIFF"), (0, b"MM\x00+", "TIFF"),
    (0, b"BM", "BMP"),
    (0, b"icns", "ICNS"),
    (0, b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG2000"), (0, b"\xff\x4f\xff\x51", "JPEG2000"),
    (0, b"8BPS", "PSD"), (0, b"%!PS", "EPS"), (0, b"\xc5\xd0\xd3\xc6", "EPS"), (0, b"DDS ", "DDS"),
    (0, b"qoif", "QOI"),
)
AVIF_BRANDS = {b"avif", b"avis"}
HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
SNIFF_BYTES = 64


def sniff_format(head: bytes) -> str | None:
    """The format the first bytes of a file announce (Pillow's names: "PNG", "ICO" …), or None when they announce
    none this app knows. Reads nothing but `head`."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp":  # ISO media: the major brand, then the compatible ones, in the ftyp box
        size = int.from_bytes(head[:4], "big")
        brands = {head[8:12]} | {head[i:i + 4] for i in range(16, min(size, len(head)) - 3, 4)}
        if brands & AVIF_BRANDS:
            return "AVIF"
        if brands & HEIF_BRANDS:
            return "HEIF"
        return None
    if head[:4] in (b"\x00\x00\x01\x00", b"\x00\x00\x02\x00") and int.from_bytes(head[4:6], "little") > 0:
        return "ICO" if head[2] == 1 else "CUR"  # reserved 0, type 1 or 2, then at least one image
    if head[:1] == b"\x0a" and head[1:2] in (b"\x00", b"\x02", b"\x03", b"\x04", b"\x05") and head[2:3] == b"\x01":
        return "PCX"
    for offset, magic, name in SIGNATURES:
        if head[offset:offset + len(magic)] == magic:
            return name
    if len(head) >= 18 and head[1] in (0, 1) and head[2] in (1, 2, 3, 9, 10, 11) and head[16] in (1, 8, 15, 16, 24, 32):
        return "TGA"  # no magic of its own: its header's fields, only to name it in the refusal
    return None


def _head(source) -> bytes:
    """The first SNIFF_BYTES of a path or file object, leaving a file object where it was."""
    if hasattr(source, "read"):
        where = source.tell()
        head = source.read(SNIFF_BYTES)
        source.seek(where)
        return head
    with open(source, "rb") as file:
        return file.read(SNIFF_BYTES)


def _open(source) -> Image.Image:
    """Open `source` with the one decoder its first bytes name, when that format is accepted; refuse it unopened
    otherwise (a refused format by its name)."""
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    try:
        found = sniff_format(_head(source))
        Image.init()  # every plugin registered: the formats below must be known to Image.open
        if found in ("JPEG", "MPO"):
            formats = [name for name in ("JPEG", "MPO") if name in Image.OPEN]
        else:
            formats = [found] if found in ACCEPTED_FORMATS and found in Image.OPEN else []
        if not formats:
            if found:
                raise ImageError(f"{FORMAT_NAMES.get(found, found)} images are not accepted: save it as "
                                 f"{ACCEPTED_TEXT}")
            raise ImageError(f"this file is not an image that can be read ({ACCEPTED_TEXT})")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(source, formats=formats)
    except FileNotFoundError:
        raise ImageError("the file is no longer on the server: upload it again") from None
    except UnidentifiedImageError:
        raise ImageError(f"this file is not an image that can be read ({ACCEPTED_TEXT})") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"this image is too large: at most {MAX_PIXELS // 1_000_000} megapixels") from None
    except OSError as error:
        reason = error.strerror or _without_paths(str(error)) or type(error).__name__
        raise ImageError(f"this file could not be read as an image ({reason})") from None


def load_image(source, size: int = 64) -> Image.Image:
    """Open an image of any mode and size and return it as an RGB `size`×`size` PIL image.

    source: a path, bytes, a file object or a PIL image. EXIF rotation is applied,
    transparency goes on white, the largest centred square is kept and resized.
    Decoding stays within DECODE_BUDGET bytes: a JPEG is decoded at a reduced scale (`draft`), the square
    is shrunk straight from the decoded image, and an image that would need more is refused unread.
    Raises ImageError with a message for the user when the input is not a usable image.
    """
    if source is None:
        raise ImageError("no image was given: pick an example or upload a picture")
    image = _open(source)
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageError("this image is empty")
    if width * height > MAX_PIXELS:
        raise ImageError(f"this image is too large ({width}×{height}): at most {MAX_PIXELS // 1_000_000} megapixels")
    try:
        image.seek(0)  # animated images: the first frame
    except (AttributeError, EOFError):
        pass
    if image.format == "BMP" and image.info.get("compression") in (1, 2) and width * height > RLE_BMP_PIXELS:
        raise ImageError(f"this BMP is run-length compressed ({width}×{height}), which decodes slowly: at most "
                         f"{RLE_BMP_PIXELS // 1_000_000} megapixel; save it as PNG")
    work = size * WORK_SCALE
    if image.format in ("JPEG", "MPO") and min(width, height) >= 2 * work:
        image.draft(image.mode, (work, work))  # decode at 1/2, 1/4 or 1/8 scale, still at least `work` wide
    cost = decode_cost(image, (width, height))
    if cost > DECODE_BUDGET:
        width, height = image.size
        raise ImageError(f"this image is too large: decoding {width}×{height} pixels ({image.format} "
                         f"{image.mode}) would take "
                         f"{cost / 2**20:.0f} MB, more than the {DECODE_BUDGET // 2**20} MB allowed; "
                         "save it smaller or as a JPEG")
    try:
        with _LARGE_DECODES if cost > LARGE_DECODE else contextlib.nullcontext():
            orientation = image.getexif().get(0x0112) if hasattr(image, "getexif") else None
            image.load()
            if _needs_rgba(image):
                image = image.convert("RGBA")
            side = min(image.size)
            left, top = (image.width - side) // 2, (image.height - side) // 2
            box = (left, top, left + side, top + side)
            if side > work:  # area average straight from the decoded image: no full-size copy
                image = image.resize((work, work), Image.BOX, box=box)
            else:
                image = image.crop(box)
        if orientation in EXIF_TRANSPOSE:  # the centre square of the turned image is the turned centre square
            image = image.transpose(EXIF_TRANSPOSE[orientation])
        rgb = composite_on_white(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ImageError("this image is damaged or truncated and could not be decoded "
                         f"({_without_paths(str(error))[:200]})") from None
    finally:
        if cost > LARGE_DECODE:
            image = None
            give_back()  # the freed pixels would stay in malloc's arena: the process kept its peak
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.LANCZOS if rgb.width > size else Image.BICUBIC)
    return rgb


def to_tensor(image: Image.Image) -> torch.Tensor:
    """RGB PIL image → (3, H, W) float tensor in [-1, 1]."""
    array = np.asarray(image, dtype=np.float32) / 127.5 - 1.0  # (H, W, 3)
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def image_digest(image: np.ndarray) -> str:
    """A fingerprint of an (H, W, 3) uint8 image: equal pictures, equal digests."""
    return hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest()


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(3, H, W) tensor in [-1, 1] → (H, W, 3) uint8 array."""
    return ((x.detach().float().clamp(-1, 1) + 1.0) * 127.5 + 0.5).to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


@dataclass
class ImageFolder:
    """All images of a folder, as one uint8 tensor (N, 3, H, W), split into train or held-out."""

    folder: Path
    split: str = "train"  # "train", "heldout" or "all"
    size: int = 64

    def __post_init__(self) -> None:
        if self.split not in ("train", "heldout", "all"):
            raise ValueError(f"unknown split {self.split!r}: use train, heldout or all")
        paths = list_images(self.folder)
        if self.split == "train":
            paths = [p for p in paths if is_training(p.name)]
        elif self.split == "heldout":
            paths = [p for p in paths if is_held_out(p.name)]
        if not paths:
            raise ValueError(f"no {self.split} images found in {self.folder}")
        self.paths = paths
        self.images = torch.from_numpy(np.stack([np.asarray(load_image(p, self.size)) for p in paths]))
        self.images = self.images.permute(0, 3, 1, 2).contiguous()  # (N, 3, H, W) uint8

    def __len__(self) -> int:
        return len(self.paths)

    def tensors(self) -> torch.Tensor:
        """All images as (N, 3, H, W) floats in [-1, 1]."""
        return self.images.float() / 127.5 - 1.0

    def batch(self, batch_size: int, generator: torch.Generator, flip: bool = True) -> torch.Tensor:
        """A random batch (B, 3, H, W) in [-1, 1], each image flipped left-right with probability 1/2."""
        index = torch.randint(len(self), (batch_size,), generator=generator)
        x = self.images[index].float() / 127.5 - 1.0
        if flip:
            flips = torch.rand(batch_size, generator=generator) < 0.5
            x[flips] = x[flips].flip(-1)
        return x


def prepare(dest: Path, cache: Path, heldout_dest: Path | None = None) -> int:
    """Fetch the npm package (unless cached), write RGB-on-white PNGs to `dest`. Returns the count."""
    cache.mkdir(parents=True, exist_ok=True)
    tarball = cache / f"{PACKAGE}-{PACKAGE_VERSION}.tgz"
    if not tarball.exists():
        if shutil.which("npm") is None:
            raise SystemExit("npm is needed to fetch the emoji images: install Node.js, or put "
                             f"{tarball.name} (from `npm pack {PACKAGE}@{PACKAGE_VERSION}`) into {cache}")
        subprocess.run(["npm", "pack", f"{PACKAGE}@{PACKAGE_VERSION}", "--silent"], cwd=cache, check=True)
    dest.mkdir(parents=True, exist_ok=True)
    count = 0
    with tarfile.open(tarball) as archive:
        for member in archive.getmembers():
            wanted = member.name.startswith(IMAGE_FOLDER_IN_PACKAGE) and member.name.endswith(".png")
            if not (member.isfile() and wanted):
                continue
            name = Path(member.name).name
            image = composite_on_white(Image.open(io.BytesIO(archive.extractfile(member).read())))
            image.save(dest / name, optimize=True)
            count += 1
    if heldout_dest is not None:
        heldout_dest.mkdir(parents=True, exist_ok=True)
        for path in list_images(dest):
            if is_held_out(path.name):
                shutil.copyfile(path, heldout_dest / path.name)
    return count


def check_split(folder: Path, threshold: float = NEAR_COPY_DISTANCE) -> dict:
    """Compare every image the hash sets aside with every training image and its mirror.

    folder: all the images (e.g. data/emoji). Returns {"threshold", "training_images", "set_aside": [entry],
    "near_copies": [entry], "leaks": [names]}, entries {"name", "nearest_training_image", "mirrored",
    "distance"} sorted by distance; near_copies are the entries within `threshold`, leaks the near copies
    that the held-out split still contains (they should be excluded).
    """
    paths = list_images(folder)
    train = [p for p in paths if is_training(p.name)]
    aside = [p for p in paths if hashed_out(p.name)]

    def stack(chosen: list[Path]) -> torch.Tensor:
        return torch.from_numpy(np.stack([np.asarray(load_image(p)) for p in chosen])).permute(0, 3, 1, 2)

    nearest = nearest_images(stack(aside), stack(train))
    entries = sorted(({"name": path.name, "nearest_training_image": train[int(j)].name, "mirrored": bool(m),
                       "distance": round(float(d), 4)}
                      for path, d, j, m in zip(aside, nearest.distance, nearest.index, nearest.mirrored)),
                     key=lambda entry: (entry["distance"], entry["name"]))
    near = [entry for entry in entries if entry["distance"] <= threshold]
    return {"threshold": threshold, "training_images": len(train), "set_aside": entries, "near_copies": near,
            "leaks": [entry["name"] for entry in near if is_held_out(entry["name"])]}


def write_exclusions(report: dict, heldout_folder: Path, path: Path = EXCLUDED_FILE) -> None:
    """Record the near copies in `path` and delete them from the shipped held-out folder."""
    kept = [entry for entry in report["set_aside"] if entry["distance"] > report["threshold"]]
    record = {
        "what": "Images that the name hash set aside for the held-out split but that are near copies of a "
                "training image or of its left-right mirror (training flips images). They are in neither "
                "split: the models never trained on them, but they would not test generalisation either.",
        "distance": "mean absolute difference per pixel and colour channel, 0-255 scale, 64x64 RGB on white; "
                    "the smaller of the distances to the training image and to its mirror",
        "threshold": report["threshold"],
        "command": "python -m explorer.data check-split --fix",
        "training_images": report["training_images"],
        "heldout_images": len(kept),
        "closest_kept": kept[0] if kept else None,
        "excluded": report["near_copies"],
    }
    path.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    excluded_names.cache_clear()
    for entry in report["near_copies"]:
        (Path(heldout_folder) / entry["name"]).unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Fetch and prepare the Noto emoji training images, or check the split.")
    parser.add_argument("command", choices=["prepare", "check-split"],
                        help="prepare: fetch and write the images; check-split: find held-out images that are "
                             "near copies of a training image or its mirror (exit status 1 if any is still held out)")
    parser.add_argument("--dest", type=Path, default=Path("data/emoji"))
    parser.add_argument("--cache", type=Path, default=Path("data/cache"))
    parser.add_argument("--heldout-dest", type=Path, default=Path("weights/heldout"),
                        help="where the held-out images the app ships are copied")
    parser.add_argument("--threshold", type=float, default=NEAR_COPY_DISTANCE,
                        help="largest mean absolute difference (0-255) that counts as a copy")
    parser.add_argument("--fix", action="store_true",
                        help=f"check-split: record the near copies in {EXCLUDED_FILE.name} and delete them from "
                             "--heldout-dest")
    args = parser.parse_args()
    if args.command == "check-split":
        if not args.dest.is_dir():
            raise SystemExit(f"{args.dest} does not exist: run `python -m explorer.data prepare` first")
        report = check_split(args.dest, args.threshold)
        near, entries = report["near_copies"], report["set_aside"]
        for entry in near:
            print(f"{entry['distance']:8.3f}  {entry['name']}  ~  {entry['nearest_training_image']}"
                  f"{' (mirrored)' if entry['mirrored'] else ''}")
        distances = np.array([entry["distance"] for entry in entries])
        print(f"{len(entries)} images set aside, {report['training_images']} training images; "
              f"{len(near)} within {args.threshold} of a training image or its mirror")
        print("distance to the nearest training image: " + ", ".join(
            f"≤{edge:g}: {int((distances <= edge).sum())}" for edge in (0.1, 1, 2, 3, 5, 10, 20)))
        kept = [entry for entry in entries if entry["distance"] > args.threshold]
        if kept:
            print(f"closest clean image: {kept[0]['name']} at {kept[0]['distance']} from "
                  f"{kept[0]['nearest_training_image']}")
        if args.fix:
            write_exclusions(report, args.heldout_dest)
            print(f"wrote {EXCLUDED_FILE}; {len(entries) - len(near)} held-out images remain")
        elif report["leaks"]:
            raise SystemExit(f"{len(report['leaks'])} held-out images are near copies of training images "
                             f"(e.g. {report['leaks'][0]}): run with --fix")
        return
    count = prepare(args.dest, args.cache, args.heldout_dest)
    names = [p.name for p in list_images(args.dest)]
    train, heldout = sum(map(is_training, names)), sum(map(is_held_out, names))
    print(f"{count} images in {args.dest}: {train} train, {heldout} held out (copied to {args.heldout_dest}), "
          f"{count - train - heldout} near copies of training images in neither")


if __name__ == "__main__":
    main()
