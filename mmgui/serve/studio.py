"""What the studio's tabs call: the active model version and plain-Python actions on it.

The UI layer only wires components to these functions; everything here is testable without a
browser. User mistakes come back as `MmguiError` for the UI to show.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from dataclasses import dataclass
from pathlib import Path

from mmgui.config import PROJECT_ROOT, Settings
from mmgui.data.image import ImageSource
from mmgui.serve.clip import ClipAnalyser, ClipAnalysis, keyframe_png
from mmgui.serve.predictor import GenrePredictor, Prediction

EXAMPLES_JSON = PROJECT_ROOT / "assets" / "examples.json"


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


class Studio:
    """Holds the served model version; swapping it is atomic for concurrent requests."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        # Grad-CAM hooks the shared torch copy's layers: two maps at once would mix their
        # activations, so CAM requests from any tab take turns (ONNX requests do not wait).
        self._cam_lock = threading.Lock()
        self._version_dir = settings.default_model_dir
        self._predictor: GenrePredictor | None = None
        self._torch_copy = None
        self._clip_analyser: ClipAnalyser | None = None

    def load(self) -> None:
        """Load the active version now (first run: also builds the backbone graphs)."""
        _ = self.predictor

    @property
    def predictor(self) -> GenrePredictor:
        with self._lock:
            if self._predictor is None:
                self._predictor = GenrePredictor(self._version_dir, self.settings)
            return self._predictor

    @property
    def version_dir(self) -> Path:
        return self._version_dir

    def use_version(self, version_dir: Path) -> None:
        """Serve another version from now on, without a restart: the new one is loaded
        first, so requests in flight finish on the old one and none waits on a half swap."""
        predictor = GenrePredictor(version_dir, self.settings)
        with self._lock:
            self._version_dir, self._predictor, self._torch_copy = version_dir, predictor, None
            self._clip_analyser = None

    def predict(
        self, poster: ImageSource | None, overview: str | None, title: str | None
    ) -> Prediction:
        return self.predictor.predict(poster, overview, title)

    def poster_cams(
        self,
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
        import torch

        from mmgui.serve.cam import genre_cams

        predictor = self.predictor
        with self._lock:
            copy = self._torch_copy
        if copy is None:  # loaded outside the lock: predictions must not wait for it
            from mmgui.serve.torch_model import load_torch_genre_model

            copy = load_torch_genre_model(predictor.version_dir)
            with self._lock:
                if self._predictor is predictor and self._torch_copy is None:
                    self._torch_copy = copy
        with self._cam_lock:  # maps take turns, so the thread cap is this call's alone
            usual = torch.get_num_threads()
            torch.set_num_threads(threads or usual)
            try:
                cams = genre_cams(copy, poster, genres, overview, title, method=method)
            finally:
                torch.set_num_threads(usual)
        thresholds = predictor.meta["thresholds"]
        return [CamView(c.genre, c.probability, thresholds[c.genre], c.overlay) for c in cams]

    def word_weights(
        self, overview: str, genre: str, title: str | None, poster: ImageSource | None
    ) -> list[tuple[str, float]]:
        from mmgui.serve.words import word_weights

        return word_weights(self.predictor, overview, genre, title, poster)

    def explain(
        self,
        poster: ImageSource | None,
        overview: str | None,
        title: str | None,
        method: str = "gradcam",
        extra_genres: list[str] | None = None,
    ) -> Explanation:
        """CAM maps for the top tags (at most `cam_genres`, else the top genre) and the picked
        genres, and word weights for the first of them scaled to [-1, 1]; over the overview's
        first `explain_max_words` words only, with a notice saying so when there are more."""
        prediction = self.predict(poster, overview, title)
        ranked = sorted(prediction.genre_probs, key=prediction.genre_probs.get, reverse=True)
        focus = prediction.tags[: self.settings.cam_genres] or ranked[:1]
        cams: list[CamView] = []
        if poster is not None:
            genres = list(dict.fromkeys([*focus, *(extra_genres or [])]))
            cams = self.poster_cams(poster, overview, title, genres, method)
        words: list[tuple[str, float]] = []
        notices: tuple[str, ...] = ()
        if (overview or "").strip():
            weights = self.word_weights(overview, focus[0], title, poster)
            scale = max((abs(w) for _, w in weights), default=0.0) or 1.0
            words = [(word, weight / scale) for word, weight in weights]
            total = len(overview.split())
            if len(words) < total:
                notices = (
                    f"word weights: only the overview's first {len(words)} of {total} words "
                    "were scored, as a text of their own",
                )
        return Explanation(focus[0], cams, words, notices)

    # --- clips (issue 7) ---
    @property
    def clip_analyser(self) -> ClipAnalyser:
        predictor = self.predictor
        with self._lock:
            if self._clip_analyser is None:
                self._clip_analyser = ClipAnalyser(predictor, self.settings.affect_model or None)
            return self._clip_analyser

    def analyse_clip(self, path: str, overview: str | None, title: str | None) -> ClipAnalysis:
        """Emotion line + genres of a clip (`serve.clip.ClipAnalysis`); `MmguiError` if the
        file is not a usable clip."""
        return self.clip_analyser.analyse(path, overview, title)

    def keyframe_cams(
        self, analysis: ClipAnalysis, overview: str | None, title: str | None
    ) -> list[CamView]:
        """Grad-CAM of the clip's top genre on the `clip_cam_keyframes` keyframes that weigh
        most in the genre pooling, in time order. Each map is computed on the keyframe alone
        (as a poster, with the text), so its probability is the frame's, not the clip's."""
        top = max(analysis.genre_probs, key=analysis.genre_probs.get)
        ranked = sorted(analysis.attention, key=analysis.attention.get, reverse=True)
        chosen = sorted(ranked[: self.settings.clip_cam_keyframes])
        size = self.clip_analyser.poster_size
        views = []
        for index in chosen:
            png = keyframe_png(analysis.keyframes[index], size)
            view = self.poster_cams(png, overview, title, [top])[0]
            segment = analysis.segments[index]
            label = f"{segment.t_start:.0f}–{segment.t_end:.0f} s, attention "
            label += f"{analysis.attention[index]:.0%}"
            views.append(dataclasses.replace(view, genre=f"{label} · {view.genre}"))
        return views

    # --- end of clips ---


def demo_examples() -> list[list[str]]:
    """[poster path, title, overview] rows of the shipped demo items."""
    items = json.loads(EXAMPLES_JSON.read_text())
    return [[str(EXAMPLES_JSON.parent / i["poster"]), i["title"], i["overview"]] for i in items]
