"""Reading and writing films with PyAV (FFmpeg's libraries in a wheel): streamed, sound kept.

    decoding thread:  film ──demux──> video packets ──decode──> 8-bit gray frames (H, W) ──┐
                           ──> audio packets, copied as they are ──> mux                    │
    transform thread: your transform (the model) <─────────────────────────────────────────┘
    calling thread:   its items ──finish──> colour frames (H, W, 3) ──encode (H.264, the input's
                      time stamps)──> mux ──> temp file ──rename──> DST

The three stages overlap, each at most `ahead` items in front of the next (FFmpeg's codecs, ONNX
Runtime and torch release the GIL while they work), so a film takes about as long as its slowest
stage rather than all of them in turn. Only those items and what the transform holds (a batch of
frames) are in memory, however long the film. An error in any stage stops the others and is raised
on the calling thread, as it was raised.

Every frame keeps its own time stamp, so variable frame rates survive; size, rotation (display matrix)
and pixel aspect are copied. Audio packets are copied bit for bit where the output container can hold
their codec, else re-encoded to AAC. The output is written through colorizer.io.files.atomic_target
(a temp file beside DST, renamed at the end, with the usual file mode), so a killed run leaves no
half film under DST, and the CLI's stale-temp cleanup removes the leftover. The run's provenance
(colorizer.io.provenance) goes into the container's tags. The CLI imports this module only when it
works, so `--help` stays instant.
"""

from __future__ import annotations

import json
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Generic, TypeVar

import av
import numpy as np

from colorizer.errors import VideoError
from colorizer.io.files import atomic_target

# Folders are searched for these; a file named explicitly is probed whatever its name.
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".wmv", ".flv",
                            ".ogv", ".3gp", ".ts", ".mts", ".m2ts", ".dv", ".vob"})
OUTPUT_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}  # DST suffix -> muxer
# FFmpeg also opens still images (image2, png_pipe, jpeg_pipe ...) and GIFs; those are photos here.
_IMAGE_DEMUXERS = ("image2", "gif", "apng", "webp")
PROVENANCE_KEY = "colorizer_provenance"  # container tag: the run's facts as JSON (colorizer.io.provenance)
FALLBACK_RATE = Fraction(25)  # when a file states no frame rate at all
AHEAD = 4  # items a pipeline stage may run in front of the next by default (a batch): bounded memory
_POLL_S = 0.1  # how often a blocked stage looks whether the film was given up


@dataclass
class FilmInfo:
    """What a film holds, read from its header (no frame decoded)."""

    name: str
    width: int
    height: int
    frames: int  # as the container states it, else estimated from duration x rate; 0 when unknown
    rate: Fraction  # average frames per second
    rotation: int  # degrees the player turns the picture (display matrix), as stored


@dataclass
class FilmReport:
    """What one transcode did: frames written, damage found, things worth telling (a re-encoded sound among them)."""

    frames: int = 0
    damaged: list[int] = field(default_factory=list)  # frames FFmpeg marked corrupt (it conceals them)
    lost_packets: int = 0  # video packets too damaged to decode at all
    resized: list[tuple[int, int, int]] = field(default_factory=list)  # (frame, width, height) of frames scaled
    ended_early: bool = False  # fewer frames than the header stated, or decoding stopped on an error
    notes: list[str] = field(default_factory=list)

    def damage_note(self) -> str | None:
        """One line on the damage found, or None for an intact film."""
        if not (self.damaged or self.lost_packets):
            return None
        parts = []
        if self.damaged:
            parts.append(f"{len(self.damaged)} frame(s) damaged, first at frame {self.damaged[0]} "
                         "(colorized as FFmpeg repaired them)")
        if self.lost_packets:
            parts.append(f"{self.lost_packets} video packet(s) could not be decoded and were left out")
        return "the file is damaged: " + "; ".join(parts)

    def resize_note(self, width: int, height: int) -> str | None:
        """One line on frames whose size differed from the film's (scaled to it), or None."""
        if not self.resized:
            return None
        first, w, h = self.resized[0]
        return (f"{len(self.resized)} frame(s) are not {width}x{height} like the film (the first, frame {first}, "
                f"is {w}x{h}): scaled to {width}x{height}")


