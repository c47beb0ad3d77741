"""The numbers a person gives (CLI, app, web API, Python): their defaults, their ranges, and the one
function that checks them, so every entry point treats them the same way.

Not a number, NaN and infinity are refused with a SettingsError that says which setting and why.
A finite number outside its range is clamped to it, with a note saying so: the CLI and Python log
the note as a warning, the app shows it next to the result. A limit (max pixels, max frames) below
its minimum is refused instead: clamped to 1 it would refuse every photo or film, after the work. Gradio
does not enforce slider ranges on API calls, so this is the only place ranges are enforced. No heavy
imports: `--help` stays instant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from colorizer.errors import SettingsError

DEFAULT_RENDER_SIZE = 384  # long side, in pixels, that the generator sees (the best measured: docs/BENCHMARKS.md)
MIN_RENDER_SIZE, MAX_RENDER_SIZE = 64, 2048
MIN_STRENGTH, MAX_STRENGTH = 0.0, 2.0  # 0 gray, 1 as predicted, 2 twice as vivid
DEFAULT_MAX_PIXELS = 120_000_000  # a 120 MP scan is fine; a decompression bomb is not
MAX_MAX_PIXELS = 1_000_000_000  # --max-pixels above a gigapixel would need tens of GB of memory
DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE = 4, 64
DEFAULT_CRF = 18  # films: H.264 quality (x264's constant rate factor; 0 lossless, 51 worst; 18 looks lossless)
MIN_CRF, MAX_CRF = 0, 51
MAX_MAX_FRAMES = 10_000_000  # films: a limit on frames decoded, when one is set (about 4 days at 24 frames/s)


@dataclass(frozen=True)
class Range:
    """A setting's name for people, its closed range, and whether it is a whole number."""

    name: str
    low: float
    high: float
    integer: bool = False
    step: int = 1  # whole-number settings are rounded to a multiple of this
    limit: bool = False  # a limit on the input: below `low` it is refused, not clamped (it would refuse all)

    def check(self, value: object) -> tuple[int | float, str | None]:
        """(the value to use, a note when it had to be clamped); SettingsError when it is no number."""
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise SettingsError(f"{self.name} must be a number, not {value!r}")
        try:
            number = float(value)
        except (ValueError, OverflowError):
            raise SettingsError(f"{self.name} must be a number, not {value!r}") from None
        if not math.isfinite(number):
            raise SettingsError(f"{self.name} must be a finite number from {self.low:g} to {self.high:g}, "
                                f"not {value}")
        if self.limit and number < self.low:
            raise SettingsError(f"{self.name} must be at least {self.low:g}, not {value}: "
                                "nothing could be colorized under that limit")
        used: int | float = min(max(number, self.low), self.high)
        if self.integer:
            used = int(min(max(round(used / self.step) * self.step, self.low), self.high))
        note = None
        if number < self.low or number > self.high:
            side, bound = ("below the minimum", self.low) if number < self.low else ("above the maximum", self.high)
            note = f"{self.name} {number:g} is {side} of {bound:g}: used {used:g}"
        return used, note


RANGES = {
    "render_size": Range("render size", MIN_RENDER_SIZE, MAX_RENDER_SIZE, integer=True, step=32),
    "strength": Range("colour strength", MIN_STRENGTH, MAX_STRENGTH),
    "max_pixels": Range("max pixels", 1, MAX_MAX_PIXELS, integer=True, limit=True),
    "batch_size": Range("batch size", 1, MAX_BATCH_SIZE, integer=True),
    "crf": Range("CRF", MIN_CRF, MAX_CRF, integer=True),
    "max_frames": Range("max frames", 1, MAX_MAX_FRAMES, integer=True, limit=True),
}


@dataclass(frozen=True)
class Settings:
    """The checked numbers of one request. Build it with `check_settings`, never by hand from user input."""

    render_size: int = DEFAULT_RENDER_SIZE  # long side the model sees, a multiple of 32
    strength: float = 1.0  # chroma scale: 0 gray, 1 as predicted
    max_pixels: int = DEFAULT_MAX_PIXELS  # larger inputs are refused unread
    batch_size: int = DEFAULT_BATCH_SIZE  # photos or frames per model call
    crf: int = DEFAULT_CRF  # films' H.264 quality
    max_frames: int | None = None  # films: refuse one with more frames, before any work (None: any length)


def check_settings(base: Settings | None = None, render_limit: int | None = None,
                   **values: object) -> tuple[Settings, list[str]]:
    """`base` (the defaults when None) with each value given by name checked against its range: the
    settings to use, and a note for each value that had to be clamped, in the order given.

    render_limit: the largest render size the loaded model runs at (an ONNX model has one); a larger
    one is lowered to it with a note. SettingsError for the first value that is no number.
    """
    unknown = set(values) - {f.name for f in fields(Settings)}
    if unknown:
        raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
    checked: dict[str, int | float | None] = {}
    notes = []
    for name, value in values.items():
        if value is None and getattr(Settings, name) is None:  # an optional limit left unset
            checked[name] = None
            continue
        checked[name], note = RANGES[name].check(value)
        notes += [note] if note else []
    result = replace(base or Settings(), **checked)
    if render_limit is not None and result.render_size > render_limit:
        notes.append(f"render size {result.render_size} lowered to {render_limit}, the most this model runs at")
        result = replace(result, render_size=render_limit)
    return result, notes
