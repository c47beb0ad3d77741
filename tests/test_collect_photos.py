"""Filtering helpers of tools/collect_photos.py (no downloads)."""

from __future__ import annotations

import csv
import importlib.util
import io
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps

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


def test_unseen_sources_are_written_whole_to_their_own_folder(tmp_path: Path) -> None:
    photo = real_photo("coffee.png", size=160)
    kept = [cp.Kept(photo, source, "1", f"usr/share/{source}/{i}.jpg", "CC0-1.0")
            for source in ("sporco", "gcompris-qt-data") for i in range(20)]
    counts = cp.write(kept, tmp_path)
    assert counts == {"sporco": (0, 0, 20), "gcompris-qt-data": (18, 2, 0)}
    rows = list(csv.DictReader(open(tmp_path / "SOURCES.csv")))
    assert {r["split"] for r in rows if r["package"] == "sporco"} == {"unseen"}
    assert len(list((tmp_path / "unseen").glob("sporco__*.jpg"))) == 20
    assert not list((tmp_path / "unseen").glob("gcompris*"))
    assert "| sporco | 1 | 0 | 0 | 20 |" in cp.summary(kept, counts, {})


def test_unseen_sources_are_collected_sources() -> None:
    assert set(cp.UNSEEN_SOURCES) <= {src.name for src in cp.SOURCES}


def test_near_duplicates_share_hash() -> None:
    photo = real_photo("coffee.png", size=256)
    other = photo.resize((200, 150)).rotate(0.5)
    assert bin(cp.dhash(photo) ^ cp.dhash(other)).count("1") <= 5
    assert bin(cp.dhash(photo) ^ cp.dhash(real_photo("chelsea.png", 256))).count("1") > 5


RESERVED = ("plasma-workspace-wallpapers", "mate-backgrounds", "lomiri-wallpapers-20.04")


def test_reserved_paths_forbidden() -> None:
    src = cp.Source("x", "deb", "x", include=[r"."])
    # plasma-workspace-wallpapers (reserved for evaluation) installs into usr/share/wallpapers
    assert not cp.wanted(src, "usr/share/wallpapers/Next/contents/images/1920x1080.jpg")
    assert not cp.wanted(src, "usr/share/doc/plasma-workspace-wallpapers/copyright.png")
    assert not cp.wanted(src, "usr/share/doc/mate-backgrounds/copyright.jpg")
    # other paths are allowed (copies of reserved photos are caught by their hash instead)
    assert cp.wanted(src, "usr/share/backgrounds/mate/nature/Aqua.jpg")
    assert cp.wanted(src, "usr/share/palapeli/backgrounds/a.jpg")
    assert cp.wanted(src, "usr/share/palapeli/collection/c.jpg")


@pytest.mark.parametrize("spec", [*RESERVED, "mate-backgrounds=1.26.0-1"])
def test_reserved_packages_refused(tmp_path: Path, spec: str,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"tried to run {args[0]}")

    monkeypatch.setattr(cp.subprocess, "run", no_download)
    with pytest.raises(ValueError, match="reserved"):  # refused before any download
        cp.fetch_deb(cp.Source("renamed", "deb", spec, include=[r"."]), tmp_path)
    assert not (tmp_path / "debs").exists()
    with pytest.raises(ValueError, match="reserved"):  # also when only the source's name says so
        cp.fetch_deb(cp.Source(spec, "deb", "other-package", include=[r"."]), tmp_path)


def test_sources_name_no_reserved_package() -> None:
    for src in cp.SOURCES:
        assert not any(name in f"{src.name} {src.spec}" for name in RESERVED), src.name
    assert "lomiri-wallpapers-16.04" in {src.spec for src in cp.SOURCES}  # a neighbour stays


# ----------------------------------------------------------------- photos reserved for evaluation

def test_phash_reproduces_reserved_list_check_values() -> None:
    # the header of shared/reserved/phashes.txt: "astronaut() c2924c5532bddfc8, coffee()
    # bb8320376c0f3637" (scikit-image 0.26.0 data, at full size)
    assert f"{cp.phash(real_photo('astronaut.png', size=None)):016x}" == "c2924c5532bddfc8"
    assert f"{cp.phash(real_photo('coffee.png', size=None)):016x}" == "bb8320376c0f3637"


def test_reserved_photo_in_test_data_matches_its_listed_hash() -> None:
    # tests/data/reserved/GreenMeadow.jpg is mate-backgrounds' nature/GreenMeadow.jpg shrunk to 256 px (kept
    # only for this check); the reserved list has "ef9c3cce60a2c526 mate-backgrounds .../GreenMeadow.jpg"
    meadow = Image.open(Path(__file__).parent / "data" / "reserved" / "GreenMeadow.jpg")
    assert (cp.phash(meadow) ^ 0xEF9C3CCE60A2C526).bit_count() <= cp.RESERVED_DISTANCE
    assert cp.is_reserved(meadow.convert("RGB"), [0xEF9C3CCE60A2C526])


