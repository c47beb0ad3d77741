"""Finding, reading and writing photos: images of any kind into full-resolution lightness, results
written safely.

Every Pillow mode a scan can arrive in (1-bit, gray, 16-bit gray, palette, RGB(A), CMYK,
YCbCr, LAB, HSV) becomes one float lightness map; EXIF orientation is applied first so
the result is the right way up. Large images are converted in strips so memory stays a
small multiple of the image itself.
"""

from __future__ import annotations

import glob
import io
import os
import re
import secrets
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from colorizer import color
from colorizer.io import provenance
from colorizer.settings import DEFAULT_MAX_PIXELS
from colorizer.errors import ImageError

IMAGE_SUFFIXES = {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}
GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "F"}
GRAY_TOLERANCE = 6  # is_grayscale's default (8-bit levels)
STRIP_PIXELS = 1 << 17  # pixels converted at a time: small enough that temporaries stay in cache

ImageSource = str | os.PathLike | bytes | BinaryIO | Image.Image
NOTES = "notes"  # key in a PIL image's .info: things worth telling the person about this image
_PILLOW_LIMIT = threading.Lock()  # Image.MAX_IMAGE_PIXELS is global: set it from ours one decode at a time


@dataclass
class Photo:
    """A decoded input photo, ready for colorizing."""

    lightness: torch.Tensor  # (1, H, W) float32, L in [0, 100], full resolution
    alpha: Image.Image | None  # mode "L" alpha of the input, re-attached to the output
    notes: list[str] = field(default_factory=list)  # e.g. "only the first of 12 frames was used"
    exif: bytes | None = None  # the original's EXIF worth keeping in the result (colorizer.io.provenance)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), like PIL."""
        return self.lightness.shape[-1], self.lightness.shape[-2]


