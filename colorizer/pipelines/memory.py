"""How much memory one request needs, estimated before it runs, and a gate that admits requests
only while their estimates fit a budget (the app's guard against concurrent heavy requests).

A request's peak is that of its largest stage, each linear in what drives it:
- the model: the photo's lightness stays resident while the generator runs at the render size
  (its activations; self-attention is chunked, see colorizer.models.layers);
- restoration: the full-size lightness in and out, plus one tile through the model and denoising;
- joining and encoding: chroma upsampled to full size, the 8-bit result, the gray "before", PNG.
The constants are bench/bench_memory.py's measurements with the embedded weights (docs/BENCHMARKS.md),
rounded up: the estimate is meant to be above the real peak, not equal to it.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from colorizer.settings import check_settings

BYTES_PER_PHOTO_PIXEL = 26  # joining + encoding: measured 25 (50 MP at render size 512: +1193 MiB)
BYTES_RESIDENT_PER_PHOTO_PIXEL = 6  # decoded photo + float lightness, held while the model runs
BYTES_PER_RENDER_PIXEL = 400  # generator activations per pixel it runs at: measured 320-380
BYTES_PER_PHOTO_PIXEL_RESTORE = 16  # restoration's full-size lightness in and out, and its 8-bit copies
RESTORE_TILE_BYTES = 300 * 2**20  # the model and denoising on one 512 x 512 tile
FIXED_BYTES = 64 * 2**20  # allocator slack, Python objects


M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
MMAP_THRESHOLD = 1 << 20


def return_freed_memory_to_the_os() -> bool:
    """On glibc, give every allocation of 1 MiB or more its own mapping, so a freed tensor goes
    back to the OS at once; returns whether the setting took (False off glibc).

    Without it glibc raises its mmap threshold as large blocks are freed and then keeps blocks of up
    to 32 MiB in its heaps, one heap per thread: three renders at 1536 in turn, each on a new thread
    as a server runs them, peaked 3023 MiB above the loaded model instead of 548 MiB
    (bench/bench_memory.py --repeat 3, docs/BENCHMARKS.md). Call once at start; it is process-wide.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))


def estimate_request_bytes(width: int, height: int, render_size: int, restore: bool) -> int:
    """Peak bytes one photo of width x height needs beyond the loaded model (an upper estimate)."""
    pixels = width * height
    long_side = max(width, height, 1)
    render = check_settings(render_size=render_size)[0].render_size
    render_pixels = render * max(32, render * min(width, height) // long_side)
    stages = [BYTES_PER_PHOTO_PIXEL * pixels,
              BYTES_RESIDENT_PER_PHOTO_PIXEL * pixels + BYTES_PER_RENDER_PIXEL * render_pixels]
    if restore:
        stages.append(BYTES_PER_PHOTO_PIXEL_RESTORE * pixels + RESTORE_TILE_BYTES)
    return FIXED_BYTES + max(stages)


class MemoryGate:
    """Admits work while the sum of running estimates fits `budget` bytes; others wait their turn.

    One request larger than the whole budget still runs, alone, so nothing waits forever; waiters
    are served first come, first served, so a large request is not starved by small ones.
    """

    def __init__(self, budget: int):
        self.budget = budget
        self.in_use = 0
        self.running = 0
        self._cond = threading.Condition()
        self._queue: list[object] = []

    @contextmanager
    def admit(self, estimate: int) -> Iterator[None]:
        ticket = object()
        with self._cond:
            self._queue.append(ticket)
            while not (self._queue[0] is ticket and (self.running == 0 or self.in_use + estimate <= self.budget)):
                self._cond.wait()
            self._queue.pop(0)
            self.in_use += estimate
            self.running += 1
            self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                self.in_use -= estimate
                self.running -= 1
                self._cond.notify_all()
