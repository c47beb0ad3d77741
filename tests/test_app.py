"""The real app (`python app.py`, as Spaces runs it) on 127.0.0.1, driven with gradio_client.

Its weights come from COLORIZER_WEIGHTS: a Hub repo that with HF_HUB_OFFLINE=1 cannot be had, so it
falls back to the embedded default, and the tests' tiny weights as a second model variant.
"""

from __future__ import annotations

import concurrent.futures
import io
import json
import subprocess
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import gradio
import httpx
import numpy as np
import pytest
import yaml
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from colorizer.io import provenance
from tests.conftest import REPO, lab_of, lightness_of, png_claiming, real_photo
from tools.app_server import running_app
from tools.proc_status import vm_kib

UNREACHABLE_REPO = "someone/colorizer-weights"  # offline (HF_HUB_OFFLINE=1) and never cached here
MEMORY_BUDGET_MB = 900  # one render at 1536 fits (about 0.7 GB estimated), two do not


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


@pytest.fixture(scope="module")
def app(tmp_path_factory, tiny_weights) -> Iterator[tuple[str, subprocess.Popen]]:
    """(URL, process) of the app serving the embedded default and tiny weights, stopped after the module."""
    with running_app(tmp_path_factory.mktemp("app"), COLORIZER_WEIGHTS=f"{UNREACHABLE_REPO},{tiny_weights}",
                     COLORIZER_MEMORY_BUDGET_MB=str(MEMORY_BUDGET_MB)) as started:
        yield started


@pytest.fixture(scope="module")
def server(app) -> str:
    """The app's URL: all most tests need."""
    return app[0]


@pytest.fixture(scope="module")
def client(server, tmp_path_factory) -> Client:
    return Client(server, verbose=False, download_files=str(tmp_path_factory.mktemp("downloads")))


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    """A real black-and-white photo from examples/, 256x170 (not a multiple of 32), lossless."""
    image = Image.open(REPO / "examples" / "chelsea.jpg")
    image.thumbnail((256, 256))
    path = tmp_path_factory.mktemp("photo") / "chelsea.png"
    image.save(path)
    return path


def _assert_colorized(result_png: str | io.BytesIO, photo: Path) -> np.ndarray:
    out = Image.open(result_png)
    source = Image.open(photo)
    assert out.format == "PNG" and out.size == source.size
    diff = np.abs(lightness_of(out) - lightness_of(source))
    assert diff.mean() < 0.3 and diff.max() < 1.5  # the photo's own lightness, up to 8-bit rounding
    return np.asarray(out.convert("RGB"), dtype=int)


def test_page_says_which_weights_are_used_and_the_limits(server, tiny_weights):
    page = json.loads(_get(server + "config"))
    text = " ".join(str(c.get("props", {}).get("value", "")) for c in page["components"])
    assert f"could not get {UNREACHABLE_REPO} from the Hugging Face Hub" in text
    assert "Using the embedded default weights" in text
    assert f"local folder {tiny_weights}" in text
    assert "up to 50 megapixels and 50 MB per photo" in text
    assert page["max_file_size"] == 50 * 1024**2  # what the page says is what Gradio enforces
    model_menu = next(c for c in page["components"] if c["props"].get("label") == "Model")
    assert model_menu["props"]["visible"] is True  # two variants configured


def test_colorize_keeps_full_size_and_lightness(client, photo):
    (before, after), download, note = client.predict(handle_file(photo), api_name="/colorize")
    assert note == ""
    _assert_colorized(download, photo)
    assert Path(download).name == "chelsea-colorized.png"
    assert Image.open(after).size == Image.open(before).size == Image.open(photo).size


def test_controls_reach_the_model(client, photo, tiny_weights):
    colour = _assert_colorized(client.predict(handle_file(photo), 128, 1.0, str(tiny_weights),
                                              api_name="/colorize")[1], photo)
    gray = _assert_colorized(client.predict(handle_file(photo), 128, 0.0, str(tiny_weights),
                                            api_name="/colorize")[1], photo)
    assert np.abs(colour[..., 0] - colour[..., 2]).mean() > 1  # the tiny weights really colour
    assert np.abs(gray[..., 0] - gray[..., 2]).max() <= 1  # strength 0 is gray


