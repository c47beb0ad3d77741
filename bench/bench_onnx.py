"""PyTorch against ONNX Runtime, and int8 quantization, at render size 512: speed and colour quality.

    python -m bench.bench_onnx                                   # about 10 minutes on 2 shared cores
    python -m bench.bench_onnx --holdout DIR --calibration DIR --threads 2 --repeats 10

Variants (all of the same weights, default: the embedded default):
    pytorch        the baked generator in PyTorch, as the pipeline runs it
    ort-none       the exported model (python -m colorizer.export --dynamic-size), graph optimisation off
    ort-basic      ... ONNX Runtime's basic graph optimisations (constant folding, redundant nodes)
    ort-all        ... ORT_ENABLE_ALL (also layout and fusion rewrites): ONNX Runtime's default
    int8-dynamic   onnxruntime.quantization.quantize_dynamic: int8 weights, activations quantized per call
    int8-static    quantize_static (QDQ, per-channel weights) calibrated on --calibration-count photos
                   from --calibration (training photos; never the holdout)
Latency: one 512x512 lightness (scikit-image's 'coffee'), batch 1, --threads threads, variants
interleaved round by round (a shared machine drifts) and the median taken; ratios are to pytorch.
Quality, on every photo of --holdout turned gray and colorized at render size 512 as
`python -m colorizer.evaluate` does: mean and max |dab| (Lab units, at render size) against the
pytorch variant's ab, and mean PSNR of the result against the original colour photo.
A quantized variant is worth keeping when mean |dab| < 1 and it loses < 0.2 dB PSNR.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from colorizer import color
from colorizer.evaluate import metrics
from colorizer.evaluate.report import gray_input
from colorizer.export import export_onnx
from colorizer.io.images import Photo, gray_image, open_image, read_photo
from colorizer.io.inputs import find_images
from colorizer.models import hub
from colorizer.models.onnx_model import OnnxGenerator
from colorizer.pipelines.photo import join_lightness, render_shape, resize_lightness

RENDER_SIZE = 512
KEEP_MAX_MEAN_DAB, KEEP_MAX_PSNR_LOSS = 1.0, 0.2  # the bar for keeping a quantized model


def lightness_input(image: Image.Image, shape: tuple[int, int]) -> np.ndarray:
    """(1, 1, h, w) float32 normalised L of a photo resized to `shape`, as the pipeline feeds the model."""
    return color.normalize_l(resize_lightness(read_photo(gray_image(image)).lightness, shape))[None].numpy()


class Calibration:
    """onnxruntime's CalibrationDataReader protocol: the model inputs of a few training photos."""

    def __init__(self, paths: list[Path]):
        self.inputs = []
        for path in paths:
            image = open_image(path).convert("RGB")
            self.inputs.append({"l_norm": lightness_input(image, render_shape(*image.size, RENDER_SIZE))})
        self._iter = iter(self.inputs)

    def get_next(self) -> dict | None:
        return next(self._iter, None)

    def rewind(self) -> None:
        self._iter = iter(self.inputs)


