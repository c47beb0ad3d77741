"""Colour for films: the model on every other frame, in batches, without flicker, cuts kept clean.

    gray frame ──> L (1, H, W), its own ──(--restore: cleaned, then denoised over time)────────┐
    every 2nd frame's L, in batches ──> generator ──> ab at render size ──> MotionAwareAverage │
    frames between: their neighbours' ab where their lightness matches (InBetween) ──> ab     │
    ab upsampled and joined with that frame's L ──> colour frame <────────────────────────────┘

Decoding, the model's batches and joining + encoding run on three threads at once
(colorizer.io.video.transcode): the join waits for no batch, the model for no encoder. On a GPU
a frame goes there as bytes, and everything from its lightness to the joined 8-bit colour runs
there (the upsampling in float16); only finished frames come back.

Why a temporal filter on chroma: the model sees each frame alone, so film grain that changes every
frame makes its colour guess change too (the flicker DeOldify is known for). MotionAwareAverage keeps
a running ab per render pixel and blends each new prediction into it, with a weight that falls to
zero where the (smoothed) lightness changed since the last frame: still and slow areas settle,
moving edges take the new prediction at once, so colour does not trail behind motion. At a hard
cut (SceneCuts: the lightness histogram jumps) the running ab is dropped, so nothing bleeds from
one shot into the next. bench/bench_video.py measures it against colorizing each frame alone and
against a flow-free plain average (docs/BENCHMARKS.md, "Video").

Why every other frame: colour changes slowly from frame to frame while the model's pass is most of a
film's cost, so the model colours every `stride`-th frame of a shot (the first of each shot always) and
each frame between takes the ab of the coloured frames before and after it, weighed by how near in
time they are and by how alike the (smoothed) lightness is there: a moving edge takes the side it
matches, not a ghost of both. Half the passes; the frames between are steadier than a pass of their
own, since the grain of their lightness moves no colour guess.

Lightness is never filtered (unless --restore asks for denoising): each output frame has exactly
its own tones, as photos do.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice

import numpy as np
import torch
import torch.nn.functional as F

from colorizer import color
from colorizer.errors import SettingsError
from colorizer.io import hints as hint_input
from colorizer.io.video import FilmReport, probe, transcode
from colorizer.pipelines import hints as hinting
from colorizer.pipelines.photo import SERIAL_PIXELS, PhotoPipeline, join_lightness, resize_lightness
from colorizer.pipelines.reference import FilmReferences
from colorizer.pipelines.restore import RestoreOptions, restore_lightness
from colorizer.settings import DEFAULT_CRF, DEFAULT_MAX_PIXELS, DEFAULT_RENDER_SIZE

HISTOGRAM_BINS = 32


@dataclass
class TemporalOptions:
    """How colour is carried from frame to frame. memory=0, stride=1 colorizes each frame alone."""

    memory: float = 0.85  # weight of the running ab where nothing moved (0.85: about 12 frames' average)
    motion: float = 2.0  # change of smoothed L (L units, render size) at which the running ab counts e^-1 as much
    cut: float = 0.3  # histogram distance (half the L1 distance, 0 to 1) between frames that marks a hard cut
    denoise: float = 0.6  # --restore: weight of the running L where nothing moved
    follow_camera: bool = True  # the running colour moves with a pan (MotionAwareAverage)
    stride: int = 2  # the model colours every stride-th frame of a shot; the frames between take their neighbours'


def _smooth(l_small: torch.Tensor) -> torch.Tensor:
    """(1, h, w) -> (1, h, w) 5x5 box mean: grain averages out, real motion stays."""
    return F.avg_pool2d(l_small[None], 5, stride=1, padding=2, count_include_pad=False)[0]


class SceneCuts:
    """Says whether each frame starts a new shot: its lightness histogram differs from the previous
    frame's by more than `threshold` (grain and pans move a histogram little; a cut moves it a lot)."""

    def __init__(self, threshold: float):
        self.threshold = threshold
        self.previous: torch.Tensor | None = None

    def __call__(self, l_small: torch.Tensor) -> bool:
        hist = torch.histc(l_small, bins=HISTOGRAM_BINS, min=0.0, max=100.0)
        hist = hist / hist.sum().clamp(min=1.0)
        cut = self.previous is None or 0.5 * float((hist - self.previous).abs().sum()) > self.threshold
        self.previous = hist
        return cut


