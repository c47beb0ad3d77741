"""The old-photo damage model: training makes (degraded, clean) pairs with it, evaluation
measures how well that damage is undone.

    photograph(RGB image, config.emulsion, rng) -> L image  (the scene as an old film saw it)
    degrade(L image, config, rng)      -> L image, same size   (what the model sees)
    degrade_rgb(RGB image, config, rng) -> RGB image, same size (a toned print, for people)

Before any damage, the film: `photograph` turns the colour scene gray through a randomly chosen
old emulsion's colour response (colorizer.evaluate.emulsion), or through the eye's lightness.
Transforms then run in the order damage happens to a real print:
    1. print ageing:    fading, toning (sepia, yellowed and unevenly aged paper), stains
    2. physical damage: scratches, dust and spots
    3. the scan chain:  blur, grain / noise, down-and-up scaling, JPEG
Each transform fires with its own probability `p` and draws its strength uniformly from a
(low, high) range. Lengths are fractions of the image's short side, so a sample looks alike at
64 px and at 3000 px; intensities are on the [0, 1] scale of the 8-bit image.
Every transform draws from its own generator, seeded from the caller's: one seed gives one
output, and switching one transform off does not reshuffle the others.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from colorizer.color import gray_of
from colorizer.evaluate.emulsion import EMULSIONS, emulsion_gray

Range = tuple[float, float]
IntRange = tuple[int, int]

# How much each RGB channel drops where paper yellows or a stain browns it. Weighted by the
# luminance row of sRGB (0.21, 0.72, 0.07) they sum to about 1, so L changes as in the gray path.
_YELLOWING = np.array((0.6, 1.0, 1.7), dtype=np.float32)
# Sepia as per-channel curves: gray y -> y ** (1 + s * k). Lightness stays close, hue goes brown.
_SEPIA_EXPONENTS = np.array((-0.25, 0.05, 0.6), dtype=np.float32)
# Below every emulsion's largest weight (0.5 or more), so a jittered emulsion still sees something.
MAX_SPREAD = 0.25
_STAIN_CANVAS = 128  # short side, in pixels, of the canvas stains are drawn on


def _h(default: object, help_text: str) -> Any:
    """A field with its --help text (train/config.py makes each field a --degrade-* option)."""
    return field(default=default, metadata={"help": help_text})


def _p(what: str, default: float) -> Any:
    """The chance every transform has of being applied."""
    return _h(default, f"chance that {what} is applied to a photo")


@dataclass
class EmulsionConfig:
    """The film that took the photo: real black-and-white photos are the scene through an emulsion's
    colour response (an orthochromatic plate renders a blue sky white and red lips black), not the
    scene's lightness that a colour photo turned gray has."""

    # Off by default: one CPU run with p 0.5 did not make the colour hold up better on these grays
    # (docs/BENCHMARKS.md, "Old films' grays"); a longer run, on more photos, may.
    p: float = _h(0.0, "chance that a photo's gray comes from an old emulsion's colour response rather than "
                       "the eye's lightness")
    kinds: list[str] = field(default_factory=lambda: list(EMULSIONS), metadata={
        "help": f"the emulsions to choose from, each as likely: {', '.join(EMULSIONS)}"})
    spread: float = _h(0.1, "each channel weight of the chosen emulsion moves by up to this (then they are "
                            "scaled to sum to 1), so no two photos share a response exactly")

    def __post_init__(self) -> None:
        unknown = [name for name in self.kinds if name not in EMULSIONS]
        if unknown or not self.kinds:
            raise ValueError(f"emulsion kinds: choose one or more of {', '.join(EMULSIONS)}; got {self.kinds}")
        if not 0.0 <= self.p <= 1.0 or not 0.0 <= self.spread <= MAX_SPREAD:
            raise ValueError(f"the emulsion's p must be between 0 and 1, its spread between 0 and {MAX_SPREAD}")


@dataclass
class FadeConfig:
    """A faded print: blacks turn grey, whites dull, midtones shift."""

    p: float = _p("fading", 0.8)
    black: Range = _h((0.02, 0.22), "the new black level (0-1 of the gray range)")
    white: Range = _h((0.82, 1.0), "the new white level (0-1 of the gray range)")
    midtones: Range = _h((-0.3, 0.3), "bend of the tone curve: above 0 lifts the midtones, below 0 darkens them")


