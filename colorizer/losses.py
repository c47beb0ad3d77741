"""Training losses: the perceptual (feature) loss of generator pretraining, and the GAN losses.

Tensors at this module's boundary:
    pred_ab    (B, 2, H, W) ab / AB_SCALE, what the generator returns
    target_lab (B, 3, H, W) (L / 50 - 1, a / AB_SCALE, b / AB_SCALE), what the data module yields
    logits     any shape, the critic's per-patch real/fake scores

The feature loss compares VGG16 activations of the predicted and the true colour photo. Both
photos share the target's lightness, so the loss measures colour alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from colorizer import color
from colorizer.pretrained import cached_file, imagenet_normalizer

log = logging.getLogger(__name__)

FEATURE_NETS = ("vgg16", "none")


@dataclass
class FeatureLossConfig:
    """What the generator is pretrained against (also its non-adversarial part in the GAN phase)."""

    net: str = field(default="vgg16", metadata={"help": "feature network: vgg16, or none for an L1 pixel loss "
                                                        "on ab in Lab only"})
    # Indices into torchvision's vgg16().features; the defaults are relu2_2, relu3_3 and relu4_3,
    # the activations just before the 2nd, 3rd and 4th max-pool.
    layers: list[int] = field(default_factory=lambda: [8, 15, 22],
                              metadata={"help": "vgg16.features indices whose outputs are compared"})
    layer_weights: list[float] = field(default_factory=lambda: [20.0, 70.0, 10.0],
                                       metadata={"help": "weight of each compared layer"})
    pixel_weight: float = field(default=1.0, metadata={"help": "weight of the L1 loss on ab (Lab units / AB_SCALE)"})
    weights_file: str | None = field(default=None, metadata={
        "help": "a VGG16 state dict (.pth) to use; default: torchvision's cached ImageNet weights, if any"})

    def __post_init__(self) -> None:
        if self.net not in FEATURE_NETS:
            raise ValueError(f"feature net must be one of {FEATURE_NETS}, not {self.net!r}")
        if len(self.layers) != len(self.layer_weights):
            raise ValueError("feature loss: give one weight per layer")
        if self.net != "none" and not self.layers:
            raise ValueError("feature loss: vgg16 needs at least one layer")


def vgg16_features(last_layer: int, weights_file: str | None) -> tuple[nn.Sequential, str]:
    """torchvision's VGG16 `features` up to `last_layer`, filled from the user's file or torchvision's
    cache (never downloaded), and a short description of what was used, for the log and model card.

    Only the convolutional part is built: the full VGG16 spends seconds initialising a classifier
    that a feature loss never runs.
    """
    features = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["D"])[: last_layer + 1]
    if weights_file is None:
        url = torchvision.models.VGG16_Weights.IMAGENET1K_V1.url
        cached = cached_file(url)
        weights_file = str(cached) if cached.is_file() else None
    if weights_file is not None:
        state = torch.load(weights_file, map_location="cpu", weights_only=True)
        prefix = "features."
        wanted = {k[len(prefix):]: v for k, v in state.items()
                  if k.startswith(prefix) and int(k[len(prefix):].split(".")[0]) <= last_layer}
        features.load_state_dict(wanted, strict=True)
        return features, f"VGG16 weights from {weights_file}"
    for module in features.modules():  # VGG's own init: activations keep their scale with depth
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(module.bias)
    log.warning(
        "\n%s\nNO IMAGENET WEIGHTS FOR THE VGG16 FEATURE LOSS: %s is not in torchvision's cache.\n"
        "Training goes on with a RANDOMLY INITIALISED VGG16 (a random-feature perceptual loss), as you chose\n"
        "--feature-net vgg16. For the real recipe put vgg16-397923af.pth there or pass --feature-weights-file;\n"
        "for a plain Lab pixel loss pass --feature-net none.\n%s", "!" * 78, cached, "!" * 78)
    return features, "VGG16 with random weights (no ImageNet weights cached)"



class FeatureLoss(nn.Module):
    """Perceptual loss: weighted L1 between VGG16 activations, plus L1 on ab.

    The VGG is frozen (it has neither dropout nor batch norm, so its mode never matters); only the
    prediction carries gradients.
    """

    def __init__(self, config: FeatureLossConfig | None = None):
        super().__init__()
        self.config = config = config or FeatureLossConfig()
        self.features: nn.Module | None = None
        self.source = "none (pixel loss on ab)"
        if config.net == "vgg16":
            features, self.source = vgg16_features(max(config.layers), config.weights_file)
            self.features = features.eval().requires_grad_(False)
        mean, std = imagenet_normalizer()  # what torchvision's VGG16 expects of its RGB input
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)

    def _activations(self, rgb: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, H, W) sRGB in [0, 1] -> the activations at config.layers, in order."""
        x = (rgb - self.mean) / self.std
        wanted, out = set(self.config.layers), {}
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in wanted:
                out[index] = x
        return [out[i] for i in self.config.layers]

    def forward(self, pred: torch.Tensor, target_lab: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """pred: the generator's output, (B, 2, S, S) ab or (B, 3, S, S) ab + restored L.

        Returns the total loss (scalar, differentiable) and its parts (detached scalars) for logging.
        """
        pred, target_lab = pred.float(), target_lab.float()  # colour maths in fp32 under autocast
        pred_lab = prediction_lab(pred, target_lab)
        pixel = F.l1_loss(pred_lab[:, 1:], target_lab[:, 1:])
        parts = {"pixel": pixel.detach()}
        if pred.shape[1] == 3:  # a restoring generator also answers for the lightness
            restored = F.l1_loss(pred_lab[:, :1], target_lab[:, :1])
            pixel = pixel + restored
            parts["pixel_lightness"] = restored.detach()
        total = self.config.pixel_weight * pixel
        if self.features is not None:
            pred_rgb = to_rgb(pred_lab)
            with torch.no_grad():
                target_feats = self._activations(to_rgb(target_lab))
            for index, weight, pred_f, target_f in zip(self.config.layers, self.config.layer_weights,
                                                       self._activations(pred_rgb), target_feats):
                term = F.l1_loss(pred_f.float(), target_f.float())
                total = total + weight * term
                parts[f"vgg{index}"] = term.detach()
        return total, parts


def prediction_lab(pred: torch.Tensor, target_lab: torch.Tensor) -> torch.Tensor:
    """The generated photo in normalised Lab (B, 3, S, S): the generator's ab, with its restored
    lightness when it predicts one (restore=True), else the target's own lightness."""
    lightness = pred[:, 2:3] if pred.shape[1] == 3 else target_lab[:, :1]
    return torch.cat([lightness.to(target_lab.dtype), pred[:, :2].to(target_lab.dtype)], dim=1)


def to_rgb(lab_norm: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) normalised Lab -> (B, 3, H, W) sRGB in [0, 1], differentiable."""
    lab = torch.cat([color.denormalize_l(lab_norm[:, :1]), color.denormalize_ab(lab_norm[:, 1:])], dim=1)
    return color.lab_to_rgb(lab)


def critic_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Binary real/fake classification: every real patch -> 1, every generated patch -> 0."""
    real = F.binary_cross_entropy_with_logits(real_logits.float(), torch.ones_like(real_logits, dtype=torch.float))
    fake = F.binary_cross_entropy_with_logits(fake_logits.float(), torch.zeros_like(fake_logits, dtype=torch.float))
    return (real + fake) / 2


def adversarial_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The generator's side: make the critic call generated patches real (non-saturating GAN loss)."""
    return F.binary_cross_entropy_with_logits(fake_logits.float(), torch.ones_like(fake_logits, dtype=torch.float))
