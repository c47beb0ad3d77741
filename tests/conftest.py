"""Shared fixtures and helpers: real photos (from scikit-image's bundled data), tiny model weights, Lab of
an image, the CLI as a subprocess."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image

from colorizer.models.generator import Generator

SKIMAGE_DATA = Path(skimage.data.__file__).parent
REPO = Path(__file__).resolve().parents[1]


def real_photo(name: str = "coffee.png", size: int | None = 96) -> Image.Image:
    """A real colour photo that ships with scikit-image, optionally shrunk (long side = size)."""
    image = Image.open(SKIMAGE_DATA / name).convert("RGB")
    if size is not None:
        image.thumbnail((size, size), Image.Resampling.LANCZOS)
    return image


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """A weights folder for the 'tiny' preset, with a non-zero head so outputs are coloured."""
    torch.manual_seed(0)
    model = Generator.from_preset("tiny")
    torch.nn.init.normal_(model.head[-1].weight, std=0.5)
    folder = tmp_path_factory.mktemp("tiny-weights")
    model.save_pretrained(folder)
    return folder


def lightness_of(image: Image.Image) -> np.ndarray:
    """L channel (H, W) in [0, 100] of any RGB(A)/L image, via the project's colour module."""
    from colorizer import color

    rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return color.rgb_to_l(torch.from_numpy(rgb).permute(2, 0, 1))[0].numpy()


def lab_of(image: Image.Image) -> np.ndarray:
    """Lab (3, H, W), float64, of any RGB(A)/L image: the colour a user sees, in the units hints and
    quality bars are stated in."""
    from colorizer import color

    return color.lab_of_rgb8(np.asarray(image.convert("RGB")), torch.float64).numpy()


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess:
    """`python -m colorizer ARGS` in `cwd` (the checkout unless given), as a user runs it (env: the whole
    environment, if given)."""
    return subprocess.run([sys.executable, "-m", "colorizer", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env)


CHECKOUT_ENV = {**os.environ, "PYTHONPATH": str(REPO)}  # this checkout's packages, as `pip install -e .` provides them


def run_tool(script: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """`python tools/SCRIPT ARGS`, as a user runs it from a checkout."""
    return subprocess.run([sys.executable, str(REPO / "tools" / script), *args], capture_output=True, text=True,
                          timeout=timeout, env=CHECKOUT_ENV)


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A 70-byte PNG whose header claims width x height, as a decompression bomb's does."""
    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = struct.pack(">II", width, height)  # IHDR data starts after signature, length, type
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))  # CRC of IHDR type + data
    path.write_bytes(bytes(data))
    return path
