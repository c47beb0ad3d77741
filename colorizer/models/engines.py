"""Which engine runs the generator when nobody asked (backend "auto"): ONNX Runtime on the CPU, PyTorch
on a GPU.

On 2 CPU cores ONNX Runtime ran the embedded default faster than PyTorch at the default render size,
with the same colour (docs/BENCHMARKS.md, "The CPU engine"), so a CPU run takes the model.onnx that
ships beside the embedded weights, or that a local weights folder holds. A Hub repo's model.onnx is
fetched only when asked for (backend "onnx"): the CPU default never downloads a second file.
ONNX Runtime keeps more memory per render pixel than PyTorch (its self-attention is one block of
(H/8 * W/8)^2 floats, PyTorch's is chunked): measured above the loaded model, 70 MiB against 56 at
384 x 384, 198 against 93 at 512. So above AUTO_ONNX_MAX_SIDE the same weights run in PyTorch, and the
app's memory estimate (colorizer.pipelines.memory, PyTorch's figures plus 64 MiB of slack) holds for
every render size.
"""

from __future__ import annotations

import threading
from pathlib import Path

import torch

from colorizer.models import hub
from colorizer.models.generator import EncoderFeatures, Generator
from colorizer.models.onnx_model import OnnxGenerator

AUTO_ONNX_MAX_SIDE = 384  # long side ONNX Runtime renders under "auto": the default render size, and no more


def onnxruntime_installed() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def choose_backend(source: str | Path | None, backend: str, device: torch.device) -> str:
    """The backend that runs: `backend` as asked, or for "auto" "onnx" for the embedded default on the CPU
    when ONNX Runtime is installed, else "pytorch".

    Only the embedded default: its model.onnx is checked against its safetensors (tests/test_engines.py),
    while another folder's model.onnx may be an older export than its config.json and safetensors (a gain
    recalibrated, weights retrained), so other weights run with ONNX Runtime only when asked."""
    if backend != "auto":
        return backend
    embedded = source is None or str(source) == "default"
    if device.type != "cpu" or not embedded or not onnxruntime_installed():
        return "pytorch"
    return "onnx" if (hub.EMBEDDED_WEIGHTS / hub.ONNX_FILE).is_file() else "pytorch"


class AutoGenerator:
    """The ONNX model, with the same weights in PyTorch for renders above AUTO_ONNX_MAX_SIDE (loaded
    on first need). Called like `Generator`: (B, 1, H, W) L in [-1, 1] -> (B, 2 or 3, H, W)."""

    max_render_size = None  # any render size: the large ones go to PyTorch
    fixed_shape = None

    def __init__(self, onnx: OnnxGenerator, onnx_weights: hub.Weights, pytorch_weights: hub.Weights):
        self.onnx, self.onnx_weights, self.pytorch_weights = onnx, onnx_weights, pytorch_weights
        self.config = onnx.config
        self._pytorch: Generator | None = None
        self._lock = threading.Lock()  # the app's requests run on threads

    def weights_at(self, render_size: int) -> hub.Weights:
        """The weights file that runs at this render size (for the provenance)."""
        return self.onnx_weights if render_size <= AUTO_ONNX_MAX_SIDE else self.pytorch_weights

    def __call__(self, l_norm: torch.Tensor) -> torch.Tensor:
        return self.with_features(l_norm)[0]

    def with_features(self, l_norm: torch.Tensor) -> tuple[torch.Tensor, EncoderFeatures | None]:
        """As `Generator.with_features`, by whichever engine runs this size (None: an ONNX file without them)."""
        if max(l_norm.shape[-2:]) <= AUTO_ONNX_MAX_SIDE:
            return self.onnx.with_features(l_norm)
        return self.pytorch().with_features(l_norm)

    def encode(self, l_norm: torch.Tensor) -> EncoderFeatures:
        """The encoder's features, as `with_features` gives them at this size: by ONNX Runtime when its file
        holds them, else by the PyTorch encoder of the same weights."""
        if max(l_norm.shape[-2:]) <= AUTO_ONNX_MAX_SIDE and self.onnx.gives_features:
            return self.onnx.encode(l_norm)
        return self.pytorch().encode(l_norm)

    def pytorch(self) -> Generator:
        """The PyTorch generator of the same weights, baked, on the CPU."""
        with self._lock:
            if self._pytorch is None:
                generator, _ = hub.load_generator(self.pytorch_weights)
                generator.bake()
                self._pytorch = generator.eval()
            return self._pytorch

    def to(self, device: torch.device) -> "AutoGenerator":
        """CPU only, as ONNX Runtime."""
        self.onnx.to(device)
        return self
