"""Run an exported generator (`python -m colorizer.export`) with ONNX Runtime on the CPU.

    L (B, 1, H, W) in [-1, 1]  ->  ab (B, 2, H, W) / AB_SCALE in [-1, 1]  (+ restored L if restore)

`OnnxGenerator` is called like `Generator`, so the pipeline and the restoration tiles use it
unchanged: the Lab conversion stays in Python/NumPy around it. A model exported with dynamic
size takes any H, W (edge-padded here to multiples of 32, as `Generator.forward` does); one
exported at a fixed size takes at most that size (smaller inputs are padded up to it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from colorizer.errors import WeightsError, first_line

if TYPE_CHECKING:
    from colorizer.models.generator import EncoderFeatures

CONFIG_KEY = "colorizer.config"  # metadata entry holding the generator's config.json (set by the exporter)
# Outputs after ab in files exported since reference colour reuses them: the encoder's stride-8 and stride-16
# features (Generator.with_features). Older files lack them; reference colour then runs an encoder in PyTorch.
FEATURE_OUTPUTS = ("features8", "features16")
ORT_REQUIREMENT = "onnxruntime==1.32.0"  # as pinned in requirements.txt
# The exported graph holds self-attention's scores in one block, (H/8 * W/8)^2 floats: 1 GiB at 1024 x 1024,
# 16 GiB at 2048. The pipeline renders a dynamic-size ONNX model at most this large.
MAX_ONNX_RENDER_SIZE = 1024


@dataclass
class OnnxConfig:
    """What the pipeline needs to know about an ONNX generator (mirrors GeneratorConfig's use)."""

    restore: bool  # a third output channel holds the restored lightness
    encoder: str = "unknown"  # from the exporter's metadata, for descriptions
    chroma_gain: float = 1.0  # from the exporter's metadata: the weights' calibrated gain (GeneratorConfig)


def _require_onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise WeightsError(f"ONNX weights need ONNX Runtime, which is not installed: pip install {ORT_REQUIREMENT}"
                           ) from None
    return onnxruntime


def encoder_file(path: str | Path) -> Path:
    """Where the exporter writes the encoder alone, beside a generator's ONNX file (model.onnx ->
    model.encoder.onnx): reference colour describes its reference pictures with it, at about a fifth of the cost
    of a whole pass (docs/experiments/reference-colour.md)."""
    return Path(path).with_suffix(".encoder.onnx")


def _size(dim: object) -> int | None:
    """A fixed dimension as an int; None for a symbolic (dynamic) one."""
    return dim if isinstance(dim, int) else None


class OnnxGenerator:
    """An ONNX Runtime session with the generator's calling convention (torch tensors in and out)."""

    def __init__(self, path: str | Path, threads: int = 0, optimization: str = "all"):
        """threads: intra-op threads (0 = ONNX Runtime's choice, one per physical core);
        optimization: ONNX Runtime graph optimisation level ("disable", "basic", "extended", "all")."""
        ort = _require_onnxruntime()
        self.path = Path(path)
        if not self.path.is_file():
            raise WeightsError(f"{self.path}: no such ONNX file")
        self.options = options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        # its idle threads sleep instead of spinning: they would take the cores from the torch steps around each
        # pass (the mirror image, the join, a film's encoder); docs/experiments/films-every-other-frame.md
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[optimization]
        options.log_severity_level = 3  # errors only: its warnings about unused initialisers are noise here
        self.session = self._session(self.path)
        self._encoder: object | None = None  # the session of encoder_file(path), opened on first need
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        shape = inputs[0].shape if len(inputs) == 1 else []
        out_shape = outputs[0].shape if outputs else []
        channels = _size(out_shape[1]) if len(out_shape) == 4 else None
        if (len(shape) != 4 or _size(shape[1]) != 1 or inputs[0].type != "tensor(float)" or channels not in (2, 3)):
            raise WeightsError(f"{self.path}: not a colorizer model: it takes {[(i.name, i.type, i.shape) for i in inputs]} "
                               f"and gives {[(o.name, o.shape) for o in outputs]}, not L (N, 1, H, W) float -> "
                               "ab (N, 2 or 3, H, W); export one with python -m colorizer.export")
        self.input_name = inputs[0].name
        self.outputs = [outputs[0].name]
        if all(name in [o.name for o in outputs] for name in FEATURE_OUTPUTS):
            self.outputs += FEATURE_OUTPUTS
        self.batch = _size(shape[0])  # None: any batch size
        # (h, w) when exported at a fixed size; None: any multiple of 32
        self.fixed_shape = (shape[2], shape[3]) if _size(shape[2]) and _size(shape[3]) else None
        self.max_render_size = None if self.fixed_shape else MAX_ONNX_RENDER_SIZE
        meta = self.session.get_modelmeta().custom_metadata_map
        exported = json.loads(meta[CONFIG_KEY]) if CONFIG_KEY in meta else {}
        self.config = OnnxConfig(restore=channels == 3, encoder=exported.get("encoder", "unknown"),
                                 chroma_gain=float(exported.get("chroma_gain", 1.0)))

    @property
    def gives_features(self) -> bool:
        """Whether `with_features` returns the encoder's features (files exported with them do)."""
        return len(self.outputs) > 1

    def __call__(self, l_norm: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) L in [-1, 1] -> (B, 2 or 3, H, W), as `Generator.forward`."""
        return self.with_features(l_norm)[0]

    def encode(self, l_norm: torch.Tensor) -> EncoderFeatures | None:
        """The encoder's features (as `Generator.encode`): by the encoder's own file when the exporter wrote one
        (encoder_file), else by a whole pass; None for a file exported without them."""
        if self._encoder is None and encoder_file(self.path).is_file():
            self._encoder = self._session(encoder_file(self.path))
        if self._encoder is not None:
            s8, s16 = self._run(self._encoder, list(FEATURE_OUTPUTS), l_norm)
            return s8, s16
        return self.with_features(l_norm)[1] if self.gives_features else None

    def with_features(self, l_norm: torch.Tensor) -> tuple[torch.Tensor, EncoderFeatures | None]:
        """As `Generator.with_features`; the features are None for a file exported without them."""
        out, *features = self._run(self.session, self.outputs, l_norm)
        return out[..., : l_norm.shape[-2], : l_norm.shape[-1]], (features[0], features[1]) if features else None

    def _session(self, path: Path):
        try:
            return _require_onnxruntime().InferenceSession(str(path), self.options, providers=["CPUExecutionProvider"])
        except Exception as err:  # ONNX Runtime raises its own types for protobuf and graph errors
            raise WeightsError(f"{path}: damaged or not an ONNX model ({first_line(err)})") from None

    def _run(self, session, outputs: list[str], l_norm: torch.Tensor) -> list[torch.Tensor]:
        """`outputs` of `session` for (B, 1, H, W) L in [-1, 1], edge-padded to the shape the model takes."""
        b, _, h, w = l_norm.shape
        if self.fixed_shape is not None:
            fh, fw = self.fixed_shape
            if h > fh or w > fw:
                raise WeightsError(f"{self.path}: this ONNX model was exported for {fh}x{fw} pixels and cannot take "
                                   f"{h}x{w}; export it again without --fixed-size")
            pad_h, pad_w = fh - h, fw - w
        else:
            pad_h, pad_w = (-h) % 32, (-w) % 32
        x = F.pad(l_norm.float(), (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else l_norm.float()
        x = x.cpu().numpy()
        step = self.batch or b  # a model exported for one batch size runs the photos one call each
        try:
            runs = [session.run(outputs, {self.input_name: x[i : i + step]}) for i in range(0, b, step)]
        except Exception as err:  # shape errors and the like, reported by ONNX Runtime
            raise WeightsError(f"{self.path}: ONNX Runtime could not run it on a {h}x{w} input "
                               f"({first_line(err)})") from None
        return [torch.from_numpy(np.concatenate(parts)) for parts in zip(*runs)]

    def to(self, device: torch.device) -> "OnnxGenerator":
        """ONNX weights run on the CPU only (the device argument must be cpu)."""
        if torch.device(device).type != "cpu":
            raise WeightsError(f"{self.path}: ONNX weights run on the CPU only, not on {device}")
        return self