def open_image(source: ImageSource, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode `source` fully, upright (EXIF orientation applied); raise ImageError if unusable.

    Pillow's own decompression-bomb limit is set from `max_pixels` while decoding, so the limit
    reported is the one that applied. `image.info["notes"]` says when only the first frame of an
    animation (or multi-page file) was kept.
    """
    if isinstance(source, Image.Image):
        return _decode(source, "image", max_pixels, owned=False)
    name = os.fspath(source) if isinstance(source, (str, os.PathLike)) else "upload"
    fp = io.BytesIO(source) if isinstance(source, bytes) else source
    with _PILLOW_LIMIT:
        default_limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, max_pixels
        try:
            with warnings.catch_warnings():
                # Pillow warns above its limit and refuses above twice it; between the two, our
                # own check below refuses with the image's real size
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                try:
                    image = Image.open(fp)
                except FileNotFoundError:
                    raise ImageError(f"{name}: no such file") from None
                except IsADirectoryError:
                    raise ImageError(f"{name}: is a folder, not an image") from None
                except Image.DecompressionBombError:
                    raise ImageError(f"{name}: image is above the limit of {max_pixels / 1e6:g} megapixels, "
                                     "more than twice over (a decompression bomb?); downscale it first") from None
                except (UnidentifiedImageError, OSError) as err:
                    raise ImageError(f"{name}: not an image Pillow can read ({err})") from None
                return _decode(image, name, max_pixels, owned=True)
        finally:
            Image.MAX_IMAGE_PIXELS = default_limit


def _decode(image: Image.Image, name: str, max_pixels: int, owned: bool) -> Image.Image:
    """Check the size, load the first frame, apply EXIF orientation; notes go to image.info.

    owned: the image was opened here, so an upright single frame is used as it is (its file is closed
    once loaded); a caller's image is always copied (by exif_transpose), never changed."""
    width, height = image.size
    if width * height > max_pixels:
        raise ImageError(
            f"{name}: {width}x{height} is {width * height / 1e6:.0f} megapixels, above the limit of "
            f"{max_pixels / 1e6:g} megapixels; downscale it first"
        )
    if width < 1 or height < 1:
        raise ImageError(f"{name}: image has no pixels")
    notes = list(image.info.get(NOTES, []))
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        notes.append(f"the file holds {frames} frames (an animation or several pages): "
                     "only the first was colorized")
    try:
        image.load()
        if not owned or frames > 1 or image.getexif().get(ExifTags.Base.Orientation, 1) != 1:
            image = ImageOps.exif_transpose(image)
    except Image.DecompressionBombError:
        raise ImageError(f"{name}: a frame is above the limit of {max_pixels / 1e6:g} megapixels, "
                         "more than twice over (a decompression bomb?)") from None
    except (OSError, SyntaxError, ValueError) as err:  # truncated or damaged data
        raise ImageError(f"{name}: the file is damaged or truncated ({err})") from None
    image.info[NOTES] = notes
    return image


def read_photo(source: ImageSource, max_pixels: int = DEFAULT_MAX_PIXELS) -> Photo:
    """Open any image and return its full-resolution lightness (and alpha, if any)."""
    image = open_image(source, max_pixels)
    notes, alpha, exif = list(image.info.get(NOTES, [])), None, provenance.kept_exif(image)
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        alpha = image.getchannel("A")
        image = image.convert("RGB")
    return Photo(lightness=_lightness(image), alpha=alpha, notes=notes, exif=exif)


def lightness_to_image(lightness: torch.Tensor) -> Image.Image:
    """(1, H, W) L in [0, 100] -> 8-bit gray PIL image (sRGB-encoded, as a scan of a print is)."""
    gray = color.l_to_gray(lightness[0]).mul(255.0).add(0.5).clamp(0, 255).to(torch.uint8)
    return Image.fromarray(gray.numpy(), "L")


def image_to_lightness(image: Image.Image) -> torch.Tensor:
    """8-bit gray PIL image -> (1, H, W) L in [0, 100]."""
    return _lut_lightness(np.asarray(image.convert("L")))


def gray_image(source: ImageSource, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """The photo in black and white: its lightness alone, as an 8-bit "L" image of the same size.

    What a black-and-white print of the scene looks like (Lab with a = b = 0); a gray 8-bit
    photo comes back unchanged.
    """
    return gray_of(open_image(source, max_pixels))


def gray_of(image: Image.Image, weights: tuple[float, float, float] | None = None) -> Image.Image:
    """`gray_image` of a decoded, upright image in memory (a training crop, say): its lightness alone,
    as an 8-bit "L" image of the same size, without the file checks and EXIF handling of a new input.
    `weights`: the gray an old film records instead (`colorizer.evaluate.emulsion.emulsion_gray`)."""
    return lightness_to_image(_lightness(image, weights))


def is_grayscale(image: Image.Image, tolerance: int = GRAY_TOLERANCE) -> bool:
    """Whether a photo is black-and-white already (no colour to learn from or score against): a gray
    mode, or RGB whose channels differ by at most `tolerance` 8-bit levels (99th percentile), as a gray
    photo saved as RGB or JPEG does. A toned print (sepia) is a colour photo by this rule."""
    if image.mode in GRAY_MODES:
        return True
    rgb = image.convert("RGB")
    rgb = rgb.reduce(max(1, min(rgb.size) // 64))  # a 64 px view is enough to see colour
    pixels = np.asarray(rgb, dtype=np.int16)
    spread = pixels.max(axis=-1) - pixels.min(axis=-1)
    return float(np.percentile(spread, 99)) <= tolerance


def _lightness(image: Image.Image, weights: tuple[float, float, float] | None = None) -> torch.Tensor:
    """PIL image of any mode -> (1, H, W) float32 L in [0, 100]; colour through `color.rgb_to_l(weights)`."""
    if image.mode in ("1", "L"):
        return _lut_lightness(np.asarray(image.convert("L")))
    if image.mode.startswith("I") or image.mode == "F":
        gray = np.asarray(image, dtype=np.float32)
        top = 65535.0 if image.mode.startswith("I;16") or gray.max(initial=0) > 255 else 255.0
        if image.mode == "F" and gray.max(initial=0) <= 1.0:
            top = 1.0
        return _in_strips(np.clip(gray / top, 0.0, 1.0)[None], color.gray_to_l)
    rgb = np.asarray(image.convert("RGB"))  # palette, CMYK, YCbCr, LAB, HSV: Pillow knows them all
    if _is_gray(rgb):
        return _lut_lightness(rgb[..., 0])
    return _in_strips(rgb.transpose(2, 0, 1), lambda x: color.rgb_to_l(x / 255.0, weights))


def _is_gray(rgb: np.ndarray) -> bool:
    """True when every pixel has R == G == B (a gray photo saved as RGB), checked cheaply."""
    return bool(np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]))


def _lut_lightness(gray: np.ndarray) -> torch.Tensor:
    """8-bit gray (H, W) -> (1, H, W) L via a 256-entry table computed by the colour module."""
    table = color.gray_to_l(torch.arange(256, dtype=torch.float32) / 255.0).numpy()
    return torch.from_numpy(table[gray]).unsqueeze(0)


def _in_strips(array: np.ndarray, fn) -> torch.Tensor:
    """Apply `fn` ((C, h, W) float tensor -> (1, h, W)) to horizontal strips of (C, H, W) `array`."""
    channels, height, width = array.shape
    out = torch.empty(1, height, width)
    rows = max(1, STRIP_PIXELS // max(width, 1))
    for top in range(0, height, rows):
        strip = torch.from_numpy(np.array(array[:, top : top + rows], dtype=np.float32))
        out[:, top : top + rows] = fn(strip)
    return out


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


@contextmanager
def atomic_target(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary file to write instead of `path`, renamed to `path` when the block ends without an
    error and removed when it raises: a crash or a full disk never leaves a half-written file at `path`.

    The temporary file is `.<name>.<pid>.<random>.tmp` next to `path`; if the process is killed
    (kill -9, power loss) before it is renamed, `remove_stale_temps` removes it on the next run.
    It is created with mode 0666 less the umask, as any new file (0644 under the usual 022):
    not mkstemp's 0600, which would leave results only their owner can read.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp: Path | None = None
    try:  # the creation too: a Ctrl-C that lands just after os.open must not leave the file behind
        while True:
            tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
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


def find_images(inputs: list[str]) -> tuple[list[Path], list[str]]:
    """Expand files, folders and globs into image and film paths; also return a message for each input
    that could not be used (matched nothing, or is a symlink to nothing).

    The same file under two spellings (relative, absolute, through a symlink) is taken once.
    Results of this package (they carry its provenance) found in folders or globs are never inputs, so its
    OUTDIR may be, or be inside, an input folder; a result named explicitly is taken.
    """
    from colorizer.io.video import VIDEO_SUFFIXES  # films are found in folders too (av: only when searching)

    found: dict[Path, Path] = {}  # real path -> the spelling first given
    problems: list[str] = []

    def add(path: Path, expanded: bool) -> None:
        if path.is_symlink() and not path.exists():
            problems.append(f"skipped {path}: a symlink to {os.readlink(path)}, which does not exist")
        elif not (expanded and provenance.is_colorized(path)):
            found.setdefault(path.resolve(), path)

    suffixes = IMAGE_SUFFIXES | VIDEO_SUFFIXES
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            for p in sorted(path.rglob("*")):
                if p.suffix.lower() in suffixes and (p.is_file() or p.is_symlink()):
                    add(p, expanded=True)
        elif path.is_file() or path.is_symlink():
            add(path, expanded=False)
        elif matches := sorted(glob.glob(item, recursive=True)):
            for m in map(Path, matches):
                if m.is_file() or (m.is_symlink() and not m.exists()):
                    add(m, expanded=True)
        else:
            problems.append(f"skipped {item}: no such file, folder or match")
    return list(found.values()), problems
