"""The app under abuse: numbers from the API, hostile file names, animations, disk and memory limits.

Its own `python app.py` on 127.0.0.1, with short result lifetimes, so cleanup can be seen within a
test (the memory budget is tested in test_app.py, whose requests may wait longer than that).
"""

from __future__ import annotations

import json
import os
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from tests.conftest import real_photo
from tests.test_app import _assert_colorized
from app import APP_MARK, GRADIO_FOLDER
from tools.app_server import running_app
from tools.test_film import packets_of, write_stream

RESULT_MAX_AGE_S = 6  # short, to see the cleanup (every 3 s); uploads waiting in the queue are kept all the same


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("app-limits")
    with running_app(tmp, COLORIZER_WEIGHTS="default", COLORIZER_RESULT_MAX_AGE_S=str(RESULT_MAX_AGE_S)) as (url, proc):
        yield {"url": url, "pid": proc.pid, "tmp": tmp, "work": tmp / "work", "gradio": tmp / "gradio" / GRADIO_FOLDER}


@pytest.fixture(scope="module")
def client(app, tmp_path_factory) -> Client:
    return Client(app["url"], verbose=False, download_files=str(tmp_path_factory.mktemp("downloads")))


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("photo") / "coffee.png"
    real_photo("coffee.png", size=160).convert("L").save(path)
    return path


@pytest.mark.parametrize("strength", ["nan", "-inf", "lots"])  # JSON itself has no NaN: clients send strings
def test_non_finite_numbers_are_refused_readably(client, photo, strength):
    with pytest.raises(AppError, match="colour strength must be a"):
        client.predict(handle_file(photo), 512, strength, api_name="/colorize")
    with pytest.raises(AppError, match="colour strength must be a"):
        client.predict([handle_file(photo)], 512, strength, api_name="/colorize_batch")


def test_out_of_range_numbers_are_clamped_with_a_note(client, photo):
    _, download, note = client.predict(handle_file(photo), 20, 1e9, api_name="/colorize")
    _assert_colorized(download, photo)
    assert "render size 20 is below the minimum of 64: used 64" in note
    assert "colour strength 1e+09 is above the maximum of 2: used 2" in note
    zip_path, summary = client.predict([handle_file(photo)], 20, -5, api_name="/colorize_batch")
    assert "Colorized 1 of 1 photos" in summary
    assert "colour strength -5 is below the minimum of 0: used 0" in summary


def _call_raw(app: dict, api_name: str, data: list) -> str:
    """Call an endpoint over Gradio's REST API as a browser would (gradio_client strips '<' and '>'
    from upload names; a browser sends the name as it is). Returns the event stream's text."""
    base = app["url"] + "gradio_api/call/" + api_name
    event_id = httpx.post(base, json={"data": data}, timeout=60).json()["event_id"]
    return httpx.get(f"{base}/{event_id}", timeout=300).text


def _upload(app: dict, path: Path) -> str:
    with path.open("rb") as fh:
        return httpx.post(app["url"] + "gradio_api/upload", files=[("files", ("upload.png", fh))], timeout=60).json()[0]


def test_file_names_are_shown_as_text_not_markup(app, tmp_path, photo):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    hostile = "<img src=x onerror=alert(1)>.png"

    def record(path: Path) -> dict:
        return {"path": _upload(app, path), "orig_name": hostile, "meta": {"_type": "gradio.FileData"}}

    events = _call_raw(app, "colorize", [record(bad), 512, 1.0, "default", False, None, None, None])
    assert "event: error" in events
    assert "&lt;img src=x onerror=alert(1)&gt;.png: not an image" in events and "<img" not in events
    events = _call_raw(app, "colorize_batch", [[record(photo), record(bad)], 64, 1.0, "default", False])
    assert "event: complete" in events and "Colorized 1 of 2 photos" in events
    assert "&lt;img src=x onerror=alert(1)&gt;.png: not an image" in events and "<img" not in events


