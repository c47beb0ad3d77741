"""Training throughput of each NoGAN phase at its crop size, and of the data pipeline feeding it.

    python -m bench.bench_train                      # lite generator, CPU, all phases
    python -m bench.bench_train --generator-only --encoder efficientnet_lite2   # the lite decoder on another encoder
    python -m bench.bench_train --preset tiny --steps 5
    python -m bench.bench_train --device cuda --mixed-precision bf16 --batch-size 64 --generator-only
    python -m bench.bench_train --device cuda --mixed-precision bf16 --batch-size 64 --generator-only \
        --compile reduce-overhead --channels-last --peak-tflops 989 --steps 20 --warmup 5

Model steps run the real step functions of `train/trainer.py` (one process, no DDP) on synthetic
batches, so they measure compute alone; the data rows time `train.data` (decode, crop,
old-photo damage, Lab conversion) on JPEG re-encodings of scikit-image's colour photos, which
are ImageNet-sized. Prints a markdown table of images/s and, for model steps, the FLOPs of one
training image (forward and backward, counted by torch's FlopCounterMode), from which a GPU's
model FLOPs utilisation (MFU) is images/s x GFLOP / the chip's peak (--peak-tflops prints it).

With --compile and/or --channels-last (training's `compile` and `channels_last` options) each model row
is timed twice in the same run, plain and with them, and the table shows both and their ratio.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import itertools
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import skimage.data
import torch
from accelerate import Accelerator
from PIL import Image
from torch.utils.flop_counter import FlopCounterMode

from colorizer.errors import DeviceError
from colorizer.models.generator import Generator, preset
from colorizer.pipelines.photo import resolve_device
from train.config import TrainConfig
from train.critic import Critic
from train.data import Batch, DataConfig, PairStream, open_source
from train.losses import FEATURE_NETS
from train.phases import Gan
from train.trainer import COMPILE_MODES, Trainer

PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png")
# Untimed calls a compiled step needs at least: the compile itself, then (reduce-overhead) a CUDA graph
# warm-up run and its recording; timing starts at the first replay.
COMPILED_WARMUP = 3


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="lite", help="generator preset (default: lite)")
    parser.add_argument("--encoder", help="replace the preset's encoder (a timm name, e.g. efficientnet_lite2)")
    parser.add_argument("--feature-net", default="auto", choices=FEATURE_NETS,
                        help="perceptual loss network (auto: VGG16 if cached, else EfficientNet-Lite0)")
    parser.add_argument("--generator-only", action="store_true",
                        help="time generator pretraining steps only (no critic, GAN or data rows): to compare encoders")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--mixed-precision", default="no", choices=["no", "bf16", "fp16"],
                        help="autocast for model steps, as training's --mixed-precision (default: no)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads on CPU (default: 2)")
    parser.add_argument("--batch-size", type=int, default=4, help="batch size for every model step (default: 4)")
    parser.add_argument("--compile", default="no", choices=COMPILE_MODES,
                        help="also time each model step compiled with this torch.compile mode (default: no)")
    parser.add_argument("--channels-last", action="store_true",
                        help="also time each model step with models and batches in channels_last")
    parser.add_argument("--peak-tflops", type=float,
                        help="the chip's dense peak TFLOP/s at the precision used: adds MFU columns")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per row (default: 3)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first (default: 1)")
    parser.add_argument("--data-batches", type=int, default=8, help="timed batches per data row (default: 8)")
    parser.add_argument("--data-threads", type=int, nargs="+", default=[1, 2],
                        help="decode threads to time the data pipeline with (default: 1 2)")
    args = parser.parse_args()
    try:
        resolve_device(args.device)
    except DeviceError as err:  # a GPU this machine lacks: one line, as the CLI says it
        parser.error(str(err))
    return args


def synthetic_batch(size: int, batch: int) -> Batch:
    g = torch.Generator().manual_seed(size)
    lab = torch.cat([torch.rand(batch, 1, size, size, generator=g) * 2 - 1,
                     (torch.rand(batch, 2, size, size, generator=g) - 0.5) * 0.6], dim=1)
    return Batch(inputs=lab[:, :1].clone(), targets=lab)


def timed(step, warmup: int, steps: int, device: torch.device) -> float:
    """Seconds per call of `step`, after `warmup` untimed calls."""
    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def gflop_per_image(step, batch: int) -> float:
    """Forward + backward FLOPs of one training image, counted over one call of `step`."""
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops() / batch / 1e9


Row = tuple[str, int, int, float, float | None, float | None]  # what, size, batch, images/s, faster, GFLOP


def make_trainer(args: argparse.Namespace, compile: str, channels_last: bool) -> tuple[Trainer, TrainConfig]:
    """A trainer as training builds it, on fresh models with the same initial weights."""
    torch.manual_seed(0)
    shape = preset(args.preset)
    shape = dataclasses.replace(shape, encoder=args.encoder or shape.encoder)  # validated, unlike a set field
    config = TrainConfig(generator_preset=args.preset, generator=shape, cpu=args.device == "cpu")
    config.loss.net = args.feature_net
    accelerator = Accelerator(cpu=args.device == "cpu", mixed_precision=args.mixed_precision)
    trainer = Trainer(config.loss, accelerator, Generator(shape), Critic(config.critic),
                      encoder_lr_scale=config.pretrain.encoder_lr_scale, compile=compile, channels_last=channels_last)
    return trainer, config


def model_steps(args: argparse.Namespace, trainer: Trainer, config: TrainConfig) -> Iterator[
        tuple[str, int, Callable[[], object], int]]:
    """(what, size, one call of the step, images per call) for each phase's step at its crop size."""
    b = args.batch_size
    for size in config.pretrain.sizes:
        yield "pretrain-g (generator step)", size, functools.partial(trainer.generator_step, synthetic_batch(size, b)), b
    if args.generator_only:
        return
    size = config.critic_pretrain.size
    yield "pretrain-critic (critic step)", size, functools.partial(trainer.critic_step, synthetic_batch(size, b)), b
    trainer.start_phase(Gan.betas)
    batch = synthetic_batch(config.gan.size, b)

    def gan_iteration() -> None:  # the cheapest GAN step: one critic step, then one generator step
        trainer.critic_step(batch)
        trainer.generator_step(batch, adversarial_weight=config.gan.adversarial_weight)

    yield "gan (1 critic + 1 generator step)", config.gan.size, gan_iteration, 2 * b


