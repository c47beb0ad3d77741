"""The README.md that goes with every exported model: how it was trained, on what, how it scored,
and for a generator, held-out photos it colorized (samples.png beside the card, as diffusers'
`save_model_card` shows its images)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import yaml
from PIL import Image

from colorizer.errors import ColorizerError
from colorizer.evaluate import Report, evaluate
from colorizer.evaluate.photos import HUE_HITS_DEFINITION
from colorizer.evaluate.report import contact_sheet, fmt
from colorizer.models import hub
from colorizer.models.generator import Generator
from colorizer.pipelines.colorizer import Colorizer
from train.data import StreamState

log = logging.getLogger(__name__)

SAMPLES_FILE = "samples.png"
CARD_RENDER_SIZE = 256  # small and quick: the card shows the model's colour, not its finest detail
CARD_PHOTOS = 6  # rows of the card's picture


def held_out_results(generator: Generator, photos: str | Path) -> tuple[Report, Image.Image] | None:
    """Colorize the held-out colour photos in `photos` with a copy of `generator`, as inference runs it
    (baked, on the CPU), scored as `python -m colorizer.evaluate` scores them, with their contact sheet
    (gray | ours | original). None, with a warning, when there is nothing to show."""
    # A new model with the same weights, not a deepcopy: baking removes spectral norm's parametrizations,
    # and a deepcopy shares their dynamically made module classes with the model still training.
    model = Generator(generator.config)
    model.load_state_dict({k: v.detach().cpu() for k, v in generator.state_dict().items()})
    model.eval().bake()
    colorizer = Colorizer(model, hub.Weights(Path(photos), "the exported generator"), torch.device("cpu"))
    try:
        report = evaluate(photos, colorizer, CARD_RENDER_SIZE, sheet_rows=CARD_PHOTOS)
    except ColorizerError as err:
        log.warning("model card without held-out pictures: %s", err)
        return None
    return report, contact_sheet(report.sheet, report.sheet_columns)


def _held_out_section(report: Report, photos: str) -> str:
    """Hue hits and the colourfulness gap first, PSNR beside them: PSNR alone rewards dull colour."""
    mean, summary = report.mean(), report.summary()
    rows = "\n".join(f"| {m} | {fmt(summary[m]['hue_hits'], '.3f')} | {s.delta_cf:+.1f} | "
                     f"{summary[m]['abs_delta_cf']:.1f} | {s.psnr:.2f} | {s.ssim:.3f} |" for m, s in mean.items())
    return f"""
## Held-out photos

{len(report.images)} colour photos from `{photos}` (never trained on), turned gray and colorized at render size
{report.render_size}; gray | this model | original, the first {len(report.sheet)}:

![held-out results]({SAMPLES_FILE})

| method | hue hits | colourfulness gap | mean absolute gap | PSNR (dB) | SSIM |
|---|---:|---:|---:|---:|---:|
{rows}

- {HUE_HITS_DEFINITION}
- colourfulness gap: the result's colourfulness (Hasler and Suesstrunk) minus the original's (mean of the
  originals: {report.mean_original_colorfulness():.1f}); below 0 is duller

This model's colour is better than gray (PSNR) on {report.better_than_gray()} of the {len(report.images)} photos.
"""


def model_card(*, kind: str, phase: str, global_step: int, config: dict, shape: dict, data: StreamState,
               world_size: int, metrics: dict[str, float], loss_source: str, encoder_source: str,
               held_out: Report | None = None) -> str:
    """kind: "generator" or "critic"; shape: the trained generator's config (from --init_generator's
    weights, if given, else the run's options); data: the totals over all processes; metrics: last logged
    values; held_out: the generator's scores on the held-out photos (their picture is SAMPLES_FILE)."""
    dataset = config["data"]["dataset"]
    from_preset = config["generator_preset"] and shape == config["generator"]  # not from --init_generator
    generator = (f"preset `{config['generator_preset']}`, " if from_preset else "") + \
        f"encoder `{shape['encoder']}`, decoder {shape['decoder_channels']}" + (", restores" if shape["restore"] else "")
    front = {"library_name": "colorizer", "tags": ["image-colorization", "nogan", kind],
             "pipeline_tag": "image-to-image"}
    if "/" in dataset and not dataset.startswith((".", "/", "~")):
        front["datasets"] = [dataset]
    losses = "\n".join(f"| {name} | {value:.4f} |" for name, value in sorted(metrics.items())) or "| (none) | |"
    usage = (
        "```python\nfrom colorizer.pipelines.photo import Colorizer\n\n"
        "colorizer = Colorizer.from_pretrained(\"<this repo or folder>\")\n"
        "colorizer.colorize(\"old-photo.jpg\").save(\"colorized.png\")\n```"
        if kind == "generator" else
        "```python\nfrom train.critic import Critic\n\n"
        "critic = Critic.from_pretrained(\"<folder>\", strict=True)\n```"
    )
    return f"""---
{yaml.safe_dump(front, sort_keys=False).strip()}
---

# NoGAN colorizer {kind}: phase `{phase}`, global step {global_step}

Exported by `train/nogan.py`, trained on {world_size} process(es). Generator: {generator};
encoder ImageNet weights: {encoder_source}.

## Usage

{usage}

{_held_out_section(held_out, config["card_photos"]) if held_out is not None else ""}
## Data

- dataset: `{dataset}` (split `{config["data"]["split"]}`), colour photos only
- samples used: {data.used}; skipped: {data.grayscale} grayscale, {data.too_small} too small to crop, {data.unreadable} unreadable
- inputs: the photo's lightness damaged by `colorizer.evaluate.degrade` (settings below); targets: the photo in Lab

## Measured losses

Means over the last logging window of this phase (feature loss: {loss_source}).

| loss | value |
|---|---|
{losses}

## Training configuration

```yaml
{yaml.safe_dump(config, sort_keys=False).strip()}
```
"""
