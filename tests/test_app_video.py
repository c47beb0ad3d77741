"""The app's Film tab through its web API (`/colorize_film`), on the real `python app.py`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from tools.app_server import running_app
from tests.conftest import real_photo
from tools.test_film import FilmScript, cut_off, default_photos, packets_of, write_film, write_stream

MAX_FILM_FRAMES = 12  # the app's limit, lowered so that a film over it is quick to make and to refuse


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[Client]:
    with running_app(tmp_path_factory.mktemp("app"), COLORIZER_MAX_FILM_FRAMES=str(MAX_FILM_FRAMES)) as (url, _):
        yield Client(url, verbose=False, download_files=str(tmp_path_factory.mktemp("downloads")))


@pytest.fixture(scope="module")
def film(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("film") / "reel.mp4"
    write_film(path, FilmScript.from_photos(*default_photos(), 64, 48, still=5, pan=0, after_cut=5))
    return path


def test_film_tab_colorizes_and_previews_a_frame(client, film):
    (before, after), shown, download, note = client.predict(handle_file(film), 64, api_name="/colorize_film")
    assert Path(download).name == "reel-colorized.mp4"
    assert len(packets_of(download, "video")) == 10 and packets_of(download, "audio") == packets_of(film, "audio")
    assert Path(shown).suffix == ".mp4"
    assert Image.open(before).size == Image.open(after).size == (64, 48)
    assert Image.open(after).convert("RGB").getextrema() != Image.open(before).convert("RGB").getextrema()
    assert note == ""


def test_film_tab_explains_a_bad_file_and_photo_endpoints_are_unchanged(client, tmp_path):
    fake = tmp_path / "holiday.mp4"
    fake.write_text("not a film at all")
    with pytest.raises(AppError, match="holiday.mp4: not a film FFmpeg can read"):
        client.predict(handle_file(fake), api_name="/colorize_film")
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    for name in ("/colorize", "/colorize_batch"):  # the photo endpoints' arguments, as before (hints come after)
        assert [p["parameter_name"] for p in endpoints[name]["parameters"]][:5] == [
            "photo" if name == "/colorize" else "files", "render_size", "strength", "variant", "restore"]


def test_film_tab_counts_frames_as_decoded_and_checks_every_frame_size(client, tmp_path):
    raw = tmp_path / "raw.h264"  # its header states no frame count
    write_stream(raw, "h264", [(64, 48, MAX_FILM_FRAMES + 2)])
    started = time.monotonic()
    with pytest.raises(AppError, match=f"raw.h264: more than {MAX_FILM_FRAMES} frames, the limit"):
        client.predict(handle_file(raw), 64, api_name="/colorize_film")
    assert time.monotonic() - started < 60
    jump = tmp_path / "broadcast.ts"  # grows past the app's 1920x1080 per frame after its first frames
    write_stream(jump, "mpegts", [(64, 48, 8), (2048, 1152, 2)])
    with pytest.raises(AppError, match="broadcast.ts: frame 8 is 2048x1152, 2.36 megapixels, above the limit"):
        client.predict(handle_file(jump), 64, api_name="/colorize_film")


def test_film_tab_says_when_a_film_ends_early_and_refuses_a_photo(client, film, tmp_path):
    cut = tmp_path / "download.mp4"
    announced = cut_off(film, cut)
    (before, after), _, download, note = client.predict(handle_file(cut), 64, api_name="/colorize_film")
    made = len(packets_of(download, "video"))
    assert 0 < made < announced and f"{made} of {announced} frames: the file ends early" in note
    photo = tmp_path / "holiday.mp4"
    real_photo("camera.png", size=64).save(photo, format="PNG")
    with pytest.raises(AppError, match="holiday.mp4: is an image, not a film"):
        client.predict(handle_file(photo), 64, api_name="/colorize_film")


def test_film_progress_shows_in_one_panel_not_in_each(client):
    """Gradio shows an event's progress on every output unless told; the film tab's three panels would
    each show the same bar."""
    [film_event] = [d for d in client.config["dependencies"] if d.get("api_name") == "colorize_film"]
    shown_on = film_event.get("show_progress_on") or film_event["outputs"]
    player = next(c["id"] for c in client.config["components"] if c.get("props", {}).get("elem_id") == "film-out")
    assert shown_on == [player]
