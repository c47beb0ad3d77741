"""Training pairs from a real image folder: shapes, alignment, skipping, sharding, exact resume."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image

from colorizer.evaluate.degrade import DegradeConfig, EmulsionConfig
from train.data import DataConfig, DataError, PairStream, StreamState, decode, open_source

torch.set_num_threads(1)
SKIMAGE_DATA = Path(skimage.data.__file__).parent
COLOUR_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png")
REPO = Path(__file__).resolve().parents[1]


def make_photo_folder(folder: Path, colour: int = 30, size: int = 96, seed: int = 0) -> Path:
    """`colour` JPEG crops of scikit-image's colour photos, one grayscale photo, and two broken files."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(colour):
        photo = Image.open(SKIMAGE_DATA / COLOUR_PHOTOS[i % len(COLOUR_PHOTOS)]).convert("RGB")
        side = int(min(photo.size) * rng.uniform(0.4, 0.9))
        left, top = rng.integers(0, photo.width - side), rng.integers(0, photo.height - side)
        photo.crop((left, top, left + side, top + side)).resize((size, size)).save(folder / f"photo-{i:02d}.jpg")
    Image.open(SKIMAGE_DATA / "camera.png").resize((size, size)).save(folder / "gray.png")
    whole = (SKIMAGE_DATA / "rocket.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(whole[: len(whole) // 3])
    (folder / "not-an-image.jpg").write_bytes(b"this is not a JPEG")
    return folder


def no_damage() -> DegradeConfig:
    config = DegradeConfig()
    for f in dataclasses.fields(config):
        getattr(config, f.name).p = 0.0
    return config


def stream(folder: Path, state: StreamState | None = None, degrade: DegradeConfig | None = None, size: int = 32,
           batch_size: int = 4, shuffle_buffer: int = 8, rank: int = 0, world_size: int = 1,
           processes: int = 0) -> PairStream:
    config = DataConfig(dataset=str(folder), shuffle_buffer=shuffle_buffer, decode_threads=2, min_crop=0.7,
                        decode_processes=processes)
    source = open_source(config, seed=3, rank=rank, world_size=world_size)
    return PairStream(source, config, degrade or DegradeConfig(), size=size, batch_size=batch_size, seed=3,
                      rank=rank, state=state)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    return make_photo_folder(tmp_path_factory.mktemp("photos"), colour=8)


def test_pairs_have_the_models_shapes_and_ranges(photos: Path) -> None:
    pairs = stream(photos, size=48, batch_size=3)
    batch = next(pairs)
    pairs.close()
    assert batch.inputs.shape == (3, 1, 48, 48) and batch.targets.shape == (3, 3, 48, 48)
    assert batch.inputs.dtype == batch.targets.dtype == torch.float32
    assert batch.inputs.min() >= -1 and batch.inputs.max() <= 1
    assert batch.targets[:, 0].min() >= -1 and batch.targets[:, 0].max() <= 1
    assert batch.targets[:, 1:].abs().max() <= 1
    assert batch.targets[:, 1:].std() > 0.02  # colour photos: there is colour to learn


def test_without_damage_the_input_is_the_targets_lightness(photos: Path) -> None:
    pairs = stream(photos, degrade=no_damage())
    batch = next(pairs)
    pairs.close()
    # Same L up to the 8-bit gray image in between (one gray level is < 1 L unit = 0.02 here).
    assert (batch.inputs - batch.targets[:, :1]).abs().max() < 0.02


def test_an_old_films_gray_is_the_input_and_the_lightness_target_the_colour_stays_the_photos(photos: Path) -> None:
    """Restoring removes damage, not the film's own tones; the colour to learn is the scene's."""
    config = no_damage()
    config.emulsion = EmulsionConfig(p=1.0, kinds=["orthochromatic"], spread=0.0)
    pairs, eye_pairs = stream(photos, degrade=config), stream(photos, degrade=no_damage())
    film, eye = next(pairs), next(eye_pairs)
    pairs.close()
    eye_pairs.close()
    assert (film.inputs - film.targets[:, :1]).abs().max() < 0.02  # the film's gray on both sides
    assert (film.targets[:, :1] - eye.targets[:, :1]).abs().mean() > 0.02  # ... which is not the eye's
    assert torch.equal(film.targets[:, 1:], eye.targets[:, 1:])  # same crops, same colour


def test_damage_changes_the_input(photos: Path) -> None:
    pairs = stream(photos)
    batch = next(pairs)
    pairs.close()
    assert (batch.inputs - batch.targets[:, :1]).abs().mean() > 0.01


def test_grayscale_and_broken_images_are_skipped_and_counted(photos: Path) -> None:
    # An epoch, in file order: gray.png, not-an-image.jpg, photo-00 ... photo-07, truncated.jpg
    pairs = stream(photos, shuffle_buffer=0, batch_size=8)
    batches = [next(pairs), next(pairs)]
    pairs.close()
    assert pairs.state == StreamState(epoch=1, position=10, used=16, grayscale=2, unreadable=3)
    chroma = torch.cat([b.targets[:, 1:] for b in batches]).abs().flatten(1).mean(dim=1)
    assert (chroma > 0.01).all()  # no gray photo slipped in


def test_worker_processes_make_exactly_the_batches_threads_make(photos: Path) -> None:
    threads, processes = stream(photos, shuffle_buffer=0, batch_size=8), stream(photos, shuffle_buffer=0,
                                                                                batch_size=8, processes=2)
    for _ in range(2):
        a, b = next(threads), next(processes)
        assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    assert processes.state == threads.state == StreamState(epoch=1, position=10, used=16, grayscale=2, unreadable=3)
    threads.close()
    processes.close()


def test_a_shard_without_colour_photos_is_an_error_not_a_hang(tmp_path: Path) -> None:
    make_photo_folder(tmp_path, colour=0)
    pairs = stream(tmp_path)
    start = time.monotonic()
    with pytest.raises(DataError, match="no usable colour photo"):
        next(pairs)
    pairs.close()
    assert time.monotonic() - start < 30



def test_photos_too_small_to_crop_are_skipped_counted_and_named(tmp_path: Path, caplog) -> None:
    make_photo_folder(tmp_path, colour=4)
    Image.open(SKIMAGE_DATA / "coffee.png").convert("RGB").resize((15, 20)).save(tmp_path / "stamp.png")
    pairs = stream(tmp_path, shuffle_buffer=0, size=32, batch_size=4)  # 15 px: under half a 32 px crop
    with caplog.at_level("WARNING", logger="train.data"):
        next(pairs)
        next(pairs)
    pairs.close()
    assert pairs.state.used == 8 and pairs.state.too_small == 1
    assert "skipping a photo too small to crop (1 so far)" in caplog.text and "stamp.png: 15x20 px" in caplog.text
    kept = stream(tmp_path, shuffle_buffer=0, size=24, batch_size=5)  # 15 px is enough for 24 px crops
    next(kept)
    kept.close()
    assert kept.state.too_small == 0


def test_a_shard_whose_only_colour_photo_is_a_pixel_is_refused(tmp_path: Path) -> None:
    make_photo_folder(tmp_path, colour=0)
    Image.new("RGB", (1, 1), (200, 30, 40)).save(tmp_path / "pixel.png")
    pairs = stream(tmp_path)
    with pytest.raises(DataError, match=r"no usable colour photo .*\b[1-9]\d* too small to crop at 32 px"):
        next(pairs)
    pairs.close()

def test_resuming_from_a_state_gives_exactly_the_next_batches(photos: Path) -> None:
    first = stream(photos, batch_size=5)
    batches = [next(first) for _ in range(4)]  # 20 photos: crosses epochs of 8 usable ones
    first.close()
    again = stream(photos, batch_size=5)
    next(again)
    state = again.state
    again.close()
    assert state.epoch == 0 and state.position > 5
    resumed = stream(photos, state=state, batch_size=5)
    for expected in batches[1:]:
        got = next(resumed)
        assert torch.equal(got.inputs, expected.inputs) and torch.equal(got.targets, expected.targets)
    assert resumed.state.epoch >= 2
    resumed.close()


def test_each_process_reads_its_own_shard(photos: Path) -> None:
    config = DataConfig(dataset=str(photos), shuffle_buffer=4)
    shards = [[r["image"]["path"] for r in open_source(config, seed=1, rank=rank, world_size=2)] for rank in (0, 1)]
    assert not set(shards[0]) & set(shards[1])
    assert sorted(shards[0] + shards[1]) == sorted(str(p) for p in photos.iterdir())


def test_jpegs_are_decoded_at_a_reduced_scale_when_that_is_enough(photos: Path) -> None:
    record = {"path": str(photos / "photo-01.jpg"), "bytes": None}
    assert decode(record, min_short_side=40).size == (48, 48)  # 96 px decoded at 1/2
    assert decode(record, min_short_side=60).size == (96, 96)
    record = {"path": None, "bytes": (photos / "photo-01.jpg").read_bytes()}  # as parquet datasets store them
    assert decode(record, min_short_side=20).size == (24, 24)


def test_a_folder_is_all_its_photos_whatever_their_names_or_its_split_subfolder(tmp_path: Path) -> None:
    # "pca-test1.jpg" once made `datasets` invent a "test" split and leave "train" empty
    flat = make_photo_folder(tmp_path / "flat", colour=3)
    (flat / "photo-00.jpg").rename(flat / "pca-test1.jpg")
    (flat / "sub").mkdir()
    (flat / "photo-01.jpg").rename(flat / "sub" / "validation-1.jpg")
    count = lambda folder: sum(1 for _ in open_source(DataConfig(dataset=str(folder), shuffle_buffer=0), seed=0))
    assert count(flat) == 6  # 3 colour, 1 gray, 2 broken: every file, in sub-folders too
    split = tmp_path / "split"
    make_photo_folder(split / "train", colour=2)
    make_photo_folder(split / "holdout", colour=4)
    assert count(split) == 5  # train/ only: the held-out photos are never trained on


def test_a_missing_local_folder_is_a_clear_error() -> None:
    with pytest.raises(DataError, match="no such folder"):
        open_source(DataConfig(dataset="./no/such/photos"), seed=0)


def test_a_missing_hub_dataset_fails_fast_offline() -> None:
    code = textwrap.dedent("""
        from train.data import DataConfig, DataError, open_source
        try:
            open_source(DataConfig(dataset="nobody-here/no-such-dataset"), seed=0)
        except DataError as err:
            print("DataError:", err)
    """)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": "/nonexistent-hf-home"}
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=120)
    assert "DataError: cannot open dataset 'nobody-here/no-such-dataset'" in result.stdout, result.stderr[-2000:]
    assert "HF_HUB_OFFLINE" in result.stdout
    assert time.monotonic() - start < 60
