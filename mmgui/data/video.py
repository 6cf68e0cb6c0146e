"""Clip decoding: sampled frames and the audio track, cut into segments.

A clip is read with PyAV (the ffmpeg libraries inside the `av` wheel). Untrusted uploads are
refused with an `MmguiError` that says what and why: not a video, an image, too long (any
track: a short video may carry hours of audio), too large a frame, truncated, or no decodable
frame. Decoding honours the display-matrix rotation (as ffmpeg and players do). Frames are
sampled at a reduced rate (`clip_frames_per_segment` per segment) and scaled down
(`clip_max_side`); each segment also keeps one larger keyframe (`clip_keyframe_side`), the
sampled frame nearest its middle, for genres and Grad-CAM. The audio track is mixed to mono
float32 at `clip_audio_rate` and decoded up to the video's end, no further; a clip without one
still works.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np

from mmgui.config import Settings
from mmgui.errors import MmguiError

NO_AUDIO = "the clip has no audio track: the emotion line uses the picture only"

# Demuxers that read still images: such a file opens as a one-frame "video".
_IMAGE_DEMUXERS = ("image2", "_pipe", "gif", "apng", "webp")


@dataclass(frozen=True)
class Segment:
    """One stretch of the clip, `t_start` to `t_end` seconds."""

    t_start: float
    t_end: float
    frames: list[np.ndarray]  # sampled (H, W, 3) uint8 RGB frames, `clip_max_side`
    frame_times: list[float]  # their times in seconds
    keyframe: np.ndarray  # (H, W, 3) uint8 RGB at `clip_keyframe_side`, nearest the middle


@dataclass(frozen=True)
class Clip:
    """A decoded clip; `audio` is empty when `has_audio` is False."""

    duration: float  # seconds
    fps: float
    segments: list[Segment]
    audio: np.ndarray  # (samples,) float32 mono in [-1, 1]
    audio_rate: int
    notices: tuple[str, ...] = field(default=())

    @property
    def has_audio(self) -> bool:
        return self.audio.size > 0


def load_clip(path: str | Path, settings: Settings | None = None) -> Clip:
    """Decode `path` into segments of sampled frames plus the audio track.

    Raises `MmguiError` for every problem with the file, naming it by its file name alone
    (never the server folder an upload sits in); the caller may rely on at least one
    segment, each with at least one frame and a keyframe.
    """
    settings = settings or Settings.load()
    path = Path(path)
    _check_file(path, settings)
    container = _open(path)
    with container:
        stream = _video_stream(container, path)
        declared = _declared_duration(container, stream)
        _check_limits(container, stream, declared, path, settings)
        fps = float(stream.average_rate or stream.guessed_rate or 0.0)
        samples, video_notices = _decode_frames(container, stream, fps, path, settings)
    last = samples[-1].time
    duration = max(declared or 0.0, last + (1.0 / fps if fps else 0.0))
    notices = list(video_notices)
    if declared and last + settings.clip_segment_s < declared:
        notices.append(f"the video stops at {last:.1f} s of a declared {declared:.1f} s")
        duration = last + (1.0 / fps if fps else 0.0)
    audio, audio_notices = _decode_audio(path, settings.clip_audio_rate, duration)
    notices.extend(audio_notices)
    segments = _cut(samples, duration, settings)
    return Clip(duration, fps, segments, audio, settings.clip_audio_rate, tuple(notices))


def _check_file(path: Path, settings: Settings) -> None:
    if not path.exists():
        raise MmguiError(f"{path.name}: no such file")
    if path.is_dir():
        raise MmguiError(f"{path.name}: is a folder, not a video file")
    size = path.stat().st_size
    if size == 0:
        raise MmguiError(f"{path.name}: the file is empty (0 bytes)")
    if size > settings.max_upload_mb * 1024 * 1024:
        raise MmguiError(
            f"{path.name}: the file is {size / 2**20:.1f} MB, above the "
            f"{settings.max_upload_mb:g} MB upload limit"
        )


def _open(path: Path) -> av.container.InputContainer:
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except PermissionError as err:
        raise MmguiError(f"{path.name}: permission denied when reading the file") from err
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as err:
        raise MmguiError(
            f"{path.name}: not a video in a format we can read, or the file is truncated "
            f"({_reason(err)})"
        ) from err
    name = container.format.name
    if any(part in name for part in _IMAGE_DEMUXERS):
        container.close()
        raise MmguiError(
            f"{path.name}: this is an image, not a video; use the Predict tab for posters"
        )
    return container


def _video_stream(container: av.container.InputContainer, path: Path) -> av.VideoStream:
    # An audio file's cover art is a one-picture "video" stream: not a video track.
    moving = [
        s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic
    ]
    if not moving:
        kind = "an audio file" if container.streams.audio else "a file"
        container.close()
        raise MmguiError(f"{path.name}: this is {kind} with no video track")
    stream = moving[0]
    stream.thread_type = "AUTO"
    # Frames are sampled at a few per second, so frames no other frame refers to (B-frames)
    # need not be decoded at all: about a third less decoding on typical H.264.
    stream.codec_context.skip_frame = "NONREF"
    return stream


def _declared_duration(container: av.container.InputContainer, stream: av.VideoStream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


def _check_limits(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    declared: float,
    path: Path,
    settings: Settings,
) -> None:
    limit = settings.clip_max_duration_s
    if declared > limit:
        raise MmguiError(
            f"{path.name}: the clip is {declared:.0f} s long, above the {limit:.0f} s limit; "
            "cut it shorter"
        )
    kind, seconds = _longest_track(container)
    if seconds > limit:
        raise MmguiError(
            f"{path}: its {kind} track is {seconds:.0f} s long, above the {limit:.0f} s limit; "
            "cut it shorter"
        )
    width, height = stream.codec_context.width, stream.codec_context.height
    if width * height > settings.clip_max_pixels:
        raise MmguiError(
            f"{path.name}: frames are {width}×{height}, above the "
            f"{settings.clip_max_pixels / 1e6:.1f} MP limit"
        )


def _longest_track(container: av.container.InputContainer) -> tuple[str, float]:
    """The kind and declared seconds of the longest stream of any kind (a short video can
    carry hours of audio); the container's own duration counts where streams declare none."""
    tracks = [
        (stream.type, float(stream.duration * stream.time_base))
        for stream in container.streams
        if stream.duration is not None and stream.time_base is not None
    ]
    if container.duration is not None:
        tracks.append(("longest", container.duration / av.time_base))
    return max(tracks, key=lambda track: track[1], default=("", 0.0))


