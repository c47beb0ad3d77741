"""The NoGAN generator: a U-Net with a torchvision ResNet encoder that predicts ab from L.

    L (B, 1, H, W) normalised to [-1, 1]  ->  ab (B, 2, H, W) normalised, bounded to [-1, 1]

With `restore=True` it also cleans the lightness of a damaged photo:
    L (B, 1, H, W) [-1, 1]  ->  (B, 3, H, W): ab as above, then the restored L in [-1, 1]

Any H, W works: the input is reflect-padded to a multiple of 32 and the output cropped back.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
import torchvision
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from colorizer.layers import ConvBlock, PixelShuffleUp, SelfAttention, bake_for_inference, conv2d
from colorizer.pretrained import cached_file, imagenet_normalizer

log = logging.getLogger(__name__)

ENCODERS = ("resnet18", "resnet34", "resnet50", "resnet101")


@dataclass
class GeneratorConfig:
    """Shape of the generator. Every field is JSON-serialisable: it is the Hub config.json."""

    encoder: str = "resnet34"
    # Decoder widths at 1/16, 1/8, 1/4 and 1/2 of the input resolution.
    decoder_channels: list[int] = field(default_factory=lambda: [256, 128, 96, 64])
    middle_channels: int = 512  # the bottleneck at 1/32
    final_channels: int = 32  # full resolution head
    self_attention: bool = True  # after the 1/8 decoder block
    blur: bool = True
    spectral_norm: bool = True
    restore: bool = False  # also predict a restored lightness (old-photo damage removed)

    def __post_init__(self) -> None:
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {ENCODERS}, not {self.encoder!r}")
        if len(self.decoder_channels) != 4:
            raise ValueError("decoder_channels needs 4 widths (1/16, 1/8, 1/4, 1/2 resolution)")
        self.decoder_channels = [int(c) for c in self.decoder_channels]


PRESETS: dict[str, GeneratorConfig] = {
    # The default: ResNet34 encoder, slim decoder; fast enough for CPUs (see docs/BENCHMARKS.md).
    "stable": GeneratorConfig(),
    # Decoder-heavy like DeOldify's artistic model: more capacity, several times slower.
    "artistic": GeneratorConfig(decoder_channels=[768, 384, 256, 96], middle_channels=1024, final_channels=64),
    # Small enough to ship inside the repository as the embedded default (ResNet18 encoder).
    "compact": GeneratorConfig(encoder="resnet18", decoder_channels=[128, 96, 64, 32], middle_channels=128,
                               final_channels=16),
    # For tests and quick experiments: ResNet18, narrow everything.
    "tiny": GeneratorConfig(encoder="resnet18", decoder_channels=[32, 24, 16, 16], middle_channels=32,
                            final_channels=8),
}


def preset(name: str) -> GeneratorConfig:
    """A fresh copy of a named preset (so callers may change it)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}")
    return GeneratorConfig(**asdict(PRESETS[name]))


class UpBlock(nn.Module):
    """x2 upsample of the deeper features, joined with the encoder's skip at that size."""

    def __init__(self, cin: int, skip: int, cout: int, *, blur: bool, spectral: bool, attention: bool):
        super().__init__()
        self.up = PixelShuffleUp(cin, cin // 2, blur=blur, spectral=spectral)
        self.skip_norm = nn.BatchNorm2d(skip)
        self.conv1 = ConvBlock(cin // 2 + skip, cout, spectral=spectral)
        self.conv2 = ConvBlock(cout, cout, spectral=spectral)
        self.attention = SelfAttention(cout, spectral=spectral) if attention else nn.Identity()

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.up(x), F.relu(self.skip_norm(skip))], dim=1)
        return self.attention(self.conv2(self.conv1(x)))