@dataclass
class ToneConfig:
    """Sepia toning and yellowed, unevenly aged paper (in L: uneven dulling of the whites)."""

    p: float = _p("toning and ageing", 0.6)
    sepia: Range = _h((0.3, 1.0), "sepia colour strength (0-1); only the RGB damage (degrade_rgb) shows it")
    uneven: Range = _h((0.05, 0.3), "how much the paper darkens where it aged most (0-1)")
    cells: IntRange = _h((2, 6), "the ageing varies over about this many patches per side")


@dataclass
class StainConfig:
    """Water stains and foxing: soft blotches with a darker tide line."""

    p: float = _p("staining", 0.25)
    count: IntRange = _h((1, 4), "number of stains")
    radius: Range = _h((0.03, 0.15), "stain radius, as a fraction of the photo's short side")
    strength: Range = _h((0.05, 0.25), "how much a stain darkens the paper (0-1)")


@dataclass
class ScratchConfig:
    """Long thin lines: bright where the print was scratched, dark where the negative was."""

    p: float = _p("scratching", 0.5)
    count: IntRange = _h((1, 6), "number of scratches")
    length: Range = _h((0.2, 1.0), "scratch length, as a fraction of the photo's long side")
    width: Range = _h((0.002, 0.006), "scratch width, as a fraction of the short side (narrower than a pixel is "
                                      "drawn as one fainter pixel)")
    strength: Range = _h((0.3, 0.9), "scratch opacity (0-1)")
    bright: float = _h(0.7, "chance that a scratch is bright (the print scratched) rather than dark (the negative)")


@dataclass
class DustConfig:
    """Dust specks and short fibres, either polarity, plus a few larger spots."""

    p: float = _p("dust", 0.6)
    count: IntRange = _h((5, 60), "number of dust specks")
    radius: Range = _h((0.001, 0.004), "speck radius, as a fraction of the short side")
    fibres: IntRange = _h((0, 3), "number of short fibres")
    spots: IntRange = _h((0, 3), "number of larger spots (radius up to 3x a speck's)")
    strength: Range = _h((0.4, 1.0), "opacity of specks, fibres and spots (0-1)")
    bright: float = _h(0.5, "chance that a speck is bright rather than dark")


@dataclass
class BlurConfig:
    """Soft focus, camera shake and scanner optics, as one Gaussian."""

    p: float = _p("blur", 0.6)
    sigma: Range = _h((0.001, 0.006), "Gaussian sigma, as a fraction of the short side")


@dataclass
class NoiseConfig:
    """Film grain: strongest in the midtones, clumped over `grain` (finer than a pixel: white noise)."""

    p: float = _p("film grain", 0.8)
    sigma: Range = _h((0.01, 0.05), "grain standard deviation in the midtones (0-1 of the gray range)")
    grain: Range = _h((0.0, 0.004), "grain clump size, as a fraction of the short side (below a pixel: white noise)")


@dataclass
class ResizeConfig:
    """A copy of a copy: shrunk by `scale` and blown back up, losing fine detail."""

    p: float = _p("a shrink-and-enlarge", 0.35)
    scale: Range = _h((1.2, 2.5), "shrink factor before the photo is blown back up to its size")


@dataclass
class JpegConfig:
    """Scans saved as JPEG: blocking and ringing."""

    p: float = _p("JPEG compression", 0.5)
    quality: IntRange = _h((30, 90), "JPEG quality (1-95)")


