"""What one anonymous client can take (issue 22), checked without a server: the fair long lane, every long job in
it, client addresses, the cache's file count, path-free messages and the formats the decoder takes.

The same attacks over HTTP are in tests/test_hostile_http.py.
"""
from __future__ import annotations

import io
import struct
import subprocess
import sys
import threading
import time

import pytest
from PIL import Image

from explorer.data import ImageError, load_image
from explorer.server import lanes, limits
from tests.server import ROOT

# --- the long lane ----------------------------------------------------------------------------------------------

def test_the_lane_takes_clients_in_turn():
    """One client queues five slices, then another client asks for one: it gets the lane at the next turn, not
    after all five (a queue in arrival order would serve it last). Counted, not timed: each thread is started once
    the lane shows the one before it waiting."""
    clock = [0.0]
    lane, order, release = lanes.fair.FairLane(1, clock=lambda: clock[0]), [], threading.Event()

    def slice_of(client: str, wait: bool = False):
        with lane.turn(client):
            order.append(client)
            clock[0] += 1.0  # each slice takes one second of the fake clock
            if wait:
                release.wait(10)

    first = threading.Thread(target=slice_of, args=("attacker", True))
    first.start()
    while not order:
        time.sleep(0.005)
    threads = []
    for count, client in enumerate(["attacker"] * 5 + ["honest"], start=1):
        threads.append(threading.Thread(target=slice_of, args=(client,)))
        threads[-1].start()
        while lane.waiting() < count:
            time.sleep(0.005)
    release.set()
    for thread in [first, *threads]:
        thread.join(10)
    assert order.index("honest") == 1, order


def test_the_client_is_the_peer_unless_behind_a_trusted_proxy():
    headers = {"x-forwarded-for": "6.6.6.6, 203.0.113.9"}  # the client's own claim, then what the proxy saw
    assert lanes.client_of("127.0.0.1", headers) == "127.0.0.1"  # not told of a proxy: the header is ignored
    assert lanes.client_of("10.0.0.2", headers, proxy_hops=1) == "203.0.113.9"
    assert lanes.client_of("10.0.0.2", {}, proxy_hops=1) == "10.0.0.2"


def test_a_proxy_that_adds_its_own_header_line_is_the_one_read():
    """HAProxy's `option forwardfor` adds a second X-Forwarded-For line rather than extending the client's:
    reading only the first line would let a client choose its own address."""
    from starlette.datastructures import Headers

    headers = Headers(raw=[(b"x-forwarded-for", b"6.6.6.6"), (b"x-forwarded-for", b"203.0.113.9")])
    assert lanes.client_of("10.0.0.2", headers, proxy_hops=1) == "203.0.113.9"


LONG_JOBS = {"scrub_strip", "image_curve", "from_here_fn", "from_noise_fn", "run_sweep", "show_all"}


def test_every_long_job_of_the_app_is_in_the_long_lane(ctx):
    """Every event of the built app, with its lane: a long job that lost its mark (the Part-by-part refresh,
    wrapped without functools.wraps) lands in the quick lane and fails here."""
    from explorer.ui.app import build_app

    with lanes.building(quick=2, long=1):
        demo = build_app(ctx)
    found = {}
    for block_fn in demo.fns.values():
        if block_fn.fn is None:
            continue
        found.setdefault(block_fn.concurrency_id, set()).add(block_fn.fn.__name__)
    assert found[lanes.LONG_LANE] == LONG_JOBS, found[lanes.LONG_LANE]
    assert not found[lanes.QUICK_LANE] & LONG_JOBS


# --- disk and messages ------------------------------------------------------------------------------------------

def test_the_sweeper_counts_files_and_folders(tmp_path):
    """1,000 tiny files cost no bytes: the byte budget alone never removed them."""
    for index in range(300):
        folder = tmp_path / f"{index:04d}"
        folder.mkdir()
        (folder / "a.png").write_bytes(b"x")
    limits.bound_cache(tmp_path, budget=2**30, max_entries=100)
    entries = list(tmp_path.rglob("*"))
    assert len(entries) <= 100, len(entries)
    assert (tmp_path / "0299" / "a.png").exists(), "the newest files should stay"


def test_messages_name_no_server_paths():
    assert limits.path_free("the file /tmp/unet-explorer/ab12/gradio/f00/photo.png does not exist") == (
        "the file … does not exist")
    with pytest.raises(ImageError) as caught:
        load_image("/tmp/unet-explorer/gone/gradio/abc/photo.png")
    assert "/" not in str(caught.value), caught.value


# --- formats ----------------------------------------------------------------------------------------------------

def encoded(fmt: str, size=(64, 64), **options) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP", "TIFF", "BMP", "AVIF"])
def test_the_formats_people_upload_are_taken(fmt):
    assert load_image(encoded(fmt)).size == (64, 64)


