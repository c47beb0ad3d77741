"""A test film made from colour photos, with its clean colour frames known exactly.

    python -m tools.test_film --out film.mp4 --width 854 --height 480

Three shots: a still shot of photo A with fresh film grain on every frame, a pan across A
(`speed` pixels per frame to the left), then a hard cut to photo B, still and grainy again. The
film is the photos' lightness alone (black and white, as colorizer.color defines it) plus grain,
encoded losslessly (H.264 qp 0) so the codec adds nothing to what is measured, with a 440 Hz tone
as its sound track (AAC). tests/test_video.py, tests/test_app_video.py and bench/bench_video.py
build their films here, read them back with frames_of, packets_of and ab_of, and measure flicker.
Default photos: scikit-image's bundled `coffee` and `astronaut` (its data is BSD/public domain).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import skimage.data
import torch
from PIL import Image

from colorizer import color

AUDIO_RATE = 16000


@dataclass
class FilmScript:
    """Which clean colour frame comes at each index, and how the picture moved since the last one."""

    first: Image.Image  # photo A, resized to the frame height and wide enough for the pan
    second: Image.Image  # photo B, resized to cover the frame
    width: int
    height: int
    still: int  # frames of A standing still
    pan: int  # frames of A panning
    after_cut: int  # frames of B after the cut
    speed: int = 2  # pan, pixels per frame

    @classmethod
    def from_photos(cls, a: Image.Image, b: Image.Image, width: int, height: int, still: int, pan: int,
                    after_cut: int, speed: int = 2) -> "FilmScript":
        return cls(_cover(a, width + pan * speed, height), _cover(b, width, height), width, height, still, pan,
                   after_cut, speed)

    @property
    def frames(self) -> int:
        return self.still + self.pan + self.after_cut

    @property
    def cut(self) -> int:
        """Index of the first frame after the hard cut."""
        return self.still + self.pan

    def offset(self, index: int) -> int:
        """x of the crop window in photo A (0 for the still shot and for B)."""
        return max(0, min(index, self.cut - 1) - self.still + 1) * self.speed if index < self.cut else 0

    def shift(self, index: int) -> int | None:
        """Pixels the picture moved left between frame index-1 and index; None across the cut."""
        if index == 0 or index == self.cut:
            return None
        return self.offset(index) - self.offset(index - 1)

    def clean(self, index: int) -> np.ndarray:
        """The clean colour frame (H, W, 3) uint8."""
        if index >= self.cut:
            return np.asarray(self.second)
        x = self.offset(index)
        return np.asarray(self.first)[:, x : x + self.width]


def _cover(photo: Image.Image, width: int, height: int) -> Image.Image:
    """Resize to cover width x height, then crop the centre."""
    scale = max(width / photo.width, height / photo.height)
    size = (max(width, round(photo.width * scale)), max(height, round(photo.height * scale)))
    big = photo.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    left, top = (big.width - width) // 2, (big.height - height) // 2
    return big.crop((left, top, left + width, top + height))


def default_photos() -> tuple[Image.Image, Image.Image]:
    return Image.fromarray(skimage.data.coffee()), Image.fromarray(skimage.data.astronaut())


def gray_of(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 colour -> (H, W) float gray in [0, 255] of the same lightness."""
    tensor = torch.from_numpy(np.array(rgb)).permute(2, 0, 1).float() / 255.0
    return color.rgb_to_gray(tensor)[0].numpy() * 255.0