@dataclass
class _Sample:
    time: float
    frame: np.ndarray  # `clip_max_side`
    keyframe: np.ndarray | None  # `clip_keyframe_side`, kept only for the best keyframe candidate


def _decode_frames(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    fps: float,
    path: Path,
    settings: Settings,
) -> tuple[list[_Sample], tuple[str, ...]]:
    """Frames at `clip_frames_per_segment` per segment, plus a notice if decoding broke off.

    Only the frame nearest each segment's middle keeps its keyframe-size copy, so memory
    grows with the small frames alone.
    """
    length = settings.clip_segment_s
    step = length / settings.clip_frames_per_segment
    frame_step = 1.0 / (fps or 25.0)
    next_time = step / 2
    samples: list[_Sample] = []
    best: dict[int, _Sample] = {}
    try:
        for frame in container.decode(stream):
            time = float(frame.time or 0.0)
            if time + frame_step / 2 < next_time:
                continue
            if time > settings.clip_max_duration_s:
                raise MmguiError(
                    f"{path.name}: the clip is longer than the "
                    f"{settings.clip_max_duration_s:.0f} s limit; cut it shorter"
                )
            large = _rgb(frame, settings.clip_keyframe_side)
            sample = _Sample(time, _shrink(large, settings.clip_max_side), None)
            samples.append(sample)
            _keep_if_central(sample, large, best, length)
            while next_time <= time + frame_step / 2:
                next_time += step
    except av.FFmpegError as err:
        if not samples:
            raise MmguiError(
                f"{path.name}: the video is corrupt or truncated ({_reason(err)})"
            ) from err
        notice = f"the video is damaged after {samples[-1].time:.1f} s ({_reason(err)}); "
        return samples, (notice + "analysed up to there",)
    if not samples:
        raise MmguiError(f"{path.name}: the video has no frames that can be decoded")
    return samples, ()


