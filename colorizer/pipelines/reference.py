"""Reference colour: "colour it like this photo". A colour photo of the same place, person, uniform or car
(or a colourist's keyframes for a film) lends its colour where it shows the same thing as the gray photo.

    colorizer.colorize("grandpa.jpg", reference="grandpa-in-colour-1958.jpg")

How, at the model's render size, per gray picture and per reference:
 1. Both are seen as lightness only, by the generator's own encoder (the features it colours from):
    stride-8 and stride-16 features, each unit length, joined into one descriptor per 8x8 cell. The gray
    picture's come from the pass that colours it (Generator.with_features; the ONNX file gives them as
    outputs), so it costs no encoder pass of its own; a reference's from the encoder alone (the ONNX
    encoder file beside model.onnx: a fifth of a whole pass), once per call or per film.
 2. Each gray cell finds its most alike reference cell (cosine similarity, in chunks of CHUNK cells so
    memory stays bounded), and the match counts only when it maps back (the reference cell's own best
    gray cell lies within MUTUAL_RADIUS cells of it: mutual nearest neighbours). A reference lends
    nothing unless it anchors: some of its matches agree with their neighbours (at least COHERENT of the
    8 matched with about the same shift: the same scene moves together, chance matches in an unrelated
    picture scatter) in a connected patch of at least MIN_REGION of the picture (chance matches come in
    specks). Once anchored, it is the picture's scene, and every mutual match counts, also where the
    scene is seen from elsewhere or has changed. Confidence rises from 0 at SIMILARITY_LOW to 1 at
    SIMILARITY_HIGH. Where within the matched cell it lies best is found to a fraction of a cell (_subcell).
    Of several references, each cell takes the one it matches most confidently, so a film's keyframes are a
    set: each frame draws on whichever match it.
 3. The reference's ab is copied over with each cell's displacement (a patch-wise warp, bilinear at the
    fractional position), and the confident colour and the confidence are both spread edge-aware with the
    hints' smoother (colorizer.pipelines.hints, S = (I + L / mu)^-1 over the gray picture's lightness, at
    a quarter of the render size) at a short reach: ab = (1 - S(conf)) model ab + S(conf ref ab). Colour stops at
    edges; where the reference holds, its colour replaces the model's (whose frame-to-frame jitter then
    does not show through); where nothing matched (an unrelated reference) confidence is 0 and the model's
    own colour stays.
Films (FilmReferences) match each frame on its descriptors averaged over the frames before it where the
picture stayed, so grain does not change the match from frame to frame; a cut starts afresh.
Lightness is never changed: only ab is. References are read at the render size (area-shrunk first),
so a 50-megapixel reference costs what a small one does. docs/experiments/reference-colour.md measures it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from scipy import ndimage

from colorizer import color
from colorizer.errors import ColorizerError, ReferenceImageError
from colorizer.io.images import ImageSource, is_grayscale, open_image
from colorizer.models import hub
from colorizer.models.engines import AutoGenerator
from colorizer.models.generator import EncoderFeatures, Generator
from colorizer.models.onnx_model import OnnxGenerator
from colorizer.pipelines import hints as hinting
from colorizer.settings import DEFAULT_MAX_PIXELS

MAX_REFERENCES = 16  # a colourist's keyframes for a long film; each costs one encoder pass and one match per frame
STRIDE = 8  # cells of the match grid, in render pixels (the encoder's stride-8 level)
CHUNK = 1024  # gray cells matched at a time: a (CHUNK, reference cells) similarity matrix at most
MUTUAL_RADIUS = 2  # cells: how far a reference cell's own best match may lie from the gray cell that chose it
SIMILARITY_LOW, SIMILARITY_HIGH = 0.35, 0.6  # cosine similarity: no confidence at or below, full at or above
MIN_REGION = 0.02  # of the picture's cells: a smaller connected patch of matches is left out
COHERENT = 3  # of a cell's 8 neighbours must match with about its shift (_coherent)
REACH = 0.02  # of the long side: how far a confident cell's correction spreads (edge-aware)


@dataclass
class Reference:
    """One colour reference, read at render size."""

    name: str
    lightness: torch.Tensor  # (1, h, w) L in [0, 100]
    ab: torch.Tensor  # (2, h, w) ab in Lab units


def as_list(reference: object) -> list[ImageSource]:
    """One reference or a list of them (PIL images, paths, bytes) -> a list; None -> []."""
    if reference is None:
        return []
    if isinstance(reference, (str, os.PathLike, bytes, Image.Image)) or hasattr(reference, "read"):
        return [reference]  # type: ignore[list-item]
    if isinstance(reference, Sequence):
        return list(reference)
    raise ReferenceImageError(f"reference must be an image (path, bytes or PIL image) or a list of them, "
                              f"not {type(reference).__name__}")


def read_references(reference: object, shape_of, max_pixels: int = DEFAULT_MAX_PIXELS, long_side: int | None = None
                    ) -> tuple[list[Reference], list[str]]:
    """Decode and shrink the references; returns them and notes (a gray reference is left out, with a note).

    shape_of(width, height) -> (h, w): the model's shape for a picture of that size (its render size);
    long_side: that shape's long side, so a large reference is decoded reduced (open_image).
    ReferenceImageError, one line naming the culprit, for too many, an unreadable or an oversized one."""
    items = as_list(reference)
    if len(items) > MAX_REFERENCES:
        raise ReferenceImageError(f"{len(items)} references is more than {MAX_REFERENCES}; choose the few "
                                  "closest to the pictures")
    references, notes = [], []
    for i, item in enumerate(items):
        name = os.fspath(item) if isinstance(item, (str, os.PathLike)) else f"reference {i + 1}"
        try:
            image = open_image(item, max_pixels, long_side)
        except ColorizerError as err:
            raise ReferenceImageError(f"reference: {err}") from None
        if is_grayscale(image):
            notes.append(f"{Path(name).name}: the reference is black-and-white, so it has no colour to lend; "
                         "left out")
            continue
        rgb = image.convert("RGB")
        shape = shape_of(*rgb.size)
        small = rgb.resize((shape[1], shape[0]), Image.Resampling.BOX, reducing_gap=2.0)
        lab = color.lab_of_rgb8(np.asarray(small))  # (3, h, w) Lab
        references.append(Reference(name, lab[:1].float(), lab[1:].float()))
    return references, notes


def describe(features: EncoderFeatures, shape: tuple[int, int]) -> torch.Tensor:
    """The encoder's stride-8 and stride-16 features of a (h, w) picture (Generator.with_features: (1, C, ., .)
    each) -> (C8 + C16, h / STRIDE, w / STRIDE) descriptors: each level unit length per cell, joined, unit length."""
    h, w = shape
    s8, s16 = (level.float().cpu() for level in features)
    s8 = s8[..., : h // STRIDE, : w // STRIDE]
    s16 = F.interpolate(s16, size=s8.shape[-2:], mode="bilinear", align_corners=False)
    return (torch.cat([F.normalize(s8, dim=1), F.normalize(s16, dim=1)], dim=1) / 2**0.5)[0]


def match(target: torch.Tensor, reference: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Descriptors (C, h, w) of the gray picture and (C, rh, rw) of a reference -> for each gray cell the index
    of its best reference cell (h, w), its confidence in [0, 1] (h, w) and where within that cell it matches best,
    (2, h, w) (row, column) in cells, each in [-0.5, 0.5] (_subcell)."""
    h, w = target.shape[-2:]
    t = target.flatten(1).T  # (n, C)
    r = reference.flatten(1)  # (C, m)
    best = torch.empty(h * w, dtype=torch.long)
    peak = torch.empty(h * w)
    back_best = torch.full((r.shape[1],), -1.0)
    back = torch.zeros(r.shape[1], dtype=torch.long)
    for start in range(0, h * w, CHUNK):
        sim = t[start : start + CHUNK] @ r  # (chunk, m) cosine similarities
        peak[start : start + CHUNK], best[start : start + CHUNK] = sim.max(dim=1)
        column_best, column_arg = sim.max(dim=0)
        better = column_best > back_best
        back_best = torch.where(better, column_best, back_best)
        back = torch.where(better, column_arg + start, back)
    cells = torch.arange(h * w)
    returned = back[best]  # the gray cell each chosen reference cell would choose
    mutual = ((returned // w - cells // w).abs() <= MUTUAL_RADIUS) & ((returned % w - cells % w).abs() <= MUTUAL_RADIUS)
    rw = reference.shape[-1]
    shift = torch.stack([best // rw - cells // w, best % rw - cells % w]).view(2, h, w)  # (2, h, w) in cells
    similar = (((peak - SIMILARITY_LOW) / (SIMILARITY_HIGH - SIMILARITY_LOW)).clamp(0, 1) * mutual).view(h, w)
    anchored = similar * _coherent(shift, mutual.view(h, w))
    anchored = anchored * _in_large_regions(anchored > 0)
    # once a patch shows that this reference is the picture's scene, every mutual match counts; until then none
    confidence = similar if bool((anchored > 0).any()) else anchored
    offset = _subcell(t, reference, best, peak).view(2, h, w)
    return best.view(h, w), confidence, offset


def _subcell(t: torch.Tensor, reference: torch.Tensor, best: torch.Tensor, peak: torch.Tensor) -> torch.Tensor:
    """(2, n) where each gray cell's match lies between its best reference cell and that cell's neighbours, in
    cells: the peak of a parabola through the similarities to the cell before, the cell and the cell after,
    per axis. Cells quantise a shift to STRIDE pixels; a film panning slowly would see the lent colour jump by
    a whole cell every few frames, and a photo's colour land up to half a cell aside."""
    rh, rw = reference.shape[-2:]
    cells = reference.flatten(1).T.contiguous()  # (m, C): a cell's descriptor is a row to pick
    row, col = best // rw, best % rw
    offsets = []
    for coordinate, size, step in ((row, rh, rw), (col, rw, 1)):
        before = (t * cells.index_select(0, best - step * (coordinate > 0))).sum(dim=1)
        after = (t * cells.index_select(0, best + step * (coordinate < size - 1))).sum(dim=1)
        curvature = before - 2 * peak + after  # negative at a peak
        inside = (coordinate > 0) & (coordinate < size - 1) & (curvature < 0)
        offset = torch.where(inside, (before - after) / (2 * curvature).clamp(max=-1e-6), torch.zeros(()))
        offsets.append(offset.clamp(-0.5, 0.5))
    return torch.stack(offsets)


def _in_large_regions(matched: torch.Tensor) -> torch.Tensor:
    """(h, w) 1 on matched cells whose connected region holds at least MIN_REGION of all cells: a part of
    the same scene is a patch; what an unrelated picture matches by chance is specks."""
    labels, count = ndimage.label(matched.numpy())
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    large = sizes >= MIN_REGION * matched.numel()
    large[0] = False
    return torch.from_numpy(large[labels]).float()


def _coherent(shift: torch.Tensor, mutual: torch.Tensor) -> torch.Tensor:
    """(h, w) 1 where at least COHERENT of a cell's 8 neighbours matched mutually with about the same
    shift (within one cell): the same scene seen a step aside moves together; chance matches in an
    unrelated picture scatter."""
    h, w = mutual.shape
    padded = F.pad(shift[None].float(), (1, 1, 1, 1), value=float("inf"))[0]  # (2, h+2, w+2)
    ok = F.pad(mutual[None, None].float(), (1, 1, 1, 1))[0, 0]
    agree = torch.zeros(h, w)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            if (dy, dx) != (1, 1):
                near = (padded[:, dy : dy + h, dx : dx + w] - shift).abs().amax(dim=0) <= 1
                agree += near * ok[dy : dy + h, dx : dx + w]
    return (agree >= COHERENT).float()


def warp(reference: Reference, best: torch.Tensor, offset: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """The reference's ab (2, rh, rw) moved, cell by cell, to where each gray cell found its match (its best
    cell, `offset` (2, h, w) cells within it; bilinear): (2, h, w) in Lab units on the gray picture's render grid."""
    h, w = shape
    rh, rw = reference.ab.shape[-2:]
    cols = rw // STRIDE
    ys = torch.arange(h).clamp(max=best.shape[0] * STRIDE - 1)
    xs = torch.arange(w).clamp(max=best.shape[1] * STRIDE - 1)
    cy, cx = ys[:, None] // STRIDE, xs[None, :] // STRIDE
    chosen = best[cy, cx]  # (h, w) reference cell of each pixel's cell
    ry = (chosen // cols + offset[0, cy, cx]) * STRIDE + (ys[:, None] % STRIDE)
    rx = (chosen % cols + offset[1, cy, cx]) * STRIDE + (xs[None, :] % STRIDE)
    grid = torch.stack([rx / max(rw - 1, 1), ry / max(rh - 1, 1)], dim=-1) * 2 - 1  # (h, w, 2) x, y in [-1, 1]
    return F.grid_sample(reference.ab[None], grid[None], mode="bilinear", padding_mode="border",
                         align_corners=True)[0]


def encode(generator: Generator | OnnxGenerator | AutoGenerator, lightness: torch.Tensor,
           device: torch.device) -> EncoderFeatures:
    """The encoder features of a (1, h, w) L in [0, 100] picture, as the generator's own colorizing pass gives
    them (Generator.with_features); from an ONNX file exported without them, the embedded default's encoder."""
    l_norm = color.normalize_l(lightness[None]).to(device)  # (1, 1, h, w) in [-1, 1]
    features = generator.encode(l_norm)
    return features if features is not None else _default_generator().encode(l_norm.cpu())


@functools.cache
def _default_generator() -> Generator:
    generator, _ = hub.load_generator(None)
    return generator.bake().eval()


class ReferenceFeatures:
    """The references, read and described once, ready to colour any number of pictures (or frames)."""

    def __init__(self, references: list[Reference], generator: Generator | OnnxGenerator | AutoGenerator,
                 device: torch.device):
        self.references, self.generator, self.device = references, generator, device
        with torch.inference_mode():
            self.descriptors = [describe(encode(generator, r.lightness, device), r.lightness.shape[-2:])
                                for r in references]

    def __bool__(self) -> bool:
        return bool(self.references)

    def describe(self, lightness: torch.Tensor, features: EncoderFeatures | None = None) -> torch.Tensor:
        """A gray picture's (1, h, w) L in [0, 100] -> its (C, h / STRIDE, w / STRIDE) descriptors, from `features`
        when the colorizing pass gave them (PhotoPipeline.predict_at), else by an encoder pass of its own."""
        with torch.inference_mode():
            return describe(features if features is not None else encode(self.generator, lightness, self.device),
                            lightness.shape[-2:])

    @torch.inference_mode()
    def apply(self, ab: torch.Tensor, lightness: torch.Tensor, features: EncoderFeatures | None = None,
              target: torch.Tensor | None = None) -> torch.Tensor:
        """The model's (2, h, w) ab moved toward the references' colour where they match the (1, h, w) L
        (the model's view of the picture, L in [0, 100]); (2, h, w) float32 ab. No references: `ab` itself.
        features: the encoder's, from the pass that predicted ab; target: the picture's descriptors when
        already made (a film's, averaged over frames: FilmReferences)."""
        if not self.references:
            return ab
        h, w = ab.shape[-2:]
        target = self.describe(lightness, features) if target is None else target
        confidence = torch.zeros(target.shape[-2:])
        warped = torch.zeros(2, h, w)
        for reference, descriptor in zip(self.references, self.descriptors):
            best, conf, offset = match(target, descriptor)
            better = conf > confidence
            if bool(better.any()):
                confidence = torch.where(better, conf, confidence)
                pixels = F.interpolate(better[None, None].float(), size=(h, w), mode="nearest")[0] > 0.5
                warped = torch.where(pixels, warp(reference, best, offset, (h, w)), warped)
        if float(confidence.max()) <= 0:
            return ab
        weight = F.interpolate(confidence[None, None], size=(h, w), mode="bilinear", align_corners=False)[0]
        # spread at a quarter of the render size (a sixteenth of the pixels; a photo's gain moved by 0.03 dB),
        # edge-aware on the lightness seen there
        coarse = (max(2, h // 4), max(2, w // 4))
        sources = F.interpolate(torch.cat([weight * warped, weight])[None], size=coarse, mode="area")[0]  # (3, ., .)
        guide = F.interpolate(lightness[None].float(), size=coarse, mode="area")[0, 0]
        spread = hinting.smooth(guide.double().numpy(), sources.double().numpy(), REACH * max(coarse))
        spread = F.interpolate(torch.from_numpy(spread).float()[None], size=(h, w), mode="bilinear",
                               align_corners=False)[0]  # (3, h, w): confident colour, confidence
        return ab.float() * (1 - spread[2:]) + spread[:2]


class RunningAverage(Protocol):
    """A running average of (C, h, w) maps that forgets where its (1, h, w) guide changed (film.MotionAwareAverage)."""

    def __call__(self, value: torch.Tensor, guide: torch.Tensor) -> torch.Tensor: ...

    def reset(self) -> None: ...


class FilmReferences:
    """References lent to a film, frame after frame. Each frame is matched on its descriptors averaged over
    the frames before it where the picture stayed (`average`: film.MotionAwareAverage over cells, guided by
    the lightness of each cell): film grain changes which cells match from frame to frame, so matching each
    frame alone makes the lent colour flicker, while the scene's own features hold still. A cut starts
    afresh (reset), so nothing of one shot decides the next one's match."""

    def __init__(self, references: ReferenceFeatures, average: RunningAverage):
        self.references, self.average = references, average

    def __call__(self, ab: torch.Tensor, lightness: torch.Tensor, features: EncoderFeatures | None,
                 cut: bool) -> torch.Tensor:
        """ab (2, h, w) and L (1, h, w) of one frame at render size, its encoder features; `cut`: a new shot."""
        return self.references.apply(ab, lightness, target=self.descriptors(lightness, features, cut))

    def descriptors(self, lightness: torch.Tensor, features: EncoderFeatures | None, cut: bool) -> torch.Tensor:
        """The (C, h / STRIDE, w / STRIDE) descriptors a frame is matched on: its own, averaged with the shot's
        frames before it where each cell's lightness stayed, unit length."""
        if cut:
            self.average.reset()
        cells = F.avg_pool2d(lightness[None], STRIDE)[0]  # (1, h / STRIDE, w / STRIDE) L of each cell
        return F.normalize(self.average(self.references.describe(lightness, features), cells), dim=0)
