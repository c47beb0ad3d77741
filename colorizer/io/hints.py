"""Colour hints as they arrive: points, strokes and painted regions, parsed and checked under limits.

    [{"x": 120, "y": 340, "color": "#8b1a1a"}, {"points": [[10, 5], [60, 5]], "color": [40, 90, 160]}]

A hint is a Point, a Stroke (a polyline) or a Region (pixels painted in one colour), in the input
photo's pixels, with an sRGB colour: (r, g, b) in 0-255 or "#rrggbb". How they spread is
colorizer.pipelines.hints.

The limits count what a person can give: MAX_HINTS points, strokes and painted regions, and
MAX_STROKE_POINTS corners of strokes. They are checked on what arrives, before the work it would
cost: a hints text's length before it is parsed (a 76 MB text would otherwise take gigabytes as
Python objects), a list's length before its items are. Anything malformed, however it is malformed
(deep nesting, a number of 400 digits, a broken file), is a one-line HintError.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence, Sized
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from PIL import Image
from scipy import ndimage
from scipy.sparse import csgraph

from colorizer.errors import HintError

RGB = tuple[int, int, int]

# A person hints a few dozen colours; these caps keep a request from holding a model slot for minutes
# (a million points took 323 s). Checked on the list's length before any hint is parsed.
MAX_HINTS = 1_000  # points, strokes and painted regions per photo
MAX_STROKE_POINTS = 10_000  # all the strokes' corners together
# Characters of a hints text (a JSON file, the app's field, an API string). The caps above fit in well
# under this (10,000 corners take about 200 kB); a batch's file maps many photos, each under the caps.
MAX_HINTS_TEXT = 2_000_000
PAINT_GRID = 512  # painted layers are read at most this many pixels on the long side (finer than any render)
PAINT_TOLERANCE = 12  # 8-bit levels a channel: neighbouring paint this alike is one stroke (its soft edge)
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
_SHOWN = 40  # characters of a malformed value quoted in a message


@dataclass(frozen=True)
class Point:
    """One pixel (x to the right, y down, in the input photo's pixels) that should have `color`."""

    x: float
    y: float
    color: RGB


@dataclass(frozen=True)
class Stroke:
    """A polyline through `points` ((x, y) in the input photo's pixels), all of one `color`."""

    points: tuple[tuple[float, float], ...]
    color: RGB


@dataclass(frozen=True, eq=False)
class Region:
    """Connected pixels painted in one `color`: `mask` ((rows, cols) bool) laid over the photo-pixel box
    `box` = (left, top, right, bottom), each mask pixel covering an equal part of it."""

    mask: np.ndarray
    box: tuple[float, float, float, float]
    color: RGB


Hint = Point | Stroke | Region


def _shown(value: object) -> str:
    """repr(value), cut short: a message stays one readable line whatever arrived."""
    return _cut(repr(value) if not isinstance(value, (list, tuple, dict)) or len(value) < 100 else
                f"a {type(value).__name__} of {len(value)}")


def _cut(text: str) -> str:
    """A name as given, cut short: a message stays one readable line whatever arrived."""
    return text if len(text) <= _SHOWN else text[:_SHOWN - 3] + "..."


def parse_color(value: object, where: str = "colour") -> RGB:
    """(r, g, b) with 0-255 integers, or "#rrggbb" -> (r, g, b); HintError naming `where` otherwise."""
    if isinstance(value, str):
        if not _HEX.match(value.strip()):
            raise HintError(f"{where}: colour {_shown(value)} is not \"#rrggbb\" or [r, g, b]")
        text = value.strip()
        return int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16)
    if (isinstance(value, (list, tuple)) and len(value) == 3
            and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in value)):
        return int(value[0]), int(value[1]), int(value[2])
    raise HintError(f"{where}: colour {_shown(value)} is not \"#rrggbb\" or [r, g, b] with whole numbers 0-255")


