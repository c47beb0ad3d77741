"""Training data: colour photos, streamed from the Hub or read from a folder, made into
(degraded lightness, clean colour) pairs on the fly. Every training phase uses this module.

    record ──decode──> RGB photo ──random crop, resize, flip──> RGB (S, S) ──film──> gray (S, S)
        target: the film's gray and the photo's ab  (3, S, S) as (L / 50 - 1, a / AB_SCALE, b / AB_SCALE)
        input:  that gray, old-photo damaged by colorizer.evaluate.degrade, as L / 50 - 1 in (1, S, S)

The film (`degrade.photograph`) is the eye's lightness or an old emulsion's colour response. Its
undamaged gray is the lightness target: restoring removes the damage, not the film's own tones,
just as colorizing keeps a photo's tones and adds the scene's colour.

A local collection's sources can be balanced: smaller sources' photos repeated in each epoch until no
source is above a share of it (`max_source_share`).

Grayscale photos are skipped (there is no colour to learn from), so are photos too small to crop
(short side under half the crop size: enlarged past twice, a crop is blur, not a photo), and so is a
record that will not decode: all are counted, none stops training, but a shard that yields no usable
photo in a whole epoch is refused. Each process reads its own shard
(`split_dataset_by_node`), so nothing else may shard the stream again.

Exact resume: every random choice for a sample comes from a generator seeded by
(seed, rank, epoch, position in the epoch), and the stream's state is just (epoch, position).
Resuming re-opens the stream at that epoch and skips `position` records without decoding them;
the shuffle buffer then refills exactly as before, so the data order is the same. (For a streamed
Hub dataset skipping re-downloads those records, ~110 KB each for ImageNet; `datasets`' own
state_dict would skip faster but drops the shuffle buffer's content, so the order would differ.)
"""

from __future__ import annotations

import functools
import io
import itertools
import logging
import math
import multiprocessing
import os
import queue
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import datasets
import numpy as np
import torch
from datasets.distributed import split_dataset_by_node
from PIL import Image, ImageOps

from colorizer import color
from colorizer.errors import ColorizerError, first_line
from colorizer.evaluate.degrade import DegradeConfig, degrade, photograph
from colorizer.evaluate.report import source_of
from colorizer.io.images import GRAY_TOLERANCE, is_grayscale

log = logging.getLogger(__name__)

DEFAULT_DATASET = "ILSVRC/imagenet-1k"  # gated parquet (image, label); accept its terms, set HF_TOKEN
_PREFETCH_BATCHES = 2
_LOGGED_FAILURES = 5  # unreadable and too-small records named at warning level; the rest only counted
MIN_SIDE_OF_CROP = 0.5  # a photo's short side, as a fraction of the crop size, below which it is skipped


class DataError(ColorizerError):
    """The dataset cannot be opened, or holds no usable colour photo."""


@dataclass
class DataConfig:
    """Where photos come from and how each becomes a training sample."""

    dataset: str = field(default=DEFAULT_DATASET, metadata={
        "help": "a Hub dataset id (streamed; token from HF_TOKEN) or a local folder of images (imagefolder)"})
    split: str = field(default="train", metadata={"help": "dataset split"})
    image_column: str = field(default="image", metadata={"help": "column that holds the images"})
    shuffle_buffer: int = field(default=1000, metadata={"help": "streaming shuffle buffer (records); 0: no shuffle"})
    min_crop: float = field(default=0.5, metadata={
        "help": "smallest random crop, as a fraction of the photo's short side (1: always the full short side)"})
    gray_tolerance: int = field(default=GRAY_TOLERANCE, metadata={
        "help": "a photo whose RGB channels differ by at most this (8-bit levels, 99th percentile) is grayscale"})
    decode_threads: int = field(default=4, metadata={"help": "threads per process that decode and degrade photos"})
    max_source_share: float = field(default=1.0, metadata={
        "help": "for a local folder of SOURCE__name files (tools/collect_photos.py): repeat the photos of smaller "
                "sources (each at most MAX_REPEATS times) until no source is above this share of an epoch "
                "(1: every photo once)"})
    decode_processes: int = field(default=0, metadata={
        "help": "worker processes per training process that decode and degrade photos, instead of threads "
                "(0: use decode_threads); threads share one core's worth of Python, so a GPU needs processes"})

    def __post_init__(self) -> None:
        if not 0.0 < self.min_crop <= 1.0:
            raise ValueError("min_crop must be in (0, 1]")
        if self.decode_threads < 0 or self.decode_processes < 0:
            raise ValueError("decode_threads and decode_processes must be 0 or more")
        if not 0.0 < self.max_source_share <= 1.0:
            raise ValueError("max_source_share must be in (0, 1]")