def test_restore_toggle_repairs_a_faded_photo(client, photo, tmp_path):
    faded = tmp_path / "faded.png"
    pixels = np.asarray(Image.open(photo).convert("L"), dtype=np.float32)
    Image.fromarray((70 + pixels * 0.4).astype(np.uint8)).save(faded)  # washed-out print: grays 70..172
    _, download, _ = client.predict(handle_file(faded), 128, 1.0, str(UNREACHABLE_REPO), True,
                                    api_name="/colorize")
    restored, before = lightness_of(Image.open(download)), lightness_of(Image.open(faded))
    assert Image.open(download).size == Image.open(faded).size

    def spread(lightness: np.ndarray) -> float:
        return float(np.percentile(lightness, 99) - np.percentile(lightness, 1))

    assert spread(restored) > 1.2 * spread(before)  # the embedded weights restore: contrast comes back


def test_corrupt_file_is_a_readable_error_and_the_server_keeps_answering(client, photo, tmp_path):
    bad = tmp_path / "grandma.png"
    bad.write_bytes(b"this is not an image")
    with pytest.raises(AppError) as error:
        client.predict(handle_file(bad), api_name="/colorize")
    message = str(error.value)
    assert "grandma.png" in message and "not an image" in message
    assert "Traceback" not in message and str(tmp_path) not in message and "/gradio/" not in message
    _assert_colorized(client.predict(handle_file(photo), api_name="/colorize")[1], photo)


@pytest.mark.parametrize(("size", "expected"), [(9000, "9000x9000 is 81 megapixels"),
                                                (30000, "decompression bomb")])
def test_huge_images_are_refused_before_decoding(client, tmp_path, size, expected):
    with pytest.raises(AppError, match=expected):
        client.predict(handle_file(png_claiming(tmp_path / "huge.png", size, size)), api_name="/colorize")


def test_requests_at_once_are_all_answered(client, photo):
    jobs = [client.submit(handle_file(photo), 64 * (i + 1), api_name="/colorize") for i in range(4)]
    for job in jobs:
        _assert_colorized(job.result(timeout=120)[1], photo)


def test_concurrent_large_renders_stay_within_the_memory_budget(app, client, photo):
    """Two renders at 1536 at once: the memory gate runs them one after the other."""
    pid = app[1].pid
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets the peak (VmHWM) to the current RSS
    start_rss = vm_kib("VmHWM", pid) * 1024
    jobs = [client.submit(handle_file(photo), 1536, api_name="/colorize") for _ in range(2)]
    for job in jobs:
        _assert_colorized(job.result(timeout=600)[1], photo)
    peak = vm_kib("VmHWM", pid) * 1024
    assert peak - start_rss < MEMORY_BUDGET_MB * 2**20, f"grew by {(peak - start_rss) / 2**20:.0f} MiB"


def test_batch_gives_a_zip_and_lists_bad_files(client, photo, tmp_path):
    bad = tmp_path / "scan.jpg"
    bad.write_bytes(b"\xff\xd8 broken")
    zip_path, summary = client.predict([handle_file(photo), handle_file(bad), handle_file(photo)], 64,
                                       api_name="/colorize_batch")
    with zipfile.ZipFile(zip_path) as archive:
        assert archive.namelist() == ["chelsea-colorized.png", "chelsea-2-colorized.png"]
        for name in archive.namelist():
            _assert_colorized(io.BytesIO(archive.read(name)), photo)
    assert "Colorized 2 of 3 photos" in summary and "scan.jpg" in summary


def test_downloads_say_they_are_colorized(client, photo, tiny_weights):
    """The PNG and each PNG in the zip carry the run's provenance (colorizer.io.provenance)."""
    download = client.predict(handle_file(photo), 96, 1.5, str(tiny_weights), True, api_name="/colorize")[1]
    facts = provenance.read(download)
    assert (facts.weights, facts.render_size, facts.strength, facts.restored) == \
        (f"local folder {tiny_weights.name}", 96, 1.5, True)
    assert facts.digital_source_type == provenance.DIGITAL_SOURCE_TYPE
    zip_path, _ = client.predict([handle_file(photo)], 64, api_name="/colorize_batch")
    with zipfile.ZipFile(zip_path) as archive:
        facts = provenance.read(Image.open(io.BytesIO(archive.read("chelsea-colorized.png"))))
    assert (facts.weights, facts.render_size, facts.restored) == ("embedded default", 64, False)


def test_space_header_runs_this_app():
    header = yaml.safe_load((REPO / "README.md").read_text().split("---")[1])
    assert header["sdk"] == "gradio" and header["sdk_version"] == gradio.__version__
    assert (REPO / header["app_file"]).is_file() and header["app_file"] == "app.py"
    assert header["license"] and header["title"]
    assert len(header["short_description"]) <= 60  # the Hub's limit