def camera_shift(before: torch.Tensor, now: torch.Tensor) -> tuple[float, float]:
    """(dy, dx) in pixels by which the picture moved from `before` to `now` ((1, h, w) guides): the peak of
    their phase correlation, placed to a fraction of a pixel by a parabola through it and its neighbours."""
    h, w = now.shape[-2:]
    window = torch.hann_window(h, periodic=False, device=now.device)[:, None] * torch.hann_window(
        w, periodic=False, device=now.device)[None]
    spectra = [torch.fft.rfft2((g[0] - g[0].mean()) * window) for g in (before, now)]
    cross = spectra[1] * spectra[0].conj()
    correlation = torch.fft.irfft2(cross / cross.abs().clamp(min=1e-9), s=(h, w))
    peak = int(correlation.argmax())
    py, px = divmod(peak, w)
    shift = []
    for position, size, line in ((py, h, correlation[:, px]), (px, w, correlation[py])):
        before_, at, after = (float(line[(position + k) % size]) for k in (-1, 0, 1))
        curvature = before_ - 2 * at + after
        offset = 0.5 * (before_ - after) / curvature if curvature < 0 else 0.0
        shift.append(((position + size // 2) % size - size // 2) + max(-0.5, min(0.5, offset)))
    return shift[0], shift[1]


def translate(maps: torch.Tensor, dy: float, dx: float) -> torch.Tensor:
    """(C, h, w) maps moved by (dy, dx) pixels, bilinear; what comes in at an edge repeats the edge."""
    h, w = maps.shape[-2:]
    ys = (torch.arange(h, device=maps.device, dtype=torch.float32) - dy) / max(h - 1, 1) * 2 - 1
    xs = (torch.arange(w, device=maps.device, dtype=torch.float32) - dx) / max(w - 1, 1) * 2 - 1
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)[None]  # (1, h, w, 2): x, y
    return F.grid_sample(maps[None].float(), grid, mode="bilinear", padding_mode="border",
                         align_corners=True)[0].to(maps.dtype)


class MotionAwareAverage:
    """A running average of a map (ab, or L for denoising) that forgets where lightness moved.

    new = w * running + (1 - w) * current, w = memory * exp(-(|ΔL| / motion)^2) per pixel, with ΔL the
    change of smoothed lightness since the previous frame. reset() starts afresh (a cut).
    follow_camera: first move the running map (and the lightness it remembers) with the whole picture's
    motion (camera_shift), when that brings the two frames' lightness closer: in a pan the colour then
    travels with the scene and keeps averaging, instead of being forgotten wherever the picture moved.
    """

    def __init__(self, memory: float, motion: float, follow_camera: bool = False):
        self.memory, self.motion, self.follow_camera = memory, motion, follow_camera
        self.running: torch.Tensor | None = None
        self.guide: torch.Tensor | None = None

    def reset(self) -> None:
        self.running = self.guide = None

    def __call__(self, value: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        """value: (C, h, w), guide: (1, h, w) smoothed L at the same size."""
        if self.running is None or self.memory <= 0 or self.running.shape != value.shape:
            self.running = value
        else:
            if self.follow_camera:
                self._follow(guide)
            weight = self.memory * torch.exp(-((guide - self.guide) / self.motion) ** 2)
            self.running = torch.lerp(value, self.running, weight)
        self.guide = guide
        return self.running

    def _follow(self, guide: torch.Tensor) -> None:
        dy, dx = camera_shift(self.guide, guide)
        if abs(dy) < 0.25 and abs(dx) < 0.25:
            return
        moved = translate(self.guide, dy, dx)
        if float((moved - guide).abs().mean()) < float((self.guide - guide).abs().mean()):
            self.guide, self.running = moved, translate(self.running, dy, dx)


Frame = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # a frame's full-size L, its L and guide at render size


class InBetween:
    """The frames the model skips, held until the next coloured frame of their shot, then given ab from the
    coloured frames on either side: per pixel, each side weighed by its nearness in time and by how alike the
    smoothed lightness is there (exp(-(ΔG / motion)^2), the temporal filter's motion test), so a moving edge
    takes the side whose picture it shows. Held frames with no coloured frame after them in their shot (a cut,
    the film's end) keep the one before."""

    def __init__(self, motion: float):
        self.motion = motion
        self.held: list[Frame] = []
        self.before: tuple[torch.Tensor, torch.Tensor] | None = None  # the last coloured frame's ab and guide

    def hold(self, frame: Frame) -> None:
        self.held.append(frame)

    def fill(self, ab: torch.Tensor, guide: torch.Tensor) -> list[tuple[Frame, torch.Tensor]]:
        """The held frames with their ab, now that the next coloured frame (ab, guide) is known; it becomes `before`."""
        out = []
        ab_before, guide_before = self.before if self.before is not None else (ab, guide)
        steps = len(self.held) + 1
        for k, frame in enumerate(self.held, 1):
            near_before, near_after = (steps - k) / steps, k / steps
            w_before = near_before * torch.exp(-((frame[2] - guide_before) / self.motion) ** 2)
            w_after = near_after * torch.exp(-((frame[2] - guide) / self.motion) ** 2)
            # where the picture matches neither side, time alone decides (the 1e-3 terms)
            mixed = (w_before * ab_before + w_after * ab + 1e-3 * (near_before * ab_before + near_after * ab))
            out.append((frame, mixed / (w_before + w_after + 1e-3)))
        self.held, self.before = [], (ab, guide)
        return out

    def flush(self) -> list[tuple[Frame, torch.Tensor]]:
        """The held frames with the last coloured frame's ab (their shot ended before another was coloured)."""
        out = [(frame, self.before[0]) for frame in self.held] if self.before is not None else []
        self.held, self.before = [], None
        return out


class ShotHints:
    """A film's colour hints, given in its first frame's pixels, carried through the first shot.

    Every frame of that shot is steered by them (hints.steer), each hinted pixel weighed by how alike
    the picture there still is to the first frame's: exp(-dG^2 / 2 LOOKALIKE_L^2), G the smoothed
    lightness (grain does not count). Where the picture stays, the hint holds, frame after frame,
    without flicker; where something else has moved in, it lets go. They end for good at a cut, or
    once most of the hinted pixels have let go (a cut between alike pictures, a long pan): the next
    scene is not what the person hinted.
    """

    def __init__(self, hints: list[hint_input.Hint], frame_size: tuple[int, int]):
        self.hints, self.frame_size = hints, frame_size
        self.active = bool(hints)
        self.first: torch.Tensor | None = None  # the first frame's guide (smoothed L at render size)
        self.mask = self.target = np.zeros(0)

    def __call__(self, ab: torch.Tensor, lightness: torch.Tensor, guide: torch.Tensor, cut: bool) -> torch.Tensor:
        """ab (2, h, w), L (1, h, w) and its smoothed guide of one frame at render size; `cut`: a new shot."""
        if self.active and self.first is None:
            self.first = guide
            self.mask, self.target = hinting.rasterize(self.hints, self.frame_size, tuple(ab.shape[-2:]))
        elif cut:
            self.active = False
        if not self.active:
            return ab
        still = torch.exp(-(guide - self.first)[0] ** 2 / (2 * hinting.LOOKALIKE_L**2)).double().cpu().numpy()
        weight = self.mask * still
        if weight.sum() < 0.5 * self.mask.sum():
            self.active = False
            return ab
        return hinting.steer(ab.cpu(), lightness.cpu(), weight, self.target).to(ab.device)


def colorize_video(colorizer: PhotoPipeline, src: str | os.PathLike, dst: str | os.PathLike,
                   render_size: int = DEFAULT_RENDER_SIZE, strength: float = 1.0,
                   max_pixels: int = DEFAULT_MAX_PIXELS, restore: bool | RestoreOptions = False,
                   crf: int = DEFAULT_CRF, batch_size: int = 4, temporal: TemporalOptions | None = None,
                   progress: Callable[[int], None] | None = None,
                   hints: Sequence[object] | None = None, max_frames: int | None = None,
                   reference: object = None) -> FilmReport:
    """Colorize the film SRC into DST (H.264 in MP4 by default: DST's suffix picks .mp4/.mov/.mkv).

    Frames go through the model `batch_size` at a time; sound, time stamps, size and rotation are
    kept (colorizer.io.video). temporal=TemporalOptions(memory=0, stride=1) colorizes each frame alone.
    restore repairs each frame's lightness as for photos (its spatial denoising replaced by a
    motion-aware average over frames: grain is temporal). `progress(frames_done)` is called per frame.
    hints: colour hints in the first frame's pixels (as stored, before any display rotation), kept
    through the first shot (ShotHints); None or [] gives exactly the hint-free film.
    max_frames: refuse a film with more frames, before any work (colorizer.io.video.probe) and as decoded
    (None: any length).
    reference: colour photos (one or a list; a colourist's keyframes): a set, not a timeline. Every frame
    draws on whichever of them match it (colorizer.pipelines.reference), before the temporal filter, so
    the lent colour is as steady as the rest; None gives exactly the reference-free film.
    A film that ends early is written as far as it goes, with a note (report.ended_early).
    Raises VideoError (bad film, or over max_pixels or max_frames; DST untouched), SettingsError (NaN and the like) or
    HintError (a malformed hint, or one outside the frame; DST untouched) or ReferenceImageError (a bad
    reference; DST untouched).
    """
    checked, notes = colorizer.check_settings(render_size=render_size, strength=strength, batch_size=batch_size,
                                              max_pixels=max_pixels, crf=crf, max_frames=max_frames)
    render_size, strength, batch_size, max_pixels, crf, max_frames = (
        checked.render_size, checked.strength, checked.batch_size, checked.max_pixels, checked.crf, checked.max_frames)
    options = temporal or TemporalOptions()
    parsed = hint_input.parse_hints(hints)
    info = probe(src, max_pixels, max_frames)  # a film too long or too large is refused before any work
    render_size, size_note = colorizer.render_size_for(info.width, info.height, render_size)
    notes += [size_note] if size_note else []
    references, reference_notes = colorizer.read_references(reference, render_size, max_pixels)
    restore_options = None
    if restore:
        restore_options = restore if isinstance(restore, RestoreOptions) else RestoreOptions()
        restore_options = RestoreOptions(**{**vars(restore_options), "denoise": False})

    device = colorizer.device  # a GPU keeps each frame from its bytes to its finished colour
    stride = options.stride
    if not isinstance(stride, int) or stride < 1:
        raise SettingsError(f"temporal stride must be a whole number of frames, 1 or more, not {stride!r}")
    join_strip = SERIAL_PIXELS if device.type == "cpu" else None

    def transform(grays: Iterator[np.ndarray]) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Gray frames -> (L (1, H, W), ab (2, h, w)) per frame, on `device`, joined by `finish`."""
        cuts = SceneCuts(options.cut)
        colour = MotionAwareAverage(options.memory, options.motion, options.follow_camera)
        grain = MotionAwareAverage(options.denoise if restore else 0.0, options.motion)
        between = InBetween(options.motion)
        steer: ShotHints | None = None
        lend = (FilmReferences(references, MotionAwareAverage(options.memory, options.motion, options.follow_camera))
                if references else None)
        since = 0  # frames since the shot's last coloured one

        def out(frame: Frame, ab: torch.Tensor, start: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
            lightness, small, guide = frame
            return lightness, steer(ab, small, guide, start)

        while batch := list(islice(grays, batch_size * stride)):  # about batch_size frames for the model
            if steer is None:
                height, width = batch[0].shape
                hint_input.check_inside(parsed, width, height, "the film's frames")
                steer = ShotHints(parsed, (width, height))
                shape = colorizer.model_shape(width, height, render_size)
            # (B, H, W) uint8 -> (B, 1, H, W) L in [0, 100]
            fulls = list(color.gray8_to_l(torch.from_numpy(np.stack(batch)).to(device))[:, None])
            frames: list[tuple[Frame, bool, bool]] = []  # (frame, starts a shot, coloured by the model)
            for lightness in fulls:
                small = resize_lightness(lightness, shape)  # what the model sees
                start = cuts(small)
                if start:
                    grain.reset()
                if restore_options is not None:
                    lightness = restore_lightness(lightness.cpu(), colorizer.generator, colorizer.device,
                                                  restore_options).to(device)
                    lightness = grain(lightness, _smooth(lightness))
                    small = resize_lightness(lightness, shape)
                keyed = start or since + 1 >= stride
                since = 0 if keyed else since + 1
                frames.append(((lightness, small, _smooth(small)), start, keyed))
            predictions = iter(colorizer.predict_at([frame[1] for frame, _, keyed in frames if keyed]))
            for frame, start, keyed in frames:
                if not keyed:
                    between.hold(frame)
                    continue
                ab, features = next(predictions)
                lightness, small, guide = frame
                if start:
                    yield from (out(*held) for held in between.flush())
                    colour.reset()
                ab = ab.to(device)
                if lend is None:
                    ab = colour(ab, guide) * strength
                else:  # lent before the temporal filter: steady where the picture is; matched at render size on the CPU
                    features = None if features is None else tuple(f.cpu() for f in features)
                    ab = colour(lend(ab.cpu() * strength, small.cpu(), features, start).to(device), guide)
                yield from (out(*held) for held in between.fill(ab, guide))
                yield out(frame, ab, start)
        yield from (out(*held) for held in between.flush())

    def finish(item: tuple[torch.Tensor, torch.Tensor]) -> np.ndarray:
        """On the encoding thread, beside the model's next batch: full-size colour frame (H, W, 3) uint8."""
        return join_lightness(*item, strip_pixels=join_strip)

    facts = colorizer.facts(render_size, strength, bool(restore), hints=bool(parsed), reference=bool(references),
                            source=src)
    report = transcode(src, dst, transform, crf, max_pixels, progress, tags=facts.as_dict(), max_frames=max_frames,
                       finish=finish, ahead=batch_size * stride, probed=info)
    report.notes[:0] = notes + reference_notes
    return report

