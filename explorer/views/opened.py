"""What the page says about a diffusers model opened in the U-Net's place (`python app.py --model ...`).

Everything here is read from the model and its folder: the source, the parameter count, the size, the schedule
(from its scheduler config, or the DDPM schedule assumed), the notes `open_diffusers` returned, and what its
training.json says it was trained on, if the folder has one (explorer/train_diffusers.py writes it).
"""
from __future__ import annotations

from explorer.views.context import Context

LEFT_OUT = ("The Lesson, Part by part and the Trained alternatives study are measured on the shipped models: run "
            "without --model to see them.")
NAIVE_NOTE = ("the shipped naive CNN, trained at 64×64 on the Noto emoji with DDPM's linear schedule, run here at "
              "{size}×{size} (it is all convolutions, so it takes any size; it was never trained at this one)")


def schedule_text(ctx: Context) -> str:
    """'linear β (1e-4 to 0.02) over 1000 steps, predicting ε' for the app's schedule."""
    diffusion = ctx.diffusion
    predicts = {"epsilon": "ε", "v_prediction": "v", "sample": "x̂₀"}[diffusion.prediction_type]
    return (f"{diffusion.beta_schedule} β ({float(diffusion.betas[0]):.3g} to {float(diffusion.betas[-1]):.3g}) over "
            f"{diffusion.num_timesteps} steps, predicting {predicts}")


def trained_on(ctx: Context) -> str:
    """What the model's training.json says about its training, or that the folder does not say."""
    record = ctx.opened.training if ctx.opened is not None else {}
    training, data = record.get("training") or {}, record.get("data") or {}
    if not training:
        return "its folder does not say what it was trained on (no training.json)"
    images = data.get("train_images")
    on = (f"{images:,} training images from {data.get('folder', 'its data')}" if isinstance(images, int)
          else "its training images")
    steps, seen = training.get("steps"), training.get("images_seen")
    count = f"{steps:,} steps ({seen:,} images seen)" if isinstance(steps, int) and isinstance(seen, int) else "?"
    return f"trained {count} on {on} at {training.get('image_size', ctx.image_size)} px (its training.json)"


def model_note(ctx: Context) -> str:
    """The page's line naming the opened model, in Markdown; empty for the shipped U-Net."""
    opened = ctx.opened
    if opened is None:
        return ""
    parameters = sum(p.numel() for p in ctx.cpu_pair.unet.parameters())
    where = ("scheduler config " + str(opened.scheduler_config.get("_class_name", "")).strip()
             if opened.scheduler_config is not None else "assumed")
    notes = "".join(f"  \n⚠ {note}" for note in opened.notes)
    return (f"**Opened: {ctx.unet_title}** from `{opened.source}` · {parameters:,} parameters · "
            f"{ctx.image_size}×{ctx.image_size} px · schedule ({where}): {schedule_text(ctx)} · "
            f"{trained_on(ctx)}.  \nBeside it: {NAIVE_NOTE.format(size=ctx.image_size)}. Images and uploads are "
            f"resized to {ctx.image_size}×{ctx.image_size}.{notes}  \n{LEFT_OUT}")


def which_is_which(ctx: Context) -> str:
    """For the tabs that show both networks: which model the page calls "U-Net" and which "Naive CNN"."""
    if ctx.opened is None:
        return ""
    return (f"Here **U-Net** is the opened {ctx.unet_title} ({trained_on(ctx)}); **Naive CNN** is "
            f"{NAIVE_NOTE.format(size=ctx.image_size)}.")
