"""The inference pipeline: photo in, colour photo out, at the photo's own resolution.

    full-res L ──(area resize to render size)──> generator, on L and on its mirror image ──> mean ab
    ab ──(bilinear upsample to full size)──> joined with the full-res L ──> sRGB

The model only ever sees `render_size` pixels on the long side, so memory and time depend on
the render size, not the photo; sharpness comes from the photo's own lightness.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Self

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from colorizer import color
from colorizer.color import STRIP_PIXELS
from colorizer.errors import ColorizerError, DeviceError, WeightsError
from colorizer.io import hints as hint_input
from colorizer.io import provenance
from colorizer.io.images import ImageSource, Photo, read_photo
from colorizer.models import hub
from colorizer.models.engines import AutoGenerator, choose_backend
from colorizer.models.generator import EncoderFeatures, Generator
from colorizer.models.onnx_model import OnnxGenerator
from colorizer.pipelines import hints as hinting
from colorizer.pipelines import reference as referencing
from colorizer.pipelines.restore import RestoreOptions, restore_lightness
from colorizer.settings import DEFAULT_MAX_PIXELS, DEFAULT_RENDER_SIZE, MAX_RENDER_SIZE, Settings, check_settings

log = logging.getLogger(__name__)


def mirror_mean_ab(generator: Generator | OnnxGenerator | AutoGenerator, l_norm: torch.Tensor
                   ) -> tuple[torch.Tensor, EncoderFeatures | None]:
    """The generator's normalised ab for (B, 1, h, w) L, averaged with its ab for the mirror image, mirrored back;
    and the encoder's features of the first pass (None from an ONNX file without them), which reference
    colour matches by: so it needs no encoder pass of its own.

    A scene and its mirror image are equally likely, so the two guesses differ only where the model is
    unsure, and their mean is nearer the truth (docs/BENCHMARKS.md, "Render size and the mirror mean").
    The passes run one after the other: time doubles, the memory peak stays one pass's.
    """
    ab, features = generator.with_features(l_norm)
    ab = ab[:, :2].float()
    return (ab + generator(l_norm.flip(-1))[:, :2].float().flip(-1)) / 2, features


def render_shape(width: int, height: int, render_size: int) -> tuple[int, int]:
    """(h, w) the model runs at: long side = render_size, aspect kept, both multiples of 32."""
    long_side = max(width, height)
    scale = render_size / long_side
    h = max(32, round(height * scale / 32) * 32)
    w = max(32, round(width * scale / 32) * 32)
    return h, w


MAX_MODEL_PIXELS = MAX_RENDER_SIZE**2  # pixels per model call, all photos of a batch together


def resolve_device(device: str | None) -> torch.device:
    """The torch device to run on: `device` as given (cpu, cuda, cuda:1, mps), or the GPU when there is one.

    Torch's own errors for a device it lacks are a stack trace about drivers, raised at the first
    tensor moved; this says which device, what this machine has, and what to pass instead."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        raise DeviceError(f"unknown device {device!r}: use cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise DeviceError(f"device {device!r}: torch sees no CUDA GPU on this machine (torch {torch.__version__}); "
                              "use cpu, or leave the device out to use a GPU only when there is one")
        if dev.index is not None and dev.index >= count:
            raise DeviceError(f"device {device!r}: this machine has {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(f"device {device!r}: Apple's Metal (mps) is not available on this machine; use cpu")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise DeviceError(f"device {device!r}: only cpu, cuda and mps are supported")
    return dev


@dataclass
class PhotoPipeline:
    """The colorize recipe for photos, around a generator ready for inference. Users hold its film-aware
    subclass, `colorizer.Colorizer`; the film pipeline builds on the methods here."""

    generator: Generator | OnnxGenerator | AutoGenerator
    weights: hub.Weights
    device: torch.device

    @classmethod
    def from_pretrained(cls, source: str | None = None, device: str | None = None,
                        revision: str | None = None, backend: str = "auto") -> Self:
        """source: Hub repo id, local folder, .onnx file, or None for the embedded default.
        backend "onnx" runs the folder's or repo's model.onnx with ONNX Runtime (CPU), as an .onnx file is;
        "pytorch" its safetensors; "auto" ONNX Runtime for the embedded default on the CPU, PyTorch for
        everything else (colorizer.models.engines).

        An unreachable Hub falls back to the embedded default (see `weights.fallback_reason`);
        a damaged local checkpoint raises WeightsError.
        """
        dev = resolve_device(device)  # before any download: a wrong device is the quicker thing to tell
        chosen = choose_backend(source, backend, dev)
        weights = hub.resolve(source, revision, chosen)
        if weights.onnx_file is not None:
            # as many threads as torch: one per process under torchrun (OMP_NUM_THREADS=1), not one per core each
            onnx = OnnxGenerator(weights.onnx_file, threads=torch.get_num_threads()).to(torch.device(device or "cpu"))
            if backend == "auto" and chosen == "onnx":  # large renders in PyTorch (engines.AutoGenerator)
                onnx = AutoGenerator(onnx, weights, hub.resolve(source, revision, "pytorch"))
            return cls(onnx, weights, torch.device("cpu"))
        generator, weights = hub.load_generator(weights)
        generator.bake()  # freeze spectral norm, fold BN: nothing normalises at inference time
        return cls(generator.to(dev).eval(), weights, dev)

    @property
    def description(self) -> str:
        """Which weights are in use, for people (the app shows this)."""
        return self.weights.description

    @property
    def _render_limit(self) -> int | None:
        """The largest render size the generator runs at (None: any); ONNX models have one."""
        return getattr(self.generator, "max_render_size", None)

    def check_settings(self, **values: object) -> tuple[Settings, list[str]]:
        """The numbers given, checked (colorizer.settings.check_settings) for this model: a render size
        above what it runs at in bounded memory (an ONNX model's limit) is lowered to it."""
        return check_settings(render_limit=self._render_limit, **values)

    def model_shape(self, width: int, height: int, render_size: int) -> tuple[int, int]:
        """(h, w) the model runs at for a width x height picture: an ONNX model's fixed shape when it was
        exported at one, else render_shape at render_size_for."""
        fixed = getattr(self.generator, "fixed_shape", None)
        return fixed or render_shape(width, height, self.render_size_for(width, height, render_size)[0])

    def render_size_for(self, width: int, height: int, render_size: int) -> tuple[int, str | None]:
        """The render size a width x height picture runs at, and a note when that is below `render_size`.

        Within the model's limit, and no larger than the picture itself (its long side, rounded up to a
        multiple of 32) unless that is below the default: above its own size the model sees only the
        picture's pixels spread thinner, for many times the time (docs/BENCHMARKS.md, "Render size above
        the photo's own size"). A small picture is still seen at the default, the scale that measured best.
        """
        own = max(DEFAULT_RENDER_SIZE, -(-max(width, height) // 32) * 32)
        used = min(render_size, self._render_limit or MAX_RENDER_SIZE, own)
        if used >= render_size or getattr(self.generator, "fixed_shape", None):
            return render_size, None
        return used, (f"render size {render_size} lowered to {used}: the picture is {width}x{height}, and a larger "
                      "render adds nothing the model can see, only time")

    @property
    def can_restore(self) -> bool:
        """Whether these weights were trained to restore lightness (else restore is classical only)."""
        return self.generator.config.restore

    def _read(self, image: ImageSource, max_pixels: int, restore: bool | RestoreOptions) -> Photo:
        """Decode, and restore the lightness first when asked (colour is then predicted from it)."""
        photo = read_photo(image, max_pixels)
        if restore:
            options = restore if isinstance(restore, RestoreOptions) else RestoreOptions()
            photo.lightness = restore_lightness(photo.lightness, self.generator, self.device, options)
        return photo

    def colorize(self, image: ImageSource, render_size: int = DEFAULT_RENDER_SIZE, strength: float = 1.0,
                 max_pixels: int = DEFAULT_MAX_PIXELS, restore: bool | RestoreOptions = False,
                 hints: Sequence[object] | None = None, reference: object = None) -> Image.Image:
        """Colorize one image (path, bytes, file object or PIL image); returns a PIL image of the same size.

        strength scales the predicted chroma (0 = gray, 1 = as predicted, >1 = more vivid).
        restore first repairs the lightness (see colorizer.pipelines.restore); the output then has the
        restored tones instead of the input's. Numbers outside their range are clamped (NaN and
        infinity raise SettingsError); `result.info["notes"]` lists what was clamped and anything
        else worth knowing about the input (e.g. only the first frame of an animation was used).
        hints: colour hints in this image's pixels, [(x, y, color), Stroke(...), ...] (see
        colorizer.io.hints); None or [] gives exactly the hint-free result. A bad hint raises HintError.
        reference: a colour photo (path, bytes, PIL image) or a list of up to 16, of the same place, person
        or things: their colour is lent where they match (colorizer.pipelines.reference); hints win where
        they are. None gives exactly the automatic result. A bad reference raises ReferenceImageError; a
        black-and-white one is left out with a note.
        """
        checked, notes = self.check_settings(render_size=render_size, strength=strength, max_pixels=max_pixels)
        render_size, strength, max_pixels = checked.render_size, checked.strength, checked.max_pixels
        parsed = hint_input.parse_hints(hints)
        references, reference_notes = self.read_references(reference, render_size, int(max_pixels))
        photo = self._read(image, int(max_pixels), restore)
        hint_input.check_inside(parsed, *photo.size, _source_name(image))
        used, size_note = self.render_size_for(*photo.size, render_size)
        photo.notes[:0] = notes + reference_notes + ([size_note] if size_note else [])
        facts = self.facts(used, strength, bool(restore), hints=bool(parsed), reference=bool(references),
                           source=image)
        [small] = self._shrink([photo], render_size)
        [(ab, features)] = self.predict_at([small])
        return self._finish(photo, small, ab, strength, facts, parsed, references, features)

    def colorize_many(self, images: Iterable[ImageSource], render_size: int = DEFAULT_RENDER_SIZE,
                      strength: float = 1.0, batch_size: int = 4, max_pixels: int = DEFAULT_MAX_PIXELS,
                      restore: bool | RestoreOptions = False, hints: Iterable[Sequence[object] | None] | None = None,
                      reference: object = None) -> Iterator[Image.Image | ColorizerError]:
        """Colorize many images, `batch_size` at a time through the model.

        Yields one item per input, in input order: the colour image, or the ColorizerError that
        explains why that input could not be used (so one bad file never stops the rest).
        Settings are checked as in `colorize`; their notes go to every result's `info["notes"]`.
        hints: one list of hints per image, in the same order (None for an image without); a bad
        hint is that image's HintError.
        reference: one colour reference or a list, as in `colorize`, lent to every image; a bad one raises
        ReferenceImageError before any image is read.
        """
        checked, notes = self.check_settings(render_size=render_size, strength=strength, batch_size=batch_size,
                                             max_pixels=max_pixels)
        render_size, strength = checked.render_size, checked.strength
        references, reference_notes = self.read_references(reference, render_size, checked.max_pixels)
        notes = notes + reference_notes
        pending: list[tuple[Photo, list[hint_input.Hint], provenance.Provenance] | ColorizerError] = []
        per_image = iter(hints) if hints is not None else None
        for image in images:
            try:
                parsed = hint_input.parse_hints(next(per_image, None) if per_image is not None else None)
                photo = self._read(image, checked.max_pixels, restore)
                hint_input.check_inside(parsed, *photo.size, _source_name(image))
                used, size_note = self.render_size_for(*photo.size, render_size)
                photo.notes[:0] = notes + ([size_note] if size_note else [])
                facts = self.facts(used, strength, bool(restore), hints=bool(parsed), reference=bool(references),
                                   source=image)
                pending.append((photo, parsed, facts))
            except ColorizerError as err:
                pending.append(err)
            if sum(isinstance(p, tuple) for p in pending) == checked.batch_size:
                yield from self._colorize_pending(pending, render_size, strength, references)
                pending = []
        yield from self._colorize_pending(pending, render_size, strength, references)

    def _colorize_pending(self, pending: list[tuple[Photo, list[hint_input.Hint], provenance.Provenance]
                                              | ColorizerError],
                          render_size: int, strength: float, references: referencing.ReferenceFeatures | None
                          ) -> Iterator[Image.Image | ColorizerError]:
        photos = [item[0] for item in pending if isinstance(item, tuple)]
        smalls = self._shrink(photos, render_size)
        results = zip(smalls, self.predict_at(smalls))  # none for a batch of failures only
        for item in pending:
            if isinstance(item, tuple):
                photo, hints, facts = item
                small, (ab, features) = next(results)
                yield self._finish(photo, small, ab, strength, facts, hints, references, features)
            else:
                yield item

    @torch.inference_mode()
    def predict_ab(self, photos: list[Photo], render_size: int = DEFAULT_RENDER_SIZE) -> list[torch.Tensor]:
        """Run the generator; returns one (2, h, w) ab map (Lab units, render size) per photo."""
        return self.predict_ab_at(self._shrink(photos, self.check_settings(render_size=render_size)[0].render_size))

    def _shrink(self, photos: list[Photo], render_size: int) -> list[torch.Tensor]:
        """Each photo's lightness at the model's shape for render_size: what the model sees (and hints steer on)."""
        return [resize_lightness(p.lightness, self.model_shape(*p.size, render_size)) for p in photos]

    def predict_ab_at(self, lightness: list[torch.Tensor]) -> list[torch.Tensor]:
        """The generator on (1, h, w) L maps already at the model's shape (model_shape): one (2, h, w) ab each."""
        return [ab for ab, _ in self.predict_at(lightness)]

    @torch.inference_mode()
    def predict_at(self, lightness: list[torch.Tensor]) -> list[tuple[torch.Tensor, EncoderFeatures | None]]:
        """As predict_ab_at, each ab with the encoder's features of its pass ((1, C, h/8, w/8) and (1, C, h/16,
        w/16); None from an ONNX file exported without them), for reference colour.

        Maps that share a shape go through the model together, at most MAX_MODEL_PIXELS (one
        maximum-size render) per call, so a large batch size never multiplies the memory peak.
        """
        shapes = [tuple(small.shape[-2:]) for small in lightness]
        out: list[tuple[torch.Tensor, EncoderFeatures | None] | None] = [None] * len(lightness)
        for shape in dict.fromkeys(shapes):
            same = [i for i, s in enumerate(shapes) if s == shape]
            per_call = max(1, MAX_MODEL_PIXELS // (shape[0] * shape[1]))
            for start in range(0, len(same), per_call):
                idx = same[start : start + per_call]
                l_small = torch.stack([lightness[i] for i in idx]).to(self.device)
                ab, features = mirror_mean_ab(self.generator, color.normalize_l(l_small))
                ab = color.denormalize_ab(ab).cpu()
                if not bool(torch.isfinite(ab).all()):  # an ONNX file is not checked at load as safetensors are
                    raise WeightsError(f"{self.weights.description}: the model's colour holds NaN or infinite "
                                       "values: these weights are broken")
                ab *= self.generator.config.chroma_gain
                for j, i in enumerate(idx):
                    out[i] = ab[j], None if features is None else (features[0][j : j + 1], features[1][j : j + 1])
        return out  # type: ignore[return-value]

    def facts(self, render_size: int, strength: float, restored: bool, hints: bool = False,
              reference: bool = False, source: object = None) -> provenance.Provenance:
        """The facts a result of these settings carries into its file (see colorizer.io.provenance): the
        weights file that ran, and its engine; and the original's SHA-256 when `source` is a file or bytes."""
        weights = self.generator.weights_at(render_size) if isinstance(self.generator, AutoGenerator) else self.weights
        extra = {"engine": weights.engine}
        if digest := provenance.source_digest(source):
            extra[provenance.SOURCE_KEY] = digest
        return provenance.Provenance(weights=weights.name, weights_sha256=weights.sha256, render_size=render_size,
                                     strength=strength, restored=restored, hints=hints, reference=reference,
                                     extra=extra)

    def read_references(self, reference: object, render_size: int, max_pixels: int
                        ) -> tuple[referencing.ReferenceFeatures | None, list[str]]:
        """Colour references (one or a list; None: none), read at render size and described by the encoder
        once, for any number of pictures; and the notes for the results (a gray reference left out).
        None when no usable reference remains. ReferenceImageError for a bad one (colorizer.pipelines.reference)."""
        if reference is None:
            return None, []
        references, notes = referencing.read_references(
            reference, lambda w, h: self.model_shape(w, h, render_size), max_pixels, render_size)
        if not references:
            return None, notes
        return referencing.ReferenceFeatures(references, self.generator, self.device), notes

    def _finish(self, photo: Photo, lightness: torch.Tensor, ab_small: torch.Tensor, strength: float,
                facts: provenance.Provenance, hints: Sequence[hint_input.Hint] = (),
                references: referencing.ReferenceFeatures | None = None,
                features: EncoderFeatures | None = None) -> Image.Image:
        """Join full-res L with upsampled ab (moved toward the references' colour, then steered by hints,
        which win where they are; strength scales neither) and convert to an 8-bit sRGB (or RGBA) image;
        `features`: the encoder's, from the pass that predicted ab (predict_at), so matching needs no other;
        the result's info carries the facts and the original's EXIF for `colorizer.io.provenance.save`."""
        ab_small = ab_small * float(strength)
        if references:
            ab_small = references.apply(ab_small, lightness, features)
        if hints:  # lightness: what the model saw, the (1, h, w) map ab_small was predicted from
            ab_small = hinting.apply_hints(ab_small, lightness, hints, photo.size)
        rgb = join_lightness(photo.lightness, ab_small)
        image = Image.fromarray(rgb, "RGB")
        if photo.alpha is not None:
            image.putalpha(photo.alpha)
        image.info["notes"] = list(photo.notes)
        image.info[provenance.INFO_KEY] = facts
        if photo.exif:
            image.info["exif"] = photo.exif
        return image


def _source_name(image: ImageSource) -> str:
    """How a hint error names the photo: its path when it has one."""
    return os.fspath(image) if isinstance(image, (str, os.PathLike)) else "image"


def resize_lightness(lightness: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """(1, H, W) -> (1, h, w), what the model sees of a picture; area averaging when shrinking (no aliasing), bilinear when growing."""
    h, w = lightness.shape[-2:]
    mode = "area" if shape[0] <= h and shape[1] <= w else "bilinear"
    kwargs = {} if mode == "area" else {"align_corners": False}
    return F.interpolate(lightness[None], size=shape, mode=mode, **kwargs)[0]


def join_lightness(lightness: torch.Tensor, ab_small: torch.Tensor, strip_pixels: int | None = STRIP_PIXELS,
                   upsample_dtype: torch.dtype | None = None) -> np.ndarray:
    """Full-res L (1, H, W) + low-res ab (2, h, w), on one device -> (H, W, 3) uint8 sRGB on the CPU.

    Lightness is kept exactly (chroma is reduced where a colour falls outside sRGB), so the output
    has the input's tones. The work runs on the inputs' device, `strip_pixels` at a time, each strip's
    ab upsampled on its own (bilinear, as F.interpolate does it), so memory stays bounded for 50+ MP
    photos; None: the whole picture at once (a GPU, where calls cost more than memory). Strips of at
    most SERIAL_PIXELS run each step on the calling thread alone (torch splits only larger tensors
    between its threads): a film joins frames that way beside the model, without the two fighting
    over the cores. upsample_dtype: of the upsampled ab, the largest tensor here; None is float16 on a
    GPU (half its memory traffic, 8-bit results within 2 levels, 0.01 on average) and float32 on the
    CPU. The Lab conversion itself stays float32: in float16, XYZ -> RGB cancels enough digits to move
    near-black pixels by up to 10 levels.
    """
    _, height, width = lightness.shape
    upsample_dtype = upsample_dtype or (torch.float32 if lightness.device.type == "cpu" else torch.float16)
    lightness, ab_small = lightness.float(), ab_small.to(upsample_dtype)
    if strip_pixels is None:
        ab = F.interpolate(ab_small[None], size=(height, width), mode="bilinear", align_corners=False)[0]
        return color.lab_to_rgb8(torch.cat([lightness, ab.float()])).permute(1, 2, 0).cpu().numpy()
    out = np.empty((height, width, 3), dtype=np.uint8)
    rows = max(1, strip_pixels // width)
    columns = _bilinear_taps(width, ab_small.shape[-1], 0, width, upsample_dtype, ab_small.device)
    for top in range(0, height, rows):
        ab = _upsample_strip(ab_small, height, top, min(rows, height - top), columns)
        lab = torch.cat([lightness[:, top : top + rows], ab.float()], dim=0)
        out[top : top + rows] = color.lab_to_rgb8(lab).permute(1, 2, 0).cpu().numpy()
    return out


SERIAL_PIXELS = 8192  # x 3 channels, under torch's 32768-element grain: a strip's steps stay on one thread


def _bilinear_taps(out_size: int, in_size: int, start: int, count: int, dtype: torch.dtype, device: torch.device
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For output positions start .. start+count-1 of a bilinear resize in_size -> out_size: the two source
    indices and the second one's weight, computed as F.interpolate (align_corners=False) computes them."""
    scale = in_size / out_size
    position = torch.arange(start, start + count, dtype=torch.float32, device=device)
    position = ((position + 0.5) * scale - 0.5).clamp(min=0)
    first = position.long()
    return first, (first + 1).clamp(max=in_size - 1), (position - first).to(dtype)


def _upsample_strip(ab_small: torch.Tensor, height: int, top: int, rows: int,
                    columns: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Rows top .. top+rows-1 of (2, h, w) ab bilinearly upsampled to `height` rows and the columns' width:
    (2, rows, W), equal to that strip of F.interpolate's whole result."""
    first, second, weight = _bilinear_taps(height, ab_small.shape[-2], top, rows, ab_small.dtype, ab_small.device)
    low, high = int(first[0]), int(second[-1]) + 1
    x0, x1, wx = columns
    source = ab_small[:, low:high]  # only the rows this strip reads
    # index_select, not advanced indexing, which splits even a strip's gather across torch's threads
    wide = source.index_select(2, x0) * (1 - wx) + source.index_select(2, x1) * wx  # (2, rows read, W)
    return (wide.index_select(1, first - low) * (1 - weight)[:, None]
            + wide.index_select(1, second - low) * weight[:, None])