@pytest.mark.parametrize("fmt, name", [("JPEG2000", "JPEG 2000"), ("ICO", "ICO"), ("TGA", "TGA"), ("PCX", "PCX")])
def test_other_formats_are_refused_by_name(fmt, name):
    with pytest.raises(ImageError, match=f"{name}.*not accepted"):
        load_image(encoded(fmt))


def test_a_format_is_told_by_content_not_by_name(tmp_path):
    disguised = tmp_path / "photo.png"  # a JPEG 2000 file named .png
    disguised.write_bytes(encoded("JPEG2000"))
    with pytest.raises(ImageError, match="JPEG 2000"):
        load_image(disguised)
    named_wrong = tmp_path / "picture.jp2"  # a PNG named .jp2
    named_wrong.write_bytes(encoded("PNG"))
    assert load_image(named_wrong).size == (64, 64)


def test_a_webp_is_budgeted_for_its_decoder():
    """6000×6000 WebP: 74 KB of file, +549 MiB to decode (36 MP at ~16 bytes a pixel): refused unread."""
    with pytest.raises(ImageError, match=r"WEBP.*MB"):
        load_image(encoded("WEBP", (6000, 6000), quality=10))


def rle8_bmp(width: int, height: int) -> bytes:
    """An RLE8 BMP of end-of-line codes only: Pillow's Python decoder pads each row one pixel at a time."""
    rows = b"\0\0" * height + b"\0\1"
    palette = b"".join(bytes([i, i, i, 0]) for i in range(256))
    offset = 14 + 40 + len(palette)
    header = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(rows), 2835, 2835, 256, 0)
    return b"BM" + struct.pack("<IHHI", offset + len(rows), 0, 0, offset) + header + palette + rows


def test_a_run_length_bmp_is_refused_before_its_slow_decoder_runs():
    started = time.process_time()
    with pytest.raises(ImageError, match="run-length"):
        load_image(rle8_bmp(9000, 9000))  # 19 KB; 13-16 s of CPU when decoded
    assert time.process_time() - started < 1.0  # refused from the header; the decode took 13-16 s


MEMORY_SCRIPT = """
import io, sys
from PIL import Image
from explorer.memory import tune_malloc
tune_malloc()  # as app.py does
import explorer.data
from explorer.data import load_image
if len(sys.argv) > 1:
    explorer.data.give_back = lambda: False  # the check of this test: without it, memory stays at the peak
def rss():
    return int([l for l in open('/proc/self/status') if l.startswith('VmRSS:')][0].split()[1]) // 1024
buffer = io.BytesIO()
Image.new('RGB', (3000, 3000), (10, 200, 30)).save(buffer, 'WEBP', quality=10)
data = buffer.getvalue()
small = io.BytesIO()
Image.new('RGB', (64, 64)).save(small, 'WEBP')
load_image(small.getvalue())  # once, so that first-use allocations are counted in `before`
import ctypes
ctypes.CDLL('libc.so.6').malloc_trim(0)  # what encoding the test image left behind
before = rss()
load_image(data)
print(before, rss())
"""


def test_memory_goes_back_after_a_large_decode():
    """A 9 MP WebP takes ~140 MB at its peak; afterwards the process is back near where it was (it stayed at the
    peak: 404 → 868 MiB after a large WebP)."""
    output = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT], cwd=ROOT, capture_output=True, text=True,
                            timeout=300, check=True).stdout.split()
    before, after = int(output[0]), int(output[1])
    assert after - before < 64, f"resident memory {before} → {after} MiB after one decode"


def test_a_slot_is_kept_a_moment_for_the_next_slice_of_the_job_that_should_have_it():
    """The honest job's slice ends and it asks for its next one a moment later (Gradio sends the frame first): the
    slot waits for it instead of going to the attacker who is already waiting, when the honest job has had less.
    Counted: the attacker's thread is waiting before the honest slice ends."""
    clock = [0.0]
    lane, order = lanes.fair.FairLane(1, clock=lambda: clock[0]), []
    lane.ledger.charge("attacker", "a", 10.0)
    def attack():
        with lane.turn("attacker", "a"):
            order.append("attacker")

    attacker = threading.Thread(target=attack)
    with lane.turn("honest", "h"):
        order.append("honest")
        attacker.start()
        while lane.waiting() < 1:
            time.sleep(0.005)
        lane.hold("honest", "h", 0.0, seconds=30.0)  # the fake clock never reaches it
    with lane.turn("honest", "h"):
        order.append("honest")
    assert order == ["honest", "honest"]
    lane.hold("honest", "h", 0.0, seconds=0.0)  # the job had no next slice after all: the attacker goes
    attacker.join(10)
    assert order == ["honest", "honest", "attacker"]
