"""What the studio's tabs call: the active model version and plain-Python actions on it.

The UI layer only wires components to these functions; everything here is testable without a
browser. User mistakes come back as `MmguiError` for the UI to show.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from mmgui.config import Settings, shipped_path
from mmgui.data.image import ImageSource
from mmgui.serve.clip import ClipAnalyser, ClipAnalysis
from mmgui.serve.predictor import GenrePredictor, Prediction

if TYPE_CHECKING:  # the torch copy is loaded on first use: serving alone needs no torch
    from mmgui.serve.torch_model import TorchGenreModel

EXAMPLES_JSON = shipped_path("assets") / "examples.json"


class Studio:
    """Holds the served model version; swapping it is atomic for concurrent requests."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._cam_lock = threading.Lock()  # see `cam_turn`
        self._version_dir = settings.default_model_dir
        self._predictor: GenrePredictor | None = None
        self._torch_copy: TorchGenreModel | None = None
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

    def torch_copy(self) -> tuple[GenrePredictor, TorchGenreModel]:
        """The served predictor and its torch copy (same version, same weights), loaded on
        first use. It loads outside the studio's lock: predictions must not wait for it."""
        predictor = self.predictor
        with self._lock:
            copy = self._torch_copy
        if copy is None:
            from mmgui.serve.torch_model import load_torch_genre_model

            copy = load_torch_genre_model(predictor.version_dir, self.settings)
            with self._lock:
                if self._predictor is predictor and self._torch_copy is None:
                    self._torch_copy = copy
        return predictor, copy

    @contextmanager
    def cam_turn(self, threads: int | None = None) -> Iterator[None]:
        """Grad-CAM hooks the shared torch copy's layers: two maps at once would mix their
        activations, so CAM requests from any tab take turns here (ONNX requests do not
        wait). `threads` caps torch's threads for the turn (None: torch's own setting)."""
        import torch

        with self._cam_lock:  # maps take turns, so the thread cap is this turn's alone
            usual = torch.get_num_threads()
            torch.set_num_threads(threads or usual)
            try:
                yield
            finally:
                torch.set_num_threads(usual)

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


def demo_examples() -> list[list[str]]:
    """[poster path, title, overview] rows of the shipped demo items."""
    items = json.loads(EXAMPLES_JSON.read_text())
    return [[str(EXAMPLES_JSON.parent / i["poster"]), i["title"], i["overview"]] for i in items]