def test_animated_gif_says_only_the_first_frame_was_used(client, tmp_path):
    frames = [real_photo("coffee.png", size=96).rotate(angle) for angle in (0, 90, 180)]
    gif = tmp_path / "spin.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100, loop=0)
    _, download, note = client.predict(handle_file(gif), 64, api_name="/colorize")
    assert Image.open(download).size == frames[0].size
    assert "3 frames" in note and "only the first was colorized" in note
    _, summary = client.predict([handle_file(gif)], 64, api_name="/colorize_batch")
    assert "spin.gif: the file holds 3 frames" in summary


def test_upload_names_up_to_255_bytes_give_results_with_the_name_cut_short(app, tmp_path, photo):
    """The result's name (stem + "-colorized.png") and its temporary name are longer than the upload's: they
    are cut short, the extension kept, instead of failing once the work is done. Sent as a browser sends
    them (gradio_client shortens long names itself)."""
    film = tmp_path / "reel.ts"
    write_stream(film, "mpegts", [(32, 32, 4)])

    def record(path: Path, name: str) -> dict:
        return {"path": _upload(app, path), "orig_name": name, "meta": {"_type": "gradio.FileData"}}

    long_name = "é" * 125 + "x"  # 255 bytes in UTF-8 with ".png"
    events = _call_raw(app, "colorize", [record(photo, long_name + ".png"), 64, 1.0, "default", False, None, None, None])
    _assert_colorized(_completed(events)[1]["path"], photo)  # Gradio serves it under a shorter name of its own
    events = _call_raw(app, "colorize_batch", [[record(photo, long_name + ".png")] * 2, 64, 1.0, "default", False])
    zip_path, summary = _completed(events)
    assert "Colorized 2 of 2 photos" in summary
    with zipfile.ZipFile(zip_path["path"]) as archive:
        assert archive.namelist() == ["é" * 120 + "-colorized.png", "é" * 119 + "-2-colorized.png"]
    events = _call_raw(app, "colorize_film", [record(film, "f" * 252 + ".ts"), 64, 1.0, "default", False, None])
    assert len(packets_of(_completed(events)[2]["path"], "video")) == 4


def _completed(events: str) -> list:
    """The outputs of a call's event stream (_call_raw) that completed."""
    assert "event: complete" in events, events
    return json.loads(events.split("event: complete\ndata: ", 1)[1].splitlines()[0])


def test_bad_model_names_and_file_names_get_clear_messages(app, client, tmp_path, photo):
    with pytest.raises(AppError, match=r"Unknown model \[&#x27;default&#x27;\]; choose one of default"):
        client.predict(handle_file(photo), 64, 1.0, ["default"], api_name="/colorize")
    record = {"path": _upload(app, photo), "orig_name": "old\x00photo.png", "meta": {"_type": "gradio.FileData"}}
    events = _call_raw(app, "colorize", [record, 64, 1.0, "default", False, None, None, None])
    assert "event: complete" in events and "old_photo-colorized.png" in events


def test_a_bad_reference_is_named_by_its_own_name_not_the_servers_path(app, client, tmp_path, photo):
    notes = tmp_path / "grandma-1950.jpg"
    notes.write_text("not a photo")
    film = tmp_path / "reel.ts"
    write_stream(film, "mpegts", [(32, 32, 4)])
    for api_name, upload in (("/colorize", photo), ("/colorize_film", film)):
        with pytest.raises(AppError) as refused:
            client.predict(handle_file(upload), 64, reference=[handle_file(notes)], api_name=api_name)
        message = str(refused.value)
        assert "grandma-1950.jpg: not an image" in message and str(app["tmp"]) not in message


def test_a_render_size_above_the_photos_own_is_lowered_with_a_note(client, photo):
    _, download, note = client.predict(handle_file(photo), 2048, api_name="/colorize")
    _assert_colorized(download, photo)
    assert "render size 2048 lowered to 384: the picture is 160x107" in note  # the default: never below it


