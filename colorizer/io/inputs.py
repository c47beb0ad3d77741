"""Finding the inputs of a run: files, folders and globs expanded into the photos and films to colorize,
leaving out this tool's own results."""

from __future__ import annotations

import glob
import os
from pathlib import Path

from colorizer.io import provenance
from colorizer.io.images import IMAGE_SUFFIXES
from colorizer.io.video import VIDEO_SUFFIXES


def find_images(inputs: list[str]) -> tuple[list[Path], list[str]]:
    """Expand files, folders and globs into image and film paths; also return a message for each input
    that could not be used (matched nothing, or is a symlink to nothing).

    The same file under two spellings (relative, absolute, through a symlink) is taken once.
    Results of this package (they carry its provenance) found in folders or globs are never inputs, so its
    OUTDIR may be, or be inside, an input folder; a result named explicitly is taken.
    """

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
