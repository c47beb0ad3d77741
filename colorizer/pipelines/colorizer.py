"""`Colorizer`, the object users hold: the photo pipeline, and films through the film pipeline built on it.

    from colorizer import Colorizer, save
    model = Colorizer.from_pretrained()            # the embedded default; or a Hub repo, a folder, an .onnx file
    save(model.colorize("old.jpg"), "colour.png")  # with its provenance
    model.colorize_video("old.mp4", "colour.mp4")
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from colorizer.io.video import FilmReport
from colorizer.pipelines.film import TemporalOptions, colorize_video
from colorizer.pipelines.photo import PhotoPipeline
from colorizer.pipelines.restore import RestoreOptions
from colorizer.settings import DEFAULT_CRF, DEFAULT_MAX_PIXELS, DEFAULT_RENDER_SIZE


class Colorizer(PhotoPipeline):
    """Colorizes photos (`colorize`, `colorize_many`) and films (`colorize_video`). Create it with
    `Colorizer.from_pretrained(...)`."""

    def colorize_video(self, src: str | os.PathLike, dst: str | os.PathLike, render_size: int = DEFAULT_RENDER_SIZE,
                       strength: float = 1.0, max_pixels: int = DEFAULT_MAX_PIXELS,
                       restore: bool | RestoreOptions = False, crf: int = DEFAULT_CRF, batch_size: int = 4,
                       temporal: TemporalOptions | None = None,
                       progress: Callable[[int], None] | None = None,
                       hints: Sequence[object] | None = None, max_frames: int | None = None,
                       reference: object = None) -> FilmReport:
        """Colorize the film SRC into DST (.mp4, .mov or .mkv): flicker-free, time stamps and sound kept,
        written atomically; hints (first frame's pixels) hold through the first shot; reference: colour
        photos (a set: each frame draws on those that match it). See
        `colorizer.pipelines.film.colorize_video`."""
        return colorize_video(self, src, dst, render_size, strength, max_pixels, restore, crf, batch_size,
                              temporal, progress, hints, max_frames, reference)
