"""An epoch balanced across sources: no source above its share, every photo still in, small sources
repeated only as far as needed; the stream a run reads follows it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from colorizer.evaluate.report import source_of
from train.data import DataConfig, balanced_files, open_source


def _files(sizes: dict[str, int]) -> list[str]:
    return [f"/photos/{source}__{i:03d}.jpg" for source, n in sizes.items() for i in range(n)]


def test_the_source_is_the_name_before_the_double_underscore() -> None:
    assert source_of("/x/endless-sky__moon_03.jpg") == "endless-sky"
    assert source_of(Path("a/b/scratch__beach.jpg")) == "scratch"
    assert source_of("/x/holiday.jpg") is None


def test_no_source_is_above_its_share_and_every_photo_stays() -> None:
    files = _files({"big": 40, "mid": 10, "small": 5, "tiny": 2, "one": 1})
    out = balanced_files(files, max_share=0.3, max_repeats=8)
    counts = Counter(map(source_of, out))
    assert max(counts.values()) <= 0.3 * len(out)
    assert set(out) == set(files) and out[: len(files)] == files  # all photos, in their order, repeats after
    assert counts["big"] == 40  # the large source is never repeated nor dropped
    assert all(counts[s] % n == 0 for s, n in {"mid": 10, "small": 5, "tiny": 2, "one": 1}.items())
    assert max(Counter(out).values()) <= 8


def test_a_source_is_not_lifted_past_the_share_itself() -> None:
    # Lifting the middle source again and again would make it the new largest: it stops at the share.
    out = balanced_files(_files({"big": 50, "mid": 20, "a": 3, "b": 3}), max_share=0.35, max_repeats=10)
    counts = Counter(map(source_of, out))
    assert max(counts.values()) <= 0.35 * len(out)
    assert counts["mid"] <= 0.35 * len(out)


def test_when_repeats_cannot_reach_the_share_the_list_says_how_far_it_got(caplog) -> None:
    files = _files({"big": 30, "small": 2})
    with caplog.at_level("INFO", logger="train.data"):
        out = balanced_files(files, max_share=0.2, max_repeats=3)
    assert Counter(map(source_of, out)) == {"big": 30, "small": 6}
    assert "above 20%" in caplog.text


def test_one_source_or_a_share_of_one_changes_nothing() -> None:
    files = _files({"only": 7})
    assert balanced_files(files, 0.2, 4) == files
    mixed = _files({"a": 9, "b": 1})
    assert balanced_files(mixed, 1.0, 4) == mixed


@pytest.mark.parametrize("share, repeats", [(0.0, 4), (1.5, 4), (0.2, 0)])
def test_nonsense_settings_are_refused(share: float, repeats: int) -> None:
    with pytest.raises(ValueError):
        balanced_files(_files({"a": 2}), share, repeats)
    if repeats:
        with pytest.raises(ValueError):
            DataConfig(max_source_share=share)


def test_a_folder_streams_its_balanced_epoch(tmp_path: Path) -> None:
    for source, n in {"big": 8, "small": 2}.items():
        for i in range(n):
            Image.new("RGB", (16, 16), (40 * i, 100, 30)).save(tmp_path / f"{source}__{i}.jpg")
    (tmp_path / "SOURCES.csv").write_text("not a photo\n")
    config = DataConfig(dataset=str(tmp_path), shuffle_buffer=4, max_source_share=0.5)
    paths = [Path(r["image"]["path"]).name for r in open_source(config, seed=0)]
    counts = Counter(map(source_of, paths))
    assert counts == {"big": 8, "small": 8}
    plain = [r["image"]["path"] for r in open_source(DataConfig(dataset=str(tmp_path), shuffle_buffer=4), seed=0)]
    assert len(plain) == 10
