"""The critic: patch logits of the right shape, Hub round trip, and it can learn real vs fake."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils import parametrize

from train.critic import Critic, CriticConfig

torch.set_num_threads(1)


@pytest.mark.parametrize("size, depth", [(32, 2), (48, 3), (64, 1)])
def test_one_logit_per_patch(size: int, depth: int) -> None:
    critic = Critic(CriticConfig(channels=8, depth=depth))
    out = critic(torch.randn(2, 3, size, size))
    assert out.shape == (2, 1, size // 2**depth, size // 2**depth)


def test_every_convolution_is_spectrally_normalised() -> None:
    convs = [m for m in Critic(CriticConfig(channels=8, depth=2)).modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(parametrize.is_parametrized(c, "weight") for c in convs)


def test_save_and_load_round_trip(tmp_path) -> None:
    torch.manual_seed(0)
    critic = Critic(CriticConfig(channels=8, depth=2, self_attention=False)).eval()
    critic.save_pretrained(tmp_path)
    loaded = Critic.from_pretrained(tmp_path, strict=True).eval()
    assert loaded.config == critic.config
    x = torch.randn(1, 3, 32, 32)
    assert torch.equal(loaded(x), critic(x))


def test_learns_to_tell_colour_from_washed_out_colour() -> None:
    """Real: saturated random colour fields; fake: the same with ab shrunk 5x. The critic must
    separate them within a few dozen steps, or the GAN phase would get no signal from it."""
    torch.manual_seed(0)
    critic = Critic(CriticConfig(channels=8, depth=2, dropout=0.0))
    opt = torch.optim.Adam(critic.parameters(), lr=2e-3)

    def batch() -> tuple[torch.Tensor, torch.Tensor]:
        real = torch.rand(8, 3, 32, 32) * 2 - 1
        return real, torch.cat([real[:, :1], real[:, 1:] / 5], dim=1)

    bce = torch.nn.functional.binary_cross_entropy_with_logits
    for _ in range(40):
        real, fake = batch()
        logits = critic(torch.cat([real, fake]))
        labels = torch.cat([torch.ones(8, *logits.shape[1:]), torch.zeros(8, *logits.shape[1:])])
        loss = bce(logits, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    real, fake = batch()
    critic.eval()
    with torch.no_grad():
        assert critic(real).mean() > critic(fake).mean() + 1.0
