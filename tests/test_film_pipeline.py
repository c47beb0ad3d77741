"""Films as a pipeline: decoding, the model and joining + encoding on their own threads, frames in batches.

What must hold whatever the threads do: every frame comes out once, in order, joined with its own
lightness, as a frame-by-frame run would give it; a failure in any stage is raised as it was, with
nothing written and no thread left behind; the join in strips and on a GPU's float16 equals the
plain one. Films are tiny (64x48) and made by tools/test_film.py; nothing here is timed.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from colorizer import color
from colorizer.errors import VideoError
from colorizer.io.video import transcode
from colorizer.pipelines.colorizer import Colorizer
from colorizer.pipelines.film import TemporalOptions
from colorizer.pipelines.photo import SERIAL_PIXELS, join_lightness, resize_lightness
from tools.test_film import FilmScript, ab_of, default_photos, frames_of, packets_of, write_film

RENDER = 64
STILL, AFTER_CUT = 5, 6


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer.from_pretrained(device="cpu")


@pytest.fixture(scope="module")
def film(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("film") / "reel.mp4"
    write_film(path, FilmScript.from_photos(*default_photos(), 64, 48, still=STILL, pan=0, after_cut=AFTER_CUT),
               grain=10.0)
    return path


def _pipeline_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("film-")]


def _ab_difference(a: Path, b: Path) -> list[float]:
    """Per frame, the mean ab distance (Lab units) between two films' frames."""
    return [float(np.linalg.norm(ab_of(x) - ab_of(y), axis=0).mean()) for x, y in zip(frames_of(a), frames_of(b))]


def test_each_frame_comes_out_in_order_as_a_photo_of_it_would(colorizer, film, tmp_path):
    """Each frame alone through the threads = each decoded frame colorized on its own, frame by frame:
    nothing swapped, dropped or joined with another frame's lightness (the cut would show it)."""
    out = tmp_path / "alone.mp4"
    colorizer.colorize_video(film, out, render_size=RENDER, crf=1, temporal=TemporalOptions(memory=0.0),
                             batch_size=3)
    expected = []
    for gray in frames_of(film, "gray"):
        lightness = color.lightness_of(Image.fromarray(gray))
        small = resize_lightness(lightness, colorizer.model_shape(64, 48, RENDER))
        expected.append(join_lightness(lightness, colorizer.predict_ab_at([small])[0]))
    assert len(expected) == STILL + AFTER_CUT
    transcode(film, tmp_path / "expected.mp4", lambda grays: (frame for frame, _ in zip(expected, grays)), crf=1)
    assert max(_ab_difference(out, tmp_path / "expected.mp4")) < 0.2  # the same encoder on the same frames
    assert packets_of(out) == packets_of(film)  # the sound, muxed from the decoding thread, bit for bit


@pytest.mark.parametrize("batch_size", [1, 5])
def test_the_batch_size_does_not_change_the_film(colorizer, film, tmp_path, batch_size):
    colorizer.colorize_video(film, tmp_path / "four.mp4", render_size=RENDER, crf=1, batch_size=4)
    colorizer.colorize_video(film, tmp_path / "other.mp4", render_size=RENDER, crf=1, batch_size=batch_size)
    assert max(_ab_difference(tmp_path / "four.mp4", tmp_path / "other.mp4")) < 0.2


def _stopped_in(stage: str):
    """transcode's transform and finish, failing in `stage` at the third frame."""
    def transform(grays):
        for i, gray in enumerate(grays):
            if stage == "transform" and i == 2:
                raise VideoError("the transform stopped on purpose")
            yield gray

    def finish(gray):
        finish.count += 1
        if stage == "finish" and finish.count == 3:
            raise VideoError("the join stopped on purpose")
        return np.repeat(gray[..., None], 3, axis=2)

    finish.count = 0
    return transform, finish


@pytest.mark.parametrize("stage", ["decode", "transform", "finish"])
def test_a_failure_in_any_stage_is_raised_and_leaves_no_thread_and_no_file(film, tmp_path, stage):
    transform, finish = _stopped_in(stage)
    max_frames = 2 if stage == "decode" else None  # the decoding thread refuses the third frame
    message = {"decode": "more than 2 frames", "transform": "transform stopped", "finish": "join stopped"}[stage]
    with pytest.raises(VideoError, match=message):
        transcode(film, tmp_path / "out" / "reel.mp4", transform, max_frames=max_frames, finish=finish, ahead=1)
    assert list((tmp_path / "out").iterdir()) == []
    assert _pipeline_threads() == []


def test_a_transform_that_drops_frames_is_caught(film, tmp_path):
    def half(grays):
        for i, gray in enumerate(grays):
            if i % 2 == 0:
                yield np.repeat(gray[..., None], 3, axis=2)

    with pytest.raises(RuntimeError, match="transform returned"):
        transcode(film, tmp_path / "reel.mp4", half)
    assert _pipeline_threads() == []


def test_the_join_in_strips_and_in_float16_equals_the_whole_frame_join():
    torch.manual_seed(0)
    lightness, ab = torch.rand(1, 97, 131) * 100, torch.randn(2, 64, 96) * 30
    whole = F.interpolate(ab[None], size=(97, 131), mode="bilinear", align_corners=False)[0]
    expected = color.lab_to_rgb8(torch.cat([lightness, whole])).permute(1, 2, 0).numpy().astype(int)
    for strips in (None, SERIAL_PIXELS, 1000, 1):
        assert np.abs(join_lightness(lightness, ab, strip_pixels=strips) - expected).max() <= 1
    half = join_lightness(lightness, ab, strip_pixels=None, upsample_dtype=torch.float16)  # a GPU's way, on the CPU
    assert np.abs(half - expected).max() <= 2 and np.abs(half - expected).mean() < 0.05
