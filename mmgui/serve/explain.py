"""Explanations of the served version's genres: Grad-CAM maps on posters and keyframes, and
word weights on overviews.

Functions over a `Studio`: it holds the served version and its torch copy, and makes Grad-CAM
requests take turns; what to explain and how to present it lives here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from mmgui.data.image import ImageSource
from mmgui.serve.clip import ClipAnalysis, keyframe_png
from mmgui.serve.studio import Studio


@dataclass(frozen=True)
class CamView:
    """One Grad-CAM overlay with what the user needs to read it."""

    genre: str
    probability: float
    threshold: float
    overlay: object  # (H, W, 3) uint8 array

    @property
    def is_tag(self) -> bool:
        return self.probability >= self.threshold

    @property
    def caption(self) -> str:
        status = "tag" if self.is_tag else f"below its {self.threshold:.0%} threshold"
        return f"{self.genre} — {self.probability:.0%} ({status})"


@dataclass(frozen=True)
class Explanation:
    top_genre: str
    cams: list[CamView]
    words: list[tuple[str, float]]  # (word, weight scaled to [-1, 1]) for `top_genre`
    notices: tuple[str, ...] = ()  # e.g. that only the overview's first words were scored


def poster_cams(
    studio: Studio,
    poster: ImageSource,
    overview: str | None,
    title: str | None,
    genres: list[str],
    method: str = "gradcam",
    threads: int | None = None,
) -> list[CamView]:
    """Grad-CAM overlays for these genres, each with its probability and threshold.

    `threads` caps torch's threads for this call (background work leaves the other cores
    to the requests an editor is waiting for); None: torch's own setting."""
    from mmgui.serve.cam import genre_cams

    predictor, copy = studio.torch_copy()
    with studio.cam_turn(threads):
        cams = genre_cams(copy, poster, genres, overview, title, method=method)
    thresholds = predictor.card.thresholds
    return [CamView(c.genre, c.probability, thresholds[c.genre], c.overlay) for c in cams]


def explain(
    studio: Studio,
    poster: ImageSource | None,
    overview: str | None,
    title: str | None,
    method: str = "gradcam",
    extra_genres: list[str] | None = None,
) -> Explanation:
    """CAM maps for the top tags (at most `cam_genres`, else the top genre) and the picked
    genres, and word weights for the first of them scaled to [-1, 1]; over the overview's
    first `explain_max_words` words only, with a notice saying so when there are more."""
    prediction = studio.predict(poster, overview, title)
    ranked = sorted(prediction.genre_probs, key=prediction.genre_probs.get, reverse=True)
    focus = prediction.tags[: studio.settings.cam_genres] or ranked[:1]
    cams: list[CamView] = []
    if poster is not None:
        genres = list(dict.fromkeys([*focus, *(extra_genres or [])]))
        cams = poster_cams(studio, poster, overview, title, genres, method)
    words: list[tuple[str, float]] = []
    notices: tuple[str, ...] = ()
    if (overview or "").strip():
        from mmgui.serve.words import word_weights

        weights = word_weights(studio.predictor, overview, focus[0], title, poster)
        scale = max((abs(w) for _, w in weights), default=0.0) or 1.0
        words = [(word, weight / scale) for word, weight in weights]
        total = len(overview.split())
        if len(words) < total:
            notices = (
                f"word weights: only the overview's first {len(words)} of {total} words "
                "were scored, as a text of their own",
            )
    return Explanation(focus[0], cams, words, notices)


def keyframe_cams(
    studio: Studio, analysis: ClipAnalysis, overview: str | None, title: str | None
) -> list[CamView]:
    """Grad-CAM of the clip's top genre on the `clip_cam_keyframes` keyframes that weigh
    most in the genre pooling, in time order. Each map is computed on the keyframe alone
    (as a poster, with the text), so its probability is the frame's, not the clip's."""
    top = max(analysis.genre_probs, key=analysis.genre_probs.get)
    ranked = sorted(analysis.attention, key=analysis.attention.get, reverse=True)
    chosen = sorted(ranked[: studio.settings.clip_cam_keyframes])
    size = studio.clip_analyser.poster_size
    views = []
    for index in chosen:
        png = keyframe_png(analysis.keyframes[index], size)
        view = poster_cams(studio, png, overview, title, [top])[0]
        segment = analysis.segments[index]
        label = f"{segment.t_start:.0f}–{segment.t_end:.0f} s, attention "
        label += f"{analysis.attention[index]:.0%}"
        views.append(dataclasses.replace(view, genre=f"{label} · {view.genre}"))
    return views
