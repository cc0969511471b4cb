"""Model selection uses a validation split of the training images: the held-out (test) images are never read."""
from __future__ import annotations

import json

import pytest

from explorer import data, train
from explorer.data import ImageFolder, hashed_out, is_training


def naive_args(folder, tmp_path, steps: int) -> list[str]:
    return ["--model", "naive", "--hidden-dim", "8", "--data", str(folder), "--out", str(tmp_path / "out"),
            "--checkpoint-dir", str(tmp_path / "checkpoints"), "--steps", str(steps), "--batch-size", "4",
            "--image-size", "16", "--eval-every", "2", "--patience", "2", "--warmup", "1", "--lr", "1e-2",
            "--device", "cpu", "--precision", "fp32", "--weights-dtype", "float32"]


def test_training_and_early_stopping_never_read_a_held_out_image(image_folder, tmp_path, monkeypatch):
    read = []
    load_image = data.load_image

    def recording(path, *args, **kwargs):
        read.append(getattr(path, "name", str(path)))
        return load_image(path, *args, **kwargs)

    monkeypatch.setattr(data, "load_image", recording)
    train.main(naive_args(image_folder, tmp_path, 8))
    meta = json.loads((tmp_path / "out" / "naive.json").read_text())
    set_aside = sorted(path.name for path in image_folder.iterdir() if hashed_out(path.name))
    assert set_aside, "the folder must hold set-aside images for this test to mean anything"
    assert read, "the recorder saw no image: the test would pass for the wrong reason"
    assert not set(read) & set(set_aside), f"training read set-aside images: {sorted(set(read) & set(set_aside))}"
    validation = meta["data"]["validation_names"]
    assert validation and all(is_training(name) for name in validation)
    assert set(validation) <= set(read)
    assert meta["training"]["selected_by"] == "validation loss"
    assert all("validation_loss" in point and "heldout_loss" not in point for point in meta["curve"])


def test_the_validation_split_is_fixed_and_apart_from_what_is_trained_on(image_folder):
    folder = ImageFolder(image_folder, "train", 16)
    fit, validation, names = train.validation_split(folder)
    again = train.validation_split(ImageFolder(image_folder, "train", 16))
    assert names == again[2] and len(fit) + len(validation) == len(folder)
    assert len(validation) == len(names) >= 1
    by_name = dict(zip((path.name for path in folder.paths), folder.images))
    for name, image in zip(names, validation):
        assert (by_name[name] == image).all()
    assert not any((image == fit).flatten(1).all(1).any() for image in validation), "a validation image is trained on"


def test_the_validation_split_refuses_held_out_images(image_folder):
    with pytest.raises(ValueError, match="carved out of the training images"):
        train.validation_split(ImageFolder(image_folder, "heldout", 16))


def test_about_five_percent_of_names_go_to_validation():
    names = [f"{code:x}.png" for code in range(0x1f300, 0x1f300 + 2000)]
    share = sum(map(train.is_validation, names)) / len(names)
    assert 0.03 < share < 0.07, share
