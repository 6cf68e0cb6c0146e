"""Per-frame and per-segment film-grammar features of a decoded clip, for the emotion line.

Every sampled frame gets one row of `FRAME_FEATURES`, each roughly in [0, 1]: picture cues
from the frame and its predecessor, sound cues from the audio around the frame's time. The
learnable affect model reads the rows of each segment as a sequence; the training-free model
reads their per-segment summary (`segment_summary`). Only numpy and OpenCV: no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from mmgui.data.video import Clip

FRAME_FEATURES = (
    "motion",  # mean absolute grey-level change since the previous sampled frame (no cut)
    "cut",  # 1 where the colour histogram jumps (a shot cut) since the previous frame
    "brightness",  # mean HSV value
    "saturation",  # mean HSV saturation
    "colourfulness",  # Hasler & Süsstrunk (2003) colourfulness / 150
    "loudness",  # RMS level in dBFS mapped from [-60, 0] to [0, 1]
    "centroid",  # spectral centroid / Nyquist frequency
    "flux",  # spectral flux: change of the normalised magnitude spectrum
    "pitch",  # autocorrelation pitch / 500 Hz, 0 when unvoiced or silent
)
FEATURE_INDEX = {name: i for i, name in enumerate(FRAME_FEATURES)}

CUT_DISTANCE = 0.5  # Bhattacharyya distance between HSV histograms above which a cut is counted
SILENCE_DB = -60.0
_HIST_BINS = [16, 4, 4]  # hue, saturation, value
_FFT_SIZE = 512
_PITCH_RANGE_HZ = (60.0, 500.0)
_VOICED = 0.4  # normalised autocorrelation peak above which a window counts as pitched


@dataclass(frozen=True)
class ClipFeatures:
    frames: np.ndarray  # (segments, frames_per_segment, features) float32, zero-padded
    mask: np.ndarray  # (segments, frames_per_segment) bool: which rows are real frames
    durations: np.ndarray  # (segments,) seconds
    has_audio: bool

    def summary(self) -> np.ndarray:
        return segment_summary(self.frames, self.mask, self.durations)


def clip_features(clip: Clip, frames_per_segment: int) -> ClipFeatures:
    """`FRAME_FEATURES` for every sampled frame of `clip`, grouped by segment."""
    rows = _picture_rows(clip)
    times = np.array([t for s in clip.segments for t in s.frame_times], dtype=np.float64)
    # The sampling interval: each frame's sound window spans the time until the next one.
    step = float(np.median(np.diff(times))) if len(times) > 1 else clip.duration
    rows[:, FEATURE_INDEX["loudness"] :] = _sound_rows(clip, times, step)
    count = len(clip.segments)
    frames = np.zeros((count, frames_per_segment, len(FRAME_FEATURES)), dtype=np.float32)
    mask = np.zeros((count, frames_per_segment), dtype=bool)
    start = 0
    for k, segment in enumerate(clip.segments):
        used = min(len(segment.frames), frames_per_segment)
        frames[k, :used] = rows[start : start + used]
        mask[k, :used] = True
        start += len(segment.frames)
    durations = np.array([s.t_end - s.t_start for s in clip.segments], dtype=np.float32)
    return ClipFeatures(frames, mask, durations, clip.has_audio)


def segment_summary(frames: np.ndarray, mask: np.ndarray, durations: np.ndarray) -> np.ndarray:
    """(segments, features): means over each segment's frames, except `cut`, which becomes
    the cut rate in cuts per second."""
    weights = mask.astype(np.float32)
    counts = np.maximum(weights.sum(axis=1, keepdims=True), 1.0)
    summary = (frames * weights[..., None]).sum(axis=1) / counts
    cuts = (frames[..., FEATURE_INDEX["cut"]] * weights).sum(axis=1)
    summary[:, FEATURE_INDEX["cut"]] = cuts / np.maximum(durations, 1e-3)
    return summary


def _picture_rows(clip: Clip) -> np.ndarray:
    frames = [f for s in clip.segments for f in s.frames]
    rows = np.zeros((len(frames), len(FRAME_FEATURES)), dtype=np.float32)
    previous_grey, previous_hist, previous_motion = None, None, 0.0
    for i, rgb in enumerate(frames):
        hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
        hist = cv2.calcHist([hsv], [0, 1, 2], None, _HIST_BINS, [0, 180, 0, 256, 0, 256])
        cv2.normalize(hist, hist)
        cut, motion = 0.0, previous_motion
        if previous_grey is not None and previous_grey.shape == grey.shape:
            distance = cv2.compareHist(previous_hist, hist, cv2.HISTCMP_BHATTACHARYYA)
            cut = float(distance > CUT_DISTANCE)
            if not cut:  # a cut is not motion (Hanjalic & Xu count it as rhythm instead)
                motion = float(np.mean(np.abs(grey - previous_grey))) / 255.0
        rows[i, : FEATURE_INDEX["loudness"]] = (
            motion,
            cut,
            hsv[..., 2].mean() / 255.0,
            hsv[..., 1].mean() / 255.0,
            _colourfulness(rgb),
        )
        previous_grey, previous_hist, previous_motion = grey, hist, motion
    return rows


def _colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Süsstrunk (2003): σ_rgyb + 0.3 μ_rgyb, with rg = R − G, yb = (R + G)/2 − B."""
    red, green, blue = (rgb[..., c].astype(np.float32) for c in range(3))
    rg, yb = red - green, 0.5 * (red + green) - blue
    spread = np.sqrt(rg.var() + yb.var())
    mean = np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    return float(min(1.0, (spread + 0.3 * mean) / 150.0))


