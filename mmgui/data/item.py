"""One item as every genre model sees it: the poster decoded and preprocessed, the text joined.

The ONNX predictor, the torch copy behind the explanations and the clip analyser all prepare
their inputs here, under the same `Settings` limits, so an explanation never looks at other
input than the prediction it explains (after timm's `resolve_data_config`/`create_transform`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmgui.config import Settings
from mmgui.data.image import ImageSource, load_image, preprocess
from mmgui.data.text import encoder_text
from mmgui.errors import MmguiError


@dataclass(frozen=True)
class PreparedItem:
    poster: np.ndarray | None  # (3, height, width) float32, normalised for the backbones
    text: str | None  # the text encoder's input ("Title. Overview"); None: no text given
    notices: tuple[str, ...] = ()  # e.g. that a long overview was cut

    @property
    def modalities(self) -> tuple[str, ...]:
        present = (("poster", self.poster is not None), ("overview", self.text is not None))
        return tuple(name for name, there in present if there)


def has_text(overview: str | None, title: str | None) -> bool:
    """Whether there is any text to read: an overview or a title that is not blank."""
    return bool((overview or "").strip() or (title or "").strip())


def prepare_poster(
    poster: ImageSource, poster_size: tuple[int, int], settings: Settings
) -> np.ndarray:
    """A poster as the backbones read it, loaded under the settings' image limits."""
    image = load_image(poster, settings.max_image_pixels, settings.max_image_bytes)
    return preprocess(image, poster_size)


def prepare_text(
    overview: str | None, title: str | None, settings: Settings
) -> tuple[str | None, tuple[str, ...]]:
    """(the text encoder's input or None when there is no text, notices about it)."""
    if not has_text(overview, title):
        return None, ()
    text = encoder_text(overview, title, settings.max_overview_chars)
    return text.text, text.notices


def prepare_item(
    poster: ImageSource | None,
    overview: str | None,
    title: str | None,
    poster_size: tuple[int, int],
    settings: Settings,
) -> PreparedItem:
    """The item's model inputs; `MmguiError` for an unreadable poster or nothing at all."""
    if poster is None and not has_text(overview, title):
        raise MmguiError("nothing to predict from: give a poster, an overview or a title")
    image = None if poster is None else prepare_poster(poster, poster_size, settings)
    text, notices = prepare_text(overview, title, settings)
    return PreparedItem(image, text, notices)
