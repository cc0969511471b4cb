"""The running app through its API (gradio_client): every endpoint answers, and hostile input gets a clear error.

The app runs as `python app.py` in a subprocess (tests/server.py). Each endpoint is described once in
ENDPOINTS: the kind of each exposed parameter and a good value for it. From that table come the good
calls, the output checks and the hostile-input walk, so a new endpoint needs one line here, and
`test_every_exposed_endpoint_is_described` fails until it has one.

gr.State inputs (the session's image) are not exposed by the API; they live in the client's session,
so an upload through `/upload_image` is what later calls in the same session see.
"""
from __future__ import annotations

import json
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from tests.server import ROOT, api_client

IMAGE_SIZE = 64
PREVIEW_SIZE = 3 * IMAGE_SIZE
EXAMPLES = [path.stem for path in sorted((ROOT / "weights" / "heldout").glob("*.png"))]  # what /examples lists


# --- the endpoint table -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Param:
    kind: str   # what the value means: decides the hostile values tried on it (BAD below)
    good: object


def T(good=250):  # noqa: N802 - short names keep the table readable
    return Param("t", good)


def SEED(good=0):  # noqa: N802
    return Param("seed", good)


def BLOCK(good="mid.attn"):  # noqa: N802
    return Param("block", good)


def STEPS(good=4):  # noqa: N802
    return Param("steps", good)


def COORD(good=32):  # noqa: N802
    return Param("coord", good)


def EXAMPLE(good=EXAMPLES[1] if len(EXAMPLES) > 1 else ""):  # noqa: B008, N802 - a held-out example's name
    return Param("example", good)


def OTHER(good):  # noqa: N802 - a parameter with no hostile values of its own (a checkbox, say)
    return Param("other", good)


@dataclass(frozen=True)
class Endpoint:
    params: tuple[Param, ...]
    event_only: bool = False  # needs event data that only the browser sends (a gallery or diagram click)


ENDPOINTS: dict[str, Endpoint] = {
    "/pick_example": Endpoint((), event_only=True),
    "/upload_image": Endpoint((Param("file", None),)),  # uploads have their own tests below
    "/random_image": Endpoint(()),
    "/examples": Endpoint(()),
    "/choose_example": Endpoint((EXAMPLE(),)),
    "/previews": Endpoint((T(), SEED())),
    "/click_block": Endpoint((T(), SEED()), event_only=True),
    "/select_block": Endpoint((T(), SEED(), BLOCK())),
    "/levels": Endpoint((T(), SEED())),
    "/frequency_sweep": Endpoint((SEED(),)),
    # Denoising tab
    "/denoise": Endpoint((T(), SEED(), OTHER(True), Param("told_t", 100), Param("skips", ["skip1", "skip3"]),
                          OTHER(True), OTHER(True))),  # the last: bypass the bottleneck
    "/image_curve": Endpoint((T(), SEED())),
    "/denoise_from_here": Endpoint((T(), SEED(), STEPS())),
    "/generate_from_noise": Endpoint((SEED(), STEPS())),  # no t: it always starts from pure noise at t = 999
    # Receptive-field tab (y, x: the pixel; then the block, or "output" for the prediction)
    "/receptive_field": Endpoint((T(), SEED(), COORD(10), COORD(50), BLOCK("output"))),
    # Part by part tab (y, x: the query's pixel of x_t; the second t told to both networks)
    "/proof_attention": Endpoint((T(), SEED(), BLOCK("enc4.attn"), COORD(10), COORD(50))),
    "/proof_time": Endpoint((T(), SEED(), Param("told_t", 999))),
    # Trained-alternatives tab (the table's t is one of the study's timesteps)
    "/study_table": Endpoint((Param("study_t", 250),)),
    "/study_live": Endpoint((T(), SEED())),
}

