"""Clip analysis: decode → emotion line + genres from keyframes, the text guiding attention.

Genres, until clip corrections exist to train a clip head (`nets.clip`): every segment's
keyframe, cropped from the centre to the poster's aspect, goes through the served version's
poster backbone (the same ONNX graph and preprocessing as a poster). The keyframe features
are pooled by attention and the served head reads the pooled vector as a poster, with the
overview/title when given. The attention weights are a softmax, at
`clip_attention_temperature`, of each keyframe's agreement with a guide: the cosine
similarity between the keyframe's poster-only genre probabilities and the guide's. With an
overview or title the guide is the text-only prediction (text-guided pooling, after
PaddleVideo's MultimodalVideoTag: frames that look like what the text describes count
more); without text it is the mean over keyframes (a consensus, which lowers title cards and
black frames). The audio track feeds the emotion line only: the served head has no audio input.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from mmgui.config import Settings
from mmgui.data.affect_features import clip_features
from mmgui.data.image import preprocess
from mmgui.data.item import prepare_text
from mmgui.data.video import Clip, load_clip
from mmgui.errors import MmguiError
from mmgui.genres import GENRES
from mmgui.serve.affect import FilmGrammarAffect, LearnedAffect
from mmgui.serve.predictor import GenrePredictor, HeadEngine


@dataclass(frozen=True)
class SegmentAffect:
    t_start: float
    t_end: float
    valence: float  # [-1, 1]
    arousal: float  # [-1, 1]


@dataclass(frozen=True)
class ClipAnalysis:
    """What the CLI prints, the Clip tab draws and the benchmark times."""

    duration: float
    segments: list[SegmentAffect]
    genre_probs: dict[str, float]
    tags: list[str]
    keyframes: list[np.ndarray]  # (H, W, 3) uint8 RGB, one per segment
    attention: dict[int, float]  # segment index → weight of its keyframe in the genre pooling
    model_version: str
    affect_model: str
    timings: dict[str, float]  # seconds: decode, features, genres
    seconds: float  # wall time of the whole analysis
    notices: tuple[str, ...] = field(default=())

    def to_json(self) -> dict:
        return {
            "duration": round(self.duration, 3),
            "segments": [
                {
                    "t_start": s.t_start,
                    "t_end": s.t_end,
                    "valence": round(s.valence, 4),
                    "arousal": round(s.arousal, 4),
                }
                for s in self.segments
            ],
            "genres": {g: round(p, 4) for g, p in self.genre_probs.items()},
            "tags": self.tags,
            "model_version": self.model_version,
            "affect_model": self.affect_model,
            "seconds": round(self.seconds, 3),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "notices": list(self.notices),
        }


class ClipAnalyser:
    """Emotion line + genres for clips, on a served genre version and an affect model."""

    def __init__(self, predictor: GenrePredictor, affect_model: Path | None = None) -> None:
        if not isinstance(predictor.engine, HeadEngine):
            raise MmguiError(
                f"{predictor.name}: clip genres need a 'head' version (poster backbone + head), "
                f"not {predictor.card.kind.value!r}"
            )
        self.predictor = predictor
        self.settings: Settings = predictor.settings
        if affect_model:
            self.affect: FilmGrammarAffect | LearnedAffect = LearnedAffect(Path(affect_model))
            self.affect.check_settings(
                self.settings.clip_segment_s, self.settings.clip_frames_per_segment
            )
        else:
            self.affect = FilmGrammarAffect(
                self.settings.clip_segment_s, self.settings.clip_smoothing_s
            )

    def analyse(
        self, path: str | Path, overview: str | None = None, title: str | None = None
    ) -> ClipAnalysis:
        """Raises `MmguiError` for a file that is not a usable clip."""
        started = time.perf_counter()
        clip = load_clip(path, self.settings)
        decoded = time.perf_counter()
        features = clip_features(clip, self.settings.clip_frames_per_segment)
        valence, arousal = self.affect.line(features)
        featured = time.perf_counter()
        probs, attention, text_notices = self.genres(clip, overview, title)
        done = time.perf_counter()
        segments = [
            SegmentAffect(s.t_start, s.t_end, float(v), float(a))
            for s, v, a in zip(clip.segments, valence, arousal, strict=True)
        ]
        thresholds = self.predictor.card.thresholds
        ranked = sorted(GENRES, key=lambda g: -probs[g])
        return ClipAnalysis(
            duration=clip.duration,
            segments=segments,
            genre_probs=probs,
            tags=[g for g in ranked if probs[g] >= thresholds[g]],
            keyframes=[s.keyframe for s in clip.segments],
            attention=attention,
            model_version=self.predictor.name,
            affect_model=self.affect.name,
            timings={
                "decode": decoded - started,
                "features": featured - decoded,
                "genres": done - featured,
            },
            seconds=done - started,
            notices=clip.notices + text_notices,
        )

    def genres(
        self, clip: Clip, overview: str | None, title: str | None
    ) -> tuple[dict[str, float], dict[int, float], tuple[str, ...]]:
        """(genre → probability, segment → attention weight, notices about the text)."""
        engine: HeadEngine = self.predictor.engine
        chosen = keyframe_segments(len(clip.segments), self.settings.clip_max_keyframes)
        images = [self.keyframe_input(clip.segments[k].keyframe) for k in chosen]
        frames = engine.poster_features(images)
        count = len(frames)
        text, notices = prepare_text(overview, title, self.settings)
        text_features = engine.overview_features([text])
        blank_text = np.zeros((count, engine.overview_dim), dtype=np.float32)
        per_frame = engine.head_probs(frames, blank_text, np.ones(count), np.zeros(count))
        if text is None:
            guide = per_frame.mean(axis=0)
        else:
            guide = engine.head_probs(
                np.zeros((1, engine.poster_dim), np.float32), text_features, np.zeros(1), np.ones(1)
            )[0]
        weights = attention_weights(per_frame, guide, self.settings.clip_attention_temperature)
        pooled = (weights[:, None] * frames).sum(axis=0, keepdims=True)
        probs = engine.head_probs(pooled, text_features, np.ones(1), np.array([text is not None]))
        genre_probs = {g: float(p) for g, p in zip(GENRES, probs[0], strict=True)}
        return genre_probs, {k: float(w) for k, w in zip(chosen, weights, strict=True)}, notices

    def keyframe_input(self, keyframe: np.ndarray) -> np.ndarray:
        """The poster backbone's input for a keyframe: centre crop to the poster's aspect."""
        return preprocess(
            poster_crop(keyframe, self.predictor.engine.poster_size), self.poster_size
        )

    @property
    def poster_size(self) -> tuple[int, int]:
        return self.predictor.engine.poster_size


def keyframe_segments(count: int, limit: int) -> list[int]:
    """Indices of at most `limit` segments, evenly spread over the clip."""
    if count <= limit:
        return list(range(count))
    return sorted({round(i) for i in np.linspace(0, count - 1, limit)})


def attention_weights(per_frame: np.ndarray, guide: np.ndarray, temperature: float) -> np.ndarray:
    """softmax_k(cos(p_k, guide) / temperature) over the keyframes' genre probabilities p_k."""
    norms = np.linalg.norm(per_frame, axis=1) * max(float(np.linalg.norm(guide)), 1e-9)
    agreement = per_frame @ guide / np.maximum(norms, 1e-9)
    scores = agreement / temperature
    scores = np.exp(scores - scores.max())
    return (scores / scores.sum()).astype(np.float32)


def poster_crop(keyframe: np.ndarray, poster_size: tuple[int, int]) -> Image.Image:
    """The largest centre crop of the keyframe with the poster's width:height ratio."""
    height, width = keyframe.shape[:2]
    aspect = poster_size[0] / poster_size[1]
    crop_width = min(width, round(height * aspect))
    crop_height = min(height, round(width / aspect))
    left, top = (width - crop_width) // 2, (height - crop_height) // 2
    return Image.fromarray(keyframe[top : top + crop_height, left : left + crop_width])


def keyframe_png(keyframe: np.ndarray, poster_size: tuple[int, int]) -> bytes:
    """The poster crop of a keyframe as PNG bytes: what Grad-CAM loads as a poster."""
    buffer = io.BytesIO()
    poster_crop(keyframe, poster_size).save(buffer, format="PNG")
    return buffer.getvalue()
