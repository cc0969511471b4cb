"""The study of architectures: every alternative to the U-Net trained by one protocol, at a ladder of budgets.

    python -m explorer.study train      # explorer/study/ladder.py, with explorer.train
    python -m explorer.study status     # what is trained and what is left
    python -m explorer.study evaluate   # explorer/study/report.py, with explorer.evaluate

`load(name, seed, steps=…, resolution=…)` gives a trained variant, `heldout_images(n)` the clean held-out
images at the study's resolution, `results()` the numbers of weights/study/study.json.
"""
from explorer.study.results import heldout_images, load, results

__all__ = ["heldout_images", "load", "results"]
