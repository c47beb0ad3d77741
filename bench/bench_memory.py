"""Peak memory (RSS) of one request, as the app serves it, at each render size, with and without restore.

    nice -n 10 python -m bench.bench_memory      # the app's worst case: 50 MP, render 2048, restore off/on
    nice -n 10 python -m bench.bench_memory --megapixels 1 12 50 --render-sizes 512 2048 --restore off
    nice -n 10 python -m bench.bench_memory --megapixels 0.04 --render-sizes 1536 --repeat 3 --glibc-default

Each case runs in a fresh process (so its peak is its own): load the weights (embedded default
unless --weights), then do what app.py does for one photo: decode it under the pixel limit,
colorize (restoring first when asked), make the gray "before" image, write the PNG. The process's
peak RSS (VmHWM) is read after loading and after the request; the difference is what the request
cost. The photo is scikit-image's `coffee`, gray, resized and saved as a JPEG, as a scan would be.
--repeat N runs N requests in turn, each on a new thread (as a server does); seconds are per request.
colorizer.pipelines.memory's estimate is printed next to each measurement, so the estimate can be checked.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.photo import gray_coffee

CHILD = r"""
import json, sys, threading, time
import torch
torch.set_num_threads({threads})
from colorizer.io.files import save_image
from colorizer.io.images import gray_image, open_image
from colorizer.pipelines.colorizer import Colorizer
from colorizer.pipelines.memory import return_freed_memory_to_the_os
from tools.proc_status import vm_kib
if {mallopt}:
    return_freed_memory_to_the_os()  # as the app and the CLI do

colorizer = Colorizer.from_pretrained({weights!r}, device="cpu")
loaded = vm_kib("VmHWM") * 1024  # peak resident, bytes

def request():
    image = open_image({photo!r}, {max_pixels})
    after = colorizer.colorize(image, {render_size}, 1.0, {max_pixels}, {restore})
    before = gray_image(image)
    save_image(after, {out!r}, compress_level=1)

start = time.perf_counter()
for _ in range({repeat}):  # each on a new thread, as a server's worker threads run them
    worker = threading.Thread(target=request)
    worker.start()
    worker.join()
seconds = (time.perf_counter() - start) / {repeat}
print(json.dumps({{"loaded": loaded, "peak": vm_kib("VmHWM") * 1024, "seconds": seconds}}))
"""


def make_photo(megapixels: float, folder: Path) -> tuple[Path, int, int]:
    """A gray JPEG of about `megapixels`, 3:2 (bench.photo's coffee), as a scan is uploaded."""
    photo = gray_coffee(megapixels)
    path = folder / f"coffee-{megapixels:g}mp.jpg"
    photo.save(path, quality=90)
    return path, photo.width, photo.height


def measure(photo: Path, render_size: int, restore: bool, args: argparse.Namespace, folder: Path) -> dict:
    code = CHILD.format(mallopt=not args.glibc_default, repeat=args.repeat, threads=args.threads,
                        weights=args.weights, photo=str(photo),
                        max_pixels=args.max_pixels, render_size=render_size, restore=restore,
                        out=str(folder / "out.png"))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=args.timeout)
    if result.returncode != 0:
        tail = result.stderr.strip().splitlines()[-1:] or [f"exit {result.returncode}"]
        return {"error": f"exit {result.returncode}: {tail[0]}"}
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog="\n".join(__doc__.split("\n")[1:]),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--megapixels", type=float, nargs="+", default=[50.0],
                   help="photo sizes to try, in megapixels [50: the app's limit]")
    p.add_argument("--render-sizes", type=int, nargs="+", default=[2048], help="[%(default)s: the maximum]")
    p.add_argument("--restore", choices=("on", "off", "both"), default="both", help="[%(default)s]")
    p.add_argument("--weights", default=None, help="weights source [embedded default]")
    p.add_argument("--max-pixels", type=int, default=50_000_000, help="pixel limit, as the app's [%(default)s]")
    p.add_argument("--threads", type=int, default=torch_threads(), help="torch threads [%(default)s]")
    p.add_argument("--glibc-default", action="store_true",
                   help="leave glibc's adaptive mmap threshold on (as before colorizer.pipelines.memory set it)")
    p.add_argument("--repeat", type=int, default=1,
                   help="requests in turn per case, each on a new thread; the peak is after all [%(default)s]")
    p.add_argument("--timeout", type=int, default=1800, help="seconds per case [%(default)s]")
    args = p.parse_args()

    from colorizer.pipelines.memory import estimate_request_bytes

    restores = {"on": [True], "off": [False], "both": [False, True]}[args.restore]
    print(f"# Peak memory per request ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{args.threads} torch threads, weights: {args.weights or 'embedded default'})\n")
    print("| photo | render size | restore | seconds | peak RSS (MiB) | after loading (MiB) | request (MiB) "
          "| estimate (MiB) |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for megapixels in args.megapixels:
            photo, width, height = make_photo(megapixels, folder)
            for restore in restores:
                for render_size in args.render_sizes:
                    r = measure(photo, render_size, restore, args, folder)
                    estimate = estimate_request_bytes(width, height, render_size, restore) / 2**20
                    label = f"{width}x{height} ({width * height / 1e6:.2g} MP)"
                    if "error" in r:
                        print(f"| {label} | {render_size} | {'on' if restore else 'off'} | {r['error']} | | | "
                              f"| {estimate:.0f} |", flush=True)
                        continue
                    print(f"| {label} | {render_size} | {'on' if restore else 'off'} | {r['seconds']:.1f} "
                          f"| {r['peak'] / 2**20:.0f} | {r['loaded'] / 2**20:.0f} "
                          f"| {(r['peak'] - r['loaded']) / 2**20:.0f} | {estimate:.0f} |", flush=True)


def torch_threads() -> int:
    return min(os.cpu_count() or 1, 2)


if __name__ == "__main__":
    main()
