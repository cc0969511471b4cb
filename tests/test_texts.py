"""What the app says agrees with what it measures (issue 9): explanations quote metrics.json, no typed
numbers, no unglossed jargon or developer speak, the receptive-field wording, the notes for uploads and for
the reverse process."""
from __future__ import annotations

import ast
import copy
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from explorer import explanations, formatting
from explorer.analysis.receptive_field import Field
from explorer.data import load_image
from explorer.explanations import (
    _WHAT,
    _WHY,
    explain,
    field_facts,
    first_block_seeing_everything,
    knockout_ratios,
    reverse_process_note,
    sweep_caption,
)
from explorer.formatting import times
from explorer.views import domain
from tests import browser

ROOT = Path(__file__).resolve().parent.parent
JARGON = ["Chebyshev", "mass outside", "+ global", "python -m explorer", "written by", "edges and fine texture first"]


@pytest.fixture(scope="module")
def metrics() -> dict:
    return json.loads((ROOT / "weights" / "metrics.json").read_text())


def why(ctx, name, metrics):
    return explain(ctx.spec(name), ctx.fields.get(name), metrics, ctx.image_size)[2]


def expected_range(metrics: dict, row: str) -> str:
    """Recomputed here from the raw table, not through explanations' helpers."""
    table = metrics["knockouts"]["eps_mse"]
    ratios = [(t, value / base)
              for t, value, base in zip(metrics["knockouts"]["timesteps"], table[row], table["intact"])]
    low, high = min(ratios, key=lambda p: p[1]), max(ratios, key=lambda p: p[1])
    return f"{times(low[1])} (t = {low[0]}) to {times(high[1])} (t = {high[0]})"


# ---- explanations quote this model's measurements -------------------------------------------------------------


def test_skip_explanations_quote_the_knockout_table(ctx, metrics):
    for level in range(1, ctx.pair.unet.config.num_levels + 1):
        name = f"skip{level}"
        text = why(ctx, name, metrics)
        assert expected_range(metrics, f"{name} cut") in text, text
        assert f"on the {metrics['images']} held-out images" in text
    ratio_10 = metrics["knockouts"]["eps_mse"]["skip1 cut"][0] / metrics["knockouts"]["eps_mse"]["intact"][0]
    assert times(ratio_10) in why(ctx, "skip1", metrics)


def test_skip1_does_not_say_edges_first_and_matches_its_measured_damage(ctx, metrics):
    text = why(ctx, "skip1", metrics).lower()
    assert "first" not in text and "edges" not in text
    assert "ruined at every t" in text and "smooth" in text
    # the claim "ruined at every t" holds in the table it quotes
    assert min(ratio for _, ratio in knockout_ratios(metrics, "skip1 cut")) >= 2
    for level in range(1, ctx.pair.unet.config.num_levels + 1):  # and no skip claims it when the table disagrees
        pairs = knockout_ratios(metrics, f"skip{level} cut")
        assert ("ruined at every t" in why(ctx, f"skip{level}", metrics)) == (min(r for _, r in pairs) >= 2)


def test_time_and_attention_explanations_quote_their_rows(ctx, metrics):
    assert expected_range(metrics, "told the wrong t") in why(ctx, "time_mlp", metrics)
    assert "high noise" not in why(ctx, "mid.res1", metrics).lower()  # bypassing it costs least at high t
    for name in ("enc4.attn", "mid.attn", "dec4.attn"):
        assert expected_range(metrics, "attention off") in why(ctx, name, metrics)


def test_new_measurements_are_quoted_when_present_and_absent_otherwise(ctx, metrics):
    bare = copy.deepcopy(metrics)
    for key in ("concat", "time_conditioning"):
        bare.pop(key, None)
    bare["knockouts"]["eps_mse"].pop("bottleneck bypassed", None)
    for name in ("mid.res1", "dec1", "enc2"):
        assert "Measured" not in why(ctx, name, bare), name

    full = copy.deepcopy(bare)
    timesteps = full["knockouts"]["timesteps"]
    intact = full["knockouts"]["eps_mse"]["intact"]
    full["knockouts"]["eps_mse"]["bottleneck bypassed"] = [value * 3.0 for value in intact]
    full["concat"] = {"timesteps": timesteps, "levels": {"1": {
        "channels": {"up": 64, "skip": 32, "out": 32},
        "eps_mse": {"intact": intact, "skip_zero": [v * 7.0 for v in intact], "up_zero": [v * 1.5 for v in intact]}}}}
    full["time_conditioning"] = {"timesteps": timesteps, "blocks": ["enc2"], "shift": [[0.05, 0.1, 0.2, 0.3, 0.4]]}
    assert f"by {times(3.0)} (t = " in why(ctx, "mid.res1", full)  # every ratio printed by formatting.times
    text = why(ctx, "dec1", full)
    assert f"zeroing the 32 channels from the skip multiplies the noise error by {times(7.0)}" in text
    assert f"zeroing the 64 upsampled channels by {times(1.5)}" in text
    assert "5% to 40%" in why(ctx, "enc2", full)


