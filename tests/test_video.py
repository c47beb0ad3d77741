"""Films through the real default model: API and CLI, what is kept, flicker, cuts, bad input.

Films are tiny (64x48, a dozen frames) and made by tools/test_film.py from real colour photos:
a still shot with fresh grain every frame, a hard cut to another photo, and a tone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from colorizer import color
from colorizer.errors import HintError, VideoError
from colorizer.io import provenance
from colorizer.io.inputs import find_images
from colorizer.io.video import is_video, probe, transcode
from colorizer.pipelines import hints
from colorizer.pipelines.colorizer import Colorizer
from colorizer.pipelines.film import TemporalOptions
from tests.conftest import REPO, real_photo, run_cli
from tools.test_film import (FilmScript, ab_of, cut_off, default_photos, flicker, frames_of, packets_of, write_film,
                              write_stream)

RENDER = 64
STILL, AFTER_CUT = 6, 6


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer.from_pretrained(device="cpu")


@pytest.fixture(scope="module")
def script() -> FilmScript:
    return FilmScript.from_photos(*default_photos(), 64, 48, still=STILL, pan=0, after_cut=AFTER_CUT)


@pytest.fixture(scope="module")
def film(tmp_path_factory, script) -> Path:
    path = tmp_path_factory.mktemp("film") / "reel.mp4"
    write_film(path, script, grain=10.0)
    return path


@pytest.fixture(scope="module")
def outputs(tmp_path_factory, colorizer, film) -> dict[str, Path]:
    """The film colorized three ways: the default, each frame alone, and a plain running average
    (no motion test, no cut detection) that lets colour leak into the next shot."""
    folder = tmp_path_factory.mktemp("out")
    ways = {"default": None, "alone": TemporalOptions(memory=0.0, stride=1),
            "leaky": TemporalOptions(motion=float("inf"), cut=2.0)}
    for name, temporal in ways.items():
        # crf 1: nearly lossless, so lightness can be compared with the input's, grain and all
        colorizer.colorize_video(film, folder / f"{name}.mp4", render_size=RENDER, crf=1, temporal=temporal)
    return {name: folder / f"{name}.mp4" for name in ways}


def _stamps(path: Path) -> tuple[list[int], Fraction]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sorted(p.pts for p in container.demux(stream) if p.pts is not None), stream.time_base


def _lightness(rgb: np.ndarray) -> np.ndarray:
    """L* of an (H, W, 3) uint8 frame: what the film keeps of the input (a decoder's gray is luma, which
    vivid colour moves away from L*)."""
    return color.lab_of_rgb8(rgb)[0].numpy()


def test_film_keeps_frames_rate_stamps_size_and_sound(film, outputs):
    made, source = probe(outputs["default"]), probe(film)
    assert (made.width, made.height, made.frames, made.rate) == (source.width, source.height, source.frames,
                                                                 source.rate)
    stamps, base = _stamps(outputs["default"])
    source_stamps, source_base = _stamps(film)
    assert [s * base for s in stamps] == [s * source_base for s in source_stamps]
    assert packets_of(outputs["default"]) == packets_of(film)  # copied, not re-encoded
    colour, gray = frames_of(outputs["default"]), frames_of(film, "gray")
    assert len(colour) == len(gray) == STILL + AFTER_CUT
    own, previous = (_lightness(np.repeat(gray[t][..., None], 3, 2)) for t in (3, 2))
    kept = np.abs(_lightness(colour[3]) - own).mean()
    assert kept < 1.5 and kept < 0.25 * np.abs(previous - own).mean()  # its own lightness, grain too
    assert np.linalg.norm(ab_of(colour[3]), axis=0).mean() > 2  # and has colour


def test_films_say_what_they_are_and_get_the_usual_file_mode(outputs):
    film = outputs["default"]
    facts = provenance.read(film)
    assert (facts.weights, facts.render_size, facts.restored) == ("embedded default", RENDER, False)
    assert facts.digital_source_type == provenance.DIGITAL_SOURCE_TYPE
    umask = os.umask(0)
    os.umask(umask)
    assert film.stat().st_mode & 0o777 == 0o666 & ~umask
    shown = subprocess.run([sys.executable, "-m", "colorizer.inspect", str(film)], cwd=REPO, capture_output=True,
                           text=True, timeout=120)
    assert shown.returncode == 0 and "AI-assisted" in shown.stdout and "embedded default" in shown.stdout


def test_still_grainy_shot_flickers_less_than_each_frame_alone(outputs, script):
    # on 8x8 blocks, as bench/bench_video.py: per pixel, vivid colour on fresh grain changes every frame
    alone, default = (flicker([ab_of(f) for f in frames_of(outputs[way])], script, range(2, STILL), block=8)
                      for way in ("alone", "default"))
    assert default < 0.7 * alone


def test_colour_does_not_leak_across_the_cut(outputs):
    alone, default, leaky = (frames_of(outputs[k])[STILL] for k in ("alone", "default", "leaky"))
    leak = np.linalg.norm(ab_of(leaky) - ab_of(alone), axis=0).mean()
    clean = np.linalg.norm(ab_of(default) - ab_of(alone), axis=0).mean()
    assert clean < 0.25 * leak  # with the cut detected, the new shot starts from its own colour


def test_variable_frame_rate_and_rotation_are_kept(tmp_path, colorizer):
    src, pts = tmp_path / "vfr.mp4", [0, 512, 1024, 2048, 2560, 4096]
    with av.open(str(src), "w") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        stream.time_base = stream.codec_context.time_base = Fraction(1, 12800)
        stream.set_display_rotation(90)
        for i, p in enumerate(pts):
            frame = av.VideoFrame.from_ndarray(np.full((32, 48), 40 * i, np.uint8), format="gray")
            frame.pts, frame.time_base = p, stream.time_base
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    colorizer.colorize_video(src, tmp_path / "out.mkv", render_size=RENDER)
    stamps, base = _stamps(tmp_path / "out.mkv")
    assert [s * base for s in stamps] == [Fraction(p, 12800) for p in pts]
    assert probe(tmp_path / "out.mkv").rotation == 90


def test_restore_denoises_over_time(film, colorizer, tmp_path):
    colorizer.colorize_video(film, tmp_path / "restored.mp4", render_size=RENDER, restore=True)
    colorizer.colorize_video(film, tmp_path / "plain.mp4", render_size=RENDER)

    def grain(path: Path) -> float:
        frames = [f.astype(float) for f in frames_of(path, "gray")[1:STILL]]
        return float(np.mean([np.abs(b - a).mean() for a, b in zip(frames, frames[1:])]))

    assert grain(tmp_path / "restored.mp4") < 0.6 * grain(tmp_path / "plain.mp4")


def test_a_failed_run_leaves_nothing(film, tmp_path):
    def broken(grays):
        for i, gray in enumerate(grays):
            if i == 5:
                raise VideoError("stopped on purpose")
            yield np.repeat(gray[..., None], 3, axis=2)

    with pytest.raises(VideoError, match="on purpose"):
        transcode(film, tmp_path / "out" / "reel.mp4", broken)
    assert list((tmp_path / "out").iterdir()) == []


def _bad_films(folder: Path, film: Path) -> dict[str, tuple[Path, str]]:
    """Each kind of bad input, and a word its message must contain."""
    folder.mkdir()
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "notes.mp4").write_text("a shopping list, not a film")
    with av.open(str(folder / "sound.mp4"), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=16000)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 16000), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    (folder / "cut-short.mp4").write_bytes(film.read_bytes()[: film.stat().st_size // 2])
    return {"empty": (folder / "empty.mp4", "empty"), "text": (folder / "notes.mp4", "not a film"),
            "audio": (folder / "sound.mp4", "no video stream"),
            "truncated": (folder / "cut-short.mp4", "not a film")}


def test_bad_films_get_clear_errors_and_leave_nothing(film, colorizer, tmp_path):
    for path, words in _bad_films(tmp_path / "bad", film).values():
        with pytest.raises(VideoError, match=words) as caught:
            colorizer.colorize_video(path, tmp_path / "out" / "x.mp4", render_size=RENDER)
        assert str(path) in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(VideoError, match="megapixels per frame"):
        colorizer.colorize_video(film, tmp_path / "out" / "x.mp4", render_size=RENDER, max_pixels=1000)
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_damage_in_the_middle_is_reported_and_the_film_still_comes_out(film, colorizer, tmp_path):
    data = bytearray(film.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 300] = np.random.default_rng(1).integers(0, 256, 300, dtype=np.uint8).tobytes()
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    report = colorizer.colorize_video(damaged, tmp_path / "out.mp4", render_size=RENDER)
    assert any("damaged" in note for note in report.notes), report.notes
    assert len(frames_of(tmp_path / "out.mp4")) == report.frames > 0


def test_a_raw_stream_is_counted_as_decoded_against_max_frames(colorizer, tmp_path):
    """A raw .h264 stream's header states no frame count: the limit holds on the frames decoded."""
    raw = tmp_path / "reel.h264"
    write_stream(raw, "h264", [(64, 48, 14)])
    assert probe(raw).frames == 0
    result = run_cli(str(raw), "-o", str(tmp_path / "out"), "--render-size", str(RENDER), "--max-frames", "10")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "reel.h264: more than 10 frames, the limit" in result.stderr
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
    assert colorizer.colorize_video(raw, tmp_path / "all.mp4", render_size=RENDER, max_frames=14).frames == 14


