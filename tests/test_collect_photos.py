"""Filtering helpers of tools/collect_photos.py (no downloads)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from tests.conftest import real_photo

_SPEC = importlib.util.spec_from_file_location(
    "collect_photos", Path(__file__).resolve().parents[1] / "tools" / "collect_photos.py")
cp = importlib.util.module_from_spec(_SPEC)
sys.modules["collect_photos"] = cp
_SPEC.loader.exec_module(cp)


def _verdict(image: Image.Image) -> bool:
    rgb = cp.drop_transparency(image)
    return rgb is not None and cp.is_photo(cp.image_stats(rgb))[0]


def test_real_photos_pass() -> None:
    for name in ("coffee.png", "chelsea.png", "astronaut.png"):
        assert _verdict(real_photo(name, size=256)), name


def test_grayscale_photo_rejected() -> None:
    assert not _verdict(real_photo("coffee.png", size=256).convert("L").convert("RGB"))


def test_flat_drawing_rejected() -> None:
    image = Image.new("RGB", (256, 192), (40, 120, 220))
    draw = ImageDraw.Draw(image)
    draw.ellipse((40, 30, 200, 170), fill=(250, 200, 30), outline=(0, 0, 0), width=4)
    draw.rectangle((10, 150, 120, 185), fill=(220, 30, 40))
    assert not _verdict(image)


def test_mostly_transparent_cutout_rejected() -> None:
    photo = real_photo("chelsea.png", size=256).convert("RGBA")
    alpha = Image.new("L", photo.size, 0)
    ImageDraw.Draw(alpha).ellipse((60, 40, 160, 140), fill=255)  # opaque blob < 128 px
    photo.putalpha(alpha)
    assert cp.drop_transparency(photo) is None


def test_cutout_cropped_to_opaque_rectangle() -> None:
    photo = real_photo("chelsea.png", size=400).convert("RGBA")
    alpha = np.zeros(photo.size[::-1], np.uint8)
    alpha[20:250, 30:330] = 255
    photo.putalpha(Image.fromarray(alpha))
    crop = cp.drop_transparency(photo)
    assert crop is not None and crop.mode == "RGB"
    assert 250 <= crop.width <= 300 and 190 <= crop.height <= 230


def test_holdout_is_deterministic_and_stratified() -> None:
    keys = [f"usr/share/x/{i}.jpg" for i in range(50)]
    first = [cp.in_holdout(k, keys) for k in keys]
    assert first == [cp.in_holdout(k, list(reversed(keys))) for k in keys]
    assert sum(first) == 5
    assert not cp.in_holdout("only.jpg", ["only.jpg"])


def test_near_duplicates_share_hash() -> None:
    photo = real_photo("coffee.png", size=256)
    other = photo.resize((200, 150)).rotate(0.5)
    assert bin(cp.dhash(photo) ^ cp.dhash(other)).count("1") <= 5
    assert bin(cp.dhash(photo) ^ cp.dhash(real_photo("chelsea.png", 256))).count("1") > 5


def test_forbidden_paths_never_wanted() -> None:
    src = cp.Source("x", "deb", "x", include=[r"."])
    assert not cp.wanted(src, "usr/share/palapeli/backgrounds/a.jpg")
    assert not cp.wanted(src, "usr/share/wallpapers/b.png")
    assert cp.wanted(src, "usr/share/palapeli/collection/c.jpg")
