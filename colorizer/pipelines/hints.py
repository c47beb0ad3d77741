"""Colour hints: the person says "this coat was red", and the photo follows.

    colorizer.colorize("grandpa.jpg", hints=[(120, 340, "#8b1a1a"), Stroke([(10, 5), (60, 5)], (40, 90, 160))])

A hint is a Point, a Stroke (a polyline) or a painted Region in the input photo's pixels, with an
sRGB colour (colorizer.io.hints: their spellings, limits and files). Only the colour's chroma
(Lab a, b) is used: the photo's own lightness is never changed.

How hints spread (`apply_hints`), at the model's render size, on top of any weights. A hint is local
by default: it colours its region and what looks like it nearby, and stops at strong edges. It
reaches further only as far as the hints themselves show it (`_carry`, "carry" below): each colour
group of hints is predicted from the others by the wide spread, and the weight in [0, 1] that
predicts them best is how far all of them carry. One stroke, or strokes of one colour, predict
nothing but themselves and carry nowhere; twenty true colours that agree the model is off the same
way carry across the photo. Three steps:
 0. The photo's cast (`_fit_cast`): an affine map of the model's ab (a gain, a turn of hue, a shift)
    fitted to the hints by ridge regression towards "no change", and applied to the whole photo only
    as far as the hints confirm it, by the same leave-one-colour-out test. One colour, however many
    strokes of it, confirms nothing and changes nothing away from its region.
 1. Look-alikes (`_spread_to_lookalikes`): a hint's correction t = hint ab - model ab goes, in part,
    to every pixel that looks like the hinted one to the model: similar lightness AND similar model
    colour (the rest of the grass the model painted beige, the other patch of the same sky), within
    LOOKALIKE_NEAR of the long side, and as far as LOOKALIKE_REACH as the hints carry, weighed against
    LOOKALIKE_PRIOR, the weight of the model's own colour. Pixels of another lightness are untouched,
    so nothing crosses a strong edge.
 2. Edge-aware (what is left of each hint's correction, on the step-1 colour):
    propagation S = (I + L / mu)^-1, L the graph Laplacian of Levin, Lischinski & Weiss (2004)
                "Colorization using optimization": 4-neighbour affinities exp(-dL^2 / 2 sigma^2)
                from the lightness, so colour flows along regions of similar lightness and
                stops at strong edges; 1 / sqrt(mu) is the reach, in pixels: REACH_NEAR of the
                long side for hints that carry nowhere; as they carry, up to REACH for hints in
                one place, shorter as they cover more of the photo (each hint's neighbours then
                know the colour there better than it does).
    blend       ab = ab1 + conf * S(m t) / S(m),  conf = min(1, S(m) / S_point(full)), full from
                FULL_NEAR to REACH_FULL as the hints carry
The ratio S(m t) / S(m) is an edge-aware weighted average of the nearby hints' corrections (it
has no dip between hints, as a harmonic interpolation of single pixels has in 2-D); the
confidence S(m) says how much hint evidence reaches a pixel: full near a hint, fading beyond, and
next to nothing across a strong edge, where the model's own colour stays. `gaussian_blend` is step 2 with a plain (edge-blind) Gaussian and no steps 0 and 1,
the baseline the evaluation compares against (`colorizer.evaluate.hints`). The steps and their
constants were chosen on training photos (docs/experiments/hint-spread-steps.md), the local ones
on examples/ and tests/data/holdout (docs/experiments/hints-local-by-default.md).

Speed: S is solved by a sparse LU (scipy.sparse.linalg.splu, one factorisation for the three
right-hand sides) on a grid COARSE times smaller than the render size, brought back to render size
by joint bilateral upsampling (each coarse value weighted by how close its lightness is to the
pixel's, so nothing crosses an edge) and refined by a few Jacobi sweeps of the full-size system.
See bench/bench_hints.py and docs/BENCHMARKS.md.

A model trained with hints as input (Zhang et al. 2017, "Real-time user-guided colorization")
would learn what a hint implies beyond its region (a red coat, so a red hat?); see README.md.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spl
from scipy import ndimage, special
import torch
import torch.nn.functional as F

from colorizer import color
from colorizer.io.hints import RGB, Hint, Point, Region

EDGE_SIGMA = 4.0  # L units: neighbours this far apart in lightness are linked by exp(-1/2); 20 apart: 4e-6
REACH = 0.5  # of the render size's long side: the decay length of a hint's pull (1 / sqrt(mu)) ...
SITE_GRID, REACH_MIN = 8, 0.1  # ... divided by sqrt(cells of an 8-per-long-side grid with hints), down to 0.1
REACH_FULL = 0.15  # of the long side: within this of a lone hint the hint's correction applies in full
REACH_NEAR, FULL_NEAR = 0.08, 0.04  # the same two for hints that carry nowhere (_carry): their own region
GAUSS_SIGMA, GAUSS_FULL = 0.12, 0.06  # the baseline's Gaussian and full-confidence radius (its best found)
LOOKALIKE_L, LOOKALIKE_AB = 8.0, 8.0  # L and ab units: how alike two pixels must look to share a correction
LOOKALIKE_REACH = 0.5  # of the long side: the spatial fall-off (sigma) of step 1, as far as hints carry ...
LOOKALIKE_NEAR = 0.08  # ... and where they carry nowhere: look-alikes nearby
LOOKALIKE_PRIOR = 0.3  # the model's own colour counts as this many perfectly alike hinted pixels
LOOKALIKE_SAMPLES = 48  # at most this many hinted pixels drive step 1 (a long stroke is thinned evenly)
CAST_PRIOR = 3.0  # "no change" counts as this many hints in the fit of the photo's cast (ridge) ...
CAST_SCALE = 10.0  # ... with its gain and turn of hue costing like a shift of this many ab units per unit
CAST_GROUP = 4.0  # ab units: hinted pixels whose colours round alike on this grid are one hint in the fit
COARSE = 3  # the sparse solve runs on a grid this many times smaller than the render size
REFINE_SWEEPS = 12  # Jacobi sweeps at render size after the coarse solve


def hint_ab(rgb: RGB) -> tuple[float, float]:
    """The chroma (Lab a, b) of an sRGB colour: what a hint sets; its lightness is ignored."""
    pixel = torch.tensor(rgb, dtype=torch.float64).view(3, 1, 1) / 255.0
    lab = color.rgb_to_lab(pixel)
    return float(lab[1, 0, 0]), float(lab[2, 0, 0])


def rasterize(hints: Sequence[Hint], image_size: tuple[int, int], shape: tuple[int, int]
              ) -> tuple[np.ndarray, np.ndarray]:
    """Hints in image pixels ((width, height)) -> (mask (h, w), target ab (2, h, w)) on a grid of `shape`.

    A point marks the cell it falls in; a stroke every cell along its segments; a region the cells
    it covers. Where hints overlap, their ab are averaged."""
    (width, height), (h, w) = image_size, shape
    count = np.zeros((h, w))
    total = np.zeros((2, h, w))
    for hint in hints:
        if isinstance(hint, Region):
            xs, ys = _covered(hint, (width / w, height / h))
        else:
            xs, ys = _along(np.array([(hint.x, hint.y)] if isinstance(hint, Point) else list(hint.points),
                                     dtype=np.float64))
        cols = np.clip(np.floor(xs * w / width), 0, w - 1).astype(int)
        rows = np.clip(np.floor(ys * h / height), 0, h - 1).astype(int)
        cells = np.unique(rows * w + cols)
        a, b = hint_ab(hint.color)
        np.add.at(count.ravel(), cells, 1.0)
        np.add.at(total[0].ravel(), cells, a)
        np.add.at(total[1].ravel(), cells, b)
    mask = (count > 0).astype(np.float64)
    return mask, total / np.maximum(count, 1.0)


def _covered(region: Region, cell: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """x and y (image pixels) of the points that mark a region's cells, for cells `cell` (width, height)
    image pixels wide: its painted pixels' centres, and the centres of the cells whose centre it paints
    (so a region finer than the grid marks the cells it falls in, and a coarser one every cell it covers)."""
    left, top, right, bottom = region.box
    rows, cols = region.mask.shape
    px, py = (right - left) / cols, (bottom - top) / rows  # image pixels per mask pixel
    r, c = np.nonzero(region.mask)
    xs, ys = [left + (c + 0.5) * px], [top + (r + 0.5) * py]
    cx = (np.floor(left / cell[0]) + 0.5 + np.arange(int(math.ceil((right - left) / cell[0])) + 1)) * cell[0]
    cy = (np.floor(top / cell[1]) + 0.5 + np.arange(int(math.ceil((bottom - top) / cell[1])) + 1)) * cell[1]
    gx, gy = np.meshgrid(cx[(cx >= left) & (cx < right)], cy[(cy >= top) & (cy < bottom)])
    mi = np.clip(((gy - top) / py).astype(int), 0, rows - 1)
    mj = np.clip(((gx - left) / px).astype(int), 0, cols - 1)
    painted = region.mask[mi, mj]
    return np.concatenate([*xs, gx[painted]]), np.concatenate([*ys, gy[painted]])


def _along(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, 2) polyline -> x and y of samples every quarter pixel along it (the points themselves if n = 1)."""
    xs, ys = [points[:1, 0]], [points[:1, 1]]
    for (x0, y0), (x1, y1) in zip(points[:-1], points[1:]):
        steps = max(1, int(math.ceil(4 * math.hypot(x1 - x0, y1 - y0))))
        t = np.linspace(0.0, 1.0, steps + 1)[1:]
        xs.append(x0 + t * (x1 - x0))
        ys.append(y0 + t * (y1 - y0))
    return np.concatenate(xs), np.concatenate(ys)