class Generator(nn.Module, PyTorchModelHubMixin, library_name="colorizer", tags=["image-colorization", "nogan"],
                repo_url="https://github.com/", docs_url=None):
    """U-Net colouriser. Build with `Generator(GeneratorConfig(...))` or `Generator.from_preset(name)`."""

    def __init__(self, config: GeneratorConfig | dict | None = None):
        super().__init__()
        if config is None:
            config = GeneratorConfig()
        elif isinstance(config, dict):
            config = GeneratorConfig(**config)
        self.config = config
        spectral = config.spectral_norm
        resnet = getattr(torchvision.models, config.encoder)(weights=None)
        # Encoder stages and their output strides: stem 1/2, layer1 1/4 ... layer4 1/32.
        self.stem = nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu)
        self.layer1 = nn.Sequential(resnet.maxpool, resnet.layer1)
        self.layer2, self.layer3, self.layer4 = resnet.layer2, resnet.layer3, resnet.layer4
        skips = self._encoder_channels()  # channels at 1/2, 1/4, 1/8, 1/16, 1/32
        mid = config.middle_channels
        self.middle = nn.Sequential(
            ConvBlock(skips[4], mid, spectral=spectral), ConvBlock(mid, skips[4], spectral=spectral)
        )
        d16, d8, d4, d2 = config.decoder_channels
        self.up16 = UpBlock(skips[4], skips[3], d16, blur=config.blur, spectral=spectral, attention=False)
        self.up8 = UpBlock(d16, skips[2], d8, blur=config.blur, spectral=spectral, attention=config.self_attention)
        self.up4 = UpBlock(d8, skips[1], d4, blur=config.blur, spectral=spectral, attention=False)
        self.up2 = UpBlock(d4, skips[0], d2, blur=config.blur, spectral=spectral, attention=False)
        fin = config.final_channels
        self.up1 = PixelShuffleUp(d2, fin, blur=config.blur, spectral=spectral)
        # Full-resolution head sees the input lightness again, for sharp colour edges.
        self.head = nn.Sequential(
            ConvBlock(fin + 1, fin, spectral=spectral, norm=False),
            conv2d(fin, 3 if config.restore else 2, 1, spectral=False),
        )
        nn.init.zeros_(self.head[-1].weight)  # untrained: gray output, lightness passed through
        # a gray pixel is fed to the encoder as the RGB photo it would be, in ImageNet statistics
        mean, std = imagenet_normalizer()
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)

    @classmethod
    def from_preset(cls, name: str) -> "Generator":
        return cls(preset(name))

    def _encoder_channels(self) -> list[int]:
        with torch.no_grad():
            feats = self._encode(torch.zeros(1, 3, 64, 64))
        return [f.shape[1] for f in feats]

    def _encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        s2 = self.stem(x)
        s4 = self.layer1(s2)
        s8 = self.layer2(s4)
        s16 = self.layer3(s8)
        return [s2, s4, s8, s16, self.layer4(s16)]

    def forward(self, l_norm: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) L in [-1, 1] -> (B, 2, H, W) ab / AB_SCALE in [-1, 1] (+ restored L if restore)."""
        h, w = l_norm.shape[-2:]
        pad_h, pad_w = (-h) % 32, (-w) % 32
        x = F.pad(l_norm, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else l_norm
        gray = (x + 1.0) / 2.0  # [0, 1]
        s2, s4, s8, s16, s32 = self._encode((gray - self.mean) / self.std)
        y = self.middle(s32)
        y = self.up16(y, s16)
        y = self.up8(y, s8)
        y = self.up4(y, s4)
        y = self.up2(y, s2)
        y = self.head(torch.cat([self.up1(y), x], dim=1))[..., :h, :w]
        ab = torch.tanh(y[:, :2])
        if not self.config.restore:
            return ab
        # Lightness is predicted as a correction of the input, so "no damage" is the easy answer.
        return torch.cat([ab, F.hardtanh(l_norm + y[:, 2:3])], dim=1)

    def load_imagenet_encoder(self) -> bool:
        """Copy ImageNet weights into the encoder if torchvision has them cached; never downloads.

        Returns whether they were found, so training can say plainly when it starts from scratch.
        """
        weights = torchvision.models.get_model_weights(self.config.encoder).IMAGENET1K_V1
        cached = cached_file(weights.url)
        if not cached.is_file():
            log.warning("no cached ImageNet weights for %s at %s: the encoder starts from random init",
                        self.config.encoder, cached)
            return False
        state = torch.load(cached, map_location="cpu", weights_only=True)
        resnet = getattr(torchvision.models, self.config.encoder)(weights=None)
        resnet.load_state_dict(state)
        self.stem.load_state_dict(nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu).state_dict())
        self.layer1.load_state_dict(nn.Sequential(resnet.maxpool, resnet.layer1).state_dict())
        for name in ("layer2", "layer3", "layer4"):
            getattr(self, name).load_state_dict(getattr(resnet, name).state_dict())
        log.info("loaded ImageNet encoder weights from %s", cached)
        return True

    def bake(self) -> "Generator":
        """Inference-only form: spectral norm frozen, BN folded. Irreversible; returns self."""
        return bake_for_inference(self)
