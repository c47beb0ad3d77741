"""The NoGAN critic: a patch classifier that tells real colour photos from generated ones.

    Lab (B, 3, H, W) normalised as (L / 50 - 1, a / AB_SCALE, b / AB_SCALE)
        ->  logits (B, 1, H / 2**depth, W / 2**depth), one per patch, > 0 means "real"

Spectral norm on every convolution keeps its gradients bounded, which is what keeps the short
GAN phase stable; there is no batch norm, so real and fake can share one batch (one forward,
one DDP reduction). Self-attention at 1/4 resolution lets it judge colour consistency across
the whole image, not only within a patch; at 1/2 it would cost ten times more at 192 px.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from colorizer.models.layers import SelfAttention, conv2d, model_config


@dataclass
class CriticConfig:
    """Shape of the critic. Every field is JSON-serialisable: it is the Hub config.json."""

    channels: int = field(default=128, metadata={
        "help": "width after the first downsample; doubles at each further one"})
    depth: int = field(default=3, metadata={"help": "stride-2 stages: one logit per 2**depth x 2**depth pixel patch"})
    self_attention: bool = field(default=True, metadata={
        "help": "self-attention at 1/4 resolution (1/2 when depth is 1)"})
    dropout: float = field(default=0.15, metadata={"help": "dropout, against memorising the pretraining images"})

    def __post_init__(self) -> None:
        if self.depth < 1:
            raise ValueError("critic depth must be at least 1")
        if self.channels < 1:
            raise ValueError("critic channels must be positive")


def _conv_act(cin: int, cout: int, stride: int) -> nn.Sequential:
    """Spectrally normalised 3x3 conv + LeakyReLU (a critic's negative side must pass gradients)."""
    return nn.Sequential(conv2d(cin, cout, 3, stride, spectral=True), nn.LeakyReLU(0.2, inplace=True))


class Critic(nn.Module, PyTorchModelHubMixin, library_name="colorizer", tags=["image-colorization", "nogan"]):
    """Real/fake patch critic. Build with `Critic(CriticConfig(...))`."""

    def __init__(self, config: CriticConfig | dict | None = None):
        super().__init__()
        self.config = config = model_config(CriticConfig, config)
        width = config.channels
        stages: list[list[nn.Module]] = [[_conv_act(3, width, stride=2), nn.Dropout(config.dropout / 2)]]
        for _ in range(1, config.depth):
            stages.append([_conv_act(width, width, stride=1), nn.Dropout(config.dropout),
                           _conv_act(width, width * 2, stride=2)])
            width *= 2
        if config.self_attention:
            attended = min(1, config.depth - 1)  # the stage at 1/4 resolution (1/2 with depth 1)
            stages[attended].append(SelfAttention(config.channels * 2**attended, spectral=True))
        layers = [layer for stage in stages for layer in stage]
        layers += [_conv_act(width, width, stride=1), conv2d(width, 1, 3, spectral=True, bias=False)]
        self.body = nn.Sequential(*layers)

    def forward(self, lab: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised Lab -> (B, 1, H / 2**depth, W / 2**depth) real/fake logits."""
        return self.body(lab)