def test_a_raw_stream_over_the_frame_limit_is_refused_before_any_frame_is_colorized(client, tmp_path):
    """3,100 frames against the app's 3,000: its header states no count, so the packets are counted first."""
    raw = tmp_path / "long.h264"
    write_stream(raw, "h264", [(32, 32, 3100)])  # tiny frames: 3,100 of them are cheap to make
    with pytest.raises(AppError, match=r"long.h264: more than 3000 frames, the limit \(counted before any was"):
        client.predict(handle_file(raw), 64, api_name="/colorize_film")


def test_an_upload_waiting_in_the_queue_longer_than_the_age_limit_is_kept(client, tmp_path):
    """Both model slots busy for longer than RESULT_MAX_AGE_S plus a cleanup round: the third request's
    upload waits that long, and is still there when its turn comes."""
    slow = tmp_path / "slow.png"
    real_photo("coffee.png", size=None).convert("L").resize((1024, 683)).save(slow)  # its own size: rendered at 1024
    busy = [client.submit([handle_file(slow)] * 2, 1024, api_name="/colorize_batch") for _ in range(2)]
    time.sleep(1)  # both running before the third is queued
    waiting = tmp_path / "waiting.png"
    real_photo("chelsea.png", size=96).convert("L").save(waiting)
    started = time.monotonic()
    _, download, _ = client.predict(handle_file(waiting), 64, api_name="/colorize")
    assert time.monotonic() - started > RESULT_MAX_AGE_S + 3, "it did not wait long enough to show anything"
    _assert_colorized(download, waiting)
    for job in busy:
        assert "Colorized 2 of 2 photos" in job.result()[1]


def test_results_are_deleted_once_they_are_old(app, client, photo):
    """Last: waits for the cleanup, which would also delete what earlier tests downloaded."""
    client.predict(handle_file(photo), 64, api_name="/colorize")
    client.predict([handle_file(photo)], 64, api_name="/colorize_batch")

    def results() -> list[Path]:
        return [p for root in (app["work"], app["gradio"]) if root.exists() for p in root.rglob("*")
                if p.is_file() and (p.name.endswith("-colorized.png") or p.suffix == ".zip")]

    assert results()  # there was something to delete
    deadline = time.monotonic() + 4 * RESULT_MAX_AGE_S + 10
    while results() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not results()
    assert not list(app["work"].iterdir())  # our request folders go too
    size = sum(p.stat().st_size for p in app["gradio"].rglob("*") if p.is_file())
    assert size < 1_000_000, f"{size} bytes left in Gradio's cache"


def test_an_earlier_process_files_are_deleted_at_start_and_no_one_elses(tmp_path):
    """Gradio forgets its files when the app stops; the app's own marked folder is cleaned at the next
    start all the same, and nothing outside it, in the same temporary folder, is touched."""
    with running_app(tmp_path):
        pass
    ours = tmp_path / "gradio" / GRADIO_FOLDER
    assert (ours / APP_MARK).is_file()
    old, fresh = [ours / "4f1c" / "upload.png", ours / "9a2b" / "reel-colorized.mp4",
                  tmp_path / "work" / "request-x1y2" / "photo-colorized.png"], ours / "77ee" / "recent.png"
    theirs = [tmp_path / "gradio" / "other-program" / "cache.bin", tmp_path / "gradio" / "loose.bin",
              tmp_path / "work" / "notes.txt"]
    for path in [*old, fresh, *theirs]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 1000)
    for path in [*old, *theirs]:
        os.utime(path, (time.time() - 7200, time.time() - 7200))
        os.utime(path.parent, (time.time() - 7200, time.time() - 7200))
    with running_app(tmp_path, COLORIZER_RESULT_MAX_AGE_S="600"):
        assert not any(path.exists() for path in old)
        assert not (ours / "4f1c").exists() and not (tmp_path / "work" / "request-x1y2").exists()
        assert fresh.exists() and all(path.exists() for path in theirs)
