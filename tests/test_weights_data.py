"""Saving and loading weights, the train/held-out split, and reading any image the app may be given."""
from __future__ import annotations

import io
import json
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from explorer import weights
from explorer.data import ImageError, ImageFolder, is_held_out, load_image, split_key
from explorer.naive import NaiveCNN
from explorer.unet import UNet
from explorer.weights import WeightsError

# ---- weights ----------------------------------------------------------------------------------


@pytest.fixture
def saved_unet(tmp_path, tiny_config) -> tuple[UNet, Path]:
    torch.manual_seed(0)
    model = UNet(tiny_config)
    weights.save(model, tmp_path, "unet", metadata={"note": "test"})
    return model, tmp_path


def test_float32_save_and_load_is_bit_exact(saved_unet):
    model, directory = saved_unet
    loaded, metadata = weights.load(directory, "unet")
    assert metadata["note"] == "test" and metadata["kind"] == "unet" and metadata["weights_dtype"] == "float32"
    assert metadata["parameters"] == sum(p.numel() for p in model.parameters())
    assert loaded.config == model.config
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    original, restored = model.state_dict(), loaded.state_dict()
    assert original.keys() == restored.keys()
    for key in original:
        assert restored[key].dtype == torch.float32
        assert torch.equal(restored[key], original[key]), key


def test_float16_round_trip_equals_the_float16_cast(tmp_path):
    torch.manual_seed(0)
    model = NaiveCNN(hidden_dim=16)
    weights.save(model, tmp_path, "naive", dtype=torch.float16)
    loaded, metadata = weights.load(tmp_path, "naive")
    assert metadata["weights_dtype"] == "float16" and loaded.hidden_dim == 16
    changed = False
    for key, value in model.state_dict().items():
        restored = loaded.state_dict()[key]
        assert restored.dtype == torch.float32
        assert torch.equal(restored, value.half().float()), key
        changed |= not torch.equal(restored, value)
    assert changed, "float16 storage should round at least one weight"


def test_a_flipped_byte_is_caught_and_the_file_named(saved_unet):
    _, directory = saved_unet
    path = directory / "unet.safetensors"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match=r"unet\.safetensors is corrupted"):
        weights.load(directory, "unet")


def test_a_damaged_file_with_a_matching_hash_is_still_caught(saved_unet):
    _, directory = saved_unet
    path, meta_path = directory / "unet.safetensors", directory / "unet.json"
    path.write_bytes(path.read_bytes()[:1000])
    metadata = json.loads(meta_path.read_text())
    metadata["sha256"] = weights.sha256_of(path)
    meta_path.write_text(json.dumps(metadata))
    with pytest.raises(WeightsError, match=r"unet\.safetensors does not fit"):
        weights.load(directory, "unet")


def test_missing_or_broken_metadata_gives_a_clear_error(saved_unet):
    _, directory = saved_unet
    meta_path = directory / "unet.json"
    text = meta_path.read_text()
    meta_path.write_text("{not json")
    with pytest.raises(WeightsError, match=r"unet\.json is not valid model metadata"):
        weights.load(directory, "unet")
    meta_path.write_text(json.dumps({key: value for key, value in json.loads(text).items() if key != "config"}))
    with pytest.raises(WeightsError, match=r"not valid model metadata \('config'\)"):
        weights.load(directory, "unet")
    meta_path.unlink()
    with pytest.raises(WeightsError, match=r"unet\.json is missing: train the model with `python -m explorer.train"):
        weights.load(directory, "unet")


def test_missing_weights_file_is_named(saved_unet):
    _, directory = saved_unet
    (directory / "unet.safetensors").unlink()
    with pytest.raises(WeightsError, match=r"unet\.safetensors is missing"):
        weights.load(directory, "unet")


SHIPPED = weights.DEFAULT_DIR


@pytest.mark.skipif(not (SHIPPED / "unet.json").exists(), reason="no shipped weights")
def test_shipped_weights_load_stay_small_and_match_the_metrics():
    pair = weights.load_pair(SHIPPED)
    assert pair.image_size == 64
    for name in weights.MODEL_NAMES:
        assert (SHIPPED / f"{name}.safetensors").stat().st_size < 10_000_000
    metrics = pair.metrics()
    if metrics is not None:  # metrics.json must describe these exact files: rerun `python -m explorer.evaluate`
        assert metrics["weights_sha256"] == {"unet": pair.unet_meta["sha256"], "naive": pair.naive_meta["sha256"]}


# ---- the split ---------------------------------------------------------------------------------


def test_skin_tone_variants_land_on_the_same_side():
    tones = ["1f3fb", "1f3fc", "1f3fd", "1f3fe", "1f3ff"]
    bases = (["1f44b", "1f469-200d-1f4bb", "1f9d1-200d-1f91d-200d-1f9d1"]
             + [f"{code:x}" for code in range(0x1f600, 0x1f700)])
    for base in bases:
        variants = [f"{base}.png"] + [f"{base}-{tone}.png" for tone in tones]
        if base.count("-") >= 2:  # tones in the middle of a sequence, as in couples
            first, rest = base.split("-", 1)
            variants += [f"{first}-{tone}-{rest}-{tone}.png" for tone in tones]
        assert {split_key(name) for name in variants} == {base}
        assert len({is_held_out(name) for name in variants}) == 1, base
    assert any(is_held_out(f"{base}.png") for base in bases), "some of 256 names should be held out"


def test_held_out_share_is_about_six_percent():
    share = np.mean([is_held_out(f"{code:x}.png") for code in range(0x1f000, 0x1f000 + 5000)])
    assert 0.04 < share < 0.08


