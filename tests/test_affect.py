"""The emotion line: film-grammar features, the training-free model, the learnable model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mmgui.config import Settings
from mmgui.data.affect_features import FEATURE_INDEX, clip_features
from mmgui.data.video import load_clip
from mmgui.serve.affect import FilmGrammarAffect
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
    from mmgui.data.affect_features import _pitch

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


def test_the_memory_model_learns_a_long_range_dependency_the_per_segment_model_cannot() -> None:
    from mmgui.training.affect import AffectTraining, affect_mse, fit_affect, synthetic_clips

    train, held_out = synthetic_clips(256, seed=0), synthetic_clips(256, seed=1)
    memory = fit_affect(train, AffectTraining(slots=4, epochs=100))
    per_segment = fit_affect(train, AffectTraining(slots=0, epochs=100))
    memory_mse, per_segment_mse = affect_mse(memory, held_out), affect_mse(per_segment, held_out)
    assert memory_mse < 0.05
    assert memory_mse < 0.25 * per_segment_mse, (memory_mse, per_segment_mse)


def _annotations(folder: Path) -> Path:
    calm_then_intense(folder / "a.mp4")
    calm_then_intense(folder / "b.mp4", audio=False)
    rows = ["clip,t_start,t_end,valence,arousal"]
    for name in ("a.mp4", "b.mp4"):
        rows += [f"{name},0,6,-0.5,-0.6", f"{name},6,12,0.6,0.7"]
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder / "labels.csv"


def train_affect_version(folder: Path) -> Path:
    from mmgui.__main__ import main

    out = folder / "affect-v1"
    labels = str(_annotations(folder))
    args = ["train-affect", "--annotations", labels, "--out", str(out), "--epochs", "60", "--quiet"]
    assert main(args) == 0
    return out


def test_train_affect_writes_a_version_the_emotion_line_serves(tmp_path: Path) -> None:
    from mmgui.errors import MmguiError
    from mmgui.serve.affect import LearnedAffect

    learned = LearnedAffect(train_affect_version(tmp_path))
    settings = Settings.load()
    clip = load_clip(tmp_path / "a.mp4", settings)
    valence, arousal = learned.line(clip_features(clip, settings.clip_frames_per_segment))
    assert len(valence) == len(clip.segments)
    assert valence[3:].mean() > valence[:3].mean()
    assert arousal[3:].mean() > arousal[:3].mean()
    with pytest.raises(MmguiError, match="trained on 2 s segments of 6 frames"):
        learned.check_settings(segment_s=4.0, frames_per_segment=6)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("clip,start,end,valence,arousal\n", "missing column"),
        ("clip,t_start,t_end,valence,arousal\na.mp4,0,2,high,0\n", "line 2: .* must be numbers"),
        ("clip,t_start,t_end,valence,arousal\na.mp4,0,2,3,0\n", r"line 2: .* \[-1, 1\]"),
        ("clip,t_start,t_end,valence,arousal\na.mp4,4,2,0,0\n", "line 2: need 0 <= t_start"),
        ("clip,t_start,t_end,valence,arousal\n", "no annotation rows"),
    ],
)
def test_bad_annotation_files_are_refused(tmp_path: Path, content: str, message: str) -> None:
    from mmgui.errors import MmguiError
    from mmgui.training.affect import read_annotations

    path = tmp_path / "labels.csv"
    path.write_text(content)
    with pytest.raises(MmguiError, match=message):
        read_annotations(path)


SINTEL = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "clips" / "sintel_trailer_480p.mp4"
)


@pytest.mark.skipif(not SINTEL.exists(), reason="the shared clips are not next to this checkout")
def test_on_the_sintel_trailer_the_fight_is_more_arousing_than_the_desert() -> None:
    settings = Settings.load(max_upload_mb=10)
    features = clip_features(load_clip(SINTEL, settings), settings.clip_frames_per_segment)
    _, arousal = FilmGrammarAffect(settings.clip_segment_s, settings.clip_smoothing_s).line(
        features
    )
    fight, desert = arousal[10:17].mean(), arousal[17:21].mean()  # 20–34 s and 34–42 s
    assert fight > desert + 0.2
