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
from colorizer.errors import SettingsError, VideoError
from colorizer.io.video import transcode
from colorizer.pipelines.colorizer import Colorizer
from colorizer.pipelines.film import InBetween, MotionAwareAverage, TemporalOptions, camera_shift, translate
from colorizer.pipelines.photo import SERIAL_PIXELS, join_lightness, resize_lightness
from tools.test_film import (FilmScript, ab_of, block_means, default_photos, frames_of, packets_of, write_film,
                              write_stream)

RENDER = 64
STILL, AFTER_CUT = 5, 6
CUT = 0.2  # histogram distance that marks the cut: 0.28 at this film's cut, under 0.06 between grainy frames
# A frame that holds a neighbour's colour joins it with its own grainy lightness, which moves vivid colour a
# little (gamut and 8-bit rounding): 0.21-0.40 of the way to a model pass of its own with the defaults so
# far, where a pass of its own would be all of it.
HELD = 0.5


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
    colorizer.colorize_video(film, out, render_size=RENDER, crf=1, temporal=TemporalOptions(memory=0.0, stride=1),
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


def _ab_of_frames(path: Path) -> list[np.ndarray]:
    return [ab_of(frame) for frame in frames_of(path)]


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean ab distance on 4x4 block means (block_means)."""
    return float(np.linalg.norm(block_means(a, 4) - block_means(b, 4), axis=0).mean())


@pytest.fixture(scope="module")
def alone(colorizer, film, tmp_path_factory) -> list[np.ndarray]:
    """Each frame's ab when the model colours every frame and nothing is carried over (crf 0: lossless, so a
    frame's colour does not depend on its neighbours' through the codec)."""
    out = tmp_path_factory.mktemp("alone") / "alone.mp4"
    colorizer.colorize_video(film, out, render_size=RENDER, crf=0, temporal=TemporalOptions(memory=0.0, stride=1))
    return _ab_of_frames(out)


def test_the_model_colours_every_other_frame_and_the_frames_between_take_their_neighbours(
        colorizer, film, alone, tmp_path, monkeypatch):
    """stride 2: frames 0, 2, 4 | cut | 5, 7, 9 go through the model (as each frame alone would colour
    them); 1 and 3 lie between their neighbours' colour; 6 and 8 too; 10, the last, keeps 9's."""
    passes = colorizer.generator.with_features  # both mirror passes of a frame go through it
    seen: list[int] = []
    monkeypatch.setattr(colorizer.generator, "with_features", lambda x: seen.append(x.shape[0]) or passes(x))
    out = tmp_path / "stride2.mp4"
    colorizer.colorize_video(film, out, render_size=RENDER, crf=0,
                             temporal=TemporalOptions(memory=0.0, stride=2, cut=CUT))
    assert sum(seen) == 2 * 6
    got = _ab_of_frames(out)
    assert len(got) == STILL + AFTER_CUT
    for t in (0, 2, 4, 5, 7, 9):
        assert _distance(got[t], alone[t]) < 0.2
    for t in (1, 3, 6, 8):  # within its neighbours' colours, on 4x4 blocks as _distance (8-bit rounding)
        before, between, after = (block_means(x, 4) for x in (alone[t - 1], got[t], alone[t + 1]))
        low, high = np.minimum(before, after), np.maximum(before, after)
        outside = np.maximum(low - between, 0) + np.maximum(between - high, 0)
        assert outside.mean() < 0.5, t
    assert _distance(got[10], alone[9]) < HELD * _distance(alone[10], alone[9])  # 9's colour, not a pass of its own


def test_a_frame_between_takes_the_side_whose_picture_it_shows():
    """InBetween's rule on made-up maps: the same picture on both sides gives the time-weighted mean; where
    the frame shows what only the frame after it shows (something moved in), it takes that frame's colour."""
    between = InBetween(motion=2.0)
    flat = torch.full((1, 4, 6), 50.0)
    moved = flat.clone()
    moved[..., 3:] = 80.0  # the right half changed by the next coloured frame
    red, green = torch.full((2, 4, 6), 20.0), torch.full((2, 4, 6), -20.0)
    between.fill(red, flat)
    between.hold((flat, flat, flat))
    between.hold((moved, moved, moved))
    first, second = between.fill(green, moved)
    assert torch.allclose(first[1][..., :3], red[..., :3] * 2 / 3 + green[..., :3] / 3, atol=1e-3)  # nearer in time
    assert torch.allclose(second[1][..., 3:], green[..., 3:], atol=0.05)  # only the frame after shows this
    assert torch.allclose(first[1][..., 3:], red[..., 3:], atol=0.05)  # only the frame before shows that
    assert [frame for frame, _ in between.flush()] == []