def test_train_and_heldout_folders_are_disjoint_and_complete(image_folder):
    train = ImageFolder(image_folder, "train", 16)
    heldout = ImageFolder(image_folder, "heldout", 16)
    every = ImageFolder(image_folder, "all", 16)
    assert not {p.name for p in train.paths} & {p.name for p in heldout.paths}
    assert sorted(train.paths + heldout.paths) == every.paths
    assert (len(train), len(heldout)) == (12, 4)
    assert train.images.shape == (12, 3, 16, 16) and train.images.dtype == torch.uint8
    assert heldout.tensors().min() >= -1 and heldout.tensors().max() <= 1


@pytest.mark.skipif(not (SHIPPED / "heldout").exists(), reason="no shipped held-out images")
def test_shipped_heldout_images_are_all_held_out():
    names = [path.name for path in (SHIPPED / "heldout").glob("*.png")]
    assert names and all(is_held_out(name) for name in names)


# ---- load_image --------------------------------------------------------------------------------


def png_bytes(image: Image.Image, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **params)
    return buffer.getvalue()


def pixels(image: Image.Image) -> np.ndarray:
    assert image.mode == "RGB"
    return np.asarray(image).astype(int)


def test_rgba_goes_on_white():
    array = np.zeros((8, 8, 4), np.uint8)
    array[:, :4] = (255, 0, 0, 255)  # opaque red left half, transparent black right half
    out = pixels(load_image(png_bytes(Image.fromarray(array, "RGBA")), size=8))
    assert (out[:, :4] == (255, 0, 0)).all() and (out[:, 4:] == 255).all()


def test_palette_transparency_goes_on_white():
    image = Image.new("P", (8, 8), 0)
    image.putpalette([0, 0, 0, 0, 128, 0] + [0] * 762)
    image.paste(1, (0, 0, 8, 4))  # top half green (index 1), bottom half index 0 = transparent black
    out = pixels(load_image(png_bytes(image, transparency=0), size=8))
    assert (out[:4] == (0, 128, 0)).all() and (out[4:] == 255).all()


def test_greyscale_becomes_grey_rgb():
    out = pixels(load_image(png_bytes(Image.new("L", (8, 8), 90)), size=8))
    assert (out == 90).all()


def test_16_bit_greyscale_is_scaled_to_8_bit():
    array = np.zeros((8, 8), np.uint16)
    array[:, 3:6] = 32768  # half of the 16-bit range: mid grey, not clipped to white
    array[:, 6:] = 65535
    image = Image.open(io.BytesIO(png_bytes(Image.fromarray(array))))
    assert image.mode.startswith("I")
    out = pixels(load_image(image, size=8))
    assert (out[:, :3] == 0).all() and (out[:, 3:6] == 128).all() and (out[:, 6:] == 255).all()


def test_cmyk_jpeg_is_converted():
    buffer = io.BytesIO()
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(buffer, "JPEG", quality=95)  # pure red in CMYK
    out = pixels(load_image(buffer.getvalue(), size=16))
    assert np.abs(out - (255, 0, 0)).max() < 12


def test_exif_rotation_is_applied():
    array = np.zeros((32, 32, 3), np.uint8)
    array[:16] = (255, 0, 0)  # stored: red on top, blue below
    array[16:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation 6: display rotated 90° clockwise, so the stored top ends up on the right
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "JPEG", quality=95, exif=exif.tobytes())
    out = pixels(load_image(buffer.getvalue(), size=32))
    assert np.abs(out[4:28, 26] - (255, 0, 0)).max() < 20, "right side should be red"
    assert np.abs(out[4:28, 5] - (0, 0, 255)).max() < 20, "left side should be blue"


def test_a_non_image_file_is_an_image_error(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not a picture")
    with pytest.raises(ImageError, match="not an image"):
        load_image(path)
    with pytest.raises(ImageError, match="no longer on the server") as missing:
        load_image(tmp_path / "missing.png")
    assert str(tmp_path) not in str(missing.value)  # no server paths in what a client reads
    with pytest.raises(ImageError, match="no image"):
        load_image(None)


def test_a_truncated_png_is_an_image_error():
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = png_bytes(Image.fromarray(noise))
    with pytest.raises(ImageError, match="damaged or truncated"):
        load_image(data[: len(data) * 2 // 3])


def test_a_one_pixel_image_fills_the_output():
    out = load_image(png_bytes(Image.new("RGB", (1, 1), (10, 200, 30))))
    assert out.size == (64, 64)
    assert (pixels(out) == (10, 200, 30)).all()


def test_a_non_square_image_keeps_its_centre():
    array = np.full((20, 60, 3), 255, np.uint8)
    array[:, 20:40] = (0, 0, 0)  # the centred 20×20 square is black, the sides white
    assert (pixels(load_image(Image.fromarray(array), size=20)) == 0).all()


def test_an_animated_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (16, 16), colour) for colour in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    image = Image.open(io.BytesIO(buffer.getvalue()))
    image.seek(2)  # even when a caller left it on a later frame
    out = pixels(load_image(image, size=16))
    assert np.abs(out - (255, 0, 0)).max() < 8


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares width × height RGB pixels and holds almost no data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("side", [20_000, 7_000], ids=["pillow-bomb-limit", "app-limit-40-megapixels"])
def test_a_decompression_bomb_is_refused_quickly_without_decoding(side, monkeypatch):
    def no_decoding(self):  # decoding is where the pixel buffer would be allocated
        raise AssertionError("load_image decoded an image it should have refused from its header")
    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    started = time.perf_counter()
    with pytest.raises(ImageError, match="too large"):
        load_image(png_header(side, side))
    assert time.perf_counter() - started < 1.0
