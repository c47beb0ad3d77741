"""Defaults and ranges shared by the library, the CLI and the app (kept free of heavy imports).

colorizer.settings checks every number a person gives against these ranges.
"""

DEFAULT_RENDER_SIZE = 384  # long side, in pixels, that the generator sees (the best measured: docs/BENCHMARKS.md)
MIN_RENDER_SIZE, MAX_RENDER_SIZE = 64, 2048
MIN_STRENGTH, MAX_STRENGTH = 0.0, 2.0  # 0 gray, 1 as predicted, 2 twice as vivid
DEFAULT_MAX_PIXELS = 120_000_000  # a 120 MP scan is fine; a decompression bomb is not
MAX_MAX_PIXELS = 1_000_000_000  # --max-pixels above a gigapixel would need tens of GB of memory
MAX_BATCH_SIZE = 64
DEFAULT_CRF = 18  # films: H.264 quality (x264's constant rate factor; 0 lossless, 51 worst; 18 looks lossless)
MIN_CRF, MAX_CRF = 0, 51