def is_video(path: str | os.PathLike) -> bool:
    """Whether `path` should be treated as a film: not an image Pillow knows, and either named like a
    film or found by FFmpeg to hold a video stream. A damaged or empty `old.mp4` counts as a film,
    so its error message speaks of films."""
    from PIL import Image

    path = Path(path)
    try:
        with Image.open(path):
            return False
    except Exception:  # noqa: BLE001 - not an image Pillow knows: maybe a film
        pass
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return True
    try:
        with av.open(str(path)) as container:
            return bool(container.streams.video) and not _is_image_format(container)
    except Exception:  # noqa: BLE001 - FFmpeg cannot read it either: it is reported as a bad photo
        return False


def _is_image_format(container: av.container.InputContainer) -> bool:
    return any(name in _IMAGE_DEMUXERS or name.endswith("_pipe") for name in container.format.name.split(","))


def provenance_tags(path: str | os.PathLike) -> dict[str, str] | None:
    """The provenance facts a film we wrote carries in its container tags; None for any other file."""
    try:
        with av.open(str(path), metadata_errors="replace") as container:
            tag = container.metadata.get(PROVENANCE_KEY)
        return json.loads(tag) if tag else None
    except Exception:  # noqa: BLE001 - unreadable, or not ours
        return None


def _open_input(path: str | os.PathLike) -> av.container.InputContainer:
    """Open a film for reading; VideoError saying what is wrong when it cannot be one."""
    name = os.fspath(path)
    if not os.path.exists(name):
        raise VideoError(f"{name}: no such file")
    if os.path.isdir(name):
        raise VideoError(f"{name}: is a folder, not a film")
    if os.path.getsize(name) == 0:
        raise VideoError(f"{name}: the file is empty (0 bytes)")
    try:
        container = av.open(name, metadata_errors="replace")
    except av.FFmpegError as err:
        raise VideoError(f"{name}: not a film FFmpeg can read ({_ffmpeg_message(err)})") from None
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["no streams"]
        container.close()
        raise VideoError(f"{name}: has no video stream (it holds {', '.join(kinds)})")
    if _is_image_format(container):  # FFmpeg reads a photo as a one-frame film; colorize it as a photo
        container.close()
        raise VideoError(f"{name}: is an image, not a film; colorize it as a photo")
    return container


def _ffmpeg_message(err: av.FFmpegError) -> str:
    return err.strerror or str(err)


def _info(container: av.container.InputContainer, name: str) -> FilmInfo:
    stream = container.streams.video[0]
    rate = stream.average_rate or stream.guessed_rate or FALLBACK_RATE
    duration_s = 0.0
    if stream.duration is not None and stream.time_base:
        duration_s = float(stream.duration * stream.time_base)
    elif container.duration:
        duration_s = container.duration / av.time_base
    frames = stream.frames or round(duration_s * rate)
    return FilmInfo(name, stream.codec_context.width, stream.codec_context.height, int(frames), Fraction(rate), 0)


def probe(path: str | os.PathLike, max_pixels: int | None = None, max_frames: int | None = None) -> FilmInfo:
    """The film's header facts (and the first frame's rotation); VideoError if it is no usable film,
    if its frames are above `max_pixels` (the photo limit, applied per frame), or if it has more than
    `max_frames` frames. A header that states no frame count (a raw .h264 stream, most MKVs) is not
    trusted for that: the video packets are counted (demuxed, not decoded: a fraction of a second for
    minutes of film, stopping one past the limit), so a film too long is refused before any work on it.
    transcode still counts the frames it decodes, for a header that lies."""
    name = os.fspath(path)
    with _open_input(path) as container:
        info = _info(container, name)
        _check_size(info, max_pixels)
        stated = container.streams.video[0].frames  # 0 when the header does not say
        try:
            first = next(container.decode(video=0))
            info.rotation = int(first.rotation)
        except (StopIteration, av.FFmpegError):
            raise VideoError(f"{name}: no frame of its video stream can be decoded") from None
    if max_frames is not None:
        if not stated:
            with _open_input(path) as container:
                info.frames = _count_packets(container, max_frames + 1)
        if info.frames > max_frames:
            said = (f"{info.frames} frames, more than the limit of {max_frames}" if stated
                    else f"more than {max_frames} frames, the limit (counted before any was colorized)")
            raise VideoError(f"{name}: {said}; cut it shorter")
    return info


