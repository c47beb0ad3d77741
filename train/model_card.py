"""The README.md that goes with every exported model: how it was trained, on what, how it scored."""

from __future__ import annotations

import yaml

from train.data import StreamState


def model_card(*, kind: str, phase: str, global_step: int, config: dict, data: StreamState,
               world_size: int, metrics: dict[str, float], loss_source: str, encoder_source: str) -> str:
    """kind: "generator" or "critic"; data: the totals over all processes; metrics: last logged values."""
    dataset = config["data"]["dataset"]
    shape = config["generator"]
    generator = (f"preset `{config['generator_preset']}`, " if config["generator_preset"] else "") + \
        f"encoder `{shape['encoder']}`, decoder {shape['decoder_channels']}" + (", restores" if shape["restore"] else "")
    front = {"library_name": "colorizer", "tags": ["image-colorization", "nogan", kind],
             "pipeline_tag": "image-to-image"}
    if "/" in dataset and not dataset.startswith((".", "/", "~")):
        front["datasets"] = [dataset]
    losses = "\n".join(f"| {name} | {value:.4f} |" for name, value in sorted(metrics.items())) or "| (none) | |"
    usage = (
        "```python\nfrom colorizer.pipeline import Colorizer\n\n"
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

## Data

- dataset: `{dataset}` (split `{config["data"]["split"]}`), colour photos only
- samples used: {data.used}; skipped: {data.grayscale} grayscale, {data.unreadable} unreadable
- inputs: the photo's lightness damaged by `colorizer.degrade` (settings below); targets: the photo in Lab

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