def test_without_metrics_no_measured_number_is_shown(ctx):
    for spec in ctx.unet_specs + ctx.naive_specs:
        text = " ".join(explain(spec, ctx.fields.get(spec.name), None, ctx.image_size))
        assert "Measured" not in text and not re.search(r"(?<!\d)×\d", text), (spec.name, text)


def test_no_typed_numbers_in_the_templates():
    """Digits in the templates may only name fixed parts of the architecture (3×3 kernels, 2×2 repeats, 3 colours)."""
    for key, template in list(_WHAT.items()) + list(_WHY.items()):
        literal = re.sub(r"\{[^}]*\}", "", template)
        numbers = re.findall(r"\d[\d.,]*", literal)
        assert set(numbers) <= {"3", "2", "1"}, (key, numbers)
        assert "%" not in literal


# ---- receptive-field wording ----------------------------------------------------------------------------------


def test_every_unit_first_sees_the_whole_image_at_mid_res1_and_the_findings_say_so(ctx):
    assert first_block_seeing_everything(ctx.fields, ctx.unet_specs, ctx.image_size) == "mid.res1"
    readme = (ROOT / "docs" / "findings.md").read_text()
    assert "from `enc4` on," not in readme
    assert "every unit first does at `mid.res1`" in readme
    units = explanations.units_seeing_everything(ctx.fields["enc4"], 8, ctx.image_size)
    assert f"only\n  {units} of `enc4`'s 64 units" in readme or f"only {units} of `enc4`'s 64 units" in readme
    assert "at every\n  interior pixel" in readme or "at every interior pixel" in readme
    for path in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        text = path.read_text()
        assert "browser session" not in text and "DESIGN.md" not in text and "../shared" not in text, path
        for link in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
            assert (path.parent / link).exists(), (path.name, link)


def test_block_panel_does_not_claim_every_enc4_unit_sees_the_image(ctx):
    from explorer.views.architecture import facts_markdown

    facts = facts_markdown(ctx, "enc4")
    assert "1 of 64 units sees the whole 64×64 image" in facts
    assert "for every unit" in facts_markdown(ctx, "mid.res1")
    # a hand-made field: a window wider than the image but off-centre units cut off
    field = Field("x", 77, 64, 8, -38, 38)
    assert "1 of 64 units sees" in field_facts(field, 8, 64)


def test_receptive_table_and_diagram_give_the_window_not_the_clipped_image(ctx):
    from explorer.views import architecture, receptive

    image = ctx.image(ctx.examples[0])
    fields = receptive.views(ctx, image, 250, 0, 2, 2, "enc4")
    y0, y1, x0, x1 = fields[2].effective.box
    row = next(line for line in receptive.numbers_markdown(ctx, fields, 250).splitlines() if "layers allow" in line)
    assert f"{y1 - y0 + 1}×{x1 - x0 + 1} here ({ctx.fields['enc4'].size}×{ctx.fields['enc4'].size} window" in row
    assert (y1 - y0 + 1) < ctx.image_size
    svg = architecture.diagram(ctx, "enc4")
    size = ctx.fields["enc4"].size
    assert size > ctx.image_size and re.search(rf"enc4: [^\"<]*receptive field {size}×{size}", svg)


def readme_number(x: float) -> str:
    """How the README writes a measured factor: two significant figures, digits grouped."""
    if x < 10:
        return f"{x:.1f}"
    return f"{float(f'{x:.2g}'):,.0f}"


def test_findings_numbers_agree_with_metrics(metrics):
    """docs/findings.md's measured factors are this metrics.json's (rerun after `python -m explorer.evaluate`)."""
    readme = " ".join((ROOT / "docs" / "findings.md").read_text().split())
    table = metrics["knockouts"]["eps_mse"]

    def ratios(row):
        return [value / base for value, base in zip(table[row], table["intact"])]

    wrong_t = ratios("told the wrong t")
    assert f"by {readme_number(min(wrong_t))} to {readme_number(max(wrong_t))} times" in readme
    models = metrics["models"]
    naive_over_unet = [n / u for n, u in zip(models["naive"]["eps_mse"], models["unet"]["eps_mse"])]
    assert (f"its ε-MSE is {readme_number(min(naive_over_unet))} to {readme_number(max(naive_over_unet))} times "
            "the U-Net's") in readme
    deep = ratios("skip3 cut") + ratios("skip4 cut")
    assert f"cost a factor of {readme_number(min(deep))} to {readme_number(max(deep))}" in readme
    shallow = ratios("skip1 cut") + ratios("skip2 cut")
    assert "ruins the prediction at *every* t" in readme and min(shallow) >= 2
    blur, unet = models["blur"]["eps_mse"], models["unet"]["eps_mse"]
    wins = [t for i, t in enumerate(metrics["timesteps"]) if all(b < u for b, u in zip(blur[i:], unet[i:]))]
    assert wins and f"At t ≥ {wins[0]} a heavy Gaussian blur has a lower noise error" in readme


