"""Building blocks shared by the generator and the critic.

Spectral normalisation wraps convolutions during training (it keeps the GAN phase stable);
`bake_for_inference` removes it and folds batch norm into the preceding convolution, so at
inference time there is no power iteration and no normalisation pass at all.
"""

from __future__ import annotations

from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.fusion import fuse_conv_bn_eval
from torch.nn.utils.parametrizations import spectral_norm


Config = TypeVar("Config")


def model_config(kind: type[Config], value: Config | dict | None) -> Config:
    """A model's config: as given, from the plain dict the Hub mixin passes when loading, or the defaults."""
    if value is None:
        return kind()
    return kind(**value) if isinstance(value, dict) else value


def conv2d(cin: int, cout: int, kernel: int = 3, stride: int = 1, *, spectral: bool, bias: bool = True) -> nn.Conv2d:
    """A 'same'-padded convolution, spectrally normalised when asked."""
    conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=bias)
    nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
    if bias:
        nn.init.zeros_(conv.bias)
    return spectral_norm(conv) if spectral else conv


class ConvBlock(nn.Sequential):
    """conv -> batch norm -> ReLU; BN directly after the conv so it can be folded away."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, *, spectral: bool, norm: bool = True):
        layers: list[nn.Module] = [conv2d(cin, cout, kernel, stride, spectral=spectral, bias=not norm)]
        layers.append(nn.BatchNorm2d(cout) if norm else nn.Identity())
        layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


def icnr_(weight: torch.Tensor, scale: int = 2) -> None:
    """ICNR init: every sub-pixel of a PixelShuffle starts equal, so upsampling starts
    as nearest-neighbour instead of a checkerboard (Aitken et al. 2017)."""
    cout, cin, kh, kw = weight.shape
    sub = torch.empty(cout // scale**2, cin, kh, kw)
    nn.init.kaiming_normal_(sub, nonlinearity="relu")
    with torch.no_grad():
        weight.copy_(sub.repeat_interleave(scale**2, dim=0))


class PixelShuffleUp(nn.Module):
    """Upsample x2: 1x1 conv to 4x channels, PixelShuffle, ReLU, optional blur.

    The blur (replication pad + 2x2 average) removes the remaining checkerboard artefacts
    (Sugawara et al. 2019), as the NoGAN generator does.
    """

    def __init__(self, cin: int, cout: int, *, blur: bool, spectral: bool):
        super().__init__()
        conv = nn.Conv2d(cin, cout * 4, 1)
        icnr_(conv.weight)
        nn.init.zeros_(conv.bias)
        self.conv = spectral_norm(conv) if spectral else conv
        self.shuffle = nn.PixelShuffle(2)
        self.blur = blur

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, cin, H, W) -> (B, cout, 2H, 2W)
        x = F.relu(self.shuffle(self.conv(x)))
        if self.blur:
            # Replicate the first row and column, then average 2x2. Written as concatenations, the numbers of
            # F.pad(x, (1, 0, 1, 0), mode="replicate"): torch.compile's backward of replicate padding states
            # the wrong memory layout for a channels_last tensor and fails (torch 2.14).
            x = torch.cat([x[..., :1, :], x], dim=-2)
            x = F.avg_pool2d(torch.cat([x[..., :1], x], dim=-1), 2, stride=1)
        return x


ATTENTION_CHUNK_BYTES = 32 * 1024**2  # largest attention-score block one forward may hold at once


class SelfAttention(nn.Module):
    """SAGAN self-attention (Zhang et al. 2019) over all positions of a feature map.

    Memory is bounded whatever the render size: queries are processed in chunks so the
    (queries x positions) score block never exceeds ATTENTION_CHUNK_BYTES. Softmax is taken per
    query over all positions, so chunking over queries is exact (not an approximation).
    Without it, a 2048-pixel render (256 x 256 positions at 1/8) asks for one 16 GiB block.
    `gamma` starts at 0: the block begins as identity and learns how much to attend.
    """

    def __init__(self, channels: int, *, spectral: bool):
        super().__init__()
        inner = max(channels // 8, 1)
        self.query = conv2d(channels, inner, 1, spectral=spectral, bias=False)
        self.key = conv2d(channels, inner, 1, spectral=spectral, bias=False)
        self.value = conv2d(channels, channels, 1, spectral=spectral, bias=False)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q = self.query(x).flatten(2).transpose(1, 2).unsqueeze(1)  # (B, 1, HW, C/8)
        k = self.key(x).flatten(2).transpose(1, 2).unsqueeze(1)  # (B, 1, HW, C/8)
        v = self.value(x).flatten(2).transpose(1, 2).unsqueeze(1)  # (B, 1, HW, C)
        out = chunked_attention(q, k, v, ATTENTION_CHUNK_BYTES)  # (B, 1, HW, C)
        return x + self.gamma * out.squeeze(1).transpose(1, 2).reshape(b, c, h, w)


def chunked_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                      max_bytes: int = ATTENTION_CHUNK_BYTES) -> torch.Tensor:
    """Unscaled dot-product attention (as SAGAN), (B, 1, N, d) x (B, 1, M, d) x (B, 1, M, C) -> (B, 1, N, C),
    over chunks of queries so no (B, chunk, M) score block is larger than max_bytes.

    While exporting (torch.export, ONNX) it is one block: the chunk count depends on the input size,
    which a graph with dynamic height and width cannot hold, and one block gives the same numbers."""
    if torch.compiler.is_exporting():
        return F.scaled_dot_product_attention(q, k, v, scale=1.0)
    batch, _, queries, _ = q.shape
    rows = max(1, max_bytes // (batch * k.shape[-2] * q.element_size()))
    if rows >= queries:
        return F.scaled_dot_product_attention(q, k, v, scale=1.0)
    return torch.cat([F.scaled_dot_product_attention(q[:, :, top : top + rows], k, v, scale=1.0)
                      for top in range(0, queries, rows)], dim=2)


@torch.no_grad()
def bake_for_inference(model: nn.Module) -> nn.Module:
    """Freeze spectral norm into plain weights and fold BN into convs, in place; returns model.

    Only for eval: the baked model gives the same outputs as `model.eval()` but skips the
    per-forward weight normalisation and the BN pass.
    """
    model.eval()
    for module in list(model.modules()):
        if parametrize.is_parametrized(module, "weight"):
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
    for module in list(model.modules()):
        children = list(module.named_children())
        for (conv_name, conv), (bn_name, bn) in zip(children, children[1:]):
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                setattr(module, conv_name, fuse_conv_bn_eval(conv, bn))
                # timm's BatchNormAct2d also holds the activation (and dropout) after the norm: keep those
                rest = [m for m in (getattr(bn, "drop", None), getattr(bn, "act", None)) if m is not None]
                setattr(module, bn_name, nn.Sequential(*rest) if rest else nn.Identity())
    return model
