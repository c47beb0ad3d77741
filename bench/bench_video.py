"""Films: flicker, accuracy, cuts, sound, speed and memory of colorize_video, as one run's ratios.

    python -m bench.bench_video                        # everything (from the checkout's root)
    python -m bench.bench_video --skip-speed --skip-memory
    python -m bench.bench_video --skip-quality --skip-memory --threads 2 --repeats 5

1. Quality, on tools/test_film.py's 480p film (still shot with fresh grain, pan, hard cut, tone):
   each way of carrying colour over time against colorizing every frame alone, same weights.
   - flicker: mean frame-to-frame change of the output's ab (Lab units) on aligned pixels (the pan's
     known shift undone), per shot, per pixel and on 8x8-pixel block means (the colour drift one sees;
     per pixel, grain in the lightness and the codec add a floor no colour can go under, shown by the
     "ideal" row: the true colours joined with the same grainy lightness);
   - PSNR (dB) of the output against the clean colour frames;
   - the cut: PSNR of the first 3 frames after it, which a colour leak would lower;
   - sound: whether every audio packet came out bit for bit.
2. Speed: seconds per frame of a 640x352 film at the films' defaults, end to end (decode, model, join,
   encode), divided by one torchvision resnet34 forward on a 1x3x352x640 input timed in the same repeat
   (the figure judged; the median of the repeats is printed).
3. Memory: resident memory after 10% and after all of a long film; flat means it streams.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from colorizer import color
from colorizer.color import lightness_of
from colorizer.evaluate import metrics
from colorizer.io.video import transcode
from colorizer.pipelines.colorizer import Colorizer
from colorizer.pipelines.film import TemporalOptions, colorize_video
from colorizer.pipelines.memory import return_freed_memory_to_the_os
from colorizer.pipelines.photo import join_lightness
from colorizer.settings import DEFAULT_CRF, DEFAULT_RENDER_SIZE
from bench.timing import best_of
from tools.proc_status import vm_kib
from tools.test_film import FilmScript, ab_of, default_photos, flicker, frames_of, packets_of, write_film

WAYS = {
    "each frame alone": TemporalOptions(memory=0.0, stride=1),
    "motion-aware average, every frame through the model, camera not followed": TemporalOptions(stride=1,
                                                                                                 follow_camera=False),
    "motion-aware average, camera not followed": TemporalOptions(follow_camera=False),
    "running average, no motion test, no cut detection": TemporalOptions(motion=math.inf, cut=2.0),
    "motion-aware average (default)": TemporalOptions(),
}
BLOCK = 8
CRF = 12  # near-transparent, so the codec adds little to what is measured


def ideal(film: Path, out: Path, script: FilmScript) -> None:
    """The true colours joined with each frame's own grainy lightness, encoded as colorize_video does."""
    def transform(grays):
        for index, gray in enumerate(grays):
            lightness = lightness_of(Image.fromarray(gray))
            ab = color.lab_of_rgb8(np.array(script.clean(index)))[1:]
            yield join_lightness(lightness, ab)

    transcode(film, out, transform, crf=CRF)


def quality(colorizer: Colorizer, folder: Path, render_size: int, per_shot: int) -> None:
    script = FilmScript.from_photos(*default_photos(), 854, 480, still=per_shot, pan=per_shot, after_cut=per_shot)
    film = folder / "test-480p.mp4"
    write_film(film, script)
    clean = [script.clean(t) for t in range(script.frames)]
    shots = {"still": range(1, script.still), "pan": range(script.still, script.cut),
             "after cut": range(script.cut + 1, script.frames)}
    print(f"\n## Quality: 854x480, {script.frames} frames (still, pan at {script.speed} px/frame, cut at frame "
          f"{script.cut}, still), grain std 8 levels, render size {render_size}, crf {CRF}\n")
    print("flicker: mean frame-to-frame ab change on aligned pixels, Lab units (per pixel / 8x8 blocks)\n")
    print(f"| way | {' | '.join(f'flicker {shot}' for shot in shots)} | PSNR (dB) | PSNR 3 frames after cut | "
          "sound bit for bit |")
    print("|---|---:|---:|---:|---:|---:|---|")
    rows = {name: folder / f"way{i}.mp4" for i, name in enumerate(WAYS)}
    for name, out in rows.items():
        colorize_video(colorizer, film, out, render_size=render_size, temporal=WAYS[name], crf=CRF)
    rows["(ideal: true colours on the grainy lightness)"] = folder / "ideal.mp4"
    ideal(film, rows["(ideal: true colours on the grainy lightness)"], script)
    sound = packets_of(film)
    for name, out in rows.items():
        rgbs = frames_of(out)
        abs_ = [ab_of(rgb) for rgb in rgbs]
        psnrs = [metrics.psnr(rgb, ref) for rgb, ref in zip(rgbs, clean)]
        cells = [f"{flicker(abs_, script, r):.2f} / {flicker(abs_, script, r, BLOCK):.2f}" for r in shots.values()]
        same_sound = packets_of(out) == sound
        print(f"| {name} | {' | '.join(cells)} | {np.mean(psnrs):.2f} | "
              f"{np.mean(psnrs[script.cut : script.cut + 3]):.2f} | {'yes' if same_sound else 'NO'} |")