def test_in_a_pan_the_running_colour_moves_with_the_scene_and_keeps_averaging():
    """A textured scene panned by 3.5 px: camera_shift finds the move; the running average that follows the
    camera carries the scene's colour along and averages away the new frame's noise, where one that does
    not follow forgets every textured pixel and shows the noisy frame as it is."""
    generator = torch.Generator().manual_seed(0)
    scene = F.avg_pool2d(torch.rand(1, 1, 48, 72, generator=generator) * 100, 5, stride=1, padding=2)[0]
    colour = torch.cat([scene - 50, 50 - scene]) * 0.4  # the scene's own colour, (2, h, w)
    panned, panned_colour = translate(scene, 0.0, 3.5), translate(colour, 0.0, 3.5)
    dy, dx = camera_shift(scene, panned)
    assert abs(dy) < 0.3 and abs(dx - 3.5) < 0.3
    noisy = panned_colour + torch.randn(2, 48, 72, generator=generator) * 4
    inner = (slice(None), slice(4, -4), slice(8, -8))  # away from the edge the pan brings in
    errors = {}
    for follow in (True, False):
        average = MotionAwareAverage(memory=0.85, motion=2.0, follow_camera=follow)
        average(colour, scene)
        errors[follow] = float((average(noisy, panned) - panned_colour)[inner].abs().mean())
    assert errors[True] < 0.6 * errors[False]


def test_frames_held_before_a_cut_keep_their_own_shot_colour(colorizer, film, alone, tmp_path):
    """stride 3: frame 4 waits for a next coloured frame that never comes in its shot (5 is a cut): it
    takes frame 3's colour, nothing of the next shot's; frame 5 starts the new shot through the model."""
    out = tmp_path / "stride3.mp4"
    colorizer.colorize_video(film, out, render_size=RENDER, crf=0,
                             temporal=TemporalOptions(memory=0.0, stride=3, cut=CUT))
    got = _ab_of_frames(out)
    assert _distance(got[4], alone[3]) < HELD * _distance(alone[4], alone[3])  # 3's colour, not a pass of its own
    assert _distance(got[4], alone[5]) > 5  # nothing of the next shot
    assert _distance(got[5], alone[5]) < 0.2


@pytest.mark.parametrize("stride", [0, -2, 1.5, float("nan")])
def test_a_stride_that_is_no_whole_number_of_frames_is_refused(colorizer, film, tmp_path, stride):
    with pytest.raises(SettingsError, match="stride"):
        colorizer.colorize_video(film, tmp_path / "out.mp4", render_size=RENDER, temporal=TemporalOptions(stride=stride))
    assert not (tmp_path / "out.mp4").exists()


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
    source, max_pixels = film, None
    if stage == "decode":  # the decoding thread refuses a frame that grows past the limit midway
        source, max_pixels = tmp_path / "broadcast.ts", 64 * 48
        write_stream(source, "mpegts", [(64, 48, 8), (128, 96, 2)])
    message = {"decode": "frame 8 is 128x96", "transform": "transform stopped", "finish": "join stopped"}[stage]
    with pytest.raises(VideoError, match=message):
        transcode(source, tmp_path / "out" / "reel.mp4", transform, max_pixels=max_pixels, finish=finish, ahead=1)
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
