"""The CPU engine at the default settings: PyTorch against ONNX Runtime, through the pipeline, on real photos.

    python -m bench.bench_engines                                  # about 2 minutes on 2 shared cores
    python -m bench.bench_engines --photos examples tests/data/holdout --render-size 384 --repeats 5

Both engines run the embedded default (PyTorch: model.safetensors, baked; ONNX Runtime: the model.onnx
shipped beside it) with the same number of threads. For each photo, turned gray: the model stage
(`predict_ab_at`: the model on the photo and its mirror image, at the render size) and the whole
`colorize` (decode, model, join at full resolution; no file written), engines interleaved round by
round (a shared machine drifts), the median per photo summed over the photos; and the mean and max
|dab| (Lab units, at render size) of ONNX Runtime's colour against PyTorch's. Also: how long each
engine takes to load, and the size of each weights file.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from colorizer import Colorizer
from colorizer.io.images import gray_image, open_image, read_photo
from colorizer.io.inputs import find_images
from colorizer.models import hub
from colorizer.settings import DEFAULT_RENDER_SIZE

ENGINES = ("pytorch", "onnx")


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--photos", nargs="+", default=["examples", "tests/data/holdout"], help="folders of colour photos")
    p.add_argument("--render-size", type=int, default=DEFAULT_RENDER_SIZE, help="[%(default)s]")
    p.add_argument("--threads", type=int, default=torch.get_num_threads(), help="intra-op threads [%(default)s]")
    p.add_argument("--repeats", type=int, default=5, help="timed rounds [%(default)s]")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    load, models = {}, {}
    for engine in ENGINES:
        load[engine], models[engine] = timed(lambda: Colorizer.from_pretrained(backend=engine, device="cpu"))
    photos = [gray_image(open_image(path).convert("RGB")) for path in find_images(args.photos)[0]]
    stage = {e: [[] for _ in photos] for e in ENGINES}
    whole = {e: [[] for _ in photos] for e in ENGINES}
    dab_mean, dab_max = [], 0.0
    for i, image in enumerate(photos):
        small = models["pytorch"]._shrink([read_photo(image)], args.render_size)
        ab = {e: models[e].predict_ab_at(small)[0] for e in ENGINES}  # warm-up, and the colour compared
        difference = (ab["onnx"] - ab["pytorch"]).abs()
        dab_mean.append(float(difference.mean()))
        dab_max = max(dab_max, float(difference.max()))
        for _ in range(args.repeats):
            for e in ENGINES:
                stage[e][i].append(timed(lambda: models[e].predict_ab_at(small))[0])
                whole[e][i].append(timed(lambda: models[e].colorize(image, args.render_size))[0])

    def total(times: dict[str, list[list[float]]], engine: str) -> float:
        return sum(statistics.median(t) for t in times[engine])

    sizes = {"pytorch": (hub.EMBEDDED_WEIGHTS / hub.WEIGHTS_FILE).stat().st_size / 1e6,
             "onnx": (hub.EMBEDDED_WEIGHTS / hub.ONNX_FILE).stat().st_size / 1e6}
    print(f"\n## The CPU engine, render size {args.render_size}\n")
    print(f"{platform.processor() or platform.machine()}, {args.threads} threads, {len(photos)} photos of "
          f"{', '.join(args.photos)}, median of {args.repeats} per photo, summed\n")
    print("| engine | weights file (MB) | load (s) | model stage (s) | x pytorch | colorize (s) | x pytorch |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for e in ENGINES:
        print(f"| {models[e].weights.engine} | {sizes[e]:.1f} | {load[e]:.2f} | {total(stage, e):.3f} | "
              f"{total(stage, e) / total(stage, 'pytorch'):.2f} | {total(whole, e):.3f} | "
              f"{total(whole, e) / total(whole, 'pytorch'):.2f} |")
    print(f"\nONNX Runtime against PyTorch: mean |dab| {statistics.mean(dab_mean):.4f}, max {dab_max:.4f} Lab units")


if __name__ == "__main__":
    main()