def _coordinate(value: object, where: str) -> float:
    """A finite float; HintError for anything else, a whole number too large for a float included."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise HintError(f"{where}: coordinate {_shown(value)} is not a finite number")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise HintError(f"{where}: coordinate {_shown(value)} is not a finite number")
    return number


def parse_hint(item: object, where: str = "hint") -> Hint:
    """One hint from any of its spellings; HintError naming `where` when it is none of them.

    Point: Point, (x, y, color) or {"x": x, "y": y, "color": color}.
    Stroke: Stroke or {"points": [[x, y], ...], "color": color}.  Region: a Region (from paint).
    """
    if isinstance(item, Region):
        return _checked_region(item, where)
    if isinstance(item, (Point, Stroke)):
        item = {"x": item.x, "y": item.y, "color": item.color} if isinstance(item, Point) else \
            {"points": item.points, "color": item.color}
    if isinstance(item, (list, tuple)) and len(item) == 3:
        item = {"x": item[0], "y": item[1], "color": item[2]}
    if not isinstance(item, Mapping):
        raise HintError(f"{where}: {_shown(item)} is not a point (x, y, color) or a stroke {{\"points\": ..., \"color\": ...}}")
    if "color" not in item:
        raise HintError(f"{where}: no \"color\"")
    rgb = parse_color(item["color"], where)
    if "points" in item:
        points = item["points"]
        if not isinstance(points, (list, tuple)) or not points:
            raise HintError(f"{where}: \"points\" must be a non-empty list of [x, y]")
        parsed = []
        for i, p in enumerate(points):
            if not isinstance(p, (list, tuple)) or len(p) != 2:
                raise HintError(f"{where}: point {i} {_shown(p)} is not [x, y]")
            parsed.append((_coordinate(p[0], where), _coordinate(p[1], where)))
        return Stroke(tuple(parsed), rgb)
    if "x" not in item or "y" not in item:
        raise HintError(f"{where}: a point needs \"x\" and \"y\" (or a stroke \"points\")")
    return Point(_coordinate(item["x"], where), _coordinate(item["y"], where), rgb)


def _checked_region(region: Region, where: str) -> Region:
    mask = np.asarray(region.mask)
    if mask.ndim != 2 or mask.dtype != bool or not mask.any():
        raise HintError(f"{where}: a region's mask must be a 2-D array of booleans with something painted")
    box = tuple(_coordinate(v, where) for v in region.box)
    if not (box[0] < box[2] and box[1] < box[3]):
        raise HintError(f"{where}: a region's box must be (left, top, right, bottom), not {box}")
    return Region(mask, box, parse_color(region.color, where))  # type: ignore[arg-type]


def parse_hints(items: object, where: str = "hint") -> list[Hint]:
    """A list of hints (see parse_hint); None means none. Errors name the hint by its index."""
    if items is None:
        return []
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Sequence):
        raise HintError(f"hints must be a list of points and strokes, not {type(items).__name__}")
    if len(items) > MAX_HINTS:
        raise HintError(f"{len(items)} hints is more than {MAX_HINTS}; give fewer points, or strokes")
    stroke_points = sum(len(points) for points in map(_stroke_points, items) if points is not None)
    if stroke_points > MAX_STROKE_POINTS:
        raise HintError(f"the strokes have {stroke_points} points together, more than {MAX_STROKE_POINTS}; "
                        "a stroke needs only its corners")
    return [parse_hint(item, f"{where} {i}") for i, item in enumerate(items)]


def _stroke_points(item: object) -> Sized | None:
    """A stroke's points as given (unchecked: parse_hint does that), or None for anything else."""
    points = item.points if isinstance(item, Stroke) else item.get("points") if isinstance(item, Mapping) else None
    return points if isinstance(points, Sized) else None


def check_inside(hints: Sequence[Hint], width: int, height: int, name: str = "image") -> None:
    """HintError naming the first hint with a point outside the width x height photo."""
    for i, hint in enumerate(hints):
        if isinstance(hint, Region):
            points = [hint.box[:2], (hint.box[2] - 1e-9, hint.box[3] - 1e-9)]
        else:
            points = [(hint.x, hint.y)] if isinstance(hint, Point) else list(hint.points)
        for x, y in points:
            if not (0 <= x < width and 0 <= y < height):
                raise HintError(f"hint {i} at ({x:g}, {y:g}) is outside {name} ({width}x{height} pixels; "
                                f"x from 0 to {width - 1}, y from 0 to {height - 1})")