def test_without_colorizer_weights_the_embedded_weights_are_used(monkeypatch):
    """No network try at start: a Hub repo is used only when COLORIZER_WEIGHTS names one."""
    import app

    monkeypatch.delenv(app.WEIGHTS_ENV, raising=False)
    assert app.weights_from_env() == ["default"]
    monkeypatch.setenv(app.WEIGHTS_ENV, "you/colorizer, ./weights")
    assert app.weights_from_env() == ["you/colorizer", "./weights"]


def _chroma_at(png: str, x: int, y: int) -> np.ndarray:
    return lab_of(Image.open(png))[1:, y, x]


def test_hints_reach_the_result_as_json_and_as_paint(client, photo, tmp_path):
    from colorizer.pipelines.hints import hint_ab

    plain = client.predict(handle_file(photo), 256, 1.0, api_name="/colorize")[1]
    teal = (40, 120, 120)
    hints = json.dumps([{"points": [[40, 60], [90, 60]], "color": "#%02x%02x%02x" % teal}])
    hinted = client.predict(handle_file(photo), 256, 1.0, UNREACHABLE_REPO, False, hints, api_name="/colorize")[1]
    _assert_colorized(hinted, photo)
    target = np.array(hint_ab(teal))
    assert np.hypot(*(_chroma_at(hinted, 65, 60) - target)) < np.hypot(*(_chroma_at(plain, 65, 60) - target)) - 10
    paint = Image.new("RGBA", Image.open(photo).size, (0, 0, 0, 0))
    paint.paste((*teal, 255), (40, 55, 90, 65))
    paint.save(tmp_path / "paint.png")
    editor = {"background": handle_file(photo), "layers": [handle_file(tmp_path / "paint.png")], "composite": None}
    painted = client.predict(handle_file(photo), 256, 1.0, UNREACHABLE_REPO, False, "", editor, api_name="/colorize")[1]
    assert np.hypot(*(_chroma_at(painted, 65, 60) - _chroma_at(hinted, 65, 60))) < 3  # paint = the same stroke
    with pytest.raises(AppError, match=r"hint 0 at \(999, 5\) is outside"):
        client.predict(handle_file(photo), 256, 1.0, UNREACHABLE_REPO, False, '[[999, 5, "#ff0000"]]',
                       api_name="/colorize")
    with pytest.raises(AppError, match="hints: not valid JSON"):
        client.predict(handle_file(photo), 256, 1.0, UNREACHABLE_REPO, False, "[{", api_name="/colorize")


def test_four_painted_strokes_are_accepted_and_take_their_colour(client, tmp_path):
    """Four ordinary 12 px brush strokes 400 px long on a 512 px photo (once refused as 1604 hints)."""
    from bench.bench_hint_stroke import reachable_ab
    from colorizer.pipelines.hints import hint_ab
    from tests.test_hint_inputs import _brush

    photo = tmp_path / "coffee-512.png"
    real_photo("coffee.png", 512).convert("L").save(photo)
    size = Image.open(photo).size
    colours = [(165, 42, 42), (46, 94, 140), (63, 127, 63), (217, 179, 140)]
    strokes = [((56, 60 + 80 * i), (456, 60 + 80 * i), c) for i, c in enumerate(colours)]
    _brush(size, strokes).save(tmp_path / "paint.png")
    editor = {"background": handle_file(photo), "layers": [handle_file(tmp_path / "paint.png")], "composite": None}
    painted = client.predict(handle_file(photo), 384, 1.0, UNREACHABLE_REPO, False, "", editor, api_name="/colorize")[1]
    _assert_colorized(painted, photo)
    lightness = lightness_of(Image.open(photo))
    for (_, y), _, colour in strokes:  # on each stroke its colour, as far as that lightness can show it
        target = reachable_ab(lightness[y, 200:300], hint_ab(colour)).mean(axis=1)
        assert np.hypot(*(lab_of(Image.open(painted))[1:, y, 200:300].mean(axis=1) - target)) < 10, colour


@pytest.mark.parametrize(("text", "message"), [
    ("[" * 100_000, "hints: not valid JSON (nested too deeply)"),
    ('[{"x": 1' + "0" * 400 + ', "y": 1, "color": "#ff0000"}]', "hints: hint 0: coordinate 1000000000"),
])
def test_nested_and_huge_number_hints_are_one_line_messages(client, photo, text, message):
    with pytest.raises(AppError) as error:
        client.predict(handle_file(photo), 256, 1.0, UNREACHABLE_REPO, False, text, api_name="/colorize")
    assert str(error.value).startswith(message) and "\n" not in str(error.value) and len(str(error.value)) < 300


