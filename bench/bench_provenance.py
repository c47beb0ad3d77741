"""What writing a result's provenance costs, as ratios to writing the bare image, in one run.

    python -m bench.bench_provenance                                          # PNG and JPEG, 12 MP
    python -m bench.bench_provenance --c2pa-cert chain.pem --c2pa-key key.pem # and a signed C2PA manifest

A 12-megapixel colorized photo (scikit-image's 'coffee', resized, through the embedded weights at
render size 512) is saved three ways for each format: bare (`imaging.save_image` with the CLI's
encoder settings), with provenance (`provenance.save`: XMP and EXIF), and, with a certificate and
key, with a signed C2PA manifest too. Prints a markdown table: best-of-N seconds, ratio to bare,
and file size.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
from pathlib import Path

from bench.photo import gray_coffee
from bench.timing import best_of
from colorizer.cli import save_params
from colorizer.io import provenance
from colorizer.io.files import save_image
from colorizer.pipelines.colorizer import Colorizer


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--megapixels", type=float, default=12.0, help="size of the photo [%(default)s]")
    p.add_argument("--repeats", type=int, default=3, help="timed saves per way (best is kept) [%(default)s]")
    p.add_argument("--c2pa-cert", type=Path, default=None, help="PEM certificate chain: also time C2PA signing")
    p.add_argument("--c2pa-key", type=Path, default=None, help="PEM private key for --c2pa-cert")
    args = p.parse_args(argv)
    result = Colorizer.from_pretrained().colorize(gray_coffee(args.megapixels, aspect=4 / 3), render_size=512)
    signing = provenance.C2paSigning(args.c2pa_cert, args.c2pa_key) if args.c2pa_cert and args.c2pa_key else None
    ways = {"bare": lambda path, params: save_image(result, path, **params),
            "provenance (XMP + EXIF)": lambda path, params: provenance.save(result, path, **params)}
    if signing:
        ways["provenance + signed C2PA"] = lambda path, params: provenance.save(result, path, c2pa=signing, **params)
    print(f"\n### Saving a {result.width}x{result.height} ({result.width * result.height / 1e6:.1f} MP) result "
          f"({platform.processor() or platform.machine()}, best of {args.repeats})\n")
    print("| format | way | seconds | vs bare | file size |")
    print("|---|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        for fmt in ("png", "jpg"):
            params, base = save_params(fmt), None
            for name, save in ways.items():
                path = Path(folder) / f"{name[:4]}.{fmt}"
                seconds = best_of(lambda: save(path, params), args.repeats)
                base = base or seconds
                print(f"| {fmt.upper()} | {name} | {seconds:.3f} | {seconds / base:.3f} | "
                      f"{path.stat().st_size / 2**20:.2f} MiB |")


if __name__ == "__main__":
    main()
