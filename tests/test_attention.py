"""Self-attention stays exact and memory-bounded at every render size the app and CLI accept."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from colorizer.models import layers
from colorizer.models.layers import SelfAttention, chunked_attention
from tests.conftest import REPO


def test_chunked_attention_equals_the_full_computation():
    torch.manual_seed(0)
    q, k = torch.randn(2, 1, 300, 12), torch.randn(2, 1, 300, 12)
    v = torch.randn(2, 1, 300, 96)
    full = F.scaled_dot_product_attention(q, k, v, scale=1.0)
    for max_bytes in (1, 4096, 2 * 300 * 4 * 7, 10**9):  # one query per chunk, uneven chunks, one chunk
        torch.testing.assert_close(chunked_attention(q, k, v, max_bytes), full, rtol=1e-5, atol=1e-5)


def test_layer_output_and_gradients_do_not_depend_on_the_chunk_size(monkeypatch):
    torch.manual_seed(0)
    layer = SelfAttention(32, spectral=False)
    with torch.no_grad():
        layer.gamma.fill_(0.7)
    x = torch.randn(2, 32, 24, 20)

    def run(max_bytes: int) -> tuple[torch.Tensor, torch.Tensor]:
        monkeypatch.setattr(layers, "ATTENTION_CHUNK_BYTES", max_bytes)
        layer.zero_grad()
        out = layer(x)
        out.square().mean().backward()
        return out.detach(), layer.query.weight.grad.clone()

    whole, whole_grad = run(10**12)
    chunked, chunked_grad = run(2 * 480 * 4 * 16)  # 16 queries per chunk: 30 chunks
    torch.testing.assert_close(chunked, whole, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(chunked_grad, whole_grad, rtol=1e-4, atol=1e-6)


def test_parameters_keep_their_names_and_shapes():
    """Weights saved before chunking (and being trained now) must still load strictly."""
    shapes = {name: tuple(p.shape) for name, p in SelfAttention(96, spectral=False).state_dict().items()}
    assert shapes == {"query.weight": (12, 96, 1, 1), "key.weight": (12, 96, 1, 1),
                      "value.weight": (96, 96, 1, 1), "gamma": (1,)}


PEAK_SCRIPT = """
import resource, torch
from colorizer.models.layers import SelfAttention
torch.set_num_threads(1)
layer = SelfAttention(96, spectral=False).eval()  # the embedded weights' width at 1/8
x = torch.randn(1, 96, {side}, {side})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with torch.inference_mode():
    layer(x)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
"""


@pytest.mark.parametrize("render_size", [1024])
def test_attention_memory_is_bounded_at_large_render_sizes(render_size):
    """At 1024 px the attention sees 128 x 128 = 16,384 positions: an unchunked score matrix is 1 GiB."""
    side = render_size // 8
    result = subprocess.run([sys.executable, "-c", PEAK_SCRIPT.format(side=side)], cwd=REPO,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    growth = int(result.stdout.split()[-1])
    assert growth < 200 * 1024**2, f"attention grew the process by {growth / 1024**2:.0f} MiB"