def build_variants(work: Path, weights: str | None, calibration: list[Path]) -> dict[str, Path]:
    """Export the fp32 model and its int8 quantizations into `work`."""
    from onnxruntime.quantization import (
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    fp32 = export_onnx(work / "model.onnx", weights, dynamic_size=True)
    prepared = work / "model.prep.onnx"  # shapes inferred and graph optimised, as the quantizer recommends
    quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
    quantize_dynamic(prepared, work / "model.int8-dynamic.onnx", weight_type=QuantType.QInt8)
    quantize_static(prepared, work / "model.int8-static.onnx", Calibration(calibration), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    return {"fp32": fp32, "int8-dynamic": work / "model.int8-dynamic.onnx",
            "int8-static": work / "model.int8-static.onnx"}


def runners(files: dict[str, Path], weights: str | None, threads: int) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """Each variant as (B, 1, H, W) normalised L -> (B, C, H, W) generator output."""
    torch.set_num_threads(threads)
    generator, _ = hub.load_generator(hub.resolve(weights))
    generator.bake()
    return {
        "pytorch": generator,
        "ort-none": OnnxGenerator(files["fp32"], threads, "disable"),
        "ort-basic": OnnxGenerator(files["fp32"], threads, "basic"),
        "ort-all": OnnxGenerator(files["fp32"], threads, "all"),
        "int8-dynamic": OnnxGenerator(files["int8-dynamic"], threads, "all"),
        "int8-static": OnnxGenerator(files["int8-static"], threads, "all"),
    }


@torch.inference_mode()
def latency(run: dict[str, Callable], repeats: int) -> dict[str, float]:
    """Median seconds per 512x512 forward, variants interleaved round by round."""
    import skimage.data

    x = torch.from_numpy(lightness_input(Image.fromarray(skimage.data.coffee()), (RENDER_SIZE, RENDER_SIZE)))
    times: dict[str, list[float]] = {name: [] for name in run}
    for fn in run.values():
        fn(x)  # warm-up: first calls allocate
    for _ in tqdm(range(repeats), desc="latency", unit="round"):
        for name, fn in run.items():
            start = time.perf_counter()
            fn(x)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


@torch.inference_mode()
def quality(run: dict[str, Callable], holdout: list[Path]) -> dict[str, tuple[float, float, float]]:
    """Per variant: (mean |dab|, max |dab|) against pytorch, and mean PSNR (dB) against the originals."""
    dab: dict[str, list[float]] = {name: [] for name in run}
    dab_max = dict.fromkeys(run, 0.0)
    psnr: dict[str, list[float]] = {name: [] for name in run}
    gain = run["pytorch"].config.chroma_gain  # as the pipeline applies it (Colorizer.predict_ab_at)
    for path in tqdm(holdout, desc="holdout", unit="photo"):
        original = np.asarray(open_image(path).convert("RGB"))
        photo: Photo = gray_input(original)
        x = color.normalize_l(resize_lightness(photo.lightness, render_shape(*photo.size, RENDER_SIZE)))[None]
        reference = None
        for name, fn in run.items():
            ab = color.denormalize_ab(fn(x)[0, :2]).float() * gain
            reference = ab if reference is None else reference  # pytorch comes first
            difference = (ab - reference).abs()
            dab[name].append(float(difference.mean()))
            dab_max[name] = max(dab_max[name], float(difference.max()))
            psnr[name].append(metrics.psnr(join_lightness(photo.lightness, ab), original))
    return {name: (float(np.mean(dab[name])), dab_max[name], float(np.mean(psnr[name]))) for name in run}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default=None, help="weights to export (hub.resolve's sources) [embedded default]")
    p.add_argument("--holdout", type=Path, default=Path("/work/data/photos/holdout"), help="photos to score [%(default)s]")
    p.add_argument("--calibration", type=Path, default=Path("/work/data/photos/train"),
                   help="training photos for static quantization's calibration [%(default)s]")
    p.add_argument("--calibration-count", type=int, default=8, help="calibration photos, spread over the folder [%(default)s]")
    p.add_argument("--threads", type=int, default=2, help="PyTorch and ONNX Runtime intra-op threads [%(default)s]")
    p.add_argument("--repeats", type=int, default=10, help="timed rounds [%(default)s]")
    p.add_argument("--skip-quality", action="store_true", help="latency only (no holdout run)")
    args = p.parse_args()

    holdout, _ = find_images([str(args.holdout)])
    pool = [path for path in find_images([str(args.calibration)])[0] if "plasma" not in path.name.lower()]
    calibration = pool[:: max(1, len(pool) // args.calibration_count)][: args.calibration_count]
    with tempfile.TemporaryDirectory() as work:
        files = build_variants(Path(work), args.weights, calibration)
        sizes = {name: path.stat().st_size / 1e6 for name, path in files.items()}
        run = runners(files, args.weights, args.threads)
        speed = latency(run, args.repeats)
        scores = {name: (float("nan"),) * 3 for name in run} if args.skip_quality else quality(run, holdout)

    print(f"\n## ONNX Runtime against PyTorch, render size {RENDER_SIZE}\n")
    print(f"{platform.processor() or platform.machine()}, {args.threads} threads, weights: "
          f"{args.weights or 'embedded default'}; latency: 512x512, batch 1, median of {args.repeats}; "
          f"quality: {len(holdout)} photos of {args.holdout}; static calibration: {len(calibration)} photos of "
          f"{args.calibration}\n")
    print("| variant | file (MB) | seconds | x pytorch | mean \\|dab\\| | max \\|dab\\| | PSNR (dB) | PSNR loss (dB) | keep |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    base_t, base_psnr = speed["pytorch"], scores["pytorch"][2]
    for name in run:
        mean_dab, max_dab, psnr = scores[name]
        size = f"{sizes.get(name, sizes['fp32']):.1f}" if name != "pytorch" else "-"
        keep = "" if not name.startswith("int8") or args.skip_quality else (
            "yes" if mean_dab < KEEP_MAX_MEAN_DAB and base_psnr - psnr < KEEP_MAX_PSNR_LOSS else "no")
        print(f"| {name} | {size} | {speed[name]:.3f} | {speed[name] / base_t:.2f} | {mean_dab:.3f} | "
              f"{max_dab:.2f} | {psnr:.2f} | {base_psnr - psnr:.3f} | {keep} |")


if __name__ == "__main__":
    main()