def test_a_raw_stream_too_long_is_refused_before_any_frame_is_colorized(colorizer, tmp_path):
    """Its header states no count, so its packets are counted first: decoding to the limit would colour
    3,000 frames only to throw them away."""
    raw = tmp_path / "long.h264"
    write_stream(raw, "h264", [(32, 32, 3100)])  # tiny frames: 3,100 of them are cheap to make
    written: list[int] = []
    with pytest.raises(VideoError, match="long.h264: more than 3000 frames, the limit .counted before any was"):
        colorizer.colorize_video(raw, tmp_path / "out.mp4", render_size=RENDER, max_frames=3000,
                                 progress=written.append)
    assert written == [] and not (tmp_path / "out.mp4").exists()
    assert probe(raw, max_frames=3100).frames == 3100  # within the limit: counted, and the count kept


def test_a_render_size_above_the_frames_own_is_lowered_with_a_note(colorizer, film, tmp_path):
    report = colorizer.colorize_video(film, tmp_path / "out.mp4", render_size=2048)
    assert "render size 2048 lowered to 384: the picture is 64x48, and a larger render adds nothing" in report.notes[0]
    assert provenance.read(tmp_path / "out.mp4").render_size == 384


def test_frames_that_change_size_midway_are_scaled_with_a_note_or_refused(colorizer, tmp_path):
    """An MPEG-TS whose frames grow midway: each frame's size is checked, never only the first's."""
    jump = tmp_path / "broadcast.ts"
    write_stream(jump, "mpegts", [(64, 48, 10), (128, 96, 3)])
    assert (probe(jump).width, probe(jump).height) == (64, 48)
    report = colorizer.colorize_video(jump, tmp_path / "out.mp4", render_size=RENDER)
    assert report.frames == 13 and {f.shape for f in frames_of(tmp_path / "out.mp4")} == {(48, 64, 3)}
    assert "3 frame(s) are not 64x48 like the film (the first, frame 10, is 128x96): scaled to 64x48" in report.notes
    with pytest.raises(VideoError, match="frame 10 is 128x96, 0.0123 megapixels, above the limit"):
        colorizer.colorize_video(jump, tmp_path / "refused.mp4", render_size=RENDER, max_pixels=64 * 48)
    assert not (tmp_path / "refused.mp4").exists()


