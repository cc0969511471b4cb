"""Opening diffusers models from folders written here by `save_pretrained`, and from a Hub id without a network.

Three configs: google/ddpm-cifar10-32's (random weights, a DDPMPipeline folder), a tiny bare UNet2DModel folder
without a scheduler, and a tiny pipeline with a cosine schedule predicting v; then the shipped trained one.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from explorer import denoiser
from explorer.weights import sha256_of

diffusers = pytest.importorskip("diffusers")
from explorer.diffusers_folder import open_diffusers  # noqa: E402
from explorer.diffusers_unet import UnsupportedModel  # noqa: E402
from tests.test_denoisers import RESNET_SAMPLING, TINY, tiny_unet2d  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "weights" / "diffusers-unet"
# google/ddpm-cifar10-32's unet/config.json (35.7 M parameters)
CIFAR10 = dict(sample_size=32, in_channels=3, out_channels=3, block_out_channels=(128, 256, 256, 256),
               layers_per_block=2, down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"),
               up_block_types=("UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"), attention_head_dim=None,
               norm_num_groups=32, dropout=0.1, flip_sin_to_cos=False, freq_shift=1, center_input_sample=False,
               time_embedding_type="positional", norm_eps=1e-6, downsample_padding=0, mid_block_scale_factor=1,
               act_fn="silu")


@pytest.fixture(scope="module")
def cifar10_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ddpm-cifar10-32")
    unet = tiny_unet2d(CIFAR10).to(torch.float16)  # float16 on disk, as the shipped one: half the bytes to write
    scheduler = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear", variance_type="fixed_small")
    diffusers.DDPMPipeline(unet=unet, scheduler=scheduler).save_pretrained(folder)
    return folder


def test_google_ddpm_cifar10_config(cifar10_folder):
    opened = open_diffusers(cifar10_folder)
    model = opened.denoiser
    assert sum(p.numel() for p in model.parameters()) == 35_746_307
    assert model.image_size == 32 and opened.diffusion.num_timesteps == 1000 and opened.notes == []
    assert opened.scheduler_config["_class_name"] == "DDPMScheduler"
    assert not any(p.requires_grad for p in model.parameters()) and not model.training
    skips = denoiser.skips(model)
    assert len(skips) == 1 + 4 * 2 + 3  # conv_in, two layers per level, three downsamplers
    assert skips[0].target == "up_blocks.3.resnets.2" and denoiser.attention_blocks(model) == [
        "down_blocks.1.attentions.0", "down_blocks.1.attentions.1", "mid_block.attentions.0",
        "up_blocks.2.attentions.0", "up_blocks.2.attentions.1", "up_blocks.2.attentions.2"]
    x, t = torch.randn(1, 3, 32, 32), torch.tensor([400])
    saved = diffusers.UNet2DModel.from_pretrained(cifar10_folder / "unet", torch_dtype=torch.float32).eval()
    with torch.no_grad():
        assert torch.allclose(model(x, t), saved(x, t).sample, atol=1e-5)


def test_a_bare_unet_folder_without_a_scheduler(tmp_path):
    unet = tiny_unet2d(TINY)
    unet.save_pretrained(tmp_path / "bare")
    opened = open_diffusers(tmp_path / "bare")
    assert opened.scheduler_config is None and "DDPM schedule is assumed" in opened.notes[0]
    x, t = torch.randn(2, 3, 32, 32), torch.tensor([3, 900])
    with torch.no_grad():
        assert torch.allclose(opened.denoiser(x, t), unet(x, t).sample, atol=1e-5)


def test_a_pipeline_with_a_cosine_schedule_predicting_v(tmp_path):
    unet = tiny_unet2d(RESNET_SAMPLING)
    scheduler = diffusers.DDIMScheduler(num_train_timesteps=500, beta_schedule="squaredcos_cap_v2",
                                        prediction_type="v_prediction")
    diffusers.DDIMPipeline(unet=unet, scheduler=scheduler).save_pretrained(tmp_path / "pipe")
    opened = open_diffusers(str(tmp_path / "pipe"))
    assert opened.diffusion.num_timesteps == 500 and opened.diffusion.beta_schedule == "squaredcos_cap_v2"
    assert opened.diffusion.max_t == 499 and "velocity" in opened.notes[0]
    assert (opened.diffusion.alphas_cumprod - scheduler.alphas_cumprod).abs().max() <= 1e-5
    # the unet/ folder alone finds its scheduler one level up
    assert open_diffusers(tmp_path / "pipe" / "unet").diffusion.prediction_type == "v_prediction"


def test_a_hub_id_downloads_only_the_unet_and_scheduler(tmp_path, monkeypatch):
    unet = tiny_unet2d(TINY)
    diffusers.DDPMPipeline(unet=unet, scheduler=diffusers.DDPMScheduler()).save_pretrained(tmp_path / "snapshot")
    calls = []

    def snapshot_download(repo_id, allow_patterns):
        calls.append((repo_id, tuple(allow_patterns)))
        return str(tmp_path / "snapshot")

    import huggingface_hub
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    opened = open_diffusers("google/ddpm-cifar10-32")
    assert [repo for repo, _ in calls] == ["google/ddpm-cifar10-32"]
    patterns = calls[0][1]
    assert "unet/diffusion_pytorch_model.safetensors" in patterns and "scheduler/scheduler_config.json" in patterns
    assert not any("vae" in pattern or "text_encoder" in pattern or pattern.endswith(".bin") for pattern in patterns)
    assert opened.source == "google/ddpm-cifar10-32" and opened.name == "ddpm-cifar10-32"


def test_refusals_name_what_is_supported(tmp_path):
    with pytest.raises(ValueError, match="neither a folder nor a Hugging Face Hub id"):
        open_diffusers(tmp_path / "missing" / "folder")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="neither model_index.json"):
        open_diffusers(tmp_path / "empty")
    latent = tmp_path / "ldm"
    latent.mkdir()
    (latent / "model_index.json").write_text(json.dumps(
        {"_class_name": "LDMPipeline", "unet": ["diffusers", "UNet2DModel"], "vqvae": ["diffusers", "VQModel"]}))
    with pytest.raises(UnsupportedModel, match="latent pipeline LDMPipeline.*supported: "):
        open_diffusers(latent)
    text = tmp_path / "sd"
    text.mkdir()
    (text / "model_index.json").write_text(json.dumps(
        {"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"]}))
    with pytest.raises(UnsupportedModel, match="UNet2DConditionModel"):
        open_diffusers(text)
    sde = tmp_path / "sde"
    tiny_unet2d(TINY).save_pretrained(sde)
    (sde / "scheduler_config.json").write_text(json.dumps({"_class_name": "ScoreSdeVeScheduler"}))
    with pytest.raises(UnsupportedModel, match="σ"):
        open_diffusers(sde)
    no_weights = tmp_path / "config-only"
    no_weights.mkdir()
    (no_weights / "config.json").write_text(json.dumps(dict(TINY, _class_name="UNet2DModel")))
    with pytest.raises(ValueError, match="no weights"):
        open_diffusers(no_weights)


@pytest.mark.skipif(not (SHIPPED / "model_index.json").exists(), reason="the diffusers model is not trained yet")
def test_the_shipped_diffusers_model_opens():
    opened = open_diffusers(SHIPPED)
    record = json.loads((SHIPPED / "training.json").read_text())
    assert sha256_of(SHIPPED / record["weights_file"]) == record["sha256"]
    assert opened.denoiser.image_size == record["config"]["sample_size"] and opened.notes == []
    with torch.no_grad():
        eps = opened.denoiser(torch.zeros(1, 3, opened.denoiser.image_size, opened.denoiser.image_size),
                              torch.tensor([500]))
    assert torch.isfinite(eps).all()


def test_the_app_does_not_import_diffusers_until_a_model_is_opened():
    code = ("import sys\n"
            "import explorer.denoiser, explorer.diffusers_unet, explorer.diffusers_folder\n"
            "from explorer.views.context import Context\n"
            "Context.load()\n"
            "assert 'diffusers' not in sys.modules, 'diffusers was imported'\n"
            "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-2000:]


def test_training_writes_a_pipeline_the_loader_opens_and_the_evaluation_scores(image_folder, tmp_path):
    from explorer import evaluate_diffusers, train_diffusers

    out = tmp_path / "diffusers-unet"
    command = ["--data", str(image_folder), "--out", str(out), "--checkpoint-dir", str(tmp_path / "ck"),
               "--block-out-channels", "8,8,8,8", "--norm-groups", "4", "--validation-samples", "8",
               "--batch-size", "4", "--eval-every", "1"]
    train_diffusers.main(command + ["--steps", "2"])
    record = json.loads((out / "training.json").read_text())
    assert record["training"]["steps"] == 2 and len(record["curve"]) == 2
    assert sha256_of(out / record["weights_file"]) == record["sha256"]
    train_diffusers.main(command + ["--steps", "3", "--resume"])
    assert json.loads((out / "training.json").read_text())["training"]["steps"] == 3
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"models": {"kept": True}}))
    section = evaluate_diffusers.main(["--model", str(out), "--images", str(image_folder), "--metrics", str(metrics)])
    written = json.loads(metrics.read_text())
    assert written["models"] == {"kept": True} and written["diffusers_unet"]["image_size"] == 32
    assert section["images"] == 16 and set(section["models"]) == {"diffusers_unet", "blur"}
    assert "skip1 cut" in section["knockouts"]["eps_mse"] and "attention off" in section["knockouts"]["eps_mse"]
