"""`python app.py --model ...` in a real headless Chromium, and every endpoint of that page through gradio_client.

Two apps, one after the other (a module-scoped fixture, so two starts in all): the shipped trained diffusers model
(weights/diffusers-unet) and a random UNet2DModel of google/ddpm-cifar10-32's config (35.7 M parameters), written
here by `save_pretrained`; nothing downloads. For each: the page names the model, a diagram click shows the
block's panel and feature maps, a skip's panel says what it carries, a pixel click draws the receptive fields, a
skip knock-out changes the prediction in the side by side, and a reverse process finishes. The page after load goes
to /tmp/shots/ at 1400×900 and 390×844. Block-click times are printed (`pytest -s`).
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests import browser
from tests.server import ROOT, api_client, running_app
from tests.test_browser import (
    block,
    image_src,
    open_tab,
    panel_heading,
    selected_blocks,
    wait_for_image,
    wait_for_panel,
    wait_for_text,
    wait_for_view,
)

diffusers = pytest.importorskip("diffusers")

TIMEOUT_MS = 60_000  # a google/ddpm-cifar10-32-sized forward takes about 0.4 s of CPU; a backward more
DESKTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}
SIDE = 32  # both models' sample_size
CLICKED = "down_blocks.1.attentions.0"  # both models have attention at their second level


def cifar10_folder(folder: Path) -> Path:
    """A DDPMPipeline folder with a random UNet2DModel of google/ddpm-cifar10-32's config (fp16 on disk)."""
    import torch

    from tests.test_denoisers import tiny_unet2d
    from tests.test_denoisers_loading import CIFAR10

    unet = tiny_unet2d(CIFAR10).to(torch.float16)
    scheduler = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear", variance_type="fixed_small")
    diffusers.DDPMPipeline(unet=unet, scheduler=scheduler).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module", params=["shipped", "cifar10"])
def opened(request, tmp_path_factory):
    """(name, URL) of `python app.py --model FOLDER`, one app per model."""
    source = (ROOT / "weights" / "diffusers-unet" if request.param == "shipped"
              else cifar10_folder(tmp_path_factory.mktemp("ddpm-cifar10-32")))
    with running_app("--model", str(source), timeout=180) as url:
        yield source.name, url


@pytest.fixture
def page(pages, opened):
    name, url = opened
    closable, page, errors = browser.open_page(pages, url, DESKTOP, TIMEOUT_MS, ready="#views [role=tab]")
    wait_for_image(page, "#x0-preview")
    yield page
    closable.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


def test_the_page_names_the_model_and_leaves_the_shipped_views_out(page, opened):
    name, _ = opened
    note = wait_for_text(page, "#model-note", name)
    assert "parameters" in note and "32×32 px" in note and "linear β" in note and "run without --model" in note
    tabs = page.eval_on_selector_all("#views [role=tab]", "(ts) => ts.map(t => t.innerText.trim())")
    assert tabs == ["Architecture", "Denoising lab", "Receptive field"]
    wait_for_panel(page, "mid_block.attentions.0")  # the tab the page opens on is filled on load
    browser.SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(browser.SHOTS / f"diffusers-{name}-1400.png"), full_page=True)


def test_a_block_click_shows_its_panel_and_feature_maps(page, opened):
    name, _ = opened
    wait_for_panel(page, "mid_block.attentions.0")
    before = wait_for_image(page, "#block-activation")
    times = []
    for clicked in (CLICKED, "up_blocks.3.resnets.0", CLICKED):
        started = time.monotonic()
        block(page, clicked).click()
        text = wait_for_panel(page, clicked)
        before = wait_for_image(page, "#block-activation", other_than=before)
        times.append(time.monotonic() - started)
        assert selected_blocks(page) == [clicked]
    assert "Self-attention" in text and "16×16" in text, text[:400]
    print(f"\n{name}: block click to panel and maps in the browser: " + ", ".join(f"{t:.2f} s" for t in times))
    block(page, "skip3").click()
    text = wait_for_panel(page, "skip3")
    assert "straight across to up_blocks." in text and "Skip connection" in text, text[:400]
    block(page, "layer2").click()  # the naive CNN beside it, at the model's size
    assert "64×32×32" in wait_for_panel(page, "layer2")
    assert panel_heading(page).startswith("layer2")


