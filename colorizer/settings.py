"""Every number a person gives (CLI, app, web API, Python) is checked here, the same way everywhere.

Not a number, NaN and infinity are refused with a SettingsError that says which setting and why.
A finite number outside the setting's range is clamped to it, with a note saying so: the CLI and
Python log the note as a warning, the app shows it next to the result. Gradio does not enforce
slider ranges on API calls, so this is the only place ranges are enforced.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from colorizer.defaults import (MAX_BATCH_SIZE, MAX_CRF, MAX_MAX_PIXELS, MAX_RENDER_SIZE, MAX_STRENGTH, MIN_CRF,
                                MIN_RENDER_SIZE, MIN_STRENGTH)
from colorizer.errors import SettingsError


@dataclass(frozen=True)
class Range:
    """A setting's name for people, its closed range, and whether it is a whole number."""

    name: str
    low: float
    high: float
    integer: bool = False
    step: int = 1  # whole-number settings are rounded to a multiple of this

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
        used: int | float = min(max(number, self.low), self.high)
        if self.integer:
            used = int(min(max(round(used / self.step) * self.step, self.low), self.high))
        note = None
        if number < self.low or number > self.high:
            side, bound = ("below the minimum", self.low) if number < self.low else ("above the maximum", self.high)
            note = f"{self.name} {number:g} is {side} of {bound:g}: used {used:g}"
        return used, note


RENDER_SIZE = Range("render size", MIN_RENDER_SIZE, MAX_RENDER_SIZE, integer=True, step=32)
STRENGTH = Range("colour strength", MIN_STRENGTH, MAX_STRENGTH)
MAX_PIXELS = Range("max pixels", 1, MAX_MAX_PIXELS, integer=True)
BATCH_SIZE = Range("batch size", 1, MAX_BATCH_SIZE, integer=True)
CRF = Range("CRF", MIN_CRF, MAX_CRF, integer=True)


def check_render_size(value: object) -> tuple[int, str | None]:
    """Render size rounded to a multiple of 32 within [64, 2048], and a note when clamped."""
    return RENDER_SIZE.check(value)  # type: ignore[return-value]


RANGES = {"render_size": RENDER_SIZE, "strength": STRENGTH, "max_pixels": MAX_PIXELS, "batch_size": BATCH_SIZE,
          "crf": CRF}


def check_all(**values: object) -> tuple[dict[str, int | float], list[str]]:
    """Each setting given by name (a key of RANGES) checked: the values to use, and the notes on what was
    clamped, in the order given. SettingsError for the first that is no number."""
    checked, notes = {}, []
    for name, value in values.items():
        checked[name], note = RANGES[name].check(value)
        notes += [note] if note else []
    return checked, notes