@dataclass
class StreamState:
    """Where one process is in its shard, and what it has met so far; all it takes to resume."""

    epoch: int = 0
    position: int = 0  # records of this epoch already read (used or skipped)
    used: int = 0
    grayscale: int = 0
    unreadable: int = 0
    too_small: int = 0  # photos whose short side is under MIN_SIDE_OF_CROP of the crop size

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Skipped:
    """Why a record gave no sample: "grayscale", "too small" or "unreadable" (with the record and why)."""

    reason: str
    detail: str = ""


@dataclass
class Batch:
    inputs: torch.Tensor  # (B, 1, S, S) degraded L / 50 - 1, in [-1, 1]
    targets: torch.Tensor  # (B, 3, S, S) clean Lab (L: the film's undamaged gray), normalised like the critic's input


def open_source(config: DataConfig, *, seed: int, rank: int = 0, world_size: int = 1) -> datasets.IterableDataset:
    """This process's shard of the (shuffled) stream of undecoded image records.

    Raises DataError at once when the dataset is missing, gated or unreachable.
    """
    name = config.dataset
    folder = Path(name).expanduser()
    try:
        if folder.is_dir():
            # A folder's own <split>/ sub-folder if it has one, else every image in it. Files are named
            # explicitly: left to itself, `datasets` reads split names into file names ("pca-test1.jpg"
            # makes a "test" split, and the "train" split then holds nothing).
            root = folder / config.split if (folder / config.split).is_dir() else folder
            files: str | list[str] = str(root / "**")
            if config.max_source_share < 1.0:
                files = balanced_files(_image_files(root), config.max_source_share, MAX_REPEATS)
            ds = datasets.load_dataset("imagefolder", data_files={config.split: files}, split=config.split,
                                       streaming=True, drop_labels=True)
        elif name.startswith((".", "/", "~")) or name.count("/") > 1:
            raise DataError(f"dataset {name!r}: no such folder")
        else:
            ds = datasets.load_dataset(name, split=config.split, streaming=True)
    except DataError:
        raise
    except Exception as err:  # offline, 404, gated, bad split: all end here, with the library's reason
        hint = " (HF_HUB_OFFLINE is set: only cached datasets can be used)" if os.environ.get("HF_HUB_OFFLINE") else (
            "; for a gated dataset accept its terms on the Hub and set HF_TOKEN")
        raise DataError(f"cannot open dataset {name!r} split {config.split!r}: {type(err).__name__}: "
                        f"{first_line(err)}{hint}") from err
    columns = list(ds.features) if ds.features is not None else None
    if columns is not None and config.image_column not in columns:
        raise DataError(f"dataset {name!r} has no column {config.image_column!r} (columns: {columns}); "
                        "pass --image-column")
    ds = ds.select_columns([config.image_column]).cast_column(config.image_column, datasets.Image(decode=False))
    if config.shuffle_buffer > 0:
        ds = ds.shuffle(seed=seed, buffer_size=config.shuffle_buffer)
    return split_dataset_by_node(ds, rank=rank, world_size=world_size)


# Balancing sources. The collection that tools/collect_photos.py writes names each file SOURCE__name.jpg.
# Its sources differ a hundredfold in size (one game's landing scenery is 43% of the training photos), and a
# model that sees one source that often learns its palette as "the" colour of what it does not recognise.
# So an epoch repeats the photos of smaller sources (each repeat a new crop and new damage) until no source
# is more than a given share of it: every photo stays in every epoch, none is dropped.
MAX_REPEATS = 6  # times one photo may appear in a balanced epoch: more would learn a tiny source by heart


def balanced_files(files: list[str], max_share: float, max_repeats: int) -> list[str]:
    """`files` with the photos of smaller sources repeated, so that no source is above `max_share` of
    the list where repeats of at most `max_repeats` each allow it.

    The smallest source (by its count in the list so far) gets one more repeat at a time, as long as
    that keeps it within the share itself, so small sources rise together and none is repeated more
    than it needs. Order: as given, repeats after.
    """
    if not 0.0 < max_share <= 1.0 or max_repeats < 1:
        raise ValueError("max_share must be in (0, 1] and max_repeats at least 1")
    groups: dict[str | None, list[str]] = defaultdict(list)
    for file in files:
        groups[source_of(file)].append(file)
    repeats = dict.fromkeys(groups, 1)

    def count(source: str | None) -> int:
        return len(groups[source]) * repeats[source]

    while True:
        total = sum(map(count, groups))
        over = {s for s in groups if count(s) > max_share * total}
        liftable = [s for s in groups if repeats[s] < max_repeats
                    and count(s) + len(groups[s]) <= max_share * (total + len(groups[s]))]
        if not over or not liftable:
            break
        repeats[min(liftable, key=lambda s: (count(s), s or ""))] += 1
    out = list(files)
    for source, times in repeats.items():
        out += groups[source] * (times - 1)
    if len(groups) > 1:
        largest, n = Counter(map(source_of, out)).most_common(1)[0]
        share = n / len(out)
        log.info("balanced %d photos of %d sources into an epoch of %d; largest source %r at %.0f%%%s",
                 len(files), len(groups), len(out), largest, 100 * share,
                 "" if share <= max_share + 1e-9 else f" (above {100 * max_share:.0f}%: repeats capped at "
                 f"{max_repeats})")
    return out