def model_rows(args: argparse.Namespace) -> Iterator[Row]:
    device = torch.device(args.device)
    plain = model_steps(args, *make_trainer(args, "no", False))
    if not faster(args):
        for what, size, step, images in plain:
            yield what, size, args.batch_size, images / timed(step, args.warmup, args.steps, device), None, \
                gflop_per_image(step, images)
        return
    fast = model_steps(args, *make_trainer(args, args.compile, args.channels_last))
    for (what, size, step, images), (_, _, fast_step, _) in zip(plain, fast):
        rate = images / timed(step, args.warmup, args.steps, device)
        fast_rate = images / timed(fast_step, max(args.warmup, COMPILED_WARMUP), args.steps, device)
        yield what, size, args.batch_size, rate, fast_rate, gflop_per_image(step, images)  # FLOPs: the plain step's


def faster(args: argparse.Namespace) -> bool:
    return args.compile != "no" or args.channels_last


def data_rows(args: argparse.Namespace) -> Iterator[Row]:
    with tempfile.TemporaryDirectory() as folder:
        for name in PHOTOS:  # 450-740 px JPEGs, like ImageNet's
            image = Image.open(Path(skimage.data.__file__).parent / name).convert("RGB")
            image.save(Path(folder) / f"{Path(name).stem}.jpg", quality=90)
        for threads in args.data_threads:
            data = DataConfig(dataset=folder, shuffle_buffer=0, decode_threads=threads)
            source = open_source(data, seed=0)
            for size in (64, 128, 192):
                pairs = PairStream(source, data, TrainConfig().degrade, size=size, batch_size=args.batch_size, seed=0)
                next(pairs)
                start = time.perf_counter()
                for _ in range(args.data_batches):
                    next(pairs)
                seconds = (time.perf_counter() - start) / args.data_batches
                pairs.close()
                yield f"data pipeline, {threads} thread(s)", size, args.batch_size, args.batch_size / seconds, None, None


def mfu(rate: float, gflop: float | None, peak_tflops: float | None) -> str:
    """Model FLOPs utilisation: the share of the chip's peak that the step's own arithmetic uses."""
    return "-" if gflop is None or peak_tflops is None else f"{rate * gflop / (peak_tflops * 1e3):.1%}"


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU, {args.threads} torch threads"
    options = f"compile {args.compile}, channels_last {'on' if args.channels_last else 'off'}"
    print(f"# NoGAN training throughput: preset {args.preset}, encoder {args.encoder or 'as preset'}, "
          f"feature net {args.feature_net}, {device}, mixed precision {args.mixed_precision}, load average {load:.1f} on {os.cpu_count()} cores\n")
    columns = ["what", "size (px)", "batch", "images/s", "GFLOP/image", "MFU"]
    if faster(args):
        print(f"Each model step timed plain, then with {options}.\n")
        columns = ["what", "size (px)", "batch", "images/s plain", "images/s faster", "faster / plain", "GFLOP/image",
                   "MFU plain", "MFU faster"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    rows = model_rows(args) if args.generator_only else itertools.chain(model_rows(args), data_rows(args))
    for what, size, batch, rate, fast_rate, gflop in rows:
        cells = [what, str(size), str(batch), f"{rate:.2f}"]
        if faster(args):
            cells += ["-", "-"] if fast_rate is None else [f"{fast_rate:.2f}", f"{fast_rate / rate:.2f}"]
        cells.append("-" if gflop is None else f"{gflop:.2f}")
        cells.append(mfu(rate, gflop, args.peak_tflops))
        if faster(args):
            cells.append(mfu(fast_rate, gflop, args.peak_tflops) if fast_rate is not None else "-")
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
