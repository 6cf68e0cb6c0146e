"""What the studio's tabs call: the active model version and plain-Python actions on it.

The UI layer only wires components to these functions; everything here is testable without a
browser. User mistakes come back as `MmguiError` for the UI to show.
"""

from __future__ import annotations

import threading
from pathlib import Path

from mmgui.config import Settings
from mmgui.errors import MmguiError
from mmgui.serve.predictor import GenrePredictor, Prediction


class Studio:
    """Holds the served model version; swapping it is atomic for concurrent requests."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._predictor: GenrePredictor | None = None

    def load(self) -> None:
        """Load the active version now (first run: also builds the backbone graphs)."""
        _ = self.predictor

    @property
    def predictor(self) -> GenrePredictor:
        with self._lock:
            if self._predictor is None:
                self._predictor = GenrePredictor(self.settings.default_model_dir, self.settings)
            return self._predictor

    def predict(
        self, poster: str | Path | bytes | None, overview: str | None, title: str | None
    ) -> Prediction:
        if poster is None and not (overview or "").strip() and not (title or "").strip():
            raise MmguiError("give a poster, an overview or a title to predict from")
        return self.predictor.predict(poster, overview, title)

    def model_info(self) -> dict:
        meta = self.predictor.meta
        test = meta.get("metrics", {}).get("test", {})
        return {
            "model_version": meta["name"],
            "config": meta.get("config"),
            "created_at": meta.get("created_at"),
            "test_macro_roc_auc": test.get("macro_roc_auc"),
            "test_micro_f1": test.get("micro_f1"),
            "test_items": test.get("n_items"),
        }