def _image_files(root: Path) -> list[str]:
    """Every file under `root` that Pillow reads by its extension, in a fixed order."""
    extensions = set(Image.registered_extensions())
    return sorted(str(p) for p in root.rglob("*") if p.is_file() and p.suffix.lower() in extensions)


def decode(record: dict, min_short_side: int) -> Image.Image:
    """An undecoded image record ({"bytes", "path"}) -> upright PIL image.

    JPEGs are decoded at the smallest 1/2^k scale that still leaves `min_short_side` pixels,
    which makes big photos several times cheaper. Raises whatever the decoder raises.
    """
    data, path = record.get("bytes"), record.get("path")
    if data is not None:
        image = Image.open(io.BytesIO(data))
    elif path is not None and os.path.exists(path):
        image = Image.open(path)
    else:  # a remote file of a Hub folder dataset: let datasets fetch it (with the user's token)
        return datasets.Image().decode_example(record)
    width, height = image.size
    factor = min_short_side / max(min(width, height), 1)
    if factor < 1.0:
        image.draft(None, (max(1, math.ceil(width * factor)), max(1, math.ceil(height * factor))))
    image.load()
    return ImageOps.exif_transpose(image)


def random_crop(image: Image.Image, size: int, min_crop: float, rng: np.random.Generator) -> Image.Image:
    """A random square (side a random fraction of the short side), resized to size, maybe mirrored."""
    width, height = image.size
    side = max(1, round(min(width, height) * rng.uniform(min_crop, 1.0)))
    left = int(rng.integers(0, width - side, endpoint=True))
    top = int(rng.integers(0, height - side, endpoint=True))
    crop = image.crop((left, top, left + side, top + side))
    crop = crop.resize((size, size), Image.Resampling.BICUBIC, reducing_gap=2.0)
    return crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else crop


Pair = tuple[np.ndarray, np.ndarray, np.ndarray]  # clean RGB crop (S, S, 3), its film gray, that gray damaged (S, S)


def make_pair(photo: Image.Image, size: int, min_crop: float, degrade_config: DegradeConfig,
              rng: np.random.Generator) -> Pair:
    """RGB photo -> (clean RGB crop, the film's gray of it, that gray damaged), all uint8."""
    crop = random_crop(photo.convert("RGB"), size, min_crop, rng)
    film = photograph(crop, degrade_config.emulsion, rng)  # the crop as a black-and-white negative saw it
    damaged = degrade(film, degrade_config, rng)  # ... printed, aged and scanned
    return np.array(crop), np.array(film), np.array(damaged)  # np.array: writable copies for torch


def sample(item: tuple[int, int, dict], *, size: int, config: DataConfig, degrade_config: DegradeConfig, seed: int,
           rank: int) -> Pair | Skipped:
    """One (epoch, position, record) -> (clean RGB crop, film gray, damaged gray), or why it was skipped.

    A module-level function of its arguments alone, so that worker processes can run it: every random
    choice comes from (seed, rank, epoch, position), whichever worker draws it.
    """
    epoch, position, record = item
    rng = np.random.default_rng([seed, rank, epoch, position])
    try:
        photo = decode(record, min_short_side=math.ceil(size / config.min_crop))
    except Exception as err:  # any decoder failure: truncated, not an image, bomb, fetch error
        return Skipped("unreadable", f"{_where(record, epoch, position)}: {type(err).__name__}: {first_line(err)}")
    if min(photo.size) < MIN_SIDE_OF_CROP * size:
        return Skipped("too small", f"{_where(record, epoch, position)}: {photo.width}x{photo.height} px "
                                    f"for {size} px crops")
    if is_grayscale(photo, config.gray_tolerance):
        return Skipped("grayscale")
    return make_pair(photo, size, config.min_crop, degrade_config, rng)


def _where(record: dict, epoch: int, position: int) -> str:
    """A record's file, or its place in the stream when it has none (a Hub record), for log lines."""
    return record.get("path") or f"record {position} of epoch {epoch}"


