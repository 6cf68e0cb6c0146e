"""Small test clips written with PyAV, so the tests need no file from outside the repo."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

FPS = 12
AUDIO_RATE = 16_000
SIZE = (160, 120)


def calm_then_intense(path: Path, seconds: int = 12, audio: bool = True) -> Path:
    """First half dark, still and quiet; second half bright, saturated, cutting every 0.5 s,
    moving and loud. The emotion line must rise in both valence and arousal."""
    rng = np.random.default_rng(0)
    width, height = SIZE
    half = seconds * FPS // 2
    palette = [(250, 60, 60), (60, 240, 80), (250, 240, 60), (70, 120, 255)]
    frames = []
    for i in range(seconds * FPS):
        if i < half:
            frame = np.full((height, width, 3), 25, dtype=np.uint8)
        else:
            frame = np.zeros((height, width, 3), dtype=np.uint8)
            frame[:] = palette[(i // (FPS // 2)) % len(palette)]
            left = (i * 9) % width  # a white bar sweeping across: motion
            frame[:, left : left + 30] = 255
        frames.append(frame)
    samples = None
    if audio:
        count = seconds * AUDIO_RATE
        samples = rng.normal(0.0, 0.002, count)
        samples[count // 2 :] = rng.normal(0.0, 0.3, count - count // 2)
    return write_clip(path, frames, samples)


def write_clip(path: Path, frames: list[np.ndarray], audio: np.ndarray | None) -> Path:
    """H.264 video at `FPS` (+ AAC mono audio at `AUDIO_RATE` when `audio` is given)."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height = frames[0].shape[1], frames[0].shape[0]
        video.pix_fmt = "yuv420p"
        video.options = {"preset": "ultrafast"}
        sound = None
        if audio is not None:
            sound = container.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        for frame in frames:
            container.mux(video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(video.encode(None))
        if sound is not None:
            write_audio(container, sound, audio)
    return path


def write_audio(container: av.container.OutputContainer, sound, audio: np.ndarray) -> None:
    block = 1024
    pcm = np.clip(audio, -1, 1).astype(np.float32)
    for start in range(0, len(pcm), block):
        chunk = pcm[start : start + block][None, :]
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="flt", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = start
        frame.time_base = Fraction(1, AUDIO_RATE)
        container.mux(sound.encode(frame))
    container.mux(sound.encode(None))


def video_without_frames(path: Path) -> Path:
    """A Matroska file with a video track that holds no frame (and a second of silence)."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height = SIZE
        video.pix_fmt = "yuv420p"
        sound = container.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        write_audio(container, sound, np.zeros(AUDIO_RATE))
    return path


def rotated_clip(path: Path, degrees: int) -> Path:
    """Two seconds with a white band on the left, stored with a display-matrix rotation."""
    width, height = SIZE
    frame = np.zeros((height, width, 3), dtype=np.uint8)
    frame[:, :20] = 255
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height = width, height
        video.pix_fmt = "yuv420p"
        video.set_display_rotation(degrees)
        for _ in range(2 * FPS):
            container.mux(video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(video.encode(None))
    return path
