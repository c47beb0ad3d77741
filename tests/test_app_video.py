"""The app's Film tab through its web API (`/colorize_film`), on the real `python app.py`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from tools.app_server import running_app
from tools.test_film import FilmScript, default_photos, packets_of, write_film


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[Client]:
    with running_app(tmp_path_factory.mktemp("app")) as (url, _):
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