def _worker_pool(config: DataConfig) -> Executor | None:
    """Where samples are made: worker processes, threads, or (None) the loader thread itself."""
    if config.decode_processes > 0:
        # forkserver: the training process already runs threads, which fork() must not copy
        return ProcessPoolExecutor(config.decode_processes, mp_context=multiprocessing.get_context("forkserver"),
                                   initializer=torch.set_num_threads, initargs=(1,))
    return ThreadPoolExecutor(config.decode_threads) if config.decode_threads > 0 else None


def to_batch(pairs: list[Pair]) -> Batch:
    """uint8 pairs -> normalised model tensors, converted in one go."""
    crops, films, damaged = (np.stack(part) for part in zip(*pairs))
    rgb = torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255.0
    lightness = color.gray_to_l(torch.from_numpy(films).unsqueeze(1).float() / 255.0)
    ab = color.rgb_to_lab(rgb)[:, 1:]
    targets = torch.cat([color.normalize_l(lightness), color.normalize_ab(ab)], dim=1)
    gray = torch.from_numpy(damaged).unsqueeze(1).float() / 255.0
    return Batch(inputs=color.normalize_l(color.gray_to_l(gray)), targets=targets)


class PairStream:
    """Endless batches of training pairs for one process, prepared ahead in background threads.

    `state` always describes the position right after the last batch handed out, so saving it
    with a checkpoint and passing it back in resumes with exactly the next batch.
    """

    def __init__(self, source: datasets.IterableDataset, config: DataConfig, degrade_config: DegradeConfig, *,
                 size: int, batch_size: int, seed: int, rank: int = 0, state: StreamState | None = None):
        self.source, self.config, self.degrade_config = source, config, degrade_config
        self.size, self.batch_size, self.seed, self.rank = size, batch_size, seed, rank
        self.state = StreamState(**asdict(state)) if state else StreamState()
        self._queue: queue.Queue = queue.Queue(maxsize=_PREFETCH_BATCHES)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="pair-stream", daemon=True)
        self._thread.start()

    def __iter__(self) -> PairStream:
        return self

    def __next__(self) -> Batch:
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        batch, self.state = item
        return batch

    def close(self) -> None:
        """Stop the background thread (batches prepared ahead are dropped; `state` stays exact)."""
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.1)
            except queue.Empty:
                pass
        self._thread.join()

    def _records(self, state: StreamState) -> Iterator[tuple[int, int, dict]]:
        """(epoch, position, record) forever, epoch after epoch, starting at `state`; advances `state`."""
        while True:
            self.source.set_epoch(state.epoch)
            for record in itertools.islice(iter(self.source), state.position, None):
                state.position += 1
                yield state.epoch, state.position - 1, record[self.config.image_column]
            if state.position == 0:
                raise DataError(f"dataset {self.config.dataset!r}: this process's shard is empty")
            state.epoch, state.position = state.epoch + 1, 0

    def _produce(self) -> None:
        state = StreamState(**asdict(self.state))
        records = self._records(state)
        last_useful_epoch = state.epoch
        make = functools.partial(sample, size=self.size, config=self.config, degrade_config=self.degrade_config,
                                 seed=self.seed, rank=self.rank)
        pool = _worker_pool(self.config)
        try:
            while not self._stop.is_set():
                pairs: list[Pair] = []
                while len(pairs) < self.batch_size:
                    chunk = list(itertools.islice(records, self.batch_size - len(pairs)))
                    results = pool.map(make, chunk, chunksize=4) if pool else map(make, chunk)
                    for (epoch, _, _), result in zip(chunk, results):
                        if not isinstance(result, Skipped):
                            pairs.append(result)
                            state.used += 1
                            last_useful_epoch = epoch
                            continue
                        if epoch > last_useful_epoch + 1:  # a whole epoch went by without one usable photo
                            raise DataError(f"dataset {self.config.dataset!r}: no usable colour photo in this "
                                            f"process's shard ({state.grayscale} grayscale, {state.too_small} too "
                                            f"small to crop at {self.size} px, {state.unreadable} unreadable)")
                        if result.reason == "grayscale":
                            state.grayscale += 1
                        elif result.reason == "too small":
                            state.too_small += 1
                            if state.too_small <= _LOGGED_FAILURES:
                                log.warning("skipping a photo too small to crop (%d so far): %s", state.too_small,
                                            result.detail)
                        else:
                            state.unreadable += 1
                            if state.unreadable <= _LOGGED_FAILURES:
                                log.warning("skipping an unreadable image (%d so far): %s", state.unreadable,
                                            result.detail)
                self._put((to_batch(pairs), StreamState(**asdict(state))))
        except BaseException as err:  # hand any failure to the training loop, which raises it
            self._put(err)
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)

    def _put(self, item: object) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