def _count_packets(container: av.container.InputContainer, stop: int) -> int:
    """The video stream's packets (one per frame, after FFmpeg's parser), counted up to `stop`."""
    count = 0
    try:
        for packet in container.demux(video=0):
            count += packet.size > 0  # the demuxer's empty flush packet is no frame
            if count >= stop:
                break
    except av.FFmpegError:  # damaged further on: what was counted stands, decoding reports the damage
        pass
    return count


def _check_size(info: FilmInfo, max_pixels: int | None) -> None:
    pixels = info.width * info.height
    if pixels <= 0:
        raise VideoError(f"{info.name}: the video stream has no picture size")
    if max_pixels is not None and pixels > max_pixels:
        raise VideoError(f"{info.name}: {info.width}x{info.height} is {pixels / 1e6:.3g} megapixels per frame, "
                         f"above the limit of {max_pixels / 1e6:g} megapixels; downscale it first")


def read_frame(path: str | os.PathLike, index: int) -> np.ndarray:
    """Frame `index` (or the last one, if the film is shorter) as (H, W, 3) uint8 RGB: for previews."""
    with _open_input(path) as container:
        frame = None
        for i, frame in enumerate(container.decode(video=0)):
            if i >= index:
                break
        if frame is None:
            raise VideoError(f"{os.fspath(path)}: no frame can be decoded")
        return frame.to_ndarray(format="rgb24")


Item = TypeVar("Item")
Transform = Callable[[Iterator[np.ndarray]], Iterator[Any]]


class _Cancelled(Exception):
    """Raised inside a stage whose input was given up (the film failed further down the line)."""