def _keep_if_central(
    sample: _Sample, large: np.ndarray, best: dict[int, _Sample], length: float
) -> None:
    """Give `sample` its keyframe copy if it is the nearest yet to its segment's middle."""
    index = int(sample.time // length)
    middle = (index + 0.5) * length
    current = best.get(index)
    if current is None or abs(sample.time - middle) < abs(current.time - middle):
        if current is not None:
            current.keyframe = None
        sample.keyframe = large
        best[index] = sample


def _rgb(frame: av.VideoFrame, max_side: int) -> np.ndarray:
    """The frame as RGB, longer side at most `max_side`, turned upright per its display matrix."""
    scale = min(1.0, max_side / max(frame.width, frame.height))
    width = max(2, round(frame.width * scale))
    height = max(2, round(frame.height * scale))
    rgb = frame.reformat(width=width, height=height, format="rgb24").to_ndarray()
    turns = round(frame.rotation / 90) % 4  # display matrix angle, counter-clockwise
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def _cut(samples: list[_Sample], duration: float, settings: Settings) -> list[Segment]:
    """Group the sampled frames into segments; a tail under half a segment joins the last one."""
    length = settings.clip_segment_s
    count = max(1, math.ceil(duration / length - 0.5))
    bounds = [(k * length, (k + 1) * length) for k in range(count)]
    bounds[-1] = (bounds[-1][0], duration)
    candidates = [s for s in samples if s.keyframe is not None]
    segments = []
    for t_start, t_end in bounds:
        inside = [s for s in samples if t_start <= s.time < t_end]
        inside = inside or [_last_before(samples, t_end)]
        middle = (t_start + t_end) / 2
        central = [s for s in inside if s.keyframe is not None] or candidates
        keyframe = min(central, key=lambda s: abs(s.time - middle)).keyframe
        segments.append(
            Segment(
                t_start=round(t_start, 3),
                t_end=round(t_end, 3),
                frames=[s.frame for s in inside],
                frame_times=[s.time for s in inside],
                keyframe=keyframe,
            )
        )
    return segments


def _last_before(samples: list[_Sample], time: float) -> _Sample:
    earlier = [s for s in samples if s.time < time]
    return earlier[-1] if earlier else samples[0]


def _shrink(rgb: np.ndarray, max_side: int) -> np.ndarray:
    height, width = rgb.shape[:2]
    scale = max_side / max(width, height)
    if scale >= 1.0:
        return rgb
    size = (max(2, round(width * scale)), max(2, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def _decode_audio(path: Path, rate: int, until: float) -> tuple[np.ndarray, tuple[str, ...]]:
    """The first audio track as mono float32 at `rate` Hz, its first `until` seconds only (the
    video's end: audio past it is never decoded); empty (with a notice) if none."""
    empty = np.zeros(0, dtype=np.float32)
    wanted = math.ceil(until * rate)
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                return empty, (NO_AUDIO,)
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
            chunks: list[np.ndarray] = []
            decoded = 0
            for frame in container.decode(stream):
                for resampled in resampler.resample(frame):
                    chunks.append(resampled.to_ndarray().reshape(-1))
                    decoded += len(chunks[-1])
                if decoded >= wanted:
                    break
            else:
                chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    except av.FFmpegError as err:
        return empty, (f"the audio track could not be decoded ({_reason(err)}); picture only",)
    if not chunks:
        return empty, ("the audio track is empty: the emotion line uses the picture only",)
    audio = np.concatenate(chunks)[:wanted]
    return np.clip(audio, -1.0, 1.0, out=audio).astype(np.float32, copy=False), ()


def _reason(err: Exception) -> str:
    """ffmpeg's reason without the path it repeats."""
    return getattr(err, "strerror", None) or str(err)