# ---- jargon and developer speak -------------------------------------------------------------------------------


def _strings(path: Path) -> list[str]:
    """Every string literal of a module except docstrings (what the app can show)."""
    tree = ast.parse(path.read_text())
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_no_jargon_or_developer_speak_in_app_text(ctx):
    files = sorted((ROOT / "explorer" / "ui").glob("*.py")) + sorted((ROOT / "explorer" / "views").rglob("*.py"))
    files += [ROOT / "explorer" / name for name in ("explanations.py", "lesson.py", "diagram.py", "render.py")]
    found = [(path.name, word, text[:80]) for path in files if path.exists() for text in _strings(path)
             for word in JARGON if word in text]
    assert not found, found
    texts = [" ".join(explain(s, ctx.fields.get(s.name), ctx.metrics, ctx.image_size)) for s in ctx.unet_specs]
    texts += [reverse_process_note(ctx.diffusion), sweep_caption(ctx.image_size)]
    assert not [word for text in texts for word in JARGON if word in text]


# ---- notes for the reverse process and the sweep chart -------------------------------------------------------


def test_reverse_process_note_quotes_the_schedule(ctx):
    text = reverse_process_note(ctx.diffusion)
    for t in (250, 500, 900):
        assert f"{float(ctx.diffusion.sqrt_alphas_cumprod[t]):.2f} at t = {t}" in text
    start = explanations.little_left_from(ctx.diffusion)
    assert f"From about t = {start} on" in text
    assert ctx.diffusion.snr_db(start) <= -10 < ctx.diffusion.snr_db(start - 1)


def test_sweep_caption_explains_the_rising_skip1_share():
    text = sweep_caption(64)
    assert "white" in text and "skip1" in text and "noise" in text and "8 cycles" in text


# ---- the note for uploads: trained on emoji only -------------------------------------------------------------


def photo_like(size: int = 90) -> Image.Image:
    """Not an emoji: smooth colour gradients with fine texture all over, nothing on white."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:size, 0:size] / size
    array = np.stack([120 + 100 * np.sin(6 * xx), 90 + 80 * yy, 160 - 90 * xx * yy], -1)
    array = array + rng.normal(0, 18, array.shape)
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))


def test_domain_note_for_an_upload_quotes_this_images_numbers(ctx):
    from explorer.views.denoising import compare

    image = np.asarray(load_image(photo_like()))
    t, seed = 250, 0
    note = domain.upload_note(ctx, image, t, seed, "Image: your upload (centre square, resized to 64×64)")
    comparison = compare(ctx, image, t, seed)
    unet, naive = comparison.predictions["unet"].eps_mse, comparison.predictions["naive"].eps_mse
    assert "trained on emoji only" in note.lower()
    assert f"is {formatting.mse(unet)} and the naive CNN's {formatting.mse(naive)}" in note
    assert f"{formatting.share(unet / naive)} of the naive CNN's" in note
    assert "11×11 pixels" in note and "held-out emoji" in note
    if ctx.metrics:
        index = ctx.metrics["timesteps"].index(t)
        held = ctx.metrics["models"]["unet"]["eps_mse"][index] / ctx.metrics["models"]["naive"]["eps_mse"][index]
        bounds = ctx.metrics.unet_over_naive(t)[1]
        quoted = formatting.with_interval(held, bounds, formatting.share)
        assert f"held-out emoji at t = {t} (held-out average) it is {quoted}" in note
    assert domain.upload_note(ctx, image, t, seed, f"Image: held-out example `{ctx.examples[0].stem}`") == ""


def test_domain_note_appears_in_the_page_after_an_upload(ctx, tmp_path, app_url, pages):
    picture = tmp_path / "photo.png"
    photo_like().save(picture)
    expected = domain.scores(ctx, np.asarray(load_image(picture)), 250, 0)
    closable, page, _ = browser.open_page(pages, app_url, {"width": 1400, "height": 1000}, 60_000, ready="#upload")
    try:
        assert "Trained on emoji only" not in page.inner_text("#domain-note")
        with page.expect_file_chooser() as chooser:
            page.click("#upload")
        chooser.value.set_files(str(picture))
        page.wait_for_function(
            "() => (document.querySelector('#domain-note') || {}).innerText?.includes('Trained on emoji only')")
        text = page.inner_text("#domain-note")
        assert f"is {formatting.mse(expected.unet)} and the naive CNN's {formatting.mse(expected.naive)}" in text, text
        page.click("#random-image")
        page.wait_for_function(
            "() => !(document.querySelector('#domain-note') || {}).innerText?.includes('Trained on emoji only')")
    finally:
        closable.close()
