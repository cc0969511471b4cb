"""The study of architectures: variants, costs, the one protocol, the files, and the committed results."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from explorer import evaluate, train, weights
from explorer.data import is_held_out, is_training, list_images
from explorer.diffusion import Diffusion
from explorer.singlescale import SingleScaleCNN
from explorer.study import cost, findings, heldout_images, ladder, load, report, results
from explorer.study.__main__ import main as study_main
from explorer.study.__main__ import parse_args as study_parse
from explorer.study.protocol import STUDY_DIR, Protocol
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


def test_the_protocol_check_refuses_runs_trained_otherwise():
    run = {"name": "unet-r32-seed0-s8", "variant": "unet", "resolution": 32, "seed": 0, "steps": 8, "schedule": "wsd"}
    protocol = Protocol()
    good = {"steps": 8, "batch_size": protocol.batch_size, "lr": protocol.lr, "warmup": protocol.warmup,
            "image_size": 32, "schedule": "wsd", "variant": "unet", "seed": 0, "ema_decay": None,
            "decay_fraction": ladder.DECAY_FRACTION}
    report.check_protocol(run, good, protocol)
    for key, value in (("steps", 9), ("lr", 1e-3), ("batch_size", 32), ("image_size", 64), ("schedule", "cosine"),
                       ("ema_decay", 0.999), ("decay_fraction", 0.5)):
        with pytest.raises(report.BudgetError, match=key):
            report.check_protocol(run, dict(good, **{key: value}), protocol)


def test_wsd_is_constant_until_its_decay_then_falls_linearly_to_zero():
    args = train.parse_args(["--variant", "unet", "--schedule", "wsd", "--steps", "600", "--warmup", "50",
                             "--lr", "0.001", "--decay-fraction", "0.15"])
    constant = train.parse_args(["--variant", "unet", "--schedule", "constant", "--steps", "510", "--warmup", "50",
                                 "--lr", "0.001"])
    assert ladder.decay_start(600) == train.decay_start(600, 0.15) == 510
    assert [train.learning_rate(args, step) for step in range(510)] == \
        [train.learning_rate(constant, step) for step in range(510)]
    decay = [train.learning_rate(args, step) for step in range(510, 600)]
    assert decay[0] == pytest.approx(0.001) and decay[-1] == pytest.approx(0.001 / 90)
    assert all(later < earlier for earlier, later in zip(decay, decay[1:]))


def test_the_plan_puts_every_first_rung_before_the_next_and_the_key_pair_ahead():
    runs = ladder.Ladder(ladder.chains(), Protocol(), Path("/nonexistent"), Path("/nonexistent"), Path("."))
    order = [(unit.chain.variant, unit.chain.resolution, unit.steps, unit.cosine) for unit in runs.todo()]
    first_2400 = next(index for index, (variant, _, steps, _) in enumerate(order)
                      if steps == 2400 and variant not in ("naive-t", "unet"))
    assert all(steps < 2400 or (variant in ("naive-t", "unet") and resolution == 32 and steps <= 9600)
               for variant, resolution, steps, _ in order[:first_2400])
    assert {("naive-t", 32, 600, False), ("unet", 32, 600, False)} <= set(order[:4])
    done = {(variant, resolution) for variant, resolution, steps, _ in order if steps == 600}
    assert {(name, 32) for name in ladder.KEY_VARIANTS} <= done
    assert {("naive-t", 64), ("unet", 64)} <= {(v, r) for v, r, _, _ in order}
    assert sum(1 for item in order if item[3]) == len(ladder.COSINE_CHECKS)


def test_verdicts_follow_the_seeds():
    assert findings.verdict((1.0, 1.1), (0.5, 0.6)) == findings.HOLDS
    assert findings.verdict((0.5, 0.6), (1.0, 1.1)) == findings.CONTRADICTED
    assert findings.verdict((0.5, 1.0), (0.7, 0.8)) == findings.UNCLEAR
    assert findings.verdict((1.0,), (0.5, 0.6)) == findings.UNCLEAR  # one seed: its spread is unknown


def _comparison(steps: int, without: tuple, with_: tuple) -> findings.Comparison:
    claim = findings.CLAIMS_BY_ID["t-alone"]
    return findings.Comparison(claim, steps, steps * 64, "objective", without, with_, findings.verdict(without, with_))


def test_the_order_sentence_says_where_two_variants_change_places():
    crossing = [_comparison(600, (0.20, 0.21), (0.25, 0.26)), _comparison(2400, (0.15, 0.16), (0.155, 0.158)),
                _comparison(9600, (0.12, 0.125), (0.10, 0.101))]
    text = findings.order_sentence(crossing)
    assert text.startswith("The order changes with training: up to 38,400 images naive-t leads by ×1.")
    assert "from 153,600 to 153,600 images the seeds overlap" in text and "from 614,400 images on unet leads" in text
    steady = findings.order_sentence([_comparison(600, (0.3, 0.3), (0.2, 0.2)),
                                      _comparison(2400, (0.2, 0.2), (0.1, 0.1))])
    assert steady == "At every budget trained (38,400 to 153,600 images) the order is the same: unet leads by ×2.00 " \
                     "at 153,600."


def test_equal_compute_interpolates_each_seed_on_log_axes():
    assert findings._interpolate([(1e9, 1.0), (1e11, 0.01)], 1e10) == pytest.approx(0.1)
    assert findings._interpolate([(1e9, 1.0), (1e11, 0.01)], 1e12) is None


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """The whole ladder at a budget of seconds: two variants, one seed, budgets of 2 and 4 steps, a few images."""
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
    out, checkpoints = root / "runs", root / "checkpoints"
    common = ["--out", str(out), "--checkpoint-dir", str(checkpoints), "--data", str(data), "--ladder", "2,4",
              "--variants", "naive-t", "unet", "--seeds", "1", "--resolution", "32"]
    study_main(["train", *common])
    readme = root / "README.md"
    readme.write_text("# card\n")
    study_main(["evaluate", "--images", "6", "--readme", str(readme), *common])
    return out, readme, checkpoints, common


def test_a_tiny_ladder_writes_every_run_and_the_schema(tiny_study):
    out, readme, checkpoints, _ = tiny_study
    study = json.loads((out / "study.json").read_text())
    assert study["resolution"] == RESOLUTION and 250 in study["timesteps"] and study["budget"] == 4
    assert {(run["variant"], run["steps"]) for run in study["runs"]} == \
        {(name, steps) for name in ("naive-t", "unet") for steps in (2, 4)}
    for run in study["runs"]:
        name = ladder.run_name(run["variant"], 32, 0, run["steps"])
        meta = json.loads((out / f"{name}.json").read_text())
        assert meta["sha256"] == weights.sha256_of(out / f"{name}.safetensors") == run["sha256"]
        assert meta["training"]["steps"] == run["steps"] and meta["training"]["schedule"] == "wsd"
        assert meta["training"]["branched_from_step"] == ladder.decay_start(run["steps"])
        assert set(run) >= {"variant", "resolution", "seed", "steps", "images_seen", "training_macs", "eps_mse",
                            "objective"}
        assert run["images_seen"] == run["steps"] * 64
        assert run["training_macs"] == 3 * cost.macs(build(run["variant"], 32), 32) * run["images_seen"]
        assert run["objective"] > 0 and set(run["eps_mse"]) == {str(t) for t in study["timesteps"]}
    assert (checkpoints / "unet-r32-seed0-trunk@3.pt").exists()  # the 4-step branch left the trunk at step 3
    for entry in study["variants"].values():
        assert entry["steps"] == 4 and entry["seeds"] == [0]
        low, high = entry["eps_mse_ci95"]["250"]
        assert low <= entry["eps_mse"]["250"][0] <= high
    assert study["references"]["no_noise"]["eps_mse"]["250"] == pytest.approx(1.0, abs=0.15)
    assert study["references"]["shipped_unet"]["images_seen"] > 1_000_000
    assert [finding["claim"]["id"] for finding in study["findings"]] == ["t-alone"]
    assert "<!-- study:start -->" in readme.read_text() and "`unet`" in readme.read_text()


def test_a_finished_run_is_not_trained_again_and_status_says_so(tiny_study, capsys):
    out, _, _, common = tiny_study
    capsys.readouterr()
    study_main(["train", *common])
    assert "0 runs to train" in capsys.readouterr().out
    study_main(["status", *common])
    assert "unet-r32-seed0               2✓ 4✓" in capsys.readouterr().out


def test_load_returns_the_run_of_the_budget_asked_for(tiny_study):
    out, *_ = tiny_study
    two = load("unet", 0, out, steps=2, resolution=32)
    four = load("unet", 0, out)  # the common budget
    x, t = torch.randn(1, 3, 32, 32), torch.tensor([250])
    with torch.no_grad():
        assert not torch.equal(two(x, t), four(x, t))
        assert torch.equal(four(x, t), load("unet", 0, out, steps=4)(x, t))


def test_a_branch_equals_a_whole_wsd_run_of_its_budget(tiny_study, tmp_path):
    """The trunk + branch of the ladder and one uninterrupted wsd run of the same budget give the same weights."""
    out, _, _, common = tiny_study
    data = common[common.index("--data") + 1]
    whole = ["--variant", "naive-t", "--data", data, "--image-size", "32", "--batch-size", "64", "--lr", "0.0005",
             "--warmup", "50", "--ema-decay", "0", "--patience", "0", "--seed", "0", "--threads", "1",
             "--precision", "fp32", "--weights-dtype", "float16", "--schedule", "wsd", "--decay-fraction",
             str(ladder.DECAY_FRACTION), "--steps", "4", "--eval-every", "1", "--name", "whole",
             "--out", str(tmp_path), "--checkpoint-dir", str(tmp_path)]
    train.main(whole)
    branch, _ = weights.load(out, "naive-t-r32-seed0-s4")
    straight, _ = weights.load(tmp_path, "whole")
    for (name, a), (_, b) in zip(branch.state_dict().items(), straight.state_dict().items()):
        assert torch.equal(a, b), name


def test_the_study_refuses_to_write_the_shipped_folder_unless_told(tmp_path):
    with pytest.raises(SystemExit, match="--shipped"):
        study_main(["train", "--out", str(STUDY_DIR), "--variants", "naive", "--ladder", "2", "--seeds", "1",
                    "--checkpoint-dir", str(tmp_path)])
    assert study_parse(["status"]).out is None  # resolved to out/study, never weights/study


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
    runs = report.trained_runs(STUDY_DIR)
    assert {run["name"] for run in runs} == {ladder.run_name(r["variant"], r["resolution"], r["seed"], r["steps"])
                                             + ("-cosine" if r["schedule"] == "cosine" else "") for r in STUDY.runs}
    by_sha = {record["sha256"]: record for record in STUDY.runs}
    for run in runs:
        meta = json.loads((STUDY_DIR / f"{run['name']}.json").read_text())
        report.check_protocol(run, meta["training"], protocol)
        assert meta["sha256"] == weights.sha256_of(STUDY_DIR / f"{run['name']}.safetensors")
        assert by_sha[meta["sha256"]]["steps"] == run["steps"]
        assert meta["data"]["validation_images"] > 0  # trained with the validation carve-out, as the command does
    for name in STUDY.variants:
        entry = STUDY.variant(name)
        assert entry["params"] == cost.parameters(build(name, RESOLUTION)) and entry["steps"] == STUDY.budget


@needs_study
@pytest.mark.parametrize("name", ["unet", "naive-t"])
def test_a_variants_held_out_error_recomputed_by_hand_agrees(name):
    """Independent of explorer.evaluate: noise each image by the rule study.json states, predict, average."""
    x0 = heldout_images(None)
    model = load(name, 0, steps=STUDY.budget)
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


def test_per_image_scores_are_kept_by_weights_and_evaluation(tiny_study):
    out, _, checkpoints, _ = tiny_study
    cache = report.ScoreCache(checkpoints / "scores")
    kept = sorted(cache.folder.glob("*.pt"))
    names = [run["name"] for run in report.trained_runs(out)]
    assert len(kept) == len(names) == 4  # each run scored once, though the common budget's runs are read twice
    name = ladder.run_name("unet", 32, 0, 4)
    sha = json.loads((out / f"{name}.json").read_text())["sha256"]
    x0 = heldout_images(6, 32)
    model, _ = weights.load(out, name)
    fresh = report.score_run(model, x0)
    entry = cache.folder / f"{sha}-{cache.evaluation_key(x0)}.pt"
    assert entry.exists()
    # Scored here again with this process's torch threads: equal up to the order of float32 sums.
    torch.testing.assert_close(cache.scores(out, name, sha, x0)["eps_mse"], fresh["eps_mse"], rtol=1e-5, atol=1e-7)
    entry.write_bytes(b"not a tensor file")  # damaged: scored again and rewritten, never an error
    torch.testing.assert_close(cache.scores(out, name, sha, x0)["psnr"], fresh["psnr"], rtol=1e-5, atol=1e-5)
    assert torch.load(entry, weights_only=True)["psnr"].shape == fresh["psnr"].shape
    assert cache.evaluation_key(heldout_images(5, 32)) != cache.evaluation_key(x0)  # other images, other entry
