"""The emoji data: fetching and preparing it, the held-out split, and loading any image.

`python -m explorer.data prepare` fetches the npm package `emoji-datasource-google`
(Noto emoji, Apache-2.0), composites its 64×64 RGBA images on white and writes them to
`data/emoji/`. Any folder of images works for training: `ImageFolder` loads it.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import shutil
import subprocess
import tarfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

PACKAGE = "emoji-datasource-google"
PACKAGE_VERSION = "16.0.0"
IMAGE_FOLDER_IN_PACKAGE = "package/img/google/64/"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
SKIN_TONES = {"1f3fb", "1f3fc", "1f3fd", "1f3fe", "1f3ff"}
HELD_OUT_PERCENT = 6
MAX_PIXELS = 40_000_000


class ImageError(ValueError):
    """An input that cannot be used as an image; the message says why, for the user."""


def split_key(name: str) -> str:
    """The part of a file name that decides its split: skin-tone variants of one emoji share it."""
    stem = Path(name).stem.lower()
    return "-".join(part for part in stem.split("-") if part not in SKIN_TONES)


def is_held_out(name: str, percent: int = HELD_OUT_PERCENT) -> bool:
    """Deterministic split by a hash of the file name (skin tones removed)."""
    digest = hashlib.sha256(split_key(name).encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < percent


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


def load_image(source, size: int = 64) -> Image.Image:
    """Open an image of any mode and size and return it as an RGB `size`×`size` PIL image.

    source: a path, bytes, a file object or a PIL image. EXIF rotation is applied,
    transparency goes on white, the largest centred square is kept and resized.
    Raises ImageError with a message for the user when the input is not a usable image.
    """
    if source is None:
        raise ImageError("no image was given: pick an example or upload a picture")
    if isinstance(source, Image.Image):
        image = source
    else:
        if isinstance(source, bytes):
            source = io.BytesIO(source)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = Image.open(source)
        except FileNotFoundError:
            raise ImageError(f"the file {source} does not exist") from None
        except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            if isinstance(error, UnidentifiedImageError):
                raise ImageError("this file is not an image that can be read (PNG, JPEG, WebP, GIF, BMP, TIFF)") from None
            raise ImageError(f"this image is too large: at most {MAX_PIXELS // 1_000_000} megapixels") from None
        except OSError as error:
            raise ImageError(f"this file could not be read as an image ({error})") from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageError(f"this image is too large ({width}×{height}): at most {MAX_PIXELS // 1_000_000} megapixels")
    if width < 1 or height < 1:
        raise ImageError("this image is empty")
    try:
        image.seek(0)  # animated images: the first frame
    except (AttributeError, EOFError):
        pass
    try:
        image.load()
        image = ImageOps.exif_transpose(image) or image
        rgb = composite_on_white(image)
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageError(f"this image is damaged or truncated and could not be decoded ({error})") from None
    side = min(rgb.size)
    left, top = (rgb.width - side) // 2, (rgb.height - side) // 2
    square = rgb.crop((left, top, left + side, top + side))
    if square.size != (size, size):
        square = square.resize((size, size), Image.LANCZOS if side > size else Image.BICUBIC)
    return square


def to_tensor(image: Image.Image) -> torch.Tensor:
    """RGB PIL image → (3, H, W) float tensor in [-1, 1]."""
    array = np.asarray(image, dtype=np.float32) / 127.5 - 1.0  # (H, W, 3)
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


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
        if self.split != "all":
            paths = [p for p in paths if is_held_out(p.name) == (self.split == "heldout")]
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
            if not (member.isfile() and member.name.startswith(IMAGE_FOLDER_IN_PACKAGE) and member.name.endswith(".png")):
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


def main() -> None:
    parser = argparse.ArgumentParser(description="Fetch and prepare the Noto emoji training images.")
    parser.add_argument("command", choices=["prepare"])
    parser.add_argument("--dest", type=Path, default=Path("data/emoji"))
    parser.add_argument("--cache", type=Path, default=Path("data/cache"))
    parser.add_argument("--heldout-dest", type=Path, default=Path("weights/heldout"),
                        help="where the held-out images the app ships are copied")
    args = parser.parse_args()
    count = prepare(args.dest, args.cache, args.heldout_dest)
    train, heldout = (sum(is_held_out(p.name) == h for p in list_images(args.dest)) for h in (False, True))
    print(f"{count} images in {args.dest}: {train} train, {heldout} held out (copied to {args.heldout_dest})")


if __name__ == "__main__":
    main()
