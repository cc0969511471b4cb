"""The held-out split holds no near copy of a training image or of its mirror (training flips images)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from explorer import data
from explorer.data import (
    EXCLUDED_FILE,
    NEAR_COPY_DISTANCE,
    check_split,
    excluded_names,
    hashed_out,
    image_distance,
    is_held_out,
    is_training,
    list_images,
    nearest_images,
)

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_HELDOUT = ROOT / "weights" / "heldout"

# Named in issue 9: right-facing (…-27a1) variants whose left-facing originals train (and training flips),
# wheelchair variants likewise, and a flag pixel-identical to another.
NAMED = ["1f1ee-1f1f4.png", "1f3c3-200d-27a1-fe0f.png", "1f469-200d-1f9bc.png", "1f469-200d-1f9bd-200d-27a1-fe0f.png",
         "1f6b6-200d-2642-fe0f-200d-27a1-fe0f.png", "1f9ce-200d-2640-fe0f-200d-27a1-fe0f.png"]


def brute_force(query: torch.Tensor, reference: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    both = torch.cat([reference, reference.flip(-1)])
    distances = image_distance(both[None], query[:, None])  # (Q, 2R)
    return distances.min(dim=1)


def test_distance_finds_a_planted_mirror_and_matches_brute_force():
    generator = torch.Generator().manual_seed(0)
    reference = torch.randint(0, 256, (40, 3, 16, 16), generator=generator, dtype=torch.uint8)
    query = torch.randint(0, 256, (6, 3, 16, 16), generator=generator, dtype=torch.uint8)
    # query 0: training image 17, mirrored, with a one-level change in a few pixels
    planted = reference[17].flip(-1).clone()
    planted[:, :2, :3] = (planted[:, :2, :3].int() + 1).clamp(0, 255).to(torch.uint8)
    query[0] = planted
    query[1] = reference[5]  # an exact copy, not mirrored
    assert float(image_distance(reference[3], reference[3])) == 0
    assert float(image_distance(torch.zeros(3, 4, 4), torch.full((3, 4, 4), 2.0))) == 2.0

    found = nearest_images(query, reference)
    assert (int(found.index[0]), bool(found.mirrored[0])) == (17, True)
    assert 0 < float(found.distance[0]) < 0.05
    assert (int(found.index[1]), bool(found.mirrored[1]), float(found.distance[1])) == (5, False, 0.0)
    best, where = brute_force(query, reference)
    assert torch.allclose(found.distance, best)
    assert torch.equal(found.index, where % len(reference))
    assert (found.distance[2:] > 40).all(), "random images are far apart"


@pytest.fixture(scope="module")
def emoji_folder(tmp_path_factory) -> Path:
    """The training images: data/emoji when prepared, else fetched once (the tarball is cached in data/cache)."""
    folder = ROOT / "data" / "emoji"
    if folder.is_dir() and len(list_images(folder)) > 3000:
        return folder
    folder = tmp_path_factory.mktemp("emoji")
    data.prepare(folder, ROOT / "data" / "cache")
    return folder


@pytest.fixture(scope="module")
def report(emoji_folder) -> dict:
    return check_split(emoji_folder)


def test_no_held_out_image_is_a_near_copy_of_a_training_image_or_its_mirror(report):
    assert report["training_images"] == 3532, "the training split must not change (the models trained on it)"
    assert report["leaks"] == []
    held = [entry for entry in report["set_aside"] if is_held_out(entry["name"])]
    assert held and min(entry["distance"] for entry in held) > NEAR_COPY_DISTANCE
    near = {entry["name"] for entry in report["near_copies"]}
    assert set(NAMED) <= near
    assert near == excluded_names()


def test_the_threshold_sits_in_a_wide_gap(report):
    """Copies differ by resampling only (≤ 0.1 grey levels); the closest distinct emoji are ≥ 2.5 apart."""
    distances = [entry["distance"] for entry in report["set_aside"]]
    assert max(d for d in distances if d <= NEAR_COPY_DISTANCE) < 0.2
    assert min(d for d in distances if d > NEAR_COPY_DISTANCE) > 2.5


def test_excluded_images_are_in_neither_split_and_recorded_with_their_nearest_image(report):
    record = json.loads(EXCLUDED_FILE.read_text())
    assert record["threshold"] == NEAR_COPY_DISTANCE
    assert record["excluded"] == report["near_copies"]
    assert record["heldout_images"] == len(report["set_aside"]) - len(report["near_copies"])
    for entry in record["excluded"]:
        name = entry["name"]
        assert hashed_out(name) and not is_held_out(name) and not is_training(name)
        assert entry["distance"] <= NEAR_COPY_DISTANCE and is_training(entry["nearest_training_image"])


def test_the_shipped_held_out_folder_is_exactly_the_held_out_split(emoji_folder):
    shipped = {path.name for path in list_images(SHIPPED_HELDOUT)}
    assert shipped == {path.name for path in list_images(emoji_folder) if is_held_out(path.name)}
    assert not shipped & excluded_names()
    assert len(shipped) == json.loads(EXCLUDED_FILE.read_text())["heldout_images"]


def test_image_folder_splits_follow_the_exclusions(tmp_path):
    from PIL import Image

    names = ["1f3c3.png", "1f3c3-200d-27a1-fe0f.png", "1f1ee-1f1f4.png"]
    names += [f"{code:x}.png" for code in range(0x1f600, 0x1f650)]
    for name in names:
        Image.new("RGB", (8, 8), "white").save(tmp_path / name)
    train = {p.name for p in data.ImageFolder(tmp_path, "train", 8).paths}
    heldout = {p.name for p in data.ImageFolder(tmp_path, "heldout", 8).paths}
    assert "1f3c3.png" in train
    assert not {"1f3c3-200d-27a1-fe0f.png", "1f1ee-1f1f4.png"} & (train | heldout)
    assert train == {name for name in names if not hashed_out(name)}
    assert heldout and not train & heldout