def test_a_pixel_click_draws_the_receptive_fields(page):
    open_tab(page, "receptive")
    overlays = wait_for_image(page, "#rf-overlays")
    picture = page.locator("#rf-picker img")
    zoom = 8  # a 32×32 picture at the 256 CSS pixels of our 64×64 ones (4×)
    assert picture.bounding_box()["width"] == zoom * SIDE
    picture.click(position={"x": zoom * 20 + 3, "y": zoom * 10 + 3})
    page.wait_for_function("() => document.querySelector('#rf-y input').value === '10'")
    assert page.input_value("#rf-x input") == "20"
    wait_for_image(page, "#rf-overlays", other_than=overlays)
    assert page.locator("#rf-overlays figure").count() == 2
    text = wait_for_text(page, "#rf-numbers", "U-Net")
    assert "Naive CNN" in text


def test_a_skip_knockout_changes_the_side_by_side(page):
    open_tab(page, "denoising")
    view = wait_for_view(page)
    shown = page.inner_text("#denoise-view")
    assert "Naive CNN" in shown and "U-Net" in shown
    assert "Here U-Net is the opened UNet2DModel" in page.inner_text("#tab-denoising")
    knocked_before = page.locator("#denoise-view").inner_html()
    page.locator("#skip-switches label", has_text="skip1").first.click()
    wait_for_view(page, other_than=view)
    wait_for_text(page, "#denoise-view", "skip1 cut")
    assert page.locator("#denoise-view").inner_html() != knocked_before


def test_a_reverse_process_finishes(page):
    open_tab(page, "denoising")
    wait_for_view(page)
    page.fill("#ddim-steps input", "5")
    page.click("#denoise-from-here")
    wait_for_text(page, "#reverse-progress", "done")
    wait_for_image(page, "#reverse-strip")
    wait_for_image(page, "#reverse-gif")
    assert image_src(page, "#reverse-live")


def test_the_phone_layout(chromium, opened):
    name, url = opened
    closable, page, errors = browser.open_page(chromium, url, PHONE, TIMEOUT_MS, ready="#views [role=tab]",
                                               is_mobile=True, has_touch=True)
    try:
        wait_for_panel(page, "mid_block.attentions.0")
        page.screenshot(path=str(browser.SHOTS / f"diffusers-{name}-390.png"), full_page=True)
        for tab, ready in (("architecture", None), ("denoising", wait_for_view),
                           ("receptive", lambda page: wait_for_image(page, "#rf-overlays"))):
            open_tab(page, tab)
            if ready:
                ready(page)
            width = page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= PHONE["width"] + 1, f"{tab}: the page is {width} px wide on a {PHONE['width']} px phone"
    finally:
        closable.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


# --- the API of the same app ---------------------------------------------------------------------------------------

GOOD = {  # each endpoint of the --model page with good arguments (the session's image is the first example)
    "/random_image": (),
    "/examples": (),
    "/previews": (250, 0),
    "/select_block": (250, 0, CLICKED),
    "/levels": (250, 0),
    "/frequency_sweep": (0,),
    "/denoise": (250, 0, True, 100, ["skip1", "skip3"], False, True),
    "/image_curve": (250, 0),
    "/denoise_from_here": (250, 0, 3),
    "/generate_from_noise": (0, 2),
    "/receptive_field": (250, 0, 10, 20, "skip3"),
}
ELSEWHERE = {"/pick_example", "/click_block", "/upload_image", "/choose_example"}  # the input panel's: test_endpoints


def test_every_endpoint_answers(opened):
    _, url = opened
    client = api_client(url)
    named = set(client.view_api(return_format="dict", print_info=False)["named_endpoints"])
    assert named == set(GOOD) | ELSEWHERE, "an endpoint of the --model page is not in GOOD (or is gone)"
    for api, args in GOOD.items():
        result = client.predict(*args, api_name=api)
        assert result is not None, api
    facts = client.predict(250, 0, "skip3", api_name="/select_block")[-1]
    assert facts["block"] == "skip3"
    numbers = client.predict(250, 0, False, 250, ["skip2", "skip3"], True, False, api_name="/denoise")[1]
    cut = numbers["knockouts"]["cut_skips"]
    assert "skip1" in cut and "skip2" not in cut and "knocked" in numbers["models"]
    assert numbers["models"]["knocked"]["eps_mse"] != numbers["models"]["unet"]["eps_mse"]