def write_film(path: Path, script: FilmScript, rate: int = 24, grain: float = 8.0, seed: int = 0,
               audio: bool = True) -> None:
    """Encode the script's frames, in black and white with fresh gaussian grain (std `grain` levels),
    and a tone as long as the film."""
    rng = np.random.default_rng(seed)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=rate, options={"qp": "0", "preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = script.width, script.height, "yuv420p"
        sound = out.add_stream("aac", rate=AUDIO_RATE) if audio else None
        if sound is not None:
            sound.layout = "mono"
        for index in range(script.frames):
            gray = gray_of(script.clean(index)) + rng.normal(0.0, grain, (script.height, script.width))
            frame = av.VideoFrame.from_ndarray(np.clip(gray + 0.5, 0, 255).astype(np.uint8), format="gray")
            frame.pts, frame.time_base = index, Fraction(1, rate)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if sound is not None:
            seconds = np.arange(round(AUDIO_RATE * script.frames / rate)) / AUDIO_RATE
            tone = (0.3 * np.sin(2 * np.pi * 440.0 * seconds)).astype(np.float32)[None]
            frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = AUDIO_RATE, 0
            out.mux(sound.encode(frame))
            out.mux(sound.encode(None))


def write_stream(path: Path, fmt: str, shots: list[tuple[int, int, int]], rate: int = 25) -> None:
    """A headerless film (fmt "h264": a raw stream, whose header states no frame count; "mpegts":
    MPEG-TS) of `shots` (width, height, frames) one after another, each a gray ramp: a stream's
    frame size may change midway, as broadcast recordings do."""
    with path.open("wb") as fh:
        for width, height, frames in shots:
            with av.open(fh, "w", format=fmt) as out:
                video = out.add_stream("libx264", rate=rate, options={"preset": "ultrafast"})
                video.width, video.height, video.pix_fmt = width, height, "yuv420p"
                ramp = np.linspace(30, 220, width, dtype=np.float32)[None].repeat(height, 0)
                for index in range(frames):
                    frame = av.VideoFrame.from_ndarray((ramp + index).astype(np.uint8), format="gray")
                    frame.pts = index
                    out.mux(video.encode(frame))
                out.mux(video.encode(None))


def cut_off(film: Path, path: Path, keep: float = 0.5) -> int:
    """`film` remuxed with its index first (MP4 faststart, as streamed files are), then cut after
    `keep` of its bytes, as an interrupted download is: its header still announces every frame.
    Returns the number of frames announced."""
    whole = path.with_name(path.stem + "-whole.mp4")
    with av.open(str(film)) as src, av.open(str(whole), "w", options={"movflags": "+faststart"}) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in src.streams if s.type in ("video", "audio")}
        frames = src.streams.video[0].frames
        for packet in src.demux(*src.streams):
            if packet.dts is not None and packet.stream.index in streams:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    data = whole.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    whole.unlink()
    return frames


def frames_of(path: Path, fmt: str = "rgb24") -> list[np.ndarray]:
    """Every frame of a film, decoded as `fmt` (rgb24: (H, W, 3), gray: (H, W)), uint8."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format=fmt) for frame in container.decode(video=0)]


def packets_of(path: Path | str, kind: str = "audio") -> list[bytes]:
    """The non-empty packets of a film's first `kind` stream, undecoded: equal lists mean a stream was
    copied bit for bit."""
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(**{kind: 0}) if p.size]


def ab_of(rgb: np.ndarray) -> np.ndarray:
    """ab (2, H, W), Lab units, of an (H, W, 3) uint8 frame: the colour, without the lightness."""
    return color.lab_of_rgb8(rgb)[1:].numpy()


def block_means(ab: np.ndarray, block: int) -> np.ndarray:
    """ab (2, H, W) averaged over block x block squares: the colour one sees, without the per-pixel unit or so
    that 8-bit rounding and the gamut add where vivid colour meets grainy lightness."""
    return torch.nn.functional.avg_pool2d(torch.from_numpy(ab)[None], block)[0].numpy()


def flicker(abs_: list[np.ndarray], script: FilmScript, frames: range, block: int = 1) -> float:
    """Mean |ab_t - ab_t-1| (Euclidean, Lab units) over pixels showing the same point of the scene,
    after averaging ab over block x block squares."""
    changes = []
    for t in frames:
        shift = script.shift(t)
        if shift is None:
            continue
        now, before = abs_[t][:, :, : script.width - shift], abs_[t - 1][:, :, shift:]
        if block > 1:
            now, before = block_means(now, block), block_means(before, block)
        changes.append(float(np.sqrt(((now - before) ** 2).sum(axis=0)).mean()))
    return float(np.mean(changes))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="film to write (.mp4)")
    parser.add_argument("--width", type=int, default=854)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--still", type=int, default=24, help="frames of the still shot [%(default)s]")
    parser.add_argument("--pan", type=int, default=24, help="frames of the pan [%(default)s]")
    parser.add_argument("--after-cut", type=int, default=24, help="frames after the cut [%(default)s]")
    parser.add_argument("--grain", type=float, default=8.0, help="grain std, in 8-bit levels [%(default)s]")
    args = parser.parse_args(argv)
    script = FilmScript.from_photos(*default_photos(), args.width, args.height, args.still, args.pan,
                                    args.after_cut)
    write_film(args.out, script, grain=args.grain)
    print(f"wrote {args.out}: {script.frames} frames, cut at frame {script.cut}")


if __name__ == "__main__":
    main()