def read_hints_text(text: str | bytes, source: str = "hints") -> object:
    """The JSON value of a hints text; HintError naming `source` when it is too long or not JSON.

    The length is checked first, so a huge text costs nothing; JSON nested too deeply for the parser,
    or a number too long to read, is "not valid JSON" like any other broken text."""
    if len(text) > MAX_HINTS_TEXT:
        raise HintError(f"{source}: {len(text):,} characters is more than {MAX_HINTS_TEXT:,}; hints are a few "
                        "points and strokes (paint larger strokes rather than many dots)")
    try:
        return json.loads(text)
    except RecursionError:
        raise HintError(f"{source}: not valid JSON (nested too deeply)") from None
    except ValueError as err:  # JSONDecodeError, a number of more than 4300 digits, bytes that are no UTF-8
        raise HintError(f"{source}: not valid JSON ({str(err).splitlines()[0][:120]})") from None


def hints_from_text(text: object, source: str = "hints") -> list[Hint]:
    """One photo's hints from a JSON text (the app's field, an API string); None or blank: none."""
    if text is None:
        return []
    if not isinstance(text, (str, bytes)):
        raise HintError(f"{source}: must be a JSON text, not {type(text).__name__}")
    if len(text) <= MAX_HINTS_TEXT and not text.strip():
        return []
    return parse_hints(read_hints_text(text, source), f"{source}: hint")


def load_hints_file(path: str | os.PathLike) -> list[Hint] | dict[str, list[Hint]]:
    """A hints JSON file: a list of hints (one photo), or {file name: list of hints} (a batch).

    HintError naming the file when it cannot be read, is too long, is not JSON, or holds a malformed hint."""
    name = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_HINTS_TEXT + 1)  # never more than the limit into memory, whatever its size
    except OSError as err:
        raise HintError(f"hints file {name}: cannot be read ({err.__class__.__name__}: "
                        f"{getattr(err, 'strerror', None) or err})") from None
    if len(data) > MAX_HINTS_TEXT:
        raise HintError(f"hints file {name}: more than {MAX_HINTS_TEXT:,} bytes; hints are a few points and "
                        "strokes per photo")
    data = read_hints_text(data, f"hints file {name}")
    if isinstance(data, dict):
        return {key: parse_hints(items, f"{name}: {_cut(key)}: hint") for key, items in data.items()}
    if isinstance(data, list):
        return parse_hints(data, f"{name}: hint")
    raise HintError(f"hints file {name}: must hold a list of hints or an object mapping file names "
                    f"to lists, not {type(data).__name__}")


def hints_per_image(loaded: list[Hint] | dict[str, list[Hint]], images: Sequence[Path],
                    source: str = "hints file") -> list[list[Hint]]:
    """One hint list per image from a hints file's content (see load_hints_file).

    A list applies to the one image there is; a mapping's keys are matched with each image's path
    as given, or its file name. HintError naming the culprit when a list meets several images, a
    key matches no image (or several), or nothing at all."""
    if isinstance(loaded, list):
        if len(images) != 1:
            raise HintError(f"{source}: a plain list of hints needs exactly one photo, not {len(images)}; "
                            "for a batch, map file names to hint lists: {\"photo.jpg\": [...]}")
        return [loaded]
    out: list[list[Hint]] = [[] for _ in images]
    for key, hints in loaded.items():
        matches = [i for i, path in enumerate(images) if key in (str(path), path.as_posix())]
        matches = matches or [i for i, path in enumerate(images) if path.name == key]
        if not matches:
            raise HintError(f"{source}: {_shown(key)} is not among the photos being colorized")
        if len(matches) > 1:
            raise HintError(f"{source}: {_shown(key)} names {len(matches)} photos "
                            f"({', '.join(str(images[i]) for i in matches)}); use the path as given instead")
        out[matches[0]] = hints
    return out