WHOLE = r"whole number"
NUMBER = r"must be a number|is missing|give a number"
T_RANGE = r"between 1 and 999|less than minimum value 1\b|greater than maximum value 999"
# Hostile values per kind of parameter, each with a regex that the error message must match.
BAD: dict[str, list[tuple[object, str]]] = {
    "t": [(0, T_RANGE), (1000, T_RANGE), (-5, T_RANGE), (2.5, WHOLE), ("abc", NUMBER), (None, NUMBER)],
    "told_t": [(0, T_RANGE), (1000, T_RANGE), (2.5, WHOLE), ("abc", NUMBER)],
    "study_t": [(251, r"not in the list of choices|scored at t"), ("abc", r"not in the list of choices|number")],
    "seed": [("x", NUMBER), (1.5, WHOLE), (-1, r"between 0 and|less than minimum value 0"),
             (2**31, r"between 0 and|greater than maximum value")],
    "block": [("nope", r"nope.*(pick one of|not in the list of choices)"),
              ("", r"(pick one of|not in the list of choices)")],
    "steps": [(0, r"between 1 and|less than minimum value 1\b"), (10**6, r"between 1 and|greater than maximum value"),
              (2.5, WHOLE), ("x", NUMBER)],
    "coord": [(-1, r"outside|between 0 and|less than minimum"), (IMAGE_SIZE, r"outside|between 0 and|greater than"),
              (10**6, r"outside|between 0 and|greater than"), ("x", NUMBER), (1.5, WHOLE)],
    "skips": [(["skip9"], r"skip9.*(not in the list of choices|skip1)"), (["nope"], r"nope")],
    "example": [("nope", r"no held-out example named 'nope'.*/examples lists"), ("", r"give the name.*/examples"),
                (7, r"give the name.*/examples"), (None, r"give the name.*/examples")],
    "file": [],   # uploads have their own walk below
    "other": [],
}


def good_args(api: str) -> list:
    return [param.good for param in ENDPOINTS[api].params]


def hostile_cases() -> list:
    cases = []
    for api, endpoint in ENDPOINTS.items():
        if endpoint.event_only:
            continue
        for index, param in enumerate(endpoint.params):
            for value, pattern in BAD[param.kind]:
                cases.append(pytest.param(api, index, value, pattern, id=f"{api[1:]}-{param.kind}={value!r}"))
    return cases


# --- fixtures ------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def api(app_url) -> dict:
    """What the running app exposes: view_api()'s dict, named endpoints only."""
    return api_client(app_url).view_api(return_format="dict", print_info=False)["named_endpoints"]


@pytest.fixture(scope="module")
def client(app_url, api) -> Client:
    """One session shared by the read-only calls; the tests that upload make their own (`fresh`)."""
    return api_client(app_url)


@pytest.fixture
def fresh(app_url):
    """A new client: a new session, so an upload here does not change the image the other tests see."""
    return lambda: api_client(app_url)


