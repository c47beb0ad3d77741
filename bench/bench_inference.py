"""Inference speed and memory, as ratios measured in one run on this machine.

    python -m bench.bench_inference               # everything (a few minutes on 2 cores)
    python -m bench.bench_inference --skip-memory # no 50 MP run
    python -m bench.bench_inference --device cuda # the same on a GPU (memory: the GPU's peak allocation)

1. Model cost: each generator preset, and the `lite` decoder on EfficientNet-Lite1 and -Lite2
   (baked, as the pipeline runs it) against a plain
   torchvision resnet34 forward at the same input size.
2. End to end: a 12-megapixel JPEG on disk -> decode -> model at render size (two passes: the
   photo and its mirror image, as the pipeline runs it) -> upsample ->
   join with full-res L -> encode (PNG and JPEG), per stage.
3. Peak memory of colorizing a 50-megapixel photo, in a fresh process (ru_maxrss; on a GPU, also
   torch's peak allocation there, which is what runs out first on a card).
4. A render size above the photo's own size (`--above-own-size`): a 512 px photo colorized at the
   default and at render size 2048, which the pipeline lowers to the photo's own 512 (the whole CLI
   run, and colorize() alone), against the model run at 2048 regardless, as it was before that cap.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision
from PIL import Image

from bench.photo import gray_coffee
from bench.timing import best_of
from colorizer.errors import DeviceError
from colorizer.io.images import read_photo
from colorizer.models.generator import PRESETS, Generator, preset
from colorizer.pipelines.colorizer import Colorizer
from colorizer.pipelines.photo import join_lightness, render_shape, resize_lightness, resolve_device
from colorizer.settings import DEFAULT_RENDER_SIZE


def synced(fn: Callable[[], object], device: torch.device) -> Callable[[], object]:
    """`fn` that returns only when a GPU has finished it (kernels run asynchronously)."""
    if device.type != "cuda":
        return fn
    return lambda: (fn(), torch.cuda.synchronize(device))


@torch.inference_mode()
def model_ratios(size: int, repeats: int, device: torch.device) -> None:
    x3, x1 = torch.rand(1, 3, size, size, device=device), torch.rand(1, 1, size, size, device=device) * 2 - 1
    resnet = torchvision.models.resnet34().eval().to(device)
    base = best_of(synced(lambda: resnet(x3), device), repeats)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} threads"
    print(f"\n## Model forward at {size}x{size}, batch 1 ({where})\n")
    print("| model | params (M) | seconds | x resnet34 |")
    print("|---|---:|---:|---:|")
    print(f"| torchvision resnet34 | {sum(p.numel() for p in resnet.parameters()) / 1e6:.1f} | {base:.3f} | 1.0 |")
    shapes = {f"`{name}`": preset(name) for name in PRESETS}
    for encoder in ("efficientnet_lite1", "efficientnet_lite2"):  # the candidates for the default's encoder
        shapes[f"`lite` decoder on {encoder}"] = dataclasses.replace(preset("lite"), encoder=encoder)
    for name, shape in shapes.items():
        model = Generator(shape).bake().to(device)
        t = best_of(synced(lambda: model(x1), device), repeats)
        params = sum(p.numel() for p in model.parameters()) / 1e6
        print(f"| generator {name} | {params:.1f} | {t:.3f} | {t / base:.2f} |")


def end_to_end(megapixels: float, render_size: int, repeats: int, weights: str | None, device: torch.device) -> None:
    photo = gray_coffee(megapixels, aspect=4 / 3)
    width, height = photo.size
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=92)
    data = buffer.getvalue()
    colorizer = Colorizer.from_pretrained(weights, device=str(device))
    stages: dict[str, float] = {}

    def run_once() -> None:
        t0 = time.perf_counter()
        photo = read_photo(data)
        t1 = time.perf_counter()
        ab = colorizer.predict_ab([photo], render_size)[0]
        t2 = time.perf_counter()
        image = Image.fromarray(join_lightness(photo.lightness, ab))
        t3 = time.perf_counter()
        image.save(io.BytesIO(), format="PNG", compress_level=1)
        t4 = time.perf_counter()
        image.save(io.BytesIO(), format="JPEG", quality=95)
        t5 = time.perf_counter()
        for key, value in (("decode + lightness", t1 - t0), ("model at render size (photo and mirror image)", t2 - t1),
                           ("upsample + join + to sRGB", t3 - t2), ("encode PNG (level 1)", t4 - t3),
                           ("encode JPEG (q95)", t5 - t4)):
            stages[key] = min(stages.get(key, float("inf")), value)

    run_once()
    for _ in range(repeats):
        run_once()
    print(f"\n## End to end, {width}x{height} ({width * height / 1e6:.1f} MP) JPEG, render size {render_size}, "
          f"weights: {colorizer.description} ({colorizer.generator.config.encoder}), on {device}\n")
    print("| stage | seconds (best of runs) |")
    print("|---|---:|")
    for key, value in stages.items():
        print(f"| {key} | {value:.3f} |")
    core = sum(v for k, v in stages.items() if not k.startswith("encode"))
    print(f"| **total with PNG** | **{core + stages['encode PNG (level 1)']:.3f}** |")
    print(f"| **total with JPEG** | **{core + stages['encode JPEG (q95)']:.3f}** |")


def above_own_size(long_side: int, render_size: int, repeats: int, weights: str | None, device: torch.device) -> None:
    """A photo of `long_side` pixels at the default render size and at `render_size`, which the pipeline lowers
    to the photo's own size: the whole CLI run as a user times it (a fresh process: start, model load,
    colorize, save), colorize() alone in this process, and the model alone at `render_size` regardless, as
    it ran before the cap (timed once: minutes on a CPU)."""
    photo = gray_coffee(None)
    photo = photo.resize((long_side, round(long_side * photo.height / photo.width)), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    photo.save(buffer, format="PNG")
    data = buffer.getvalue()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo.png"
        path.write_bytes(data)
        for size in (DEFAULT_RENDER_SIZE, render_size):
            command = [sys.executable, "-m", "colorizer", str(path), "-o", str(Path(tmp) / "out"), "--overwrite",
                       "--render-size", str(size), "--device", str(device)] + (["--weights", weights] if weights else [])
            rows.append((f"`python -m colorizer photo.png -o out --render-size {size}` (whole run)",
                         best_of(lambda: subprocess.run(command, check=True, capture_output=True), repeats)))
    colorizer = Colorizer.from_pretrained(weights, device=str(device))
    for size in (DEFAULT_RENDER_SIZE, render_size):
        rows.append((f"colorize() at render size {size}, in one process",
                     best_of(synced(lambda: colorizer.colorize(data, render_size=size), device), repeats)))
    [note] = [n for n in colorizer.colorize(data, render_size=render_size).info["notes"] if "lowered" in n]
    small = resize_lightness(read_photo(data).lightness, render_shape(*photo.size, render_size))
    start = time.perf_counter()
    synced(lambda: colorizer.predict_at([small]), device)()
    rows.append((f"the model alone at {render_size}, as before the cap (one run)", time.perf_counter() - start))
    print(f"\n## Render size above the photo's own size: a {photo.width}x{photo.height} photo, on {device}\n")
    print("| run | seconds (best of runs) |")
    print("|---|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.3f} |")
    print(f"\nnote: {note}")


def peak_memory(megapixels: float, render_size: int, weights: str | None, device: torch.device) -> None:
    """Run in a child so its ru_maxrss is this job alone."""
    with tempfile.TemporaryDirectory() as tmp:
        photo = gray_coffee(megapixels)
        width, height = photo.size
        path = Path(tmp) / "big.jpg"
        photo.save(path, quality=90)
        del photo  # tens of MB: not kept while the child runs
        code = (
            "import resource, torch\n"
            "from colorizer.pipelines.photo import Colorizer\n"
            "c = Colorizer.from_pretrained(%r, device=%r)\n"
            "gpu = c.device.type == 'cuda'\n"
            "loaded = torch.cuda.max_memory_allocated() if gpu else 0\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "out = c.colorize(%r, render_size=%d)\n"
            "out.save(%r, compress_level=1)\n"
            "done = torch.cuda.max_memory_allocated() if gpu else 0\n"
            "print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, loaded, done)\n"
        ) % (weights, str(device), str(path), render_size, str(Path(tmp) / "o.png"))
        before, after, gpu_loaded, gpu_done = map(int, subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())
    print(f"\n## Peak memory, {width}x{height} ({width * height / 1e6:.0f} MP) photo, render size {render_size}\n")
    print(f"- process peak RSS after loading the model: {before / 1024:.0f} MiB")
    print(f"- process peak RSS after colorizing and saving: {after / 1024:.0f} MiB "
          f"(+{(after - before) / 1024:.0f} MiB; the RGB output alone is {width * height * 3 / 2**20:.0f} MiB)")
    if device.type == "cuda":
        print(f"- GPU memory allocated at its peak: {gpu_loaded / 2**20:.0f} MiB with the model loaded, "
              f"{gpu_done / 2**20:.0f} MiB while colorizing")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512, help="square input size for the model table")
    parser.add_argument("--render-size", type=int, default=DEFAULT_RENDER_SIZE,
                        help=f"render size for end-to-end runs [{DEFAULT_RENDER_SIZE}, the default]")
    parser.add_argument("--megapixels", type=float, default=12.0, help="photo size for the end-to-end run")
    parser.add_argument("--memory-megapixels", type=float, default=50.0, help="photo size for the memory run")
    parser.add_argument("--weights", default=None, help="weights for end-to-end runs (default: embedded)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement (best is kept)")
    parser.add_argument("--skip-memory", action="store_true", help="skip the 50 MP memory run")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--above-own-size", action="store_true",
                        help="only section 4: render size 2048 on a 512 px photo (minutes on a CPU)")
    args = parser.parse_args()
    try:
        device = resolve_device(args.device)
    except DeviceError as err:  # a GPU this machine lacks: one line, as the CLI says it
        parser.error(str(err))
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, python {platform.python_version()}")
    if args.above_own_size:
        above_own_size(512, 2048, args.repeats, args.weights, device)
        return
    model_ratios(args.size, args.repeats, device)
    end_to_end(args.megapixels, args.render_size, args.repeats, args.weights, device)
    if not args.skip_memory:
        peak_memory(args.memory_megapixels, args.render_size, args.weights, device)


if __name__ == "__main__":
    main()