def _hash_list(path: Path, *images: Image.Image) -> list[int]:
    """Write a reserved list in the format of shared/reserved/phashes.txt and load it back."""
    lines = ["# Reserved for independent evaluation (test list)"]
    lines += [f"{cp.phash(im):016x} some-package usr/share/x/{i}.jpg"
              for i, im in enumerate(images)]
    path.write_text("\n".join(lines) + "\n")
    return cp.load_reserved(path)


def _far(a: Image.Image, b: Image.Image) -> bool:
    return (cp.phash(a) ^ cp.phash(b)).bit_count() > cp.RESERVED_DISTANCE


def test_listed_photo_and_its_copies_are_reserved(tmp_path: Path) -> None:
    listed = real_photo("chelsea.png", size=400)
    reserved = _hash_list(tmp_path / "phashes.txt", listed)
    assert reserved == [cp.phash(listed)]
    assert cp.is_reserved(listed, reserved)
    copy = listed.resize((300, 225), Image.Resampling.BILINEAR)  # another package's JPEG copy
    buffer = io.BytesIO()
    copy.save(buffer, "JPEG", quality=80)
    assert cp.is_reserved(Image.open(buffer), reserved)
    mirrored = ImageOps.mirror(listed)
    assert _far(mirrored, listed) and cp.is_reserved(mirrored, reserved)
    assert not cp.is_reserved(real_photo("coffee.png", size=400), reserved)  # unrelated: kept


def test_photo_whose_central_crop_is_listed_is_reserved(tmp_path: Path) -> None:
    wider = real_photo("astronaut.png", size=400)  # e.g. the uncropped original of a wallpaper
    w, h = wider.size
    listed = wider.crop((round(0.15 * w), round(0.15 * h), round(0.85 * w), round(0.85 * h)))
    reserved = _hash_list(tmp_path / "phashes.txt", listed)
    assert _far(wider, listed) and cp.is_reserved(wider, reserved)
    assert not cp.is_reserved(real_photo("chelsea.png", size=400), reserved)


def test_missing_or_empty_reserved_list_stops_collecting(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    missing = tmp_path / "shared" / "reserved" / "phashes.txt"
    with pytest.raises(SystemExit) as stop:
        cp.main(["--reserved-hashes", str(missing), "--out", str(tmp_path / "out"),
                 "--data", str(tmp_path / "data"), "--only", "scikit-image"])
    message = str(stop.value.code)
    assert "\n" not in message and str(missing) in message and "--reserved-hashes" in message
    assert not (tmp_path / "out").exists() and not (tmp_path / "data").exists()
    (tmp_path / "empty.txt").write_text("# header only\n")
    with pytest.raises(ValueError, match="no hashes"):
        cp.load_reserved(tmp_path / "empty.txt")
    assert cp.RESERVED_HASHES == Path(cp.__file__).resolve().parents[2] / "shared" / "reserved" \
        / "phashes.txt"


def test_reserved_photos_never_reach_sources_csv(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "pkg"
    (root / "usr/share/x").mkdir(parents=True)
    listed = real_photo("chelsea.png", size=256)
    listed.save(root / "usr/share/x/cat.png")
    ImageOps.mirror(real_photo("astronaut.png", size=256)).save(root / "usr/share/x/flipped.png")
    real_photo("coffee.png", size=256).save(root / "usr/share/x/coffee.png")
    reserved = _hash_list(tmp_path / "phashes.txt", listed, real_photo("astronaut.png", size=256))
    monkeypatch.setitem(cp.FETCH, "deb", lambda src, data: (root, "1.0", "CC0-1.0"))
    rejects: dict[str, int] = {}
    kept = cp.collect(cp.Source("x", "deb", "x", include=[r"\.png$"]), tmp_path, [], rejects,
                      reserved)
    assert [k.path for k in kept] == ["usr/share/x/coffee.png"] and rejects == {"reserved": 2}
    out = tmp_path / "out"
    counts = cp.write(kept, out)
    rows = list(csv.DictReader(open(out / "SOURCES.csv")))
    assert [r["original_path"] for r in rows] == ["usr/share/x/coffee.png"]
    assert len(list(out.glob("*/*.jpg"))) == 1
    text = cp.summary(kept, counts, {"x": rejects["reserved"]})
    assert "## Dropped as reserved" in text and "- x: 2" in text


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