def test_huge_hints_texts_are_refused_unread_and_memory_stays_in_budget(app, server, client, photo):
    """Four 76 MB hints texts at once are refused from their size, before Gradio reads them (413, with what
    to do), and the app stays under 3 GiB; a text over the hints' own limit but not the request's is
    refused by the hints' check, in one line."""
    from app import MAX_REQUEST_BYTES
    from colorizer.io.hints import MAX_HINTS_TEXT

    huge = "[" + ",".join(['[1, 1, "#ff0000"]'] * 4_500_000) + "]"
    assert len(huge) > 76_000_000
    body = json.dumps({"data": [None, 256, 1.0, UNREACHABLE_REPO, False, huge, None, None]})
    pid = app[1].pid
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets the peak (VmHWM) to the current RSS
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: httpx.post(server + "gradio_api/call/colorize", content=body,
                                                     headers={"content-type": "application/json"}, timeout=60),
                                range(4)))
    for answer in answers:
        assert answer.status_code == 413
        assert f"colour hints are at most {MAX_HINTS_TEXT:,} characters" in answer.json()["detail"]
    assert vm_kib("VmHWM", pid) * 1024 < 3 * 2**30, f"peak {vm_kib('VmHWM', pid) / 2**20:.2f} GiB"
    over = "[" + " " * MAX_HINTS_TEXT + "]"
    assert len(over) < MAX_REQUEST_BYTES
    with pytest.raises(AppError, match=f"hints: {len(over):,} characters is more than {MAX_HINTS_TEXT:,}"):
        client.predict(handle_file(photo), 256, 1.0, UNREACHABLE_REPO, False, over, api_name="/colorize")
    _assert_colorized(client.predict(handle_file(photo), 64, api_name="/colorize")[1], photo)  # still answering


def test_bad_paint_layers_are_clear_errors(client, photo, tmp_path):
    not_an_image = tmp_path / "layer.png"
    not_an_image.write_bytes(b"no paint here")
    bomb = png_claiming(tmp_path / "bomb.png", 30_000, 30_000)
    dots = np.zeros((150, 200, 4), np.uint8)
    dots[::2, ::2] = (200, 30, 30, 255)
    Image.fromarray(dots).save(tmp_path / "dots.png")
    for layer, message in ((not_an_image, "painted hints: the painted layer: not an image"),
                           (bomb, "painted hints: the painted layer: image is above the limit"),
                           (tmp_path / "dots.png", "separate patches of paint, more than 1000; paint fewer, larger")):
        editor = {"background": handle_file(photo), "layers": [handle_file(layer)], "composite": None}
        with pytest.raises(AppError, match=message):
            client.predict(handle_file(photo), 256, 1.0, UNREACHABLE_REPO, False, "", editor, api_name="/colorize")


def test_suggestions_through_the_api_and_one_taken_as_a_hint(client, photo):
    """`/suggest` gives the likely colours at a point, the automatic one first; one of them, added as a point
    hint the way a click on a swatch adds it, colours that point."""
    from app import add_point_hint

    found = client.predict(handle_file(photo), 60, 40, UNREACHABLE_REPO, api_name="/suggest")
    assert 2 <= len(found) <= 5 and all(len(s["color"]) == 7 and s["color"].startswith("#") for s in found)
    plain = client.predict(handle_file(photo), 384, 1.0, UNREACHABLE_REPO, api_name="/colorize")[1]
    first = lab_of(Image.new("RGB", (1, 1), found[0]["color"]))[1:, 0, 0]
    assert np.hypot(*(first - _chroma_at(plain, 60, 40))) < 8
    hints = add_point_hint('[{"x": 5, "y": 5, "color": "#102030"}]', [60, 40], found[1]["color"])
    assert json.loads(hints) == [{"x": 5, "y": 5, "color": "#102030"}, {"x": 60, "y": 40, "color": found[1]["color"]}]
    assert add_point_hint("my notes, not JSON", [60, 40], found[1]["color"]) == "my notes, not JSON"  # never lost
    hinted = client.predict(handle_file(photo), 384, 1.0, UNREACHABLE_REPO, False, hints, api_name="/colorize")[1]
    wanted = lab_of(Image.new("RGB", (1, 1), found[1]["color"]))[1:, 0, 0]
    assert np.hypot(*(_chroma_at(hinted, 60, 40) - wanted)) < 6
    with pytest.raises(AppError, match=r"\(999, 5\) is outside the photo"):
        client.predict(handle_file(photo), 999, 5, UNREACHABLE_REPO, api_name="/suggest")
