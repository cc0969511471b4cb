"""The study of architectures: variants, costs, the one protocol, the files, and the committed results."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from explorer import evaluate, weights
from explorer.data import is_held_out, is_training, list_images
from explorer.diffusion import Diffusion
from explorer.singlescale import SingleScaleCNN
from explorer.study import cost, findings, heldout_images, load, results, runner
from explorer.study.__main__ import main as study_main
from explorer.study.protocol import STUDY_DIR, Protocol, run_name
from explorer.study.results import StudyResults
from explorer.study.variants import VARIANTS, build
from explorer.unet import UNet

RESOLUTION = Protocol.resolution
STUDY = results()


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_variant_runs_forward_and_backward_at_the_study_resolution(name):
    model = build(name, RESOLUTION)
    x = torch.randn(2, 3, RESOLUTION, RESOLUTION, requires_grad=True)
    out = model(x, torch.tensor([3, 700]))
    assert out.shape == x.shape
    out.square().mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad), "a parameter the loss never reaches"


def test_variants_differ_from_the_full_unet_only_in_their_one_choice():
    full = build("unet", RESOLUTION)
    assert isinstance(full, UNet) and full.config.skip == "concat" and full.config.time_conditioning
    assert build("unet-add", RESOLUTION).config.skip == "add"
    assert build("unet-noskip", RESOLUTION).config.skip == "none"
    assert build("unet-notime", RESOLUTION).time_mlp is None
    no_attention = build("unet-noattn", RESOLUTION)
    assert no_attention.mid_attn is None and not any(block.kind == "attn" for block in no_attention.blocks())
    # Told t or not: a network that is not told t gives the same answer for any t.
    x = torch.randn(1, 3, RESOLUTION, RESOLUTION)
    for name in VARIANTS:
        model = build(name, RESOLUTION).eval()
        same = torch.allclose(model(x, torch.tensor([5])), model(x, torch.tensor([900])))
        assert same == (not VARIANTS[name].tells_t), name


def test_single_resolution_variants_match_the_unet_in_multiply_adds_and_are_deep():
    unet_macs = cost.macs(build("unet", RESOLUTION), RESOLUTION)
    for name in ("deep-plain", "deep-residual", "dilated"):
        model = build(name, RESOLUTION)
        assert isinstance(model, SingleScaleCNN) and model.config.depth >= 15
        assert VARIANTS[name].matched == "multiply-adds"
        assert abs(cost.macs(model, RESOLUTION) / unet_macs - 1) < 0.1, name
    assert cost.window(build("dilated", RESOLUTION), RESOLUTION) > RESOLUTION  # the window covers the image
    assert cost.window(build("naive", RESOLUTION), RESOLUTION) == 11


def test_the_mac_counter_counts_a_convolution_by_hand():
    conv = torch.nn.Conv2d(3, 8, 3, padding=1)

    class One(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = conv

        def forward(self, x, t):
            return self.conv(x)

    assert cost.macs(One(), 10) == 8 * 10 * 10 * 3 * 9


def test_the_runner_refuses_runs_with_unequal_budgets():
    protocol = Protocol(steps=4)
    good = {"training": dict(protocol.budget(), image_size=protocol.resolution)}
    runner.check_budget({"a": good, "b": good}, protocol)
    for key, value in (("steps", 5), ("lr", 1e-3), ("batch_size", 32), ("image_size", 64), ("schedule", "constant")):
        bad = {"training": dict(good["training"], **{key: value})}
        with pytest.raises(runner.BudgetError, match=key):
            runner.check_budget({"a": good, "b": bad}, protocol)


def test_the_plan_runs_every_first_seed_before_any_second():
    plan = runner.planned_runs(list(VARIANTS))
    assert len(plan) == sum(variant.seeds for variant in VARIANTS.values())
    first_second = min(index for index, (_, seed) in enumerate(plan) if seed == 1)
    assert all(seed == 0 for _, seed in plan[:first_second]) and first_second == len(VARIANTS)
    assert {VARIANTS[name].seeds for name in ("naive", "unet-noskip", "unet-add", "unet")} == {3}
    assert min(variant.seeds for variant in VARIANTS.values()) >= 2


def test_verdicts_follow_the_seeds():
    assert findings.verdict((1.0, 1.1), (0.5, 0.6)) == findings.HOLDS
    assert findings.verdict((0.5, 0.6), (1.0, 1.1)) == findings.CONTRADICTED
    assert findings.verdict((0.5, 1.0), (0.7, 0.8)) == findings.UNCLEAR


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """The whole study at a budget of seconds: every variant, one seed, 2 steps, on a few images."""
    root = tmp_path_factory.mktemp("study")
    data = root / "data"
    data.mkdir()
    generator = np.random.default_rng(0)
    count = 0
    for index in range(400):  # a dozen synthetic training images, named so the hash keeps them in training
        name = f"{index:05x}.png"
        if is_training(name):
            Image.fromarray(generator.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(data / name)
            count += 1
        if count == 12:
            break
    for path in list_images(weights.DEFAULT_DIR / "heldout")[:4]:  # and four held-out ones for the curve
        shutil.copy(path, data / path.name)
    out, checkpoints = root / "weights", root / "checkpoints"
    checkpoints.mkdir()
    common = ["--out", str(out), "--checkpoint-dir", str(checkpoints), "--data", str(data), "--steps", "2",
              "--seeds", "1"]
    study_main(["train", "--jobs", "1", *common])
    readme = root / "README.md"
    readme.write_text("# card\n")
    study_main(["evaluate", "--images", "6", "--readme", str(readme), *common])
    return out, readme


def test_a_tiny_study_writes_every_file_in_the_schema(tiny_study):
    out, readme = tiny_study
    study = json.loads((out / "study.json").read_text())
    assert study["resolution"] == RESOLUTION and 250 in study["timesteps"]
    assert set(study["variants"]) == set(VARIANTS)
    for name, entry in study["variants"].items():
        meta = json.loads((out / f"{run_name(name, 0)}.json").read_text())
        assert meta["sha256"] == weights.sha256_of(out / f"{run_name(name, 0)}.safetensors")
        assert meta["training"]["variant"] == name and meta["training"]["steps"] == 2
        assert entry["params"] == meta["parameters"] == cost.parameters(build(name, RESOLUTION))
        assert entry["images_seen"] == 2 * Protocol.batch_size and entry["seeds"] == [0]
        assert len(entry["curve"]["images_seen"]) == len(entry["curve"]["eps_mse"]) == 2
        for metric in ("eps_mse", "psnr"):
            assert set(entry[metric]) == {str(t) for t in study["timesteps"]}
            low, high = entry[f"{metric}_ci95"]["250"]
            assert low <= entry[metric]["250"][0] <= high
    assert study["references"]["no_noise"]["eps_mse"]["250"] == pytest.approx(1.0, abs=0.1)
    assert len(study["findings"]) == len(findings.CLAIMS)
    text = readme.read_text()
    assert "<!-- study:start -->" in text and "`unet-noattn`" in text
    # A second evaluate rewrites the section instead of adding another.
    study_main(["evaluate", "--images", "6", "--readme", str(readme), "--out", str(out), "--steps", "2",
                "--seeds", "1"])
    assert readme.read_text().count("<!-- study:start -->") == 1


def test_a_finished_run_is_not_trained_again(tiny_study, capsys):
    out, _ = tiny_study
    assert runner.finished(out, "unet", 0, Protocol(steps=2))
    assert not runner.finished(out, "unet", 0, Protocol(steps=3))


def test_the_study_held_out_set_is_the_clean_one():
    images = heldout_images(None)
    names = list_images(weights.DEFAULT_DIR / "heldout")
    assert all(is_held_out(path.name) for path in names)
    assert images.shape == (len(names), 3, RESOLUTION, RESOLUTION)
    assert -1.0 <= float(images.min()) and float(images.max()) <= 1.0
    assert torch.equal(heldout_images(3), images[:3])


needs_study = pytest.mark.skipif(STUDY is None, reason="weights/study/study.json not written yet")


@needs_study
def test_the_committed_study_followed_the_protocol_and_matches_its_weights():
    protocol = Protocol()
    assert STUDY.resolution == protocol.resolution and STUDY.data["protocol"]["steps"] == protocol.steps
    runs = runner.planned_runs(STUDY.variants)
    runner.check_budget({run_name(n, s): json.loads((STUDY_DIR / f"{run_name(n, s)}.json").read_text())
                         for n, s in runs}, protocol)
    for name in STUDY.variants:
        entry = STUDY.variant(name)
        assert entry["params"] == cost.parameters(build(name, RESOLUTION))
        assert len(entry["seeds"]) == VARIANTS[name].seeds
        assert len(entry["curve"]["images_seen"]) >= 10
        for seed in entry["seeds"]:
            recorded = json.loads((STUDY_DIR / f"{run_name(name, seed)}.json").read_text())
            assert recorded["sha256"] == entry["sha256"][str(seed)]


@needs_study
@pytest.mark.parametrize("name", ["unet", "naive"])
def test_a_variants_held_out_error_recomputed_by_hand_agrees(name):
    """Independent of explorer.evaluate: noise each image by the rule study.json states, predict, average."""
    x0 = heldout_images(None)
    model = load(name, 0)
    diffusion = Diffusion()
    t = 250
    errors = []
    for index in range(len(x0)):
        generator = torch.Generator().manual_seed(STUDY.data["noise_seed"] + index)
        eps = torch.randn((1, 3, RESOLUTION, RESOLUTION), generator=generator)
        abar = diffusion.alphas_cumprod[t]
        x_t = abar.sqrt() * x0[index:index + 1] + (1 - abar).sqrt() * eps
        with torch.no_grad():
            errors.append(float((model(x_t, torch.tensor([t])) - eps).pow(2).mean()))
    assert np.mean(errors) == pytest.approx(STUDY.per_seed(name, "eps_mse", t)[0], rel=1e-4)
    assert STUDY.data["heldout_images"] == len(x0)


def test_scores_per_image_average_to_the_evaluation_means():
    x0 = heldout_images(8)
    model = build("naive", RESOLUTION).eval()
    per_image = evaluate.scores_per_image(model, x0, Diffusion(), 0, (10, 500), batch_size=3)
    means = evaluate.evaluate({"m": model}, x0, Diffusion(), 0, (10, 500))["m"]
    assert per_image["eps_mse"].shape == (2, 8)
    assert per_image["eps_mse"].double().mean(1).tolist() == pytest.approx(means["eps_mse"], rel=1e-6)


def test_study_results_accessors_read_the_file():
    data = {"resolution": 32, "timesteps": [250], "references": {"no_noise": {"eps_mse": {"250": 1.0}}},
            "variants": {"a": {"eps_mse": {"250": [0.5, 0.7]}, "eps_mse_ci95": {"250": [0.4, 0.8]}}}}
    loaded = StudyResults(data)
    assert loaded.mean("a", "eps_mse", 250) == pytest.approx(0.6)
    assert loaded.interval("a", "eps_mse", 250) == (0.4, 0.8)
    assert loaded.reference("no_noise", "eps_mse", 250) == 1.0 and loaded.reference("x", "eps_mse", 250) is None


def test_training_never_writes_over_the_shipped_weights_unless_told(tmp_path):
    from explorer import train

    assert train.parse_args(["--model", "unet"]).out.as_posix() == "out/weights"
    shipped = {path: path.stat().st_mtime_ns for path in weights.DEFAULT_DIR.glob("*.safetensors")}
    for out in (str(weights.DEFAULT_DIR), str(weights.DEFAULT_DIR) + "/", "weights"):
        with pytest.raises(SystemExit, match="shipped weights folder"):
            train.main(["--model", "naive", "--out", out, "--steps", "1", "--data", str(tmp_path)])
    assert {path: path.stat().st_mtime_ns for path in weights.DEFAULT_DIR.glob("*.safetensors")} == shipped
    # Told to, it goes on (and then fails only because this folder has no images).
    with pytest.raises(ValueError, match="no train images"):
        train.main(["--model", "naive", "--out", str(weights.DEFAULT_DIR), "--overwrite-shipped", "--steps", "1",
                    "--data", str(tmp_path)])