def regions_from_paint(layer: Image.Image, size: tuple[int, int]) -> list[Region]:
    """Colour painted on a transparent layer -> one Region per connected patch of paint, in the
    (width, height) photo's pixels.

    A brush stroke is one region however long and wide, so the cap counts strokes, as a person paints
    them. Neighbouring pixels belong to one patch when their colours differ by at most PAINT_TOLERANCE
    a channel: a brush's soft edge stays with its stroke, and strokes of two colours that touch stay
    two. A patch's colour is its median. The layer may have another size than the photo (an editor's
    canvas); it is scaled to it. Half-transparent brush edges are left out. HintError when the patches
    are more than MAX_HINTS."""
    scale = min(1.0, PAINT_GRID / max(layer.size))
    grid = (max(1, round(layer.width * scale)), max(1, round(layer.height * scale)))
    rgba = np.asarray(layer.convert("RGBA").resize(grid, Image.Resampling.NEAREST)).astype(np.int16)
    labels, count = _patches(rgba[..., :3], rgba[..., 3] >= 128)
    if count > MAX_HINTS:
        raise HintError(f"the painted layer holds {count} separate patches of paint, more than {MAX_HINTS}; "
                        "paint fewer, larger strokes (each stroke is one patch), or clear the layer and start again")
    sx, sy = size[0] / grid[0], size[1] / grid[1]
    regions = []
    for label, (rows, cols) in enumerate(ndimage.find_objects(labels, count), start=1):
        mask = labels[rows, cols] == label
        colour = tuple(int(c) for c in np.median(rgba[rows, cols][mask][:, :3], axis=0).round())
        box = (cols.start * sx, rows.start * sy, cols.stop * sx, rows.stop * sy)
        regions.append(Region(mask, box, colour))  # type: ignore[arg-type]
    return regions


def _patches(rgb: np.ndarray, painted: np.ndarray) -> tuple[np.ndarray, int]:
    """(h, w, 3) colours and (h, w) painted -> (labels (h, w): 0 unpainted, 1..n the patches; n). Painted
    4-neighbours whose colours differ by at most PAINT_TOLERANCE a channel share a label."""
    h, w = painted.shape
    if not painted.any():
        return np.zeros((h, w), np.int64), 0
    index = np.arange(h * w).reshape(h, w)
    right = painted[:, :-1] & painted[:, 1:] & (np.abs(rgb[:, :-1] - rgb[:, 1:]).max(axis=-1) <= PAINT_TOLERANCE)
    down = painted[:-1] & painted[1:] & (np.abs(rgb[:-1] - rgb[1:]).max(axis=-1) <= PAINT_TOLERANCE)
    rows = np.concatenate([index[:, :-1][right], index[:-1][down]])
    cols = np.concatenate([index[:, 1:][right], index[1:][down]])
    graph = sp.coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(h * w, h * w))
    component = csgraph.connected_components(graph, directed=False)[1]
    _, labels = np.unique(component[painted.ravel()], return_inverse=True)
    out = np.zeros(h * w, np.int64)
    out[painted.ravel()] = labels.reshape(-1) + 1
    return _without_seams(out.reshape(h, w))


def _without_seams(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Labels with the seams between strokes left out: patches no more than two pixels thick anywhere
    (no pixel whose four neighbours are all its own) that touch another patch, as the blend of two
    colours where one stroke crosses another does. Returns (labels renumbered 1..n, n)."""
    padded = np.pad(labels, 1)
    centre = padded[1:-1, 1:-1]
    around = [padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]]
    n = int(labels.max()) + 1
    inner = np.bincount(centre[np.logical_and.reduce([a == centre for a in around])], minlength=n) > 0
    touching = np.logical_or.reduce([(a != centre) & (a > 0) for a in around]) & (centre > 0)
    touches = np.bincount(centre[touching], minlength=n) > 0
    keep = inner | ~touches
    keep[0] = False
    renumber = np.zeros(n, np.int64)
    renumber[keep] = np.arange(1, int(keep.sum()) + 1)
    return renumber[labels], int(keep.sum())
