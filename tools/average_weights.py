"""Average two generator weights folders of one architecture, tensor by tensor: a "model soup".

Fine-tuning shipped weights on new photos trades: better on the new photos' sources, worse on the old
ones. The average of the weights before and after (Wortsman et al. 2022, "Robust fine-tuning of
zero-shot models", WiSE-FT) keeps most of both; docs/BENCHMARKS.md has the measurement that made
the embedded default this way.

Spectral norm keeps each layer's weight beside the power-iteration vectors u, v that estimate its
largest singular value. Averaged u, v estimate nothing (a plain average of two such folders scored
16.4 dB), so they are recomputed for the averaged weight. The chroma gain is the same average of the
two; calibrate the result on training photos afterwards:

    python tools/average_weights.py runs/shipped runs/continued --out runs/soup
    python tools/calibrate_chroma_gain.py --weights runs/soup --images photos/train --every 6 --write

The result is stored in float16, as the embedded default is. `--share 1` keeps the second folder's weights
alone: that is how a training export (float32, twice the size) is made into such a folder.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch
from torch.nn.utils import parametrize

from colorizer.errors import ColorizerError, WeightsError
from colorizer.models.generator import Generator
from colorizer.models.hub import export, load_generator

POWER_ITERATIONS = 100  # far past convergence for these layers (torch's own default is 1 step per training step)


def average(first: Generator, second: Generator, share: float) -> Generator:
    """A new generator with (1 - share) x first + share x second, its spectral-norm vectors recomputed."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"--share must be between 0 and 1, not {share}")
    configs = [{k: v for k, v in dataclasses.asdict(m.config).items() if k != "chroma_gain"} for m in (first, second)]
    if configs[0] != configs[1]:
        different = sorted(k for k in configs[0] if configs[0][k] != configs[1][k])
        raise WeightsError(f"the two weights are different architectures ({', '.join(different)} differ): "
                           "only weights of one architecture can be averaged")
    gain = (1 - share) * first.config.chroma_gain + share * second.config.chroma_gain
    soup = Generator(dataclasses.replace(first.config, chroma_gain=round(gain, 3)))
    other = second.state_dict()
    soup.load_state_dict({k: torch.lerp(v, other[k], share) if v.is_floating_point() else v
                          for k, v in first.state_dict().items()})
    with torch.no_grad():
        for module in soup.modules():
            if parametrize.is_parametrized(module, "weight"):
                for norm in module.parametrizations.weight:
                    if hasattr(norm, "_power_method"):  # torch.nn.utils.parametrizations.spectral_norm
                        weight = norm._reshape_weight_to_matrix(module.parametrizations.weight.original)
                        norm._power_method(weight, POWER_ITERATIONS)
    return soup.eval()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/average_weights.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("first", help="weights folder or Hub repo id (e.g. the weights before fine-tuning)")
    parser.add_argument("second", help="weights folder or Hub repo id of the same architecture (e.g. after)")
    parser.add_argument("--share", type=float, default=0.5, help="the second's share of each tensor, 0-1 [0.5]")
    parser.add_argument("--out", type=Path, required=True,
                        help="weights folder to write (an earlier weights folder there is replaced, never another)")
    args = parser.parse_args(argv)
    try:
        first, _ = load_generator(args.first)
        second, _ = load_generator(args.second)
        soup = average(first, second, args.share)
        export(soup, args.out, half=True)  # as the embedded default is stored: half the size, the same pictures
    except (ColorizerError, ValueError) as err:
        parser.exit(1, f"error: {err}\n")
    print(f"wrote {args.out}: {1 - args.share:g} x {args.first} + {args.share:g} x {args.second}, "
          f"chroma_gain {soup.config.chroma_gain} (calibrate it: tools/calibrate_chroma_gain.py)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