@pytest.fixture
def exposed(api):
    """Skips a test whose endpoint is not exposed by the running app (the table may run ahead of the app)."""
    def check(name):
        if name not in api:
            pytest.skip(f"{name} is not exposed by this app")
    return check


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def claimed_png(width: int, height: int) -> bytes:
    """A PNG whose header claims width×height 1-bit pixels, with only a few rows of data behind it."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    rows = zlib.compress(b"\0" * (1 + (width + 7) // 8) * 4)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", rows) + _png_chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Good and hostile uploads, made here so that the tests need no fixtures on disk."""
    folder = tmp_path_factory.mktemp("uploads")
    out = {}

    def save(name, image, **options):
        out[name] = folder / name
        image.save(out[name], **options)

    red = Image.new("RGB", (80, 64), (220, 30, 30))
    save("red.png", red)
    save("blue.png", Image.new("RGB", (64, 64), (20, 40, 230)))
    save("green_1x1.png", Image.new("RGB", (1, 1), (20, 200, 40)))
    ramp = (np.tile(np.linspace(0, 65535, 96), (96, 1))).astype(np.uint16)
    save("gray16.png", Image.fromarray(ramp))  # a uint16 array gives mode I;16
    assert Image.open(out["gray16.png"]).mode.startswith("I")
    frames = [Image.new("RGB", (64, 64), colour) for colour in ((220, 30, 30), (20, 40, 230), (20, 200, 40))]
    save("animated.gif", frames[0], save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert getattr(Image.open(out["animated.gif"]), "n_frames", 1) == 3
    save("transparent.png", Image.new("RGBA", (64, 64), (0, 0, 0, 0)))
    noise = np.random.default_rng(0).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    full = folder / "noise.png"
    Image.fromarray(noise).save(full)
    out["truncated.png"] = folder / "truncated.png"
    out["truncated.png"].write_bytes(full.read_bytes()[: full.stat().st_size * 6 // 10])
    out["text.txt"] = folder / "text.txt"
    out["text.txt"].write_text("this is not an image\n")
    out["text_named.png"] = folder / "text_named.png"
    out["text_named.png"].write_text("this is not an image either\n")
    out["empty.png"] = folder / "empty.png"
    out["empty.png"].write_bytes(b"")
    out["bomb.png"] = folder / "bomb.png"
    out["bomb.png"].write_bytes(claimed_png(30000, 30000))
    out["48mp.png"] = folder / "48mp.png"
    out["48mp.png"].write_bytes(claimed_png(8000, 6000))
    return out


# --- helpers -------------------------------------------------------------------------------------------------------

def call(client: Client, api: str, *args):
    return client.predict(*args, api_name=api)


def expect_error(client: Client, api: str, args, pattern: str) -> str:
    """Call api(*args), which must fail with an AppError whose message matches pattern (case-insensitive)."""
    with pytest.raises(AppError) as caught:
        result = call(client, api, *args)
        pytest.fail(f"{api}{tuple(args)!r} should have failed but returned {str(result)[:200]}")
    message = str(caught.value)
    assert "has not enabled verbose error reporting" not in message, (
        f"{api}{tuple(args)!r} failed without a message for the user (an exception that is not a gr.Error, "
        f"probably in Gradio's own preprocessing of the value: see the app's log)")
    assert re.search(pattern, message, re.IGNORECASE | re.DOTALL), f"{api}{tuple(args)!r}: unclear error {message!r}"
    return message


def as_tuple(result) -> tuple:
    return result if isinstance(result, tuple) else (result,)


def open_image(path) -> Image.Image:
    assert isinstance(path, str) and Path(path).is_file(), f"expected an image file, got {path!r}"
    image = Image.open(path)
    image.load()
    assert image.width > 0 and image.height > 0
    return image.convert("RGB")


def check_outputs(api_info: dict, api: str, result) -> tuple:
    """Each output is what its component promises: an image file, a Plotly figure with data, text."""
    values = as_tuple(result)
    returns = api_info[api]["returns"]
    assert len(values) == len(returns), f"{api}: {len(values)} outputs for {len(returns)} components"
    for value, spec in zip(values, returns):
        component = spec["component"].lower()
        if value is None or (isinstance(value, dict) and value.get("__type__") == "update"):
            continue  # gr.skip(): a streamed step that leaves this output as it is
        if component == "image":
            open_image(value if isinstance(value, str) else value.get("path"))
        elif component == "plot":
            assert value["type"] == "plotly", value
            figure = json.loads(value["plot"])
            assert figure["data"], f"{api}: an empty figure"
        elif component in ("markdown", "html", "textbox"):
            assert isinstance(value, str) and value.strip(), f"{api}: empty {component}"
        elif component == "dropdown":
            assert value in spec["type"].get("enum", [value])
        elif component == "json":
            assert isinstance(value, (dict, list)) and value, f"{api}: empty {component}"
    return values


def mean_colour(path) -> np.ndarray:
    return np.asarray(open_image(path), dtype=np.float64).reshape(-1, 3).mean(axis=0)


def x0_preview(client: Client) -> Image.Image:
    return open_image(call(client, "/previews", 250, 0)[0])


# --- what is exposed -----------------------------------------------------------------------------------------------

def test_every_exposed_endpoint_is_described(api):
    missing = sorted(set(api) - set(ENDPOINTS))
    assert not missing, f"describe {missing} in ENDPOINTS in tests/test_endpoints.py (kinds and good values)"
    stale = sorted(set(ENDPOINTS) - set(api))
    assert not stale, f"{stale} are no longer exposed: remove them from ENDPOINTS in tests/test_endpoints.py"
    for name in set(api) & set(ENDPOINTS):
        exposed_params = [p["parameter_name"] for p in api[name]["parameters"]]
        assert len(exposed_params) == len(ENDPOINTS[name].params), (
            f"{name} takes {exposed_params} through the API; ENDPOINTS describes {len(ENDPOINTS[name].params)}")


UNNAMED = re.compile(r"^(param|parameter|value)_\d+$")  # what Gradio calls what nobody named


def test_every_parameter_and_return_is_named(api):
    """view_api() names each input and output after what it is, and says what each endpoint does."""
    unnamed = [f"{name} {where} {label!r}" for name, info in api.items()
               for where, label in [("parameter", p["parameter_name"]) for p in info["parameters"]]
               + [("parameter label", p["label"]) for p in info["parameters"]]
               + [("return", r["label"]) for r in info["returns"]]
               if not label or UNNAMED.match(str(label))]
    assert not unnamed, f"name these (a function parameter, a component label): {unnamed}"
    undescribed = [name for name, info in api.items() if not info.get("description", "").strip()]
    assert not undescribed, f"give these an api_description: {undescribed}"


def test_endpoints_that_show_numbers_return_them_as_data(api):
    """Beside the HTML and Markdown, a JSON output for a program to read."""
    for name in ("/previews", "/select_block", "/denoise", "/receptive_field", "/proof_attention", "/proof_time"):
        components = [spec["component"].lower() for spec in api[name]["returns"]]
        assert components[-1] == "json", f"{name} returns {components}: the numbers should come last, as JSON"


def test_the_session_image_is_not_an_api_parameter(api):
    """gr.State is kept per session by the server: no endpoint takes the image as an argument."""
    for name, info in api.items():
        assert all(p["component"].lower() != "state" for p in info["parameters"]), name


# --- good calls ----------------------------------------------------------------------------------------------------

def test_previews(client, api):
    x0, x_t, level, numbers = check_outputs(api, "/previews", call(client, "/previews", 250, 0))
    assert open_image(x0).size == open_image(x_t).size == (PREVIEW_SIZE, PREVIEW_SIZE)
    assert "t = 250" in level and "SNR" in level
    # The line's numbers, as data: signal² + noise² = 1 (ᾱ + (1 − ᾱ)), and the SNR the line prints.
    assert numbers["t"] == 250 and abs(numbers["signal"] ** 2 + numbers["noise"] ** 2 - 1) < 1e-4, numbers
    assert f"SNR = {numbers['snr_db']:+.1f} dB" in level, (numbers, level)
    # The same seed draws the same noise; another seed other noise.
    again = call(client, "/previews", 250, 0)[1]
    other = call(client, "/previews", 250, 1)[1]
    first = np.asarray(open_image(x_t), dtype=np.int16)
    assert np.abs(first - np.asarray(open_image(again), dtype=np.int16)).max() <= 2
    assert np.abs(first - np.asarray(open_image(other), dtype=np.int16)).mean() > 5


@pytest.mark.parametrize("t", [1, 999])
@pytest.mark.parametrize("seed", [0, 2**31 - 1])
def test_previews_at_the_edges(client, t, seed):
    assert f"t = {t}" in call(client, "/previews", t, seed)[2]


@pytest.mark.parametrize("name, words", [("mid.attn", ["mid.attn", "attention"]), ("enc2", ["enc2"]),
                                         ("time_mlp", ["time_mlp"]), ("layer3", ["layer3"]), ("out", ["out"])])
def test_select_block(client, api, name, words):
    html, chosen, markdown, activation, facts = check_outputs(api, "/select_block",
                                                              call(client, "/select_block", 250, 0, name))
    assert chosen == name == facts["block"]
    assert isinstance(facts["parameters"], int) and facts["output_shape"] and f"{facts['parameters']:,}" in markdown
    assert f'data-block="{name}"' in html and "<svg" in html
    for word in words:
        assert word.lower() in markdown.lower(), f"{word!r} not in the panel for {name}: {markdown[:300]}"
    assert "<img" in activation and 'alt="' in activation, activation[:300]  # pixel pictures with alt text


def test_levels(client, api):
    grid, spectrum, skips, naive_grid, naive_spectrum, scales = check_outputs(api, "/levels",
                                                                              call(client, "/levels", 250, 0))
    assert grid.count("<img") >= 9 and "enc1" in grid and "mid.res2" in grid
    assert naive_grid.count("<img") >= 5 and "layer1" in naive_grid and "layer5" in naive_grid
    names = {trace.get("name") for trace in json.loads(naive_spectrum["plot"])["data"]}
    assert {"layer1", "layer5"} <= names, names
    assert "64×64" in scales
    names = {trace.get("name") for trace in json.loads(spectrum["plot"])["data"]}
    assert {"enc1", "dec1"} <= names, names
    names = {trace.get("name") for trace in json.loads(skips["plot"])["data"]}
    assert any(str(n).startswith("skip") for n in names), names


def test_frequency_sweep(client, api):
    (figure,) = check_outputs(api, "/frequency_sweep", call(client, "/frequency_sweep", 0))
    figure = figure.get("value", figure)  # the plot arrives inside an update that also makes it visible
    data = json.loads(figure["plot"])["data"]
    assert data and min(data[0]["x"]) >= 1 and max(data[0]["x"]) <= 999


def test_random_image(fresh, api):
    client = fresh()
    (source,) = check_outputs(api, "/random_image", call(client, "/random_image"))
    assert "held-out example" in source


@pytest.mark.parametrize("name", ["/denoise", "/image_curve"])
def test_denoising_views(client, api, exposed, name):
    exposed(name)
    check_outputs(api, name, call(client, name, *good_args(name)))


def test_denoise_numbers_are_the_views(client, api):
    """/denoise's numbers are the ones its HTML prints, for the intact U-Net and with knock-outs."""
    skips = [f"skip{level}" for level in (1, 2, 3, 4)]
    html, numbers = check_outputs(api, "/denoise", call(client, "/denoise", 300, 5, False, 300, skips, True, False))
    assert len(html) > 10 * len(json.dumps(numbers)), "the numbers should be a small dict beside the big HTML"
    assert (numbers["t"], numbers["seed"]) == (300, 5)
    assert sorted(numbers["models"]) == ["blur", "naive", "unet"], numbers["models"]
    def shown(field: str) -> float:  # the number the HTML prints in <span data-f="field">, as printed (rounded)
        text = re.search(rf'data-f="{field}">([^<]*)<', html).group(1)
        return float(re.search(r"[-+]?\d[\d,]*\.?\d*(?:e[-+]?\d+)?", text).group(0).replace(",", ""))

    for model, scores in numbers["models"].items():
        assert shown(f"{model}-mse") == pytest.approx(scores["eps_mse"], rel=0.01), (model, scores)
        assert shown(f"{model}-psnr") == pytest.approx(scores["x0_psnr_db"], abs=0.06), (model, scores)
    assert shown("ratio") / 100 == pytest.approx(numbers["unet_eps_mse_over_naive"], abs=0.006)
    assert numbers["knockouts"]["summary"] == "intact"
    _, knocked = call(client, "/denoise", 300, 5, True, 900, ["skip1"], False, True)
    assert "knocked" in knocked["models"] and knocked["knockouts"]["told_t"] == 900
    assert knocked["knockouts"]["cut_skips"] == ["skip2", "skip3", "skip4"], knocked["knockouts"]
    assert knocked["models"]["unet"] == numbers["models"]["unet"], "the intact U-Net's scores should not change"


def test_proof_numbers(client, api):
    *_, attention = check_outputs(api, "/proof_attention", call(client, "/proof_attention", 250, 0, "mid.attn", 10, 50))
    assert attention["block"] == "mid.attn" and attention["pixel"] == {"y": 10, "x": 50}
    assert attention["heads"] and all(0 <= head["entropy_bits"] <= attention["max_entropy_bits"] + 1e-6
                                      for head in attention["heads"])
    *_, time = check_outputs(api, "/proof_time", call(client, "/proof_time", 250, 0, 999))
    assert (time["t"], time["other_t"]) == (250, 999)
    assert time["naive"]["identical"] and time["naive"]["max_abs_difference"] == 0  # it has no input for t
    assert time["unet"]["max_abs_difference"] > 0
    shift = time["time_shift"]
    assert len(shift["shift"]) == len(shift["blocks"]) and all(len(row) == len(shift["timesteps"])
                                                               for row in shift["shift"])


def test_choose_an_example_by_name(fresh, api):
    client = fresh()
    names = check_outputs(api, "/examples", call(client, "/examples"))[0]
    assert names == EXAMPLES, "/examples should list the held-out examples shipped in weights/heldout"
    first = x0_preview(client)  # a new session starts on the first example
    (source,) = check_outputs(api, "/choose_example", call(client, "/choose_example", names[5]))
    assert f"`{names[5]}`" in source
    chosen = x0_preview(client)
    assert not np.array_equal(np.asarray(first), np.asarray(chosen)), "the session's image did not change"
    call(client, "/choose_example", f" {names[0].upper()}.png ")  # the file's name and any case work too
    assert np.array_equal(np.asarray(first), np.asarray(x0_preview(client)))


@pytest.mark.parametrize("name", ["/denoise_from_here", "/generate_from_noise"])
def test_reverse_process_streams_frames(client, api, exposed, name):
    exposed(name)
    job = client.submit(*good_args(name), api_name=name)
    job.result(timeout=120)
    updates = job.outputs()
    for update in updates:
        check_outputs(api, name, update)
    live = [update[0] for update in updates if isinstance(update[0], str)]
    assert len(live) >= 2, f"{name} streamed {len(live)} frames"
    progress = [update[1] for update in updates if isinstance(update[1], str)]
    assert "done" in progress[-1], progress
    last = updates[-1]
    assert isinstance(last[2], str) and isinstance(last[4], str) and last[4].endswith(".gif"), last
    assert getattr(Image.open(last[4]), "n_frames", 1) >= 2


@pytest.mark.parametrize("name", ["/pick_example", "/click_block"])
def test_event_only_endpoints_say_so(client, exposed, name):
    """These need the browser's event data (which example, which block): through the API they fail clearly."""
    exposed(name)
    expect_error(client, name, good_args(name), r"gallery.*/choose_example|click a block in the diagram.*select_block")


@pytest.mark.parametrize("block", ["output", "enc1", "mid.attn", "layer3"])
def test_receptive_field(client, api, exposed, block):
    exposed("/receptive_field")
    overlays, table, picker, numbers = check_outputs(api, "/receptive_field",
                                                     call(client, "/receptive_field", 250, 0, 10, 50, block))
    assert overlays.count("<img") >= 2 and "<svg" in overlays and picker.count("<img") == 1
    assert table.strip()
    assert (numbers["t"], numbers["seed"], numbers["y"], numbers["x"]) == (250, 0, 10, 50)
    assert len(numbers["fields"]) == (2 if block == "output" else 3)
    for field in numbers["fields"]:
        assert field["title"] in table and 0 < field["pixels_that_matter"] <= IMAGE_SIZE ** 2, field


@pytest.mark.parametrize("y, x", [(0, 0), (IMAGE_SIZE - 1, IMAGE_SIZE - 1), (0, IMAGE_SIZE - 1)])
def test_receptive_field_corners(client, exposed, y, x):
    exposed("/receptive_field")
    call(client, "/receptive_field", 250, 0, y, x, "output")


# --- uploads -------------------------------------------------------------------------------------------------------

def test_upload_then_previews_use_it(fresh, api, files):
    client = fresh()
    (source,) = check_outputs(api, "/upload_image", call(client, "/upload_image", handle_file(str(files["red.png"]))))
    assert "upload" in source
    red = mean_colour(call(client, "/previews", 250, 0)[0])
    assert red[0] > 150 and red[1] < 90 and red[2] < 90, red


def test_sessions_do_not_share_their_image(fresh, files):
    first, second = fresh(), fresh()
    call(first, "/upload_image", handle_file(str(files["red.png"])))
    call(second, "/upload_image", handle_file(str(files["blue.png"])))
    red = mean_colour(call(first, "/previews", 250, 0)[0])
    blue = mean_colour(call(second, "/previews", 250, 0)[0])
    assert red[0] > red[2] + 60 and blue[2] > blue[0] + 60, (red, blue)


@pytest.mark.parametrize("name, expected", [
    ("animated.gif", (220, 30, 30)),    # the first frame
    ("green_1x1.png", (20, 200, 40)),   # one pixel, scaled up
    ("transparent.png", (255, 255, 255)),  # transparency goes on white
])
def test_odd_but_valid_uploads(fresh, files, name, expected):
    client = fresh()
    assert "upload" in call(client, "/upload_image", handle_file(str(files[name])))
    colour = mean_colour(call(client, "/previews", 250, 0)[0])
    assert np.abs(colour - expected).max() < 25, (name, colour)


def test_16_bit_upload(fresh, files):
    client = fresh()
    assert "upload" in call(client, "/upload_image", handle_file(str(files["gray16.png"])))
    array = np.asarray(x0_preview(client), dtype=np.float64)
    assert np.abs(array[..., 0] - array[..., 2]).max() < 20, "a grey ramp should stay grey"
    assert array[:, -8:].mean() - array[:, :8].mean() > 150, "the ramp from black to white is lost"


@pytest.mark.parametrize("name, pattern", [
    ("text.txt", r"not an image"),
    ("text_named.png", r"not an image"),
    ("empty.png", r"not an image|empty|no file"),
    ("truncated.png", r"damaged|truncated"),
    ("bomb.png", r"too large"),
    ("48mp.png", r"too large"),
])
def test_bad_uploads(fresh, files, name, pattern):
    client = fresh()
    before = np.asarray(x0_preview(client))
    expect_error(client, "/upload_image", [handle_file(str(files[name]))], pattern)
    after = np.asarray(x0_preview(client))
    assert np.array_equal(before, after), "a refused upload must leave the session's image as it was"


def test_oversized_upload_is_refused_by_the_server(app_url, tmp_path):
    """app.py sets max_file_size: a 51 MB file is refused at the upload route (gradio_client would refuse it
    on the client side, so post it directly)."""
    import httpx

    big = tmp_path / "big.png"
    with open(big, "wb") as file:
        file.write(b"\x89PNG\r\n\x1a\n")
        file.truncate(51 * 1024 * 1024)
    with open(big, "rb") as file:
        response = httpx.post(app_url + "gradio_api/upload", files={"files": ("big.png", file, "image/png")},
                              timeout=60)
    assert response.status_code == 413, (response.status_code, response.text[:200])
    assert "size" in response.text.lower()


def test_no_file(client):
    expect_error(client, "/upload_image", [None], r"no file")


# --- the hostile walk ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, index, value, pattern", hostile_cases())
def test_hostile_value(client, exposed, name, index, value, pattern):
    exposed(name)
    args = good_args(name)
    args[index] = value
    expect_error(client, name, args, pattern)


def test_still_serving_after_the_walk(client):
    """Last in this file: after every refusal above, the server still answers a good request."""
    markdown, activation = call(client, "/select_block", 250, 0, "mid.attn")[2:4]
    assert "mid.attn" in markdown
    assert "<img" in activation
    assert "t = 250" in call(client, "/previews", 250, 0)[2]
