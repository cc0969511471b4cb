"""A block's panel links to the "Part by part" section that measures it (issue 10), and the Denoising lab's
side-by-side says "trained on emoji only", with this image's numbers, for any image that is not a held-out
emoji (issue 9). View-level tests first, then the same in a real headless Chromium."""
from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from explorer import formatting
from explorer.analysis.denoise import predict
from explorer.ui.app import build_app
from explorer.views import architecture, denoising
from explorer.views.context import Context
from tests.test_browser import block, open_architecture, open_tab, page, upload, wait_for_panel, wait_for_text  # noqa: F401

# --- the evidence links, as views ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name, first", [("skip1", "proof-concat"), ("dec2.up", "proof-concat"),
                                         ("dec3", "proof-concat"), ("time_mlp", "proof-time"),
                                         ("enc2", "proof-time"), ("mid.attn", "proof-attention"),
                                         ("enc4.attn", "proof-attention"), ("mid.res1", "proof-bottleneck"),
                                         ("in_conv", "proof-gradients"), ("enc1", "proof-gradients")])
def test_each_block_links_to_the_section_that_measures_it(ctx, name, first):
    sections = architecture.evidence_sections(ctx, name)
    assert sections[0] == first
    assert len(sections) == len(set(sections))
    html = architecture.evidence_html(ctx, name)
    assert html.count("<button") == len(sections)
    assert f'data-evidence="{first}"' in html and "See the evidence" in html


def test_resblocks_also_link_to_time_and_attention_names_its_block(ctx):
    for name in ("enc1", "enc3", "mid.res2", "dec1"):
        assert "proof-time" in architecture.evidence_sections(ctx, name), name
    assert 'data-query-block="mid.attn"' in architecture.evidence_html(ctx, "mid.attn")
    assert "data-query-block" not in architecture.evidence_html(ctx, "skip1")


def test_blocks_without_a_proof_get_no_links(ctx):
    for name in ("enc1.down", "out", "layer1", "layer5"):
        assert architecture.evidence_html(ctx, name) == "", name
    assert architecture.evidence_html(ctx, "no such block") == ""


def test_every_linked_section_exists_in_the_app(ctx):
    demo = build_app(ctx)
    ids = {block.elem_id for block in demo.blocks.values() if getattr(block, "elem_id", None)}
    assert set(architecture.EVIDENCE) <= ids
    linked = {section for name in ctx.block_names() for section in architecture.evidence_sections(ctx, name)}
    assert linked == set(architecture.EVIDENCE)  # every section is reached from some block
    assert {"block-evidence", "evidence-scroll", "proof-attention-block"} <= ids


# --- the domain note, as a view ------------------------------------------------------------------------------------

def photo(ctx: Context, seed: int = 3) -> np.ndarray:
    """A non-emoji picture: smooth colour gradients with texture, at the model's size."""
    side = ctx.image_size
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side] / side
    base = np.stack([0.5 + 0.4 * np.sin(6 * x), 0.5 + 0.4 * np.cos(5 * y), 0.4 + 0.3 * x * y], axis=-1)
    return np.clip((base + 0.08 * rng.standard_normal(base.shape)) * 255, 0, 255).astype(np.uint8)


def test_heldout_examples_are_recognised_and_other_images_are_not(ctx):
    digests = denoising.heldout_digests(ctx)
    assert len(digests) == len(ctx.examples) > 0
    assert denoising.image_digest(ctx.image(ctx.examples[0])) in digests
    assert denoising.image_digest(photo(ctx)) not in digests


def test_the_note_quotes_the_side_by_sides_own_numbers(ctx):
    t, seed = 250, 0
    comparison = denoising.compare(ctx, photo(ctx), t, seed)
    note = denoising.domain_note_html(ctx, comparison)
    x0, x_t, eps = ctx.x_t(photo(ctx), t, seed)
    unet = predict(ctx.pair.unet, ctx.diffusion, x_t, t, x0, eps).eps_mse
    naive = predict(ctx.pair.naive, ctx.diffusion, x_t, t, x0, eps).eps_mse
    assert note.startswith("<b>Trained on emoji only.</b>") and "**" not in note
    assert f"t = {t}" in note and formatting.mse(unet) in note and formatting.mse(naive) in note
    assert f"{formatting.share(unet / naive)} of the naive CNN's" in note
    view = denoising.side_by_side_html(comparison, "key", note)
    assert 'id="denoise-domain-note"' in view and note in view
    assert "denoise-domain-note" not in denoising.side_by_side_html(comparison, "key")