class _Ahead(Generic[Item]):
    """Runs an iterator on its own thread, at most `size` items ahead of the one reading it.

    Iterating gives its items in order, then raises whatever it raised. cancel() gives up: the thread
    stops at its next item (it never blocks for good), and join() waits for that, so none outlives the film."""

    def __init__(self, items: Iterator[Item], size: int, name: str):
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(size)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(items,), name=name, daemon=True)
        self._thread.start()

    def _run(self, items: Iterator[Item]) -> None:
        try:
            for item in items:
                if not self._put(("item", item)):
                    return
            self._put(("end", None))
        except BaseException as err:  # noqa: BLE001 - handed to the reader, raised there
            self._put(("error", err))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    def _put(self, entry: tuple[str, Any]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[Item]:
        while True:
            if self._stop.is_set():
                raise _Cancelled
            try:
                kind, value = self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                continue
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value

    def cancel(self) -> None:
        self._stop.set()

    def join(self) -> None:
        self._thread.join()


def transcode(src: str | os.PathLike, dst: str | os.PathLike, transform: Transform, crf: int = 18,
              max_pixels: int | None = None, progress: Callable[[int], None] | None = None,
              preset: str = "medium", tags: dict[str, str] | None = None,
              max_frames: int | None = None, finish: Callable[[Any], np.ndarray] | None = None,
              ahead: int = AHEAD, probed: FilmInfo | None = None) -> FilmReport:
    """Decode SRC, pass its frames through `transform`, encode the result into DST atomically.

    transform: gray frames (H, W) uint8, in order -> one item per frame, same order; it may hold a few
    back (a batch) but must yield one per input. It runs on a thread of its own. finish: turns an item
    into the colour frame (H, W, 3) uint8 at the film's size, on the encoding side, so that per-pixel
    work overlaps the transform's next batch; None: the items are those frames. ahead: how many frames
    (decoded, and transformed) may wait for the next stage; the transform's batch size keeps it busy.
    `progress(n)` is called on the calling thread with the number of frames written so far. `tags` go
    into the container's metadata as JSON under PROVENANCE_KEY. Raises VideoError for a file that is no usable
    film, has a frame above `max_pixels` or more than `max_frames` frames (as the header states, or as its
    packets count when it states none, before any work; and counted as decoded, for a header that lies);
    DST is then untouched. probed: what probe(src, max_pixels, max_frames) returned, when the caller has
    it, so the film is not opened and counted a second time. Frames of another size than the film's are
    scaled to it, and a film that ends early or stops decoding on an error is written as far as it
    goes: both are said in the report's notes (report.ended_early for the latter).
    """
    dst = Path(dst)
    fmt = OUTPUT_FORMATS.get(dst.suffix.lower())
    if fmt is None:
        raise VideoError(f"{dst}: unknown film extension {dst.suffix!r}; use one of {', '.join(OUTPUT_FORMATS)}")
    info = probed or probe(src, max_pixels, max_frames)  # rotation: on the first frame, before the header
    with _open_input(src) as container, atomic_target(dst) as tmp:
        report = _transcode(container, info, str(tmp), fmt, transform, finish, crf, progress, preset, tags or {},
                            max_pixels, max_frames, ahead)
    return report


def _transcode(container: av.container.InputContainer, info: FilmInfo, tmp: str, fmt: str, transform: Transform,
               finish: Callable[[Any], np.ndarray] | None, crf: int, progress: Callable[[int], None] | None,
               preset: str, tags: dict[str, str], max_pixels: int | None, max_frames: int | None,
               ahead: int) -> FilmReport:
    report = FilmReport()
    src_video = container.streams.video[0]
    src_video.thread_type = "AUTO"
    # use_metadata_tags: MP4/MOV keep free-form tags (ours) besides their few standard ones
    options = {"movflags": "+faststart+use_metadata_tags"} if fmt in ("mp4", "mov") else {}
    with av.open(tmp, "w", format=fmt, options=options) as out:
        out.metadata[PROVENANCE_KEY] = json.dumps(tags, sort_keys=True)
        video = _add_video_stream(out, src_video, info, crf, preset)
        audio_map, encoders = _add_audio_streams(out, container, report)
        stamps: deque[int] = deque()  # time stamps of frames decoded, not yet written (one thread appends)
        muxing = threading.Lock()  # sound is muxed on the decoding thread, pictures on this one

        def gray_frames() -> Iterator[np.ndarray]:
            """Demux in file order: audio is muxed as it comes, video frames go to the transform."""
            last, decoded = None, 0
            for packet in _demux(container, src_video, list(audio_map), info, report, lambda: decoded):
                if packet.stream.type == "audio":
                    with muxing:
                        _carry_audio(out, packet, audio_map[packet.stream.index], encoders)
                    continue
                for frame in _decode(packet, report):
                    if max_frames is not None and decoded >= max_frames:
                        raise VideoError(f"{info.name}: more than {max_frames} frames, the limit; cut it shorter")
                    if frame.is_corrupt:
                        report.damaged.append(decoded)
                    last = _next_stamp(frame, last, src_video.time_base, info.rate)
                    stamps.append(last)
                    yield _gray(frame, decoded, info, max_pixels, report)
                    decoded += 1

        decoding = _Ahead(gray_frames(), ahead, "film-decode")
        transforming = _Ahead(transform(iter(decoding)), ahead, "film-transform")
        try:
            for item in transforming:
                rgb = item if finish is None else finish(item)
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
                frame.pts, frame.time_base = stamps.popleft(), src_video.time_base
                packets = video.encode(frame)
                with muxing:
                    out.mux(packets)
                report.frames += 1
                if progress:
                    progress(report.frames)
        finally:  # both told first: the transform may be waiting on the decoder
            transforming.cancel()
            decoding.cancel()
            transforming.join()
            decoding.join()
        if stamps:
            raise RuntimeError(f"transform returned {report.frames} frames for {report.frames + len(stamps)}")
        if report.frames == 0:
            raise VideoError(f"{info.name}: no frame of its video stream can be decoded")
        out.mux(video.encode(None))
        for stream in encoders.values():
            out.mux(stream.encode(None))
    stated = src_video.frames  # 0 when the container does not say
    if not report.ended_early and report.frames + report.lost_packets < stated:
        report.ended_early = True
        report.notes.append(f"{report.frames} of {stated} frames: the file ends early")
    for note in (report.resize_note(info.width, info.height), report.damage_note()):
        if note:
            report.notes.append(note)
    return report


def _gray(frame: av.VideoFrame, index: int, info: FilmInfo, max_pixels: int | None, report: FilmReport) -> np.ndarray:
    """The frame as (H, W) uint8 gray at the film's size. A stream may change size midway (MPEG-TS can):
    a frame above `max_pixels` is refused, another size is scaled to the film's (counted for a note),
    so every frame is what the memory estimate and the encoder expect."""
    if (frame.width, frame.height) == (info.width, info.height):
        return frame.to_ndarray(format="gray")
    pixels = frame.width * frame.height
    if max_pixels is not None and pixels > max_pixels:
        raise VideoError(f"{info.name}: frame {index} is {frame.width}x{frame.height}, {pixels / 1e6:.3g} megapixels, "
                         f"above the limit of {max_pixels / 1e6:g} megapixels; downscale it first")
    report.resized.append((index, frame.width, frame.height))
    return frame.reformat(width=info.width, height=info.height, format="gray").to_ndarray()


def _add_video_stream(out: av.container.OutputContainer, src: av.video.stream.VideoStream, info: FilmInfo,
                      crf: int, preset: str) -> av.video.stream.VideoStream:
    """H.264 at the input's size, time base and rate; 4:2:0 needs even sizes, so odd ones get 4:4:4."""
    even = info.width % 2 == 0 and info.height % 2 == 0
    video = out.add_stream("libx264", rate=info.rate, options={"crf": str(crf), "preset": preset})
    video.width, video.height = info.width, info.height
    video.pix_fmt = "yuv420p" if even else "yuv444p"
    video.time_base = video.codec_context.time_base = src.time_base  # every time stamp kept exactly
    if src.sample_aspect_ratio:
        video.sample_aspect_ratio = src.sample_aspect_ratio
    if info.rotation:
        video.set_display_rotation(info.rotation)
    return video


def _add_audio_streams(out: av.container.OutputContainer, container: av.container.InputContainer,
                       report: FilmReport) -> tuple[dict[int, av.stream.Stream], dict[int, av.stream.Stream]]:
    """One output stream per input audio stream: a copy where the container can hold the codec,
    else an AAC encoder. Returns (input index -> output stream, input index -> those that encode)."""
    audio_map, encoders = {}, {}
    for src in container.streams.audio:
        if src.codec_context.name in out.supported_codecs:
            audio_map[src.index] = out.add_stream_from_template(src)
        else:
            stream = out.add_stream("aac", rate=src.codec_context.sample_rate)
            stream.layout = src.codec_context.layout
            audio_map[src.index] = encoders[src.index] = stream
            report.notes.append(f"audio stream {src.index} ({src.codec_context.name}) cannot go into this "
                                "container as it is: re-encoded to AAC")
        if src.language:
            audio_map[src.index].metadata["language"] = src.language
    others = [s for s in container.streams if s.type not in ("video", "audio")]
    if len(container.streams.video) > 1 or others:
        report.notes.append("only the first video stream and the audio streams are kept "
                            f"({len(container.streams) - 1 - len(audio_map)} other stream(s) dropped)")
    return audio_map, encoders


def _demux(container: av.container.InputContainer, video: av.stream.Stream, audio: list[int], info: FilmInfo,
           report: FilmReport, decoded: Callable[[], int]) -> Iterator[av.Packet]:
    """Packets of the video stream and the kept audio streams in file order. A read error ends them:
    what came before is kept, and the report says where it stopped (`decoded()`: frames so far)."""
    streams = [video] + [container.streams[i] for i in audio]
    packets = container.demux(*streams)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.FFmpegError as err:
            report.ended_early = True
            stated = f" of {video.frames}" if video.frames else ""
            report.notes.append(f"{decoded()}{stated} frames: the file is damaged after frame {decoded()} "
                                f"({_ffmpeg_message(err)}); the rest is left out")
            return
        yield packet


def _decode(packet: av.Packet, report: FilmReport) -> list[av.VideoFrame]:
    """The packet's frames; none when it is too damaged to decode (counted: the film goes on)."""
    try:
        return packet.decode()
    except av.InvalidDataError:
        report.lost_packets += 1
        return []


def _carry_audio(out: av.container.OutputContainer, packet: av.Packet, stream: av.stream.Stream,
                 encoders: dict[int, av.stream.Stream]) -> None:
    """Copy one audio packet as it is, or decode and re-encode it (see _add_audio_streams)."""
    if packet.stream.index in encoders:
        for frame in packet.decode():
            frame.pts = None  # the encoder counts samples itself
            out.mux(stream.encode(frame))
    elif packet.dts is not None:  # the demuxer's empty flush packet has none
        packet.stream = stream
        out.mux(packet)


def _next_stamp(frame: av.VideoFrame, last: int | None, time_base: Fraction, rate: Fraction) -> int:
    """The frame's own time stamp; made up from the rate when missing, nudged when not increasing
    (the encoder refuses repeats), so no frame is ever dropped."""
    pts = frame.pts
    if pts is None:
        step = max(1, round(1 / (rate * time_base)))
        pts = 0 if last is None else last + step
    if last is not None and pts <= last:
        pts = last + 1
    return pts