def _sound_rows(clip: Clip, times: np.ndarray, step: float) -> np.ndarray:
    """loudness, centroid, flux, pitch of the audio window of length `step` around each time."""
    rows = np.zeros((len(times), 4), dtype=np.float32)
    if not clip.has_audio:
        return rows
    rate, audio = clip.audio_rate, clip.audio
    half = max(_FFT_SIZE, round(step * rate / 2))
    previous_spectrum = None
    for i, time in enumerate(times):
        centre = round(time * rate)
        window = audio[max(0, centre - half) : centre + half]
        if window.size < _FFT_SIZE:
            continue
        rms = float(np.sqrt(np.mean(window.astype(np.float64) ** 2)))
        level = 20 * np.log10(max(rms, 1e-6))
        spectrum = _mean_spectrum(window)
        flux = 0.0
        if previous_spectrum is not None:
            flux = float(np.linalg.norm(spectrum - previous_spectrum)) / np.sqrt(2)
        previous_spectrum = spectrum
        if level <= SILENCE_DB:
            continue
        freqs = np.fft.rfftfreq(_FFT_SIZE, 1.0 / rate)
        centroid = float((freqs * spectrum).sum() / max(spectrum.sum(), 1e-9)) / (rate / 2)
        pitch = _pitch(window[: 4 * _FFT_SIZE], rate) / _PITCH_RANGE_HZ[1]
        rows[i] = (min(1.0, (level - SILENCE_DB) / -SILENCE_DB), centroid, flux, pitch)
    return rows


def _mean_spectrum(window: np.ndarray) -> np.ndarray:
    """The unit-norm average magnitude spectrum of `window` in Hann-windowed FFT frames."""
    count = window.size // _FFT_SIZE
    blocks = window[: count * _FFT_SIZE].reshape(count, _FFT_SIZE) * np.hanning(_FFT_SIZE)
    spectrum = np.abs(np.fft.rfft(blocks, axis=1)).mean(axis=0)
    return spectrum / max(float(np.linalg.norm(spectrum)), 1e-9)


def _pitch(window: np.ndarray, rate: int) -> float:
    """Fundamental frequency by the autocorrelation peak in the pitch range; 0 if unvoiced."""
    signal = window - window.mean()
    size = 1 << (2 * signal.size - 1).bit_length()
    power = np.abs(np.fft.rfft(signal, size)) ** 2
    correlation = np.fft.irfft(power)[: signal.size]
    if correlation[0] <= 0:
        return 0.0
    low, high = (round(rate / f) for f in reversed(_PITCH_RANGE_HZ))
    lag = low + int(np.argmax(correlation[low:high]))
    if correlation[lag] / correlation[0] < _VOICED:
        return 0.0
    return rate / lag
