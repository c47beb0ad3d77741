"""Naming the results of a run in its output folder: OUTDIR/<stem>.<suffix>, and names that never collide
when two inputs share a stem, in one run or across runs, so that a rerun skips exactly what is done."""

from __future__ import annotations

from pathlib import Path

from colorizer.io import provenance
from colorizer.io.files import fitted_name


def plan_outputs(images: list[Path], outdir: Path, suffix: str) -> list[tuple[Path, bool]]:
    """Each input's plain result name, OUTDIR/<stem>.<suffix> (the stem cut short when the name would be
    too long: fitted_name), and whether it is the first input of this run with that name (result_target)."""
    seen: set[Path] = set()
    plans = []
    for image in images:
        plain = outdir / fitted_name(image.stem, f".{suffix}")
        plans.append((plain, plain not in seen))
        seen.add(plain)
    return plans


def result_target(image: Path, plain: Path, first: bool) -> Path:
    """Where `image`'s result goes: its plain name, unless that is, or will be, another input's result; then
    <stem>-<8 hex of the image's SHA-256>.<suffix>, a name from its own content that no other input takes.

    An existing result says which original it was made from (provenance.SOURCE_KEY), so a rerun finds its
    own results (and skips them) under either name, and never takes another input's of the same name (a/x.jpg,
    then b/x.jpg) for one: b's photo is neither skipped as done nor written over a's. A plain name that
    exists without saying so (written by an older version, or another program) counts as the first input's.
    Decided from the files alone, the same in every process; the SHA-256 is read only when names meet."""
    def by_content(digest: str | None) -> Path:
        return plain if digest is None else plain.with_name(fitted_name(image.stem, f"-{digest[:8]}{plain.suffix}"))

    if plain.exists():
        try:
            facts = provenance.read(plain)
        except Exception:  # noqa: BLE001 - unreadable: as one that says nothing of its original
            facts = None
        theirs = facts.extra.get(provenance.SOURCE_KEY) if facts else None
        if theirs is not None:
            mine = provenance.source_digest(image)
            return plain if mine in (theirs, None) else by_content(mine)
    return plain if first else by_content(provenance.source_digest(image))