def test_a_film_cut_off_comes_out_as_far_as_it_goes_and_the_cli_says_so(film, tmp_path):
    cut = tmp_path / "download.mp4"
    announced = cut_off(film, cut)
    result = run_cli(str(cut), "-o", str(tmp_path / "out"), "--render-size", str(RENDER))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    made = len(frames_of(tmp_path / "out" / "download.mp4"))
    assert 0 < made < announced
    assert f"{made} of {announced} frames: the file ends early" in result.stderr


def test_an_image_is_not_a_film(colorizer, tmp_path):
    fake = tmp_path / "holiday.mp4"
    real_photo("camera.png", size=64).save(fake, format="PNG")
    with pytest.raises(VideoError, match="holiday.mp4: is an image, not a film"):
        colorizer.colorize_video(fake, tmp_path / "out.mp4", render_size=RENDER)


def test_cli_colorizes_films_next_to_photos_and_skips_bad_ones(film, tmp_path):
    inputs = tmp_path / "in"
    bad = _bad_films(inputs, film)
    (inputs / "reel-without-suffix").write_bytes(film.read_bytes())  # recognised by probing
    real_photo("camera.png", size=64).save(inputs / "camera.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "reel.mp4").write_bytes(b"earlier work")
    assert is_video(inputs / "reel-without-suffix") and not is_video(inputs / "camera.png")

    result = run_cli(str(inputs), str(inputs / "reel-without-suffix"), str(film), "-o", str(out),
                     "--render-size", str(RENDER), "--crf", "23")

    assert result.returncode == 1, result.stderr
    for path, words in bad.values():
        assert f"skipped: {path}" in result.stderr and words in result.stderr
    assert "Traceback" not in result.stderr
    assert "1 already done, skipped" in result.stderr and (out / "reel.mp4").read_bytes() == b"earlier work"
    assert sorted(p.name for p in out.iterdir()) == ["camera.png", "reel-without-suffix.mp4", "reel.mp4"]
    assert probe(out / "reel-without-suffix.mp4").frames == STILL + AFTER_CUT
    assert "frame/s" in result.stderr or "s/frame" in result.stderr  # the progress bar's rate

    assert find_images([str(out)])[0] == [out / "reel.mp4"]  # our own films (marked) are never inputs

    rerun = run_cli(str(film), "-o", str(out), "--render-size", str(RENDER), "--overwrite")
    assert rerun.returncode == 0, rerun.stderr
    assert probe(out / "reel.mp4").frames == STILL + AFTER_CUT
    assert packets_of(out / "reel.mp4") == packets_of(film)


def test_cli_film_hints_hold_through_the_first_shot_and_end_at_the_cut(film, outputs, tmp_path):
    """A stroke on the film's first frame (from a hints file, as a user gives it) steers every frame of
    that shot, and the shot after the cut is exactly the hint-free film's."""
    rgb = (160, 215, 150)  # a pale green, in gamut at the stroke's lightness
    hints_file = tmp_path / "hints.json"
    hints_file.write_text(json.dumps({film.name: [{"points": [[24, 24], [40, 24]], "color": list(rgb)}]}))
    out = tmp_path / "out"
    result = run_cli(str(film), "-o", str(out), "--render-size", str(RENDER), "--crf", "1", "--hints", str(hints_file))
    assert result.returncode == 0, result.stderr
    hinted, plain = frames_of(out / film.name), frames_of(outputs["default"])
    want = np.array(hints.hint_ab(rgb))

    def off(frame: np.ndarray) -> float:  # around the stroke's middle: video keeps chroma at half resolution
        return float(np.linalg.norm(ab_of(frame)[:, 23:26, 30:35].mean(axis=(1, 2)) - want))

    for t in range(STILL):
        assert off(hinted[t]) < 10 < 25 < off(plain[t]), t
    after = [np.abs(hinted[t].astype(int) - plain[t]).mean() for t in range(STILL, STILL + AFTER_CUT)]
    assert max(after) < 0.5
    assert provenance.read(out / film.name).hints


def test_a_film_hint_outside_the_frame_is_named_and_nothing_written(film, colorizer, tmp_path):
    with pytest.raises(HintError, match=r"hint 0 at \(64, 10\) is outside the film's frames \(64x48"):
        colorizer.colorize_video(film, tmp_path / "out.mp4", render_size=RENDER, hints=[(64, 10, "#ff0000")])
    assert list(tmp_path.iterdir()) == []


def test_a_killed_cli_run_leaves_no_half_film(tmp_path):
    long_film = tmp_path / "long.mp4"
    write_film(long_film, FilmScript.from_photos(*default_photos(), 64, 48, still=200, pan=0, after_cut=0),
               audio=False)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "colorizer", str(long_film), "-o", str(out), "--render-size",
                             str(RENDER)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(out.glob(".long.mp4.*.tmp")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(list(out.glob(".long.mp4.*.tmp"))) == 1 and not (out / "long.mp4").exists()
