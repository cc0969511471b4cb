"""The training command on a tiny folder of generated images: the loss falls and --resume continues."""
from __future__ import annotations

import contextlib
import io
import json

import pytest

from explorer import train, weights


def tiny_args(image_folder, tmp_path, steps: int, *extra: str) -> list[str]:
    return ["--model", "unet", "--data", str(image_folder), "--out", str(tmp_path / "out"),
            "--checkpoint-dir", str(tmp_path / "checkpoints"), "--steps", str(steps), "--batch-size", "8",
            "--image-size", "16", "--base-channels", "8", "--channel-mults", "1,2", "--attention-resolutions", "8",
            "--eval-every", "10", "--warmup", "1", "--lr", "2e-3", "--ema-decay", "0.9",
            "--device", "cpu", "--precision", "fp32", "--weights-dtype", "float32", *extra]


@pytest.fixture(scope="module")
def trained(shared_image_folder, tmp_path_factory):
    """40 steps, then 20 more with --resume: (metadata after 40, metadata after 60, the resumed run's output, its
    folder)."""
    tmp_path, folder = tmp_path_factory.mktemp("train"), shared_image_folder
    train.main(tiny_args(folder, tmp_path, 40))
    first = json.loads((tmp_path / "out" / "unet.json").read_text())
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        train.main(tiny_args(folder, tmp_path, 60, "--resume"))
    second = json.loads((tmp_path / "out" / "unet.json").read_text())
    return first, second, output.getvalue(), tmp_path


def test_a_few_steps_lower_the_loss(trained):
    first, _, _, _ = trained
    curve = first["curve"]
    assert [entry["step"] for entry in curve] == [10, 20, 30, 40]
    assert curve[-1]["validation_loss"] < 0.8 * curve[0]["validation_loss"], curve
    assert curve[-1]["train_loss"] < curve[0]["train_loss"], curve


def test_resume_continues_the_step_count(trained):
    first, second, output, tmp_path = trained
    assert "resumed unet at step 40 (320 images seen)" in output
    assert first["training"]["steps"] == 40 and second["training"]["steps"] == 60
    assert second["training"]["images_seen"] == 60 * 8
    assert [entry["step"] for entry in second["curve"]] == [10, 20, 30, 40, 50, 60]
    assert second["curve"][:4] == first["curve"], "resuming keeps the curve so far"
    assert second["data"] == {**first["data"], "train_images": 11, "validation_images": 1}


def test_exported_weights_load_with_the_training_config(trained):
    _, second, _, tmp_path = trained
    model, metadata = weights.load(tmp_path / "out", "unet")
    assert metadata["sha256"] == second["sha256"]
    assert model.config.image_size == 16 and model.config.channel_mults == (1, 2)


def test_resume_without_a_checkpoint_says_so(image_folder, tmp_path):
    with pytest.raises(SystemExit, match="--resume: no checkpoint"):
        train.main(tiny_args(image_folder, tmp_path, 5, "--resume"))