def speed(colorizer: Colorizer, folder: Path, frames: int, repeats: int) -> None:
    """Per-frame seconds of colorize_video on a 640x352 film at the films' default settings, against one
    resnet34 forward on a frame of that size (random weights), both timed in each repeat: the ratio is
    what is judged, as the absolute figures move with whatever else the shared cores run."""
    import torchvision

    script = FilmScript.from_photos(*default_photos(), 640, 352, still=frames // 2, pan=0,
                                    after_cut=frames - frames // 2)
    film = folder / "speed-352.mp4"
    write_film(film, script)
    resnet = torchvision.models.resnet34().eval()
    frame = torch.randn(1, 3, 352, 640)

    def resnet_forward() -> None:
        with torch.inference_mode():
            resnet(frame)

    def colorize() -> None:
        colorize_video(colorizer, film, folder / "speed-out.mp4")

    colorize()  # warm-up: the ONNX session's first run plans its memory
    print(f"\n## Speed: 640x352, {frames} frames, render size {DEFAULT_RENDER_SIZE}, crf {DEFAULT_CRF}, "
          f"{torch.get_num_threads()} threads, {repeats} repeats\n")
    print("| repeat | resnet34 forward (s) | colorize_video per frame (s) | ratio | load average |")
    print("|---:|---:|---:|---:|---:|")
    ratios = []
    for repeat in range(repeats):
        forward = best_of(resnet_forward, 3)
        start = time.perf_counter()
        colorize()
        per_frame = (time.perf_counter() - start) / frames
        ratios.append(per_frame / forward)
        print(f"| {repeat + 1} | {forward:.3f} | {per_frame:.3f} | {ratios[-1]:.3f} | {os.getloadavg()[0]:.1f} |",
              flush=True)
    print(f"\nmedian ratio, per frame / resnet34 forward: {float(np.median(ratios)):.3f}")


def memory(colorizer: Colorizer, folder: Path, frames: int) -> None:
    script = FilmScript.from_photos(*default_photos(), 320, 180, still=frames // 2, pan=0,
                                    after_cut=frames - frames // 2)
    film = folder / "long.mp4"
    write_film(film, script)
    samples: dict[int, float] = {}
    marks = {frames // 10, frames // 4, frames // 2, 3 * frames // 4, frames}

    def sample(done: int) -> None:
        if done in marks:
            samples[done] = vm_kib("VmRSS") / 1024

    colorize_video(colorizer, film, folder / "long-out.mp4", render_size=128, progress=sample)
    print(f"\n## Memory: 320x180, {frames} frames ({frames / 24 / 60:.1f} min at 24 fps), render size 128\n")
    print("| after frame | resident (MiB) |")
    print("|---:|---:|")
    for done, mib in sorted(samples.items()):
        print(f"| {done} | {mib:.0f} |")
    print(f"\npeak resident (ru_maxrss): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=None, help="Hub repo id or folder [the embedded default]")
    parser.add_argument("--render-size", type=int, default=512, help="render size of the quality film [%(default)s]")
    parser.add_argument("--per-shot", type=int, default=12, help="frames per shot of the quality film [%(default)s]")
    parser.add_argument("--speed-frames", type=int, default=24, help="frames of the speed film [%(default)s]")
    parser.add_argument("--repeats", type=int, default=5, help="speed repeats; the median ratio counts [%(default)s]")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (and ONNX Runtime's) [torch's default]")
    parser.add_argument("--memory-frames", type=int, default=1200, help="frames of the long film [%(default)s]")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)  # before loading: the ONNX session takes torch's count
    return_freed_memory_to_the_os()  # as the CLI and the app do (colorizer.pipelines.memory)
    colorizer = Colorizer.from_pretrained(args.weights, device="cpu")
    print(f"weights: {colorizer.description}")
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_quality:
            quality(colorizer, Path(tmp), args.render_size, args.per_shot)
        if not args.skip_speed:
            speed(colorizer, Path(tmp), args.speed_frames, args.repeats)
        if not args.skip_memory:
            memory(colorizer, Path(tmp), args.memory_frames)


if __name__ == "__main__":
    main()
