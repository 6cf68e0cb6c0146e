"""The emotion line: film-grammar features, the training-free model, the learnable model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mmgui.config import Settings
from mmgui.data.video import load_clip
from mmgui.serve.affect import FilmGrammarAffect
from mmgui.serve.affect_features import FEATURE_INDEX, clip_features
from tests.clip_fixtures import calm_then_intense


def _line(path: Path) -> tuple[np.ndarray, np.ndarray]:
    settings = Settings.load()
    features = clip_features(load_clip(path, settings), settings.clip_frames_per_segment)
    return FilmGrammarAffect(settings.clip_segment_s, settings.clip_smoothing_s).line(features)


@pytest.mark.parametrize("audio", [True, False])
def test_a_bright_cutting_loud_half_has_higher_valence_and_arousal(
    tmp_path: Path, audio: bool
) -> None:
    valence, arousal = _line(calm_then_intense(tmp_path / "clip.mp4", audio=audio))
    assert len(valence) == len(arousal) == 6
    assert np.all(np.abs(valence) <= 1) and np.all(np.abs(arousal) <= 1)
    assert valence[3:].mean() > valence[:3].mean() + 0.5
    assert arousal[3:].mean() > arousal[:3].mean() + 0.5


def test_features_see_cuts_motion_and_sound_where_they_are(tmp_path: Path) -> None:
    settings = Settings.load()
    clip = load_clip(calm_then_intense(tmp_path / "clip.mp4"), settings)
    summary = clip_features(clip, settings.clip_frames_per_segment).summary()
    calm, intense = summary[:2], summary[-2:]
    for name in ("motion", "cut", "brightness", "saturation", "colourfulness", "loudness"):
        column = FEATURE_INDEX[name]
        assert intense[:, column].min() > calm[:, column].max(), name
    assert summary[-1, FEATURE_INDEX["cut"]] == pytest.approx(2.0, abs=0.6)  # a cut each 0.5 s


def test_pitch_is_found_on_a_tone() -> None:
    from mmgui.serve.affect_features import _pitch

    rate = 16_000
    tone = np.sin(2 * np.pi * 220 * np.arange(2048) / rate).astype(np.float32)
    assert _pitch(tone, rate) == pytest.approx(220, rel=0.03)
    assert _pitch(np.random.default_rng(0).normal(size=2048).astype(np.float32), rate) == 0.0


@pytest.mark.parametrize("count", [1, 2, 4, 9])
def test_smoothing_keeps_one_value_per_segment(count: int) -> None:
    model = FilmGrammarAffect(segment_s=2.0, smoothing_s=8.0)
    values = np.linspace(0, 1, count).astype(np.float32)
    smooth = model._smooth(values)
    assert smooth.shape == values.shape
    assert smooth.min() >= values.min() - 1e-6 and smooth.max() <= values.max() + 1e-6
