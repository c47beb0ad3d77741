"""Filtering helpers of tools/collect_photos.py (no downloads)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import av
import numpy as np
import pytest
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


def test_only_plasma_wallpapers_forbidden(tmp_path: Path) -> None:
    src = cp.Source("x", "deb", "x", include=[r"."])
    # plasma-workspace-wallpapers (reserved for evaluation) installs into usr/share/wallpapers
    assert not cp.wanted(src, "usr/share/wallpapers/Next/contents/images/1920x1080.jpg")
    assert not cp.wanted(src, "usr/share/doc/plasma-workspace-wallpapers/copyright.png")
    # other wallpaper / background packages are allowed
    assert cp.wanted(src, "usr/share/backgrounds/mate/nature/Aqua.jpg")
    assert cp.wanted(src, "usr/share/palapeli/backgrounds/a.jpg")
    assert cp.wanted(src, "usr/share/palapeli/collection/c.jpg")
    reserved = cp.Source("p", "deb", "plasma-workspace-wallpapers", include=[r"."])
    with pytest.raises(ValueError):
        cp.fetch_deb(reserved, tmp_path)  # refused before any download
    assert not any(s.spec == "plasma-workspace-wallpapers" for s in cp.SOURCES)


def test_dep5_licence_per_file(tmp_path: Path) -> None:
    copyright_file = tmp_path / "copyright"
    copyright_file.write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
        "Files: *\nCopyright: 2020 Someone\nLicense: GPL-2+\n\n"
        "Files: 16.04/sunset_by_A.jpg\n       16.04/other_by_B.jpg\n"
        "Copyright: A, 2018\nLicense: CC-BY-4.0\n\n"
        "Files: external/wesaturate/*\nCopyright: none\nLicense: CC0\n\n"
        "Files: debian/*\nCopyright: 2022 Packager\nLicense: MIT\n")
    paragraphs = cp.dep5_licences(copyright_file)
    assert cp.dep5_licence_for(paragraphs, "usr/share/backgrounds/other_by_B.jpg").startswith(
        "CC-BY-4.0 (A, 2018")
    assert cp.dep5_licence_for(paragraphs, "usr/share/x/external/wesaturate/500px/a.png") \
        .startswith("CC0")
    assert cp.dep5_licence_for(paragraphs, "usr/share/x/unlisted.jpg") is None  # -> package


def _tiny_clip(path: Path, seconds: int = 12, fps: int = 5) -> None:
    """A small MPEG-4 clip whose content changes every second (a moving colour photo)."""
    photo = np.asarray(real_photo("chelsea.png", size=320).convert("RGB").resize((160, 128)))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 160, 128, "yuv420p"
        for i in range(seconds * fps):
            shifted = np.ascontiguousarray(np.roll(photo, 13 * (i // fps), axis=1))
            for packet in stream.encode(av.VideoFrame.from_ndarray(shifted, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_video_frames_sampled_sparsely(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    _tiny_clip(clip)
    frames = cp.video_frames(clip, every_s=4.0, max_frames=10)
    times = [t for t, _ in frames]
    assert times == pytest.approx([0.0, 4.0, 8.0], abs=0.25)
    assert all(im.mode == "RGB" and im.size == (160, 128) for _, im in frames)
    capped = cp.video_frames(clip, every_s=0.5, max_frames=3)  # spread over the clip, capped
    assert len(capped) == 3 and capped[-1][0] >= 7.5


def test_video_frames_are_candidates_and_tagged(tmp_path: Path) -> None:
    (tmp_path / "usr/share/doc/x/examples").mkdir(parents=True)
    _tiny_clip(tmp_path / "usr/share/doc/x/examples/clip.mp4", seconds=9)
    photos_only = cp.Source("x", "deb", "x", include=[r"examples/"])
    assert list(cp.candidates(photos_only, tmp_path)) == []  # clips only where asked for
    src = cp.Source("x-video", "deb", "x", include=[r"examples/.*\.mp4$"], video=True)
    got = list(cp.candidates(src, tmp_path))
    assert [p for p, _ in got] == [f"usr/share/doc/x/examples/clip.mp4@t={t}s"
                                   for t in ("0.0", "4.0", "8.0")]
    image = cp.decode(got[0][0], got[0][1])  # frames arrive decoded
    assert isinstance(image, Image.Image) and image.mode == "RGB"
