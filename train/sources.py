"""A local photo collection by source, and an epoch that no one source dominates.

The collection that `tools/collect_photos.py` writes names each file `SOURCE__name.jpg`. Its sources
differ a hundredfold in size (one game's landing scenery is a third of it), and a model that sees one
source that often learns that source's palette as "the" colour of everything it does not recognise.
So an epoch repeats the photos of smaller sources (each repeat is a new random crop and new damage)
until no source is more than a given share of it. Repeating, rather than dropping photos of the large
sources, keeps every photo in every epoch.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from pathlib import Path

log = logging.getLogger(__name__)

SEPARATOR = "__"  # SOURCE__name.jpg
MAX_REPEATS = 6  # times one photo may appear in a balanced epoch: more would learn a tiny source by heart


def source_of(name: str | Path) -> str:
    """The source a collected photo came from ("" for a file not named SOURCE__name)."""
    source, sep, _ = Path(name).name.partition(SEPARATOR)
    return source if sep else ""


def balanced_files(files: list[str], max_share: float, max_repeats: int) -> list[str]:
    """`files` with the photos of smaller sources repeated, so that no source is above `max_share` of
    the list where repeats of at most `max_repeats` each allow it.

    The smallest source (by its count in the list so far) gets one more repeat at a time, as long as
    that keeps it within the share itself, so small sources rise together and none is repeated more
    than it needs. Order: as given, repeats after.
    """
    if not 0.0 < max_share <= 1.0 or max_repeats < 1:
        raise ValueError("max_share must be in (0, 1] and max_repeats at least 1")
    groups: dict[str, list[str]] = defaultdict(list)
    for file in files:
        groups[source_of(file)].append(file)
    repeats = dict.fromkeys(groups, 1)

    def count(source: str) -> int:
        return len(groups[source]) * repeats[source]

    while True:
        total = sum(map(count, groups))
        over = {s for s in groups if count(s) > max_share * total}
        liftable = [s for s in groups if repeats[s] < max_repeats
                    and count(s) + len(groups[s]) <= max_share * (total + len(groups[s]))]
        if not over or not liftable:
            break
        repeats[min(liftable, key=lambda s: (count(s), s))] += 1
    out = list(files)
    for source, times in repeats.items():
        out += groups[source] * (times - 1)
    largest, share = _largest(out)
    if len(groups) > 1:
        log.info("balanced %d photos of %d sources into an epoch of %d; largest source %r at %.0f%%%s",
                 len(files), len(groups), len(out), largest, 100 * share,
                 "" if share <= max_share + 1e-9 else f" (above {100 * max_share:.0f}%: repeats capped at "
                 f"{max_repeats})")
    return out


def _largest(files: list[str]) -> tuple[str, float]:
    """The source with the most entries in `files`, and its share of them."""
    counts = Counter(map(source_of, files))
    source, n = counts.most_common(1)[0] if counts else ("", 0)
    return source, n / max(len(files), 1)
