"""ImageNet-pretrained torchvision weights: used when torchvision has them cached, never downloaded."""

from __future__ import annotations

from pathlib import Path

import torch

# The RGB statistics torchvision's ImageNet models expect of their input.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def cached_file(url: str) -> Path:
    """Where torchvision keeps the weights from `url` once downloaded (the file may not exist)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name


def imagenet_normalizer() -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, std), each (1, 3, 1, 1), to register as buffers of a model that feeds an ImageNet net."""
    return torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
