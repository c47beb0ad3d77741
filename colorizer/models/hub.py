"""Where generator weights come from: a Hub repo, a local folder, or the embedded default.

A weights folder holds what `Generator.save_pretrained` writes: `config.json` and
`model.safetensors`, and may hold `model.onnx` beside them (`python -m colorizer.export`), which
runs with ONNX Runtime (`backend="onnx"`, or any path ending in .onnx). The embedded default ships one:
it is what a CPU runs by default (colorizer.models.engines). Loading never unpickles anything, and a Hub that cannot be reached
(offline, no network, repo missing) falls back to the embedded default with a warning
that says why, so the app and the CLI always have something to run.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
from dataclasses import dataclass, fields
from pathlib import Path

import torch
from huggingface_hub import PyTorchModelHubMixin
from PIL import Image
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from colorizer.errors import WeightsError, first_line
from colorizer.io.files import atomic_folder
from colorizer.models.generator import MAX_CHROMA_GAIN, Generator, GeneratorConfig, build_encoder

log = logging.getLogger(__name__)

EMBEDDED_WEIGHTS = Path(__file__).parents[1] / "weights" / "default"  # colorizer/weights/default
CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.safetensors"
ONNX_FILE = "model.onnx"  # the exported generator, beside the safetensors (colorizer.export)
BACKENDS = ("pytorch", "onnx")
MAX_CHANNELS = 1024  # widest layer a config may ask for: the widest preset's (artistic's middle)
MAX_CONFIG_BYTES = 64 * 1024  # a generator's config.json is a few hundred bytes
CHANNEL_KEYS = ("middle_channels", "final_channels")
FLAG_KEYS = ("self_attention", "blur", "spectral_norm", "restore")
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass
class Weights:
    """A resolved weights folder and a human description of where it came from."""

    folder: Path
    description: str
    fallback_reason: str | None = None  # set when the requested source could not be used
    onnx_file: Path | None = None  # set for the onnx backend: this file runs with ONNX Runtime
    label: str | None = None  # how result files name them (see `name`)

    @property
    def name(self) -> str:
        """How the weights are named in a result file: "embedded default", a Hub repo id, "local folder
        NAME" or "ONNX file NAME" (names only: a full path would tell strangers about the user's disk)."""
        return self.label or f"local folder {Path(self.folder).name}"

    @property
    def engine(self) -> str:
        """What runs these weights, for result files: "ONNX Runtime 1.32.0" or "PyTorch 2.14.1"."""
        if self.onnx_file is None:
            return f"PyTorch {torch.__version__}"
        import onnxruntime

        return f"ONNX Runtime {onnxruntime.__version__}"

    @property
    def sha256(self) -> str:
        """SHA-256 of the weights file that runs (model.safetensors, or the .onnx file), computed once
        per file version."""
        file = Path(self.onnx_file) if self.onnx_file is not None else Path(self.folder) / WEIGHTS_FILE
        stat = file.stat()
        return _sha256(file, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _sha256(file: Path, size: int, mtime_ns: int) -> str:  # size and mtime: a changed file is hashed again
    digest = hashlib.sha256()
    with open(file, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve(source: str | Path | None = None, revision: str | None = None, backend: str = "pytorch") -> Weights:
    """Turn a user's weights choice into a local folder.

    source: None (embedded default), a local folder, a Hub repo id ("user/name"), or an .onnx file.
    backend "onnx" takes the folder's or repo's model.onnx instead of its safetensors.
    """
    if backend not in BACKENDS:
        raise WeightsError(f"backend {backend!r}: choose from {', '.join(BACKENDS)}")
    if str(source).lower().endswith(".onnx"):
        path = Path(source).expanduser()
        if not path.is_file():
            raise WeightsError(f"weights {source!r}: no such ONNX file")
        return Weights(path.parent, f"ONNX file {path}", onnx_file=path, label=f"ONNX file {path.name}")
    if source is None or str(source) == "default":
        if backend == "onnx":
            # the same weights, so the same name in result files; the sha256 and the engine tell which file ran
            return Weights(EMBEDDED_WEIGHTS, "embedded default (ONNX Runtime)", onnx_file=EMBEDDED_WEIGHTS / ONNX_FILE,
                           label="embedded default")
        return Weights(EMBEDDED_WEIGHTS, "embedded default", label="embedded default")
    path = Path(source).expanduser()
    if path.exists():
        _check_folder(path, backend)
        if backend == "onnx":
            return Weights(path, f"local folder {path} (ONNX)", onnx_file=path / ONNX_FILE,
                           label=f"ONNX file {ONNX_FILE}")
        label = "embedded default" if path == EMBEDDED_WEIGHTS else f"local folder {path.name}"
        return Weights(path, f"local folder {path}", label=label)
    if not _REPO_ID.match(str(source)):
        raise WeightsError(f"weights {source!r}: no such folder, and not a Hub repo id (user/name)")
    try:
        folder = _download(str(source), revision, backend)
    except Exception as err:  # any Hub failure: offline, DNS, 404, gated, timeout
        reason = f"could not get {source} from the Hugging Face Hub ({type(err).__name__}: {first_line(err)})"
        log.warning("%s; using the embedded default weights instead", reason)
        return Weights(EMBEDDED_WEIGHTS, "embedded default", fallback_reason=reason, label="embedded default")
    if backend == "onnx":
        return Weights(folder, f"Hub {source} (ONNX)", onnx_file=folder / ONNX_FILE, label=f"{source} (ONNX)")
    return Weights(folder, f"Hub {source}", label=str(source))


def _download(repo_id: str, revision: str | None, backend: str = "pytorch") -> Path:
    """Fetch config + weights, or only model.onnx for the onnx backend (cached by huggingface_hub;
    works offline once cached)."""
    from huggingface_hub import snapshot_download

    files = [ONNX_FILE] if backend == "onnx" else [CONFIG_FILE, WEIGHTS_FILE]
    folder = Path(snapshot_download(repo_id, revision=revision, allow_patterns=files))
    _check_folder(folder, backend)
    return folder


def _check_folder(folder: Path, backend: str = "pytorch") -> None:
    if backend == "onnx":
        if not (folder / ONNX_FILE).is_file():
            raise WeightsError(f"weights folder {folder} has no {ONNX_FILE} (export one with python -m colorizer.export)")
        return
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if not (folder / name).is_file():
            raise WeightsError(f"weights folder {folder} has no {name} (expected what save_pretrained writes)")


def read_config(folder: Path) -> GeneratorConfig:
    """config.json -> GeneratorConfig, with a clear error for damaged, foreign or absurd configs: its size is
    checked before it is read, and a nesting deeper than the parser's recursion is an error like any other."""
    file = folder / CONFIG_FILE
    try:
        size = file.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise WeightsError(f"{file}: {size} bytes, more than the {MAX_CONFIG_BYTES} bytes a generator config "
                               "can need: not a colorizer generator config")
        raw = json.loads(file.read_text())
    except RecursionError:
        raise WeightsError(f"{file}: nested too deeply for a generator config") from None
    except (OSError, ValueError) as err:
        raise WeightsError(f"{file}: not a readable JSON config ({err})") from None
    raw = raw.get("config", raw) if isinstance(raw, dict) else raw
    known = {f.name for f in fields(GeneratorConfig)}
    if not isinstance(raw, dict) or not known & raw.keys():
        raise WeightsError(f"{folder / CONFIG_FILE}: not a colorizer generator config")
    values = {k: v for k, v in raw.items() if k in known}
    problems = check_config_values(values)
    if problems:
        raise WeightsError(f"{folder / CONFIG_FILE}: invalid generator config: {'; '.join(problems)}")
    try:
        return GeneratorConfig(**values)
    except (TypeError, ValueError) as err:
        raise WeightsError(f"{folder / CONFIG_FILE}: invalid generator config ({err})") from None


def check_config_values(values: dict) -> list[str]:
    """What is wrong with a config's values (empty when nothing), checked before any layer is built:
    channel counts are whole numbers from 1 to MAX_CHANNELS, flags are true/false, the chroma gain is in range."""
    problems = []

    def channel_problem(value: object) -> bool:
        return isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CHANNELS

    for key in CHANNEL_KEYS:
        if key in values and channel_problem(values[key]):
            problems.append(f"{key} must be a whole number from 1 to {MAX_CHANNELS}, not {values[key]!r}")
    if "decoder_channels" in values:
        widths = values["decoder_channels"]
        if not isinstance(widths, list) or len(widths) != 4 or any(channel_problem(w) for w in widths):
            problems.append(f"decoder_channels must be 4 whole numbers from 1 to {MAX_CHANNELS}, not {widths!r}")
    for key in FLAG_KEYS:
        if key in values and not isinstance(values[key], bool):
            problems.append(f"{key} must be true or false, not {values[key]!r}")
    gain = values.get("chroma_gain", 1.0)
    if isinstance(gain, bool) or not isinstance(gain, (int, float)) or not 0 < gain <= MAX_CHROMA_GAIN:
        problems.append(f"chroma_gain must be a number in (0, {MAX_CHROMA_GAIN}], not {gain!r}")
    return problems


def check_encoder(folder: Path, config: GeneratorConfig) -> None:
    """WeightsError when the config's encoder cannot be the U-Net's, or the weights file does not hold it.

    Checked before anything is built: the encoder on the meta device (shapes, no memory) against the file's
    header (names and shapes, no tensor read). An encoder is most of a generator's size and any timm name
    passes the config, so a config that names a huge one beside a small file costs nothing to refuse.
    """
    try:
        with torch.device("meta"):
            encoder = build_encoder(config.encoder)
    except Exception as err:  # timm's errors for a model it cannot give as features vary by model
        raise WeightsError(f"{folder / CONFIG_FILE}: encoder {config.encoder!r} cannot be the U-Net's: "
                           f"{first_line(err)}") from None
    file = folder / WEIGHTS_FILE
    try:
        with safe_open(file, framework="pt") as header:
            stored = {k: tuple(header.get_slice(k).get_shape()) for k in header.keys() if k.startswith("encoder.")}
    except (SafetensorError, OSError, ValueError) as err:
        raise WeightsError(f"{file}: damaged or not a safetensors file ({err})") from None
    expected = {f"encoder.{k}": tuple(v.shape) for k, v in encoder.state_dict().items()}
    if stored != expected:
        raise WeightsError(f"{file}: weights do not match {CONFIG_FILE}'s encoder {config.encoder}: "
                           f"{describe_mismatch(expected, stored)}")


def describe_mismatch(expected: dict[str, tuple[int, ...]], found: dict[str, tuple[int, ...]], limit: int = 5) -> str:
    """Which tensor names and shapes differ between what a config builds and what a file holds."""

    def listed(items: list[str]) -> str:
        more = f" and {len(items) - limit} more" if len(items) > limit else ""
        return ", ".join(items[:limit]) + more

    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    shapes = [f"{k} {found[k]} instead of {expected[k]}" for k in expected if k in found and found[k] != expected[k]]
    parts = []
    if missing:
        parts.append(f"missing {len(missing)} tensors ({listed(missing)})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected tensors ({listed(unexpected)})")
    if shapes:
        parts.append(f"{len(shapes)} with other shapes ({listed(shapes)})")
    return "; ".join(parts) or "no differences in names or shapes"


def load_generator(weights: Weights | str | Path | None = None) -> tuple[Generator, Weights]:
    """Build the generator described by a weights folder and load its tensors strictly."""
    if not isinstance(weights, Weights):
        weights = resolve(weights)
    config = read_config(weights.folder)
    check_encoder(weights.folder, config)  # before building: a config may name an encoder of gigabytes
    model = Generator(config)
    file = weights.folder / WEIGHTS_FILE
    try:
        state = load_file(file)
    except (SafetensorError, OSError, ValueError) as err:
        raise WeightsError(f"{file}: damaged or not a safetensors file ({err})") from None
    try:
        model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    except RuntimeError:  # names or shapes differ: say which, in a line a person can read
        raise WeightsError(f"{file}: weights do not match {CONFIG_FILE}: "
                           f"{describe_mismatch(_shapes(model.state_dict()), _shapes(state))}") from None
    check_finite(model, str(file))
    return model.eval(), weights


def _shapes(state: dict[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    """Each tensor's shape, as describe_mismatch compares them (a file's header gives only these)."""
    return {k: tuple(v.shape) for k, v in state.items()}


def check_finite(model: torch.nn.Module, where: str) -> None:
    """WeightsError if a weight is NaN or infinite (a diverged run, damaged floats): such weights turn
    every photo into NaN colour, so they are refused where they are loaded or written, not met later."""
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise WeightsError(f"{where}: weight {name} holds NaN or infinite values: these weights are broken "
                               "(a training run that diverged?)")


def export(model: PyTorchModelHubMixin, folder: str | Path, card: str | None = None, *, half: bool = False,
           images: dict[str, Image.Image] | None = None) -> Path:
    """Write a weights folder atomically: config.json + model.safetensors [+ README.md model card, and the
    images it shows, by file name].

    Works for any Hub-mixin model (the generator, training's critic). It is written beside `folder`
    and renamed into place in one step, so a kill never leaves half a folder. half=True stores float16
    tensors: half the size, same pictures (loading casts back to float32).
    """
    check_finite(model, str(folder))
    folder = Path(folder).absolute()  # "." has no name to put a temporary folder beside
    if folder.exists() and not _replaceable(folder):
        raise WeightsError(f"{folder}: exists and is not a weights folder (no {CONFIG_FILE}): not replaced; "
                           "choose another folder")
    try:
        with atomic_folder(folder) as tmp:
            if card is not None:  # written first: save_pretrained keeps an existing README.md
                (tmp / "README.md").write_text(card)
            for name, image in (images or {}).items():
                image.save(tmp / name)
            model.save_pretrained(tmp)
            if half:
                state = {k: v.detach().half().contiguous() for k, v in model.state_dict().items()}
                save_file(state, str(tmp / WEIGHTS_FILE), metadata={"format": "pt"})
    except OSError as err:  # a file where a folder should be, no permission, a full disk
        raise WeightsError(f"{folder}: cannot write there ({err.strerror or err})") from None
    return folder


def _replaceable(folder: Path) -> bool:
    """Whether export may replace `folder`: an earlier weights folder, or an empty one (never other files)."""
    return folder.is_dir() and ((folder / CONFIG_FILE).is_file() or not any(folder.iterdir()))


def push_onnx(file: str | Path, repo_id: str, revision: str | None = None) -> str:
    """Upload an exported model to `repo_id` as model.onnx, beside its safetensors; returns the commit URL.
    The token comes from HF_TOKEN or the `hf auth login` cache, as everywhere in huggingface_hub."""
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo_id, exist_ok=True)
    commit = api.upload_file(path_or_fileobj=str(file), path_in_repo=ONNX_FILE, repo_id=repo_id, revision=revision,
                             commit_message=f"Add {ONNX_FILE} (python -m colorizer.export)")
    return str(getattr(commit, "commit_url", commit))