# --- in the browser ------------------------------------------------------------------------------------------------

def in_view(page, selector: str) -> bool:
    return page.eval_on_selector(selector, """(e) => { const r = e.getBoundingClientRect();
        return r.top >= -60 && r.top < window.innerHeight * 0.6 && r.height > 0; }""")


def test_evidence_buttons_open_their_proof_and_select_its_block(page):
    open_architecture(page)
    block(page, "skip1").click()
    wait_for_panel(page, "skip1")
    button = page.locator('#block-evidence button[data-evidence="proof-concat"]')
    button.wait_for()
    assert "See the evidence" in button.inner_text()
    button.focus()
    page.keyboard.press("Enter")  # keyboard-usable: a real <button>
    page.wait_for_selector("#tab-proofs-button[aria-selected=true]")
    page.wait_for_function("""() => { const e = document.getElementById('proof-concat');
        if (!e) return false; const r = e.getBoundingClientRect();
        return r.height > 0 && r.top >= -60 && r.top < window.innerHeight * 0.6; }""")
    # the section's table is filled by the tab's refresh, and the section stays in view after it
    wait_for_text(page, "#proof-concat-table", "skip")
    page.wait_for_timeout(1000)
    assert in_view(page, "#proof-concat")
    assert page.evaluate("() => document.activeElement && document.activeElement.id") == "proof-concat"

    # An attention block's evidence also selects that block in the attention section.
    open_tab(page, "architecture")
    block(page, "dec4.attn").click()
    wait_for_panel(page, "dec4.attn")
    # The buttons follow the shown block in an event of their own, after the panel: press the block's own.
    page.click('#block-evidence button[data-evidence="proof-attention"][data-query-block="dec4.attn"]')
    page.wait_for_selector("#tab-proofs-button[aria-selected=true]")
    page.wait_for_selector('#proof-attention-block input[value="dec4.attn"]:checked')
    page.wait_for_function("""() => { const e = document.getElementById('proof-attention');
        const r = e && e.getBoundingClientRect(); return r && r.height > 0 && r.top >= -60
        && r.top < window.innerHeight * 0.6; }""")
    wait_for_text(page, "#proof-attention-entropy", "dec4.attn")


def test_upload_shows_the_domain_note_in_the_denoising_lab(page, tmp_path):
    open_tab(page, "denoising")
    page.wait_for_selector("#denoise-view .sbs[data-t]")
    assert page.query_selector("#denoise-domain-note") is None  # a held-out emoji: no note
    side = 64
    y, x = np.mgrid[0:side, 0:side] / side
    picture = np.stack([0.5 + 0.4 * np.sin(6 * x), 0.5 + 0.4 * np.cos(5 * y), 0.4 + 0.3 * x * y], axis=-1)
    path = tmp_path / "photo.png"
    Image.fromarray((picture * 255).astype(np.uint8)).resize((160, 120)).save(path)
    upload(page, path)
    wait_for_text(page, "#image-source", "your upload")
    note = wait_for_text(page, "#denoise-domain-note", "Trained on emoji only")
    t = int(page.eval_on_selector("#denoise-view .sbs", "(e) => e.dataset.t"))
    assert f"t = {t}" in note
    numbers = re.findall(r"ε-MSE\) is ([0-9.e-]+) and the naive CNN's ([0-9.e-]+)", note)
    assert numbers, note
    header = page.inner_text("#denoise-view thead")
    unet_header = float(re.search(r"U-Net\s+ε-MSE ([0-9.]+)", header).group(1))
    assert float(numbers[0][0]) == pytest.approx(unet_header, rel=0.01, abs=1e-4)