def _affinities(lightness: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(h, w) L -> horizontal (h, w-1) and vertical (h-1, w) neighbour weights in (0, 1]."""
    wx = np.exp(-np.diff(lightness, axis=1) ** 2 / (2 * EDGE_SIGMA**2))
    wy = np.exp(-np.diff(lightness, axis=0) ** 2 / (2 * EDGE_SIGMA**2))
    return wx, wy


def _laplacian(wx: np.ndarray, wy: np.ndarray) -> sp.csr_matrix:
    """The graph Laplacian D - W of the 4-neighbour grid with these weights, (h*w, h*w)."""
    h, w = wy.shape[0] + 1, wx.shape[1] + 1
    idx = np.arange(h * w).reshape(h, w)
    rows = np.concatenate([idx[:, :-1].ravel(), idx[:-1].ravel()])
    cols = np.concatenate([idx[:, 1:].ravel(), idx[1:].ravel()])
    vals = np.concatenate([wx.ravel(), wy.ravel()])
    weights = sp.coo_matrix((vals, (rows, cols)), shape=(h * w, h * w))
    weights = (weights + weights.T).tocsr()
    return sp.diags(np.asarray(weights.sum(axis=1)).ravel()) - weights


def smooth(lightness: np.ndarray, sources: np.ndarray, reach: float) -> np.ndarray:
    """S(sources) = (I + L / mu)^-1 sources for (k, h, w) sources on the (h, w) lightness grid; mu = 1 / reach^2.

    Solved by sparse LU on a grid COARSE times smaller, joint-upsampled, then Jacobi sweeps at full size."""
    h, w = lightness.shape
    coarse_shape = (max(2, h // COARSE), max(2, w // COARSE))
    scale = (h * w / (coarse_shape[0] * coarse_shape[1])) ** 0.5
    coarse_l = _resize(lightness[None], coarse_shape, "area")[0]
    coarse_src = _resize(sources, coarse_shape, "area")
    n = coarse_shape[0] * coarse_shape[1]
    mu = (scale / reach) ** 2  # the same reach, counted in coarse pixels
    system = (sp.identity(n, format="csc") + _laplacian(*_affinities(coarse_l)) / mu)
    solved = spl.splu(system.tocsc(), permc_spec="MMD_AT_PLUS_A").solve(coarse_src.reshape(len(sources), n).T)
    x = _joint_upsample(solved.T.reshape(sources.shape[0], *coarse_shape), coarse_l, lightness)
    return _jacobi(lightness, sources, x, 1.0 / reach**2, REFINE_SWEEPS)


def _joint_upsample(coarse: np.ndarray, coarse_l: np.ndarray, lightness: np.ndarray) -> np.ndarray:
    """(k, ch, cw) -> (k, h, w): bilinear, but each coarse sample weighted by how close its lightness is
    to the fine pixel's (joint bilateral upsampling), so no value crosses a strong edge."""
    (h, w), (ch, cw) = lightness.shape, coarse_l.shape
    ys = np.clip((np.arange(h) + 0.5) * ch / h - 0.5, 0, ch - 1)
    xs = np.clip((np.arange(w) + 0.5) * cw / w - 0.5, 0, cw - 1)
    y0, x0 = np.minimum(ys.astype(int), ch - 2), np.minimum(xs.astype(int), cw - 2)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    total, weight = np.zeros((coarse.shape[0], h, w)), np.zeros((h, w))
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            rows, cols = (y0 + dy)[:, None], (x0 + dx)[None, :]
            similar = np.exp(-(coarse_l[rows, cols] - lightness) ** 2 / (2 * EDGE_SIGMA**2))
            k = wy * wx * similar + 1e-12 * wy * wx  # never all zero: then plain bilinear
            total += k * coarse[:, rows, cols]
            weight += k
    return total / weight


def _jacobi(lightness: np.ndarray, sources: np.ndarray, x: np.ndarray, mu: float, sweeps: int) -> np.ndarray:
    """Sweeps of x_r <- (mu b_r + sum_s w_rs x_s) / (mu + sum_s w_rs): the fine-grid system, edges sharp."""
    wx, wy = _affinities(lightness)
    degree = np.zeros_like(lightness)
    degree[:, :-1] += wx
    degree[:, 1:] += wx
    degree[:-1] += wy
    degree[1:] += wy
    denominator = mu + degree
    for _ in range(sweeps):
        pull = mu * sources
        pull[:, :, :-1] += wx * x[:, :, 1:]
        pull[:, :, 1:] += wx * x[:, :, :-1]
        pull[:, :-1] += wy * x[:, 1:]
        pull[:, 1:] += wy * x[:, :-1]
        x = pull / denominator
    return x


def _resize(maps: np.ndarray, shape: tuple[int, int], mode: str) -> np.ndarray:
    """(k, h, w) -> (k, *shape) by area averaging or bilinear interpolation."""
    kwargs = {"align_corners": False} if mode == "bilinear" else {}
    return F.interpolate(torch.from_numpy(maps)[None], size=shape, mode=mode, **kwargs)[0].numpy()


def _lone_point_level(reach: float, distance: float) -> float:
    """S(m) at `distance` pixels from a lone one-pixel hint in a large flat image: the full-confidence level.

    S is (I - reach^2 Laplacian)^-1, whose 2-D Green's function is K0(r / reach) / (2 pi reach^2)."""
    return float(special.k0(distance / reach)) / (2 * math.pi * reach**2)


def _blend(model_ab: np.ndarray, mask: np.ndarray, target: np.ndarray, spread, full_level: float) -> np.ndarray:
    """model ab + conf * spread(m t) / spread(m), t = target - model ab at the hinted pixels (the correction
    each hint asks for), conf = min(1, spread(m) / full_level); each hinted pixel gets its hint's ab.
    Spreading corrections keeps the model's own variation of colour across a region (its shading,
    its texture) and moves it towards the hint; (2, h, w) ab."""
    correction = mask * (target - model_ab)  # nothing away from the hints, where mask is 0
    num_a, num_b, den = spread(np.stack([correction[0], correction[1], mask]))
    conf = np.clip(den / full_level, 0.0, 1.0)
    shift = np.stack([num_a, num_b]) / np.maximum(den, 1e-300)
    out = model_ab + conf * shift
    return out + mask * (target - out)  # hard constraints, as in Levin et al.: a hinted pixel has its hint


def apply_hints(ab: torch.Tensor, lightness: torch.Tensor, hints: Sequence[Hint],
                image_size: tuple[int, int]) -> torch.Tensor:
    """The model's ab steered by hints (look-alikes, then edge-aware); the entry point for photos and video frames.

    ab: (2, h, w) the model's ab (Lab units) at render size; lightness: (1, h, w) L in [0, 100],
    the same grid (what the model saw); hints in pixels of the (width, height) `image_size` photo,
    already checked (parse_hints, check_inside). Returns (2, h, w) float32. No hints: `ab` itself.
    """
    if not hints:
        return ab
    mask, target = rasterize(hints, image_size, tuple(ab.shape[-2:]))
    return steer(ab, lightness, mask, target)


def steer(ab: torch.Tensor, lightness: torch.Tensor, mask: np.ndarray, target: np.ndarray) -> torch.Tensor:
    """apply_hints on rasterized hints (see rasterize): the three steps, (2, h, w) float32.

    `mask` may weigh the hinted pixels in [0, 1] rather than mark them: a film's hints let go, a
    pixel at a time, where the picture has changed since the hinted frame (colorizer.pipelines.film)."""
    h, w = ab.shape[-2:]
    luma, model = lightness[0].double().numpy(), ab.double().numpy()
    carry = _carry(model, luma, mask, target)
    wide = max(REACH_MIN, REACH / math.sqrt(_sites(mask)))
    reach = (REACH_NEAR + carry * (wide - REACH_NEAR)) * max(h, w)
    full = (FULL_NEAR + carry * (REACH_FULL - FULL_NEAR)) * max(h, w)
    model_ab = _spread_to_lookalikes(_fit_cast(model, mask, target), luma, mask, target, carry)
    out = _blend(model_ab, mask, target, lambda s: smooth(luma, s, reach), _lone_point_level(reach, full))
    return torch.from_numpy(out).float()


def _samples(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of at most LOOKALIKE_SAMPLES hinted pixels, evenly along them, so a long stroke
    counts, but boundedly."""
    rows, cols = np.nonzero(mask)
    if len(rows) > LOOKALIKE_SAMPLES:
        keep = np.linspace(0, len(rows) - 1, LOOKALIKE_SAMPLES).round().astype(int)
        rows, cols = rows[keep], cols[keep]
    return rows, cols


def _carry(ab: np.ndarray, luma: np.ndarray, mask: np.ndarray, target: np.ndarray) -> float:
    """How far the hints show that a correction carries beyond its own place, in [0, 1]: 0 keeps every
    hint to its region and its look-alikes nearby, 1 lets it reach across the photo.

    Each colour group of hints (as in _fit_cast) is predicted from the others by the wide look-alike
    spread (LOOKALIKE_REACH); the weight is the least-squares one for those predictions, clipped. One
    colour, however many strokes of it, predicts nothing but itself, so it carries nowhere; hints that
    contradict one another carry nowhere either; twenty true colours that agree the model is off the
    same way carry far."""
    rows, cols = _samples(mask)
    if len(rows) < 2:
        return 0.0
    goal = target[:, rows, cols].T  # (n, 2)
    group = np.unique(np.round(goal / CAST_GROUP), axis=0, return_inverse=True)[1].reshape(-1)
    if group.max() == 0:
        return 0.0
    h, w = luma.shape
    l, a, b = luma[rows, cols], ab[0, rows, cols], ab[1, rows, cols]
    exponent = (l[:, None] - l[None]) ** 2 / (2 * LOOKALIKE_L**2)
    exponent += ((a[:, None] - a[None]) ** 2 + (b[:, None] - b[None]) ** 2) / (2 * LOOKALIKE_AB**2)
    exponent += ((rows[:, None] - rows[None]) ** 2 + (cols[:, None] - cols[None]) ** 2) / (
        2 * (LOOKALIKE_REACH * max(h, w)) ** 2)
    k = mask[rows, cols][None] * np.exp(-exponent) * (group[:, None] != group[None])  # (n, n): others only
    wanted = goal - np.column_stack([a, b])  # (n, 2) each hint's correction
    predicted = (k @ wanted) / (LOOKALIKE_PRIOR + k.sum(axis=1))[:, None]
    weight = mask[rows, cols] / np.bincount(group, weights=mask[rows, cols])[group]  # each group counts once
    spread = float((weight[:, None] * predicted * predicted).sum())
    agree = float((weight[:, None] * predicted * wanted).sum())
    return min(1.0, max(0.0, agree / spread)) if spread > 1e-9 else 0.0


def _sites(mask: np.ndarray) -> int:
    """How many cells of a SITE_GRID-per-long-side grid hold hinted pixels (at least 1): how widely
    the hints cover the photo, whether they are points, strokes or paint."""
    rows, cols = np.nonzero(mask)
    cell = max(mask.shape) / SITE_GRID
    return max(1, len(np.unique((rows // cell).astype(int) * (SITE_GRID + 1) + (cols // cell).astype(int))))


def _fit_cast(ab: np.ndarray, mask: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Step 0 (module docstring): (2, h, w) ab with the affine map a, b -> A (a, b) + c that the hints
    confirm, weighed by how well it predicts each colour group of hints from the others. One group
    has no others: its prediction is "no change", so one colour alone never sets a cast."""
    rows, cols = np.nonzero(mask)
    if len(rows) == 0:
        return ab
    goal = target[:, rows, cols].T  # (n, 2) hinted colours
    group = np.unique(np.round(goal / CAST_GROUP), axis=0, return_inverse=True)[1].reshape(-1)
    if group.max() == 0:
        return ab  # no others to predict it from (and its own sums, taken away, leave rounding noise)
    weight = mask[rows, cols] / np.bincount(group, weights=mask[rows, cols])[group]  # each group counts once
    given = np.column_stack([ab[0, rows, cols], ab[1, rows, cols], np.ones(len(rows))])
    prior = np.diag([CAST_PRIOR * CAST_SCALE**2, CAST_PRIOR * CAST_SCALE**2, CAST_PRIOR])
    identity = np.eye(3, 2)
    gram = (given * weight[:, None]).T @ given
    moment = (given * weight[:, None]).T @ goal

    def fit(gram: np.ndarray, moment: np.ndarray) -> np.ndarray:
        return np.linalg.solve(gram + prior, moment + prior @ identity)

    agree = spread = 0.0
    for g in range(group.max() + 1):
        members = group == g
        held, w_held = given[members], weight[members][:, None]
        others = fit(gram - (held * w_held).T @ held, moment - (held * w_held).T @ goal[members])
        change, wanted = held @ others - held[:, :2], goal[members] - held[:, :2]
        agree += float((w_held * change * wanted).sum())
        spread += float((w_held * change * change).sum())
    alpha = min(1.0, max(0.0, agree / spread)) if spread > 0 else 0.0
    if alpha == 0.0:
        return ab
    affine = fit(gram, moment)
    return ab + alpha * (np.einsum("kc,khw->chw", affine[:2], ab) + affine[2][:, None, None] - ab)


def _spread_to_lookalikes(ab: np.ndarray, luma: np.ndarray, mask: np.ndarray, target: np.ndarray,
                          carry: float) -> np.ndarray:
    """Step 1 (module docstring): (2, h, w) ab with each hint's correction shared by the pixels that look
    like the hinted one, ab + sum_i k_i t_i / (LOOKALIKE_PRIOR + sum_i k_i), where
    k_i = exp(-dL^2 / 2 LOOKALIKE_L^2 - dab^2 / 2 LOOKALIKE_AB^2) g(d), g the spatial fall-off: a Gaussian
    of LOOKALIKE_NEAR of the long side, and of LOOKALIKE_REACH as far as the hints carry (_carry)."""
    rows, cols = _samples(mask)
    h, w = luma.shape
    near, far = LOOKALIKE_NEAR * max(h, w), LOOKALIKE_REACH * max(h, w)
    luma32, ab32 = luma.astype(np.float32), ab.astype(np.float32)
    ys, xs = np.arange(h, dtype=np.float32)[:, None], np.arange(w, dtype=np.float32)[None, :]
    shift, weight = np.zeros((2, h, w), np.float32), np.full((h, w), LOOKALIKE_PRIOR, np.float32)
    for r, c in zip(rows, cols):
        exponent = (luma32 - luma32[r, c]) ** 2 / (2 * LOOKALIKE_L**2)
        exponent += ((ab32[0] - ab32[0, r, c]) ** 2 + (ab32[1] - ab32[1, r, c]) ** 2) / (2 * LOOKALIKE_AB**2)
        d2 = (ys - r) ** 2 + (xs - c) ** 2
        fall_off = (1 - carry) * np.exp(-d2 / (2 * near**2)) + carry * np.exp(-d2 / (2 * far**2))
        k = np.float32(mask[r, c]) * np.exp(-exponent) * fall_off
        shift += k * (target[:, r, c] - ab[:, r, c]).astype(np.float32)[:, None, None]
        weight += k
    return ab + shift / weight


def gaussian_blend(ab: torch.Tensor, hints: Sequence[Hint], image_size: tuple[int, int]) -> torch.Tensor:
    """The edge-blind baseline: `apply_hints` with a plain Gaussian (GAUSS_SIGMA) in place of S.

    Same inputs and output as apply_hints less the lightness, which it ignores."""
    if not hints:
        return ab
    h, w = ab.shape[-2:]
    sigma, full = GAUSS_SIGMA * max(h, w), GAUSS_FULL * max(h, w)
    mask, target = rasterize(hints, image_size, (h, w))
    spread = functools.partial(_gaussian, sigma=sigma)
    level = math.exp(-(full**2) / (2 * sigma**2))
    return torch.from_numpy(_blend(ab.double().numpy(), mask, target, spread, level)).float()


def _gaussian(maps: np.ndarray, sigma: float) -> np.ndarray:
    """(k, h, w) filtered by an unnormalised Gaussian of `sigma` pixels (peak 1), zero outside the image.

    Filtered on a grid where sigma is about 8 cells (mass kept), then upsampled: the result is smooth
    at that scale anyway, and a full-size filter of a 60-pixel sigma would take seconds."""
    h, w = maps.shape[-2:]
    factor = max(1, int(sigma // 8))
    shape = (max(1, round(h / factor)), max(1, round(w / factor)))
    cells = (h * w) / (shape[0] * shape[1])
    small = ndimage.gaussian_filter(_resize(maps, shape, "area") * cells, sigma=(0, sigma / factor, sigma / factor),
                                    mode="constant", truncate=3.0)
    return _resize(small * (2 * math.pi * (sigma / factor) ** 2), (h, w), "bilinear")  # peak 1 again