@dataclass
class DegradeConfig:
    """All transforms; the defaults give a realistic mix of old-photo damage."""

    emulsion: EmulsionConfig = field(default_factory=EmulsionConfig)
    fade: FadeConfig = field(default_factory=FadeConfig)
    tone: ToneConfig = field(default_factory=ToneConfig)
    stain: StainConfig = field(default_factory=StainConfig)
    scratch: ScratchConfig = field(default_factory=ScratchConfig)
    dust: DustConfig = field(default_factory=DustConfig)
    blur: BlurConfig = field(default_factory=BlurConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    resize: ResizeConfig = field(default_factory=ResizeConfig)
    jpeg: JpegConfig = field(default_factory=JpegConfig)


# Images travel between transforms as float32 arrays in [0, 1]: (H, W) gray or (H, W, 3) RGB.
# Smooth fields and masks are made at low resolution or as 8-bit PIL images, which keeps a
# 3000 x 2000 photo within a few hundred milliseconds.


def _uniform(rng: np.random.Generator, bounds: Range) -> float:
    return float(rng.uniform(bounds[0], bounds[1]))


def _integers(rng: np.random.Generator, bounds: IntRange) -> int:
    return int(rng.integers(bounds[0], bounds[1], endpoint=True))


def _short_side(x: np.ndarray) -> int:
    return min(x.shape[0], x.shape[1])


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _to_float(pixels: np.ndarray | Image.Image) -> np.ndarray:
    return np.asarray(pixels).astype(np.float32) * np.float32(1.0 / 255.0)


def _upsample(plane: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A smooth (h, w) field in [0, 1] -> (H, W) for size (W, H); 8 bits are plenty for it."""
    small = Image.fromarray(_to_uint8(plane))
    return _to_float(small.resize(size, Image.Resampling.BILINEAR))


def _darken(x: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """Multiply by 1 - amount (H, W); in RGB the blue drops most, as on yellowed paper."""
    if x.ndim == 2:
        return x * (1.0 - amount)
    return x * np.clip(1.0 - amount[..., None] * _YELLOWING, 0.0, 1.0)


def _fade(x: np.ndarray, cfg: FadeConfig, rng: np.random.Generator) -> np.ndarray:
    black, white = _uniform(rng, cfg.black), _uniform(rng, cfg.white)
    bend = _uniform(rng, cfg.midtones)
    curved = x + bend * x * (1.0 - x)  # monotonic for |bend| <= 1, and ends stay put
    return black + (white - black) * curved


def _tone(x: np.ndarray, cfg: ToneConfig, rng: np.random.Generator) -> np.ndarray:
    h, w = x.shape[:2]
    sepia, uneven = _uniform(rng, cfg.sepia), _uniform(rng, cfg.uneven)
    cells = _integers(rng, cfg.cells)
    coarse = Image.fromarray(rng.random((cells + 1, cells + 1), dtype=np.float32), "F")
    smooth = np.asarray(coarse.resize((64, 64), Image.Resampling.BICUBIC))
    smooth = (smooth - smooth.min()) / max(float(np.ptp(smooth)), 1e-6)
    ageing = uneven * _upsample(smooth, (w, h))
    if x.ndim == 3:
        x = np.power(x, 1.0 + sepia * _SEPIA_EXPONENTS)
    return _darken(x, ageing)


def _stain(x: np.ndarray, cfg: StainConfig, rng: np.random.Generator) -> np.ndarray:
    # Stains have no fine detail: drawn on a small canvas, softened, and scaled up.
    h, w = x.shape[:2]
    zoom = min(1.0, _STAIN_CANVAS / _short_side(x))
    size = (max(1, round(w * zoom)), max(1, round(h * zoom)))
    stains = np.zeros((size[1], size[0]), dtype=np.float32)
    for _ in range(_integers(rng, cfg.count)):
        radius = _uniform(rng, cfg.radius) * min(size)
        centre = rng.random(2) * size
        blob = Image.new("L", size)
        draw = ImageDraw.Draw(blob)
        for _ in range(rng.integers(2, 6)):  # overlapping ellipses make an irregular blob
            cx, cy = centre + rng.normal(0.0, 0.4 * radius, 2)
            rx, ry = radius * rng.uniform(0.4, 0.8, 2)
            draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=255)
        tide = ImageChops.subtract(blob.filter(ImageFilter.MaxFilter(3)), blob)  # where the water dried
        stains = np.maximum(stains, _uniform(rng, cfg.strength) * (_to_float(blob) + 0.8 * _to_float(tide)))
    soft = Image.fromarray(_to_uint8(stains)).filter(ImageFilter.GaussianBlur(0.7))
    return _darken(x, _upsample(_to_float(soft), (w, h)))


def _line_points(rng: np.random.Generator, start: np.ndarray, length: float, bend: float, n: int) -> np.ndarray:
    """(n + 1, 2) points along a gently bent line: a quadratic Bezier from `start`."""
    angle = rng.uniform(0.0, np.pi)
    direction = np.array((np.cos(angle), np.sin(angle)))
    normal = np.array((-direction[1], direction[0]))
    end = start + length * direction
    control = (start + end) / 2 + normal * length * bend * rng.uniform(-1.0, 1.0)
    t = np.linspace(0.0, 1.0, n + 1)[:, None]
    return (1 - t) ** 2 * start + 2 * (1 - t) * t * control + t**2 * end


class _Marks:
    """Bright and dark 8-bit masks that scratches and dust are drawn into, then laid on x."""

    def __init__(self, shape: tuple[int, int]):
        self.bright = Image.new("L", (shape[1], shape[0]))
        self.dark = Image.new("L", (shape[1], shape[0]))

    def draw(self, bright: bool) -> ImageDraw.ImageDraw:
        return ImageDraw.Draw(self.bright if bright else self.dark)

    def apply(self, x: np.ndarray) -> np.ndarray:
        x = x.copy()
        for mask, bright in ((self.bright, True), (self.dark, False)):
            pixels = np.asarray(mask)
            rows, cols = np.nonzero(pixels)  # marks cover few pixels: touch only those
            amount = _to_float(pixels[rows, cols])
            if x.ndim == 3:
                amount = amount[:, None]
            under = x[rows, cols]
            x[rows, cols] = under + (1.0 - under) * amount if bright else under * (1.0 - amount)
        return x


def _draw_line(draw: ImageDraw.ImageDraw, points: np.ndarray, width: float, strength: float,
               rng: np.random.Generator) -> None:
    """Draw segment by segment, each with its own opacity and some left out, as worn lines are."""
    pixels = max(1, round(width))
    strength *= min(1.0, width)  # a sub-pixel line is a fainter one-pixel line
    for a, b in zip(points[:-1], points[1:]):
        if rng.random() < 0.15:
            continue
        draw.line([tuple(a), tuple(b)], fill=round(255 * strength * rng.uniform(0.5, 1.0)), width=pixels)


def _scratch(x: np.ndarray, cfg: ScratchConfig, rng: np.random.Generator) -> np.ndarray:
    h, w = x.shape[:2]
    short = _short_side(x)
    marks = _Marks((h, w))
    for _ in range(_integers(rng, cfg.count)):
        start = rng.random(2) * (w, h)
        points = _line_points(rng, start, _uniform(rng, cfg.length) * max(h, w), 0.1, 12)
        draw = marks.draw(rng.random() < cfg.bright)
        _draw_line(draw, points, _uniform(rng, cfg.width) * short, _uniform(rng, cfg.strength), rng)
    return marks.apply(x)


def _dust(x: np.ndarray, cfg: DustConfig, rng: np.random.Generator) -> np.ndarray:
    h, w = x.shape[:2]
    short = _short_side(x)
    marks = _Marks((h, w))
    specks = _integers(rng, cfg.count)
    spots = _integers(rng, cfg.spots)
    for i in range(specks + spots):
        radius = _uniform(rng, cfg.radius) * short * (rng.uniform(1.5, 3.0) if i >= specks else 1.0)
        strength = _uniform(rng, cfg.strength) * min(1.0, radius / 0.5)  # sub-pixel: fainter
        radius = max(radius, 0.5)
        cx, cy = rng.random() * w, rng.random() * h
        ry = radius * rng.uniform(0.6, 1.4)
        box = (cx - radius, cy - ry, cx + radius, cy + ry)
        marks.draw(rng.random() < cfg.bright).ellipse(box, fill=round(255 * strength))
    for _ in range(_integers(rng, cfg.fibres)):
        start = rng.random(2) * (w, h)
        points = _line_points(rng, start, rng.uniform(0.02, 0.08) * short, 0.6, 8)
        draw = marks.draw(rng.random() < cfg.bright)
        _draw_line(draw, points, cfg.radius[0] * short, _uniform(rng, cfg.strength), rng)  # finest dust
    return marks.apply(x)


def _blur(x: np.ndarray, cfg: BlurConfig, rng: np.random.Generator) -> np.ndarray:
    # PIL blurs only 8-bit images, and fast; an 8-bit step is what a scan holds anyway.
    h, w = x.shape[:2]
    sigma = _uniform(rng, cfg.sigma) * _short_side(x)
    image = Image.fromarray(_to_uint8(x))
    k = max(1, int(sigma / 2))
    if k == 1:
        return _to_float(image.filter(ImageFilter.GaussianBlur(sigma)))
    # A wide blur is done k times smaller, at 1/k^2 of the cost; the shrinking and growing
    # back add little blur of their own next to a sigma of 2k or more.
    small = image.reduce(k).filter(ImageFilter.GaussianBlur(sigma / k))
    return _to_float(small.resize((w, h), Image.Resampling.BILINEAR))


def _noise(x: np.ndarray, cfg: NoiseConfig, rng: np.random.Generator) -> np.ndarray:
    h, w = x.shape[:2]
    grain = max(1.0, _uniform(rng, cfg.grain) * _short_side(x))
    sigma = _uniform(rng, cfg.sigma)
    shape = (max(1, round(h / grain)), max(1, round(w / grain)))
    # The sum of two uniforms: near enough Gaussian for grain, and much faster to draw.
    noise = rng.random(shape, dtype=np.float32) + rng.random(shape, dtype=np.float32) - 1.0
    if grain > 1.0:  # clumps: bilinear growing smooths, so rescale to the drawn sigma after
        noise = _upsample(noise / 2.0 + 0.5, (w, h)) - 0.5
    noise *= sigma / max(float(noise[::4, ::4].std()), 1e-6)
    luma = x if x.ndim == 2 else x.mean(axis=-1)
    grain_field = noise * (0.5 + 2.0 * luma * (1.0 - luma))  # grain shows most in the midtones
    return x + (grain_field if x.ndim == 2 else grain_field[..., None])


def _resize(x: np.ndarray, cfg: ResizeConfig, rng: np.random.Generator) -> np.ndarray:
    h, w = x.shape[:2]
    scale = _uniform(rng, cfg.scale)
    small = (max(1, round(w / scale)), max(1, round(h / scale)))
    filters = (Image.Resampling.BOX, Image.Resampling.BILINEAR, Image.Resampling.BICUBIC)
    down, up = filters[rng.integers(len(filters))], filters[1 + rng.integers(len(filters) - 1)]
    shrunk = Image.fromarray(_to_uint8(x)).resize(small, down)
    return _to_float(shrunk.resize((w, h), up))


def _jpeg(x: np.ndarray, cfg: JpegConfig, rng: np.random.Generator) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(_to_uint8(x)).save(buffer, "JPEG", quality=_integers(rng, cfg.quality))
    return _to_float(Image.open(buffer))


_STEPS: tuple[tuple[str, Callable], ...] = (
    ("fade", _fade),
    ("tone", _tone),
    ("stain", _stain),
    ("scratch", _scratch),
    ("dust", _dust),
    ("blur", _blur),
    ("noise", _noise),
    ("resize", _resize),
    ("jpeg", _jpeg),
)


def _run(x: np.ndarray, config: DegradeConfig, rng: np.random.Generator) -> np.ndarray:
    # Seeds drawn from the caller's stream (not rng.spawn), so saving rng's state captures them.
    seeds = rng.integers(0, 2**63, size=len(_STEPS))
    for (name, step), seed in zip(_STEPS, seeds):
        settings, child = getattr(config, name), np.random.default_rng(seed)
        if child.random() < settings.p:
            x = np.clip(step(x, settings, child), 0.0, 1.0)
    return _to_uint8(x)


def photograph(image: Image.Image, config: EmulsionConfig, rng: np.random.Generator) -> Image.Image:
    """An RGB photo as a black-and-white film would have recorded it: an "L" image of the same size.

    With chance `config.p` through one of `config.kinds`, its weights jittered by `config.spread`;
    otherwise the eye's lightness (`imaging.gray_of`). Draws one seed from `rng` either way.
    """
    child = np.random.default_rng(rng.integers(0, 2**63))
    if child.random() >= config.p:
        return gray_of(image)
    weights = np.asarray(EMULSIONS[config.kinds[int(child.integers(len(config.kinds)))]])
    r, g, b = np.clip(weights + child.uniform(-config.spread, config.spread, size=3), 0.0, None).tolist()
    return emulsion_gray(image, (r, g, b))


def degrade(image: Image.Image, config: DegradeConfig, rng: np.random.Generator) -> Image.Image:
    """Damage an 8-bit gray ("L") photo like an old print; returns "L" of the same size."""
    if image.mode != "L":
        raise ValueError(f"degrade expects an 'L' image, got {image.mode!r}")
    return Image.fromarray(_run(_to_float(image), config, rng), "L")


def degrade_rgb(image: Image.Image, config: DegradeConfig, rng: np.random.Generator) -> Image.Image:
    """Make a photo look like a scanned old print, sepia and yellowing included; returns "RGB".

    Old prints are black and white: the print's gray is the photo's Lab lightness with
    a = b = 0 (the eye's gray; `photograph` gives an old emulsion's), and its colour comes
    from toning alone.
    """
    gray = _to_float(gray_of(image))  # (H, W): the photo as a black-and-white print
    x = np.repeat(gray[..., None], 3, axis=-1)
    return Image.fromarray(_run(x, config, rng), "RGB")
