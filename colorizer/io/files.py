"""Writing files and folders so that a crash, a kill or a full disk never leaves half of one behind.

Every result, export and training checkpoint goes through `atomic_target` (a file) or
`atomic_folder` (a folder): write a temporary sibling, then rename it into place.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from PIL import Image

from colorizer.errors import ImageError


def save_image(image: Image.Image, path: str | os.PathLike, **params) -> Path:
    """Encode `image` by the suffix of `path` and write it with `write_atomically`."""
    fmt = image_format(path)
    return write_atomically(path, lambda fh: encodable(image, fmt).save(fh, format=fmt, **params))


def image_format(path: str | os.PathLike) -> str:
    """Pillow's format name for the suffix of `path` ("PNG", "JPEG" ...); ImageError if unknown."""
    fmt = Image.registered_extensions().get(Path(path).suffix.lower())
    if fmt is None:
        raise ImageError(f"{path}: unknown image extension {Path(path).suffix!r}")
    return fmt


def encodable(image: Image.Image, fmt: str) -> Image.Image:
    """`image` in a mode `fmt` can store: JPEG has no alpha, so RGBA becomes RGB."""
    return image.convert("RGB") if fmt == "JPEG" and image.mode == "RGBA" else image


NAME_MAX = 255  # bytes in one file name (Linux, macOS; NTFS counts UTF-16 units, never more than UTF-8 bytes)
_UNNAMEABLE = re.compile(r"[\x00-\x1f\x7f/\\]")  # NUL, control characters, folder separators


def fitted_name(stem: str, tail: str = "", max_bytes: int = NAME_MAX) -> str:
    """`stem + tail` as one file name the file system takes: at most max_bytes in UTF-8, the stem cut short
    at a character boundary and the tail (an extension, "-colorized.png") kept whole, so the name still
    says what the file is. NUL, control characters and slashes (which no name may hold, or which would
    make it a path) become "_"; so does an empty stem.

    Names derived from a person's own (an upload's, an input's) get longer than theirs, and the longest
    allowed name plus a suffix is too long: without this the work is done and then fails on its name."""
    stem, tail = _UNNAMEABLE.sub("_", stem), _UNNAMEABLE.sub("_", tail)
    room = max_bytes - len(tail.encode())
    if room < 1:
        raise ValueError(f"no room for a name before {tail!r} in {max_bytes} bytes")
    cut = stem.encode()[:room].decode(errors="ignore")  # a character cut in half is dropped whole
    return (cut or "_") + tail


@contextmanager
def atomic_target(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary file to write instead of `path`, renamed to `path` when the block ends without an
    error and removed when it raises: a crash or a full disk never leaves a half-written file at `path`.

    The temporary file is `.<name>.<pid>.<random>.tmp` next to `path` (<name> cut short, its extension
    kept, when that would be too long a name: fitted_name); if the process is killed
    (kill -9, power loss) before it is renamed, `remove_stale_temps` removes it on the next run.
    It is created with mode 0666 less the umask, as any new file (0644 under the usual 022):
    not mkstemp's 0600, which would leave results only their owner can read.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp: Path | None = None
    try:  # the creation too: a Ctrl-C that lands just after os.open must not leave the file behind
        while True:
            tmp = path.parent / fitted_name(f".{path.stem}", f"{path.suffix}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
            try:
                os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666))
                break
            except FileExistsError:
                continue
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        if tmp is not None:  # a name with our pid: if it exists, this process made it
            tmp.unlink(missing_ok=True)
        raise


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Write a file through `write(fh)` atomically (see atomic_target)."""
    with atomic_target(path) as tmp, open(tmp, "wb") as fh:
        write(fh)
    return Path(path)


# atomic_target's names for what the CLI writes into an output folder (photos, films): nothing else is touched.
_TEMP_NAME = re.compile(r"^\..+\.(?:png|jpe?g|webp|tiff?|mp4|m4v|mov|mkv)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$",
                        re.IGNORECASE)


STALE_TEMP_AGE_S = 24 * 3600  # a temp whose writer seems alive (its pid may have been reused) is stale after this


def remove_stale_temps(folder: str | os.PathLike) -> list[Path]:
    """Delete save_image temporaries in `folder` left by a process that no longer runs; returns them.

    A temp whose writer is still alive (another run into the same folder) is left alone. Only names of
    exactly atomic_target's shape for a photo or film are candidates: an output folder can be one a person
    keeps other files in (their home, say), and other programs' hidden .tmp files are theirs.
    """
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        match = _TEMP_NAME.match(entry.name)
        if not match or not entry.is_file() or entry.is_symlink():
            continue
        try:
            age = time.time() - entry.stat().st_mtime
        except FileNotFoundError:
            continue
        pid = int(match.group("pid"))
        writer_alive = pid != os.getpid() and _process_exists(pid)
        if writer_alive and age < STALE_TEMP_AGE_S:
            continue
        entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


@contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """An empty temporary sibling folder to fill instead of `path`; when the block ends without an error it
    takes `path`'s place, and when it raises it is removed. Model exports and training checkpoints use it.

    Only renames change `path`: the old folder is renamed aside, the new one renamed in, then the old one
    deleted, so a reader sees the complete old folder or the complete new one, never a half-deleted
    mixture (at worst, after a kill between the two renames, no folder). One writer per path: the
    temporary names are fixed (`.<name>.tmp`, `.<name>.old`), so a killed writer's leftovers are cleared
    by the next write.
    """
    path = Path(path).absolute()
    tmp, old = path.with_name(f".{path.name}.tmp"), path.with_name(f".{path.name}.old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if path.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old)
    else:
        os.replace(tmp, path)
