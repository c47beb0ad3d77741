"""Export the generator to ONNX, for apps, phones and browsers where PyTorch is too heavy.

    python -m colorizer.export --onnx model.onnx                                # embedded default
    python -m colorizer.export --onnx model.onnx --weights user/name --push-to-hub user/name
    python -m colorizer --weights model.onnx photos/ -o out/                    # run it (ONNX Runtime, CPU)

The ONNX model is only the network, L -> ab, with the encoder's stride-8 and stride-16 features as two
more outputs (reference colour matches by them; colorizer.models.onnx_model has the shapes); the Lab
conversion, resizing and restoration tiles stay in Python/NumPy around it (colorizer.pipelines.photo).
It is made by torch.onnx's dynamo exporter (torch.export + onnxscript), from the baked generator
(spectral norm frozen, batch norm folded). By default it takes any batch and any height and width
that are multiples of 32, as the pipeline renders; with --fixed-size N, one N x N square only, into
which every photo is squeezed or padded: its colour then differs from PyTorch's (by about 2 ab units
on average for a landscape photo at 384).

Self-attention runs as one block in the ONNX graph: its scores take (H/8 * W/8)^2 * 4 bytes,
64 MiB at render size 512 and 1 GiB at 1024 (PyTorch computes them in bounded chunks instead).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from colorizer.errors import ColorizerError, WeightsError, first_line
from colorizer.settings import DEFAULT_RENDER_SIZE, MAX_RENDER_SIZE, MIN_RENDER_SIZE, check_settings

if TYPE_CHECKING:
    from colorizer.models.generator import Generator

log = logging.getLogger("colorizer.export")
MIN_OPSET = 18  # the oldest opset the dynamo exporter writes


def export_onnx(target: str | Path, weights: str | None = None, opset: int | None = None,
                dynamic_size: bool = True, size: int = DEFAULT_RENDER_SIZE) -> Path:
    """Write the generator of `weights` (hub.resolve's sources) to `target` as one ONNX file, atomically, and its
encoder alone beside it (colorizer.models.onnx_model.encoder_file).

    The generator's config.json goes into the model's metadata (colorizer.models.onnx_model.CONFIG_KEY).
    """
    check_export(opset, size)  # before loading: a bad option should not wait for a download
    return export_generator(*baked_generator(weights), target, opset, dynamic_size, size)


def baked_generator(weights: str | None) -> tuple["Generator", str]:
    """The generator of `weights`, baked for inference, and where it came from (for the metadata)."""
    from colorizer.models import hub

    resolved = hub.resolve(weights)
    if resolved.onnx_file is not None:
        raise ColorizerError(f"--weights {weights}: already an ONNX model; export from a safetensors folder or Hub repo")
    generator, source = hub.load_generator(resolved)
    if source.fallback_reason:
        raise WeightsError(source.fallback_reason)  # exporting the embedded default instead would surprise
    generator.bake()
    return generator, source.description


def check_export(opset: int | None, size: int) -> None:
    """ColorizerError for an option the exporter cannot honour, or the exporter's packages missing."""
    try:
        import onnx
        import onnxscript  # noqa: F401  (torch.onnx's dynamo exporter needs it)
    except ImportError as err:
        raise ColorizerError(f"exporting needs {err.name}: pip install -r requirements-train.txt") from None
    newest = onnx.defs.onnx_opset_version()
    if opset is not None and not MIN_OPSET <= opset <= newest:
        raise ColorizerError(f"--opset {opset}: the exporter writes opsets {MIN_OPSET} to {newest} "
                             f"(the newest the installed onnx {onnx.__version__} knows)")
    if check_settings(render_size=size)[0].render_size != size:
        raise ColorizerError(f"--size {size}: must be a render size the pipeline runs at, a multiple of 32 "
                             f"from {MIN_RENDER_SIZE} to {MAX_RENDER_SIZE}")


def export_generator(generator: "Generator", source: str, target: str | Path, opset: int | None = None,
                     dynamic_size: bool = True, size: int = DEFAULT_RENDER_SIZE) -> Path:
    """export_onnx for a generator already loaded and baked (baked_generator), its options checked
    (check_export). Logs each file it writes: the export takes tens of seconds on a CPU, and writes two."""
    import onnx
    import torch
    from onnx.utils import Extractor
    from torch.export import Dim

    from colorizer.io.files import atomic_target
    from colorizer.models.onnx_model import CONFIG_KEY, FEATURE_OUTPUTS, encoder_file

    target = Path(target)
    if dynamic_size:
        # batch 2 and 256x320 while tracing: sizes of 1 would be fixed into the graph
        example = torch.zeros(2, 1, 256, 320)
        sides = MAX_RENDER_SIZE // 32
        shapes = {"l_norm": {0: Dim("batch", min=1, max=64), 2: 32 * Dim("height32", min=1, max=sides),
                             3: 32 * Dim("width32", min=1, max=sides)}}
    else:
        example = torch.zeros(2, 1, size, size)
        shapes = {"l_norm": {0: Dim("batch", min=1, max=64)}}

    class WithFeatures(torch.nn.Module):
        """The generator with its encoder's features as two more outputs (Generator.with_features)."""

        def __init__(self, generator: "Generator"):
            super().__init__()
            self.generator = generator

        def forward(self, l_norm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            out, (s8, s16) = self.generator.with_features(l_norm)
            return out, s8, s16

    started = time.monotonic()
    try:
        with torch.no_grad():
            program = torch.onnx.export(WithFeatures(generator).eval(), (example,), input_names=["l_norm"],
                                        output_names=["ab", *FEATURE_OUTPUTS],
                                        opset_version=opset, dynamo=True, dynamic_shapes=shapes,
                                        external_data=False, verbose=False)
    except Exception as err:  # the exporter's own error types vary by version
        raise ColorizerError(f"ONNX export failed ({type(err).__name__}: {first_line(err)})") from None
    model = program.model_proto
    meta = {CONFIG_KEY: json.dumps(asdict(generator.config)), "colorizer.weights": source}
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    log.info("traced and converted in %.0f s", time.monotonic() - started)
    # the encoder alone, for describing reference pictures (its features are the outputs after ab)
    encoder = Extractor(model).extract_model([model.graph.input[0].name], list(FEATURE_OUTPUTS))
    with atomic_target(encoder_file(target)) as temp:
        onnx.save_model(encoder, temp)
    _wrote(encoder_file(target), "the encoder alone, which describes colour references")
    with atomic_target(target) as temp:
        onnx.save_model(model, temp)
    _wrote(target, "the generator, L -> ab and the encoder's features")
    return target


def _wrote(file: Path, what: str) -> None:
    log.info("wrote %s (%.1f MB): %s", file, file.stat().st_size / 1e6, what)


def max_ab_difference(onnx_file: str | Path, generator: "Generator", shape: tuple[int, int] = (256, 320)) -> float:
    """Largest |ab| difference, in Lab units, between the ONNX model and the (baked) generator it was made
    from, on a smooth test pattern."""
    import torch

    from colorizer import color
    from colorizer.models.onnx_model import OnnxGenerator

    h, w = shape
    ramp = torch.linspace(-1, 1, w)[None, :] * torch.cos(torch.linspace(0, 6, h))[:, None]
    x = ramp[None, None].clamp(-1, 1)
    with torch.inference_mode():
        ours, theirs = generator(x)[:, :2], OnnxGenerator(onnx_file)(x)[:, :2]
    return float((color.denormalize_ab(ours) - color.denormalize_ab(theirs)).abs().max())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m colorizer.export",
        description="Export the generator (L -> ab) to an ONNX file that runs with ONNX Runtime: pass it to "
        "python -m colorizer --weights FILE.onnx, Colorizer.from_pretrained('FILE.onnx') or COLORIZER_WEIGHTS.")
    p.add_argument("--onnx", type=Path, required=True, metavar="FILE", help="the ONNX file to write (replaced atomically)")
    p.add_argument("--weights", default=None, metavar="SRC",
                   help="Hub repo id (user/name) or local folder with config.json + model.safetensors; "
                   "default: the weights embedded in this package")
    p.add_argument("--opset", type=int, default=None, metavar="N",
                   help=f"ONNX opset to write ({MIN_OPSET} or newer) [the exporter's recommended one]")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--dynamic-size", action="store_true",
                      help="any batch size and any height and width that are multiples of 32, as the pipeline "
                      "renders at every render size (the default; the flag is kept for older scripts)")
    size.add_argument("--fixed-size", "--size", dest="size", type=int, default=None, metavar="N",
                      help="export for one N x N square only (a multiple of 32), for runtimes that cannot take "
                      "dynamic shapes. It costs fidelity: every photo is fitted into that square, so its colour "
                      "differs from PyTorch's (about 2 ab units on average for a landscape photo at 384), and "
                      "the render size setting no longer applies")
    p.add_argument("--push-to-hub", default=None, metavar="REPO",
                   help="also upload the file to this Hub repo as model.onnx, beside its safetensors (needs HF_TOKEN "
                   "or `hf auth login`); run it later with --weights REPO --backend onnx")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for chatty in ("onnxscript", "onnx_ir"):  # the exporter's optimiser logs every rewrite at INFO
        logging.getLogger(chatty).setLevel(logging.WARNING)
    args = parse_args(argv)
    try:
        dynamic_size, size = args.size is None, args.size or DEFAULT_RENDER_SIZE
        check_export(args.opset, size)
        log.info("loading %s", args.weights or "the embedded default weights")
        generator, source = baked_generator(args.weights)
        log.info("exporting %s for %s: torch.onnx traces and converts the whole network, which takes a while on "
                 "a CPU", source, "any batch, height and width (multiples of 32)" if dynamic_size
                 else f"one {size} x {size} square")
        path = export_generator(generator, source, args.onnx, args.opset, dynamic_size, size)
        log.info("checking it against PyTorch on a test pattern")
        shape = (256, 320) if dynamic_size else (size, size)
        log.info("max |ab| difference from PyTorch: %.4f Lab units", max_ab_difference(path, generator, shape))
    except ColorizerError as err:
        log.error("error: %s", err)
        return 1
    except OSError as err:  # the target folder cannot be made or written
        log.error("error: could not write %s (%s)", args.onnx, err)
        return 1
    if args.push_to_hub:
        from colorizer.models import hub

        try:
            log.info("uploaded: %s", hub.push_onnx(path, args.push_to_hub))
        except Exception as err:  # network, auth, permissions: the local file is written either way
            log.error("error: could not upload %s to %s (%s: %s)", path, args.push_to_hub, type(err).__name__,
                      first_line(err))
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
