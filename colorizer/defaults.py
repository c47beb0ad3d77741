"""Defaults shared by the library, the CLI and the app (kept free of heavy imports)."""

DEFAULT_RENDER_SIZE = 512  # long side, in pixels, that the generator sees
MIN_RENDER_SIZE, MAX_RENDER_SIZE = 64, 2048
DEFAULT_MAX_PIXELS = 120_000_000  # a 120 MP scan is fine; a decompression bomb is not
