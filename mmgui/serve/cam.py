"""Grad-CAM maps: which parts of a poster drove each genre, with `pytorch-grad-cam`.

The maps come from the torch copy of the served version (`serve.torch_model`, same weights as
the ONNX graphs). For several genres of one poster the image is repeated in the batch with
one target each, as the library pairs targets with batch items. Each map is min-max
normalised by the library, so it says *where*, not *how much*: the genre's probability and
whether it passes its threshold travel with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytorch_grad_cam
import torch
from pytorch_grad_cam.utils.image import show_cam_on_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

from mmgui.data.image import BACKBONE_MEAN, BACKBONE_STD, ImageSource
from mmgui.errors import MmguiError
from mmgui.genres import GENRE_INDEX
from mmgui.nets.genre_model import GenreModel
from mmgui.serve.cam_methods import CAM_METHODS
from mmgui.serve.torch_model import TorchGenreModel


@dataclass(frozen=True)
class GenreCam:
    genre: str
    probability: float
    heatmap: np.ndarray  # (H, W) float32 in [0, 1], the poster's preprocessed size
    overlay: np.ndarray  # (H, W, 3) uint8, the heatmap over the poster


class _PosterToGenres(nn.Module):
    """images → genre logits with the overview held fixed: what CAM differentiates.

    Logits, not probabilities: the sigmoid's flat tails would shrink the gradients that
    Grad-CAM++ weighs (its maps came out empty on probabilities).
    """

    def __init__(self, model: GenreModel, overview: torch.Tensor, overview_present: torch.Tensor):
        super().__init__()
        self.model = model
        self.overview = overview
        self.overview_present = overview_present

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        count = len(images)
        outputs = self.model.head.head(
            self.model.poster_backbone(images),
            self.overview.expand(count, -1),
            torch.ones(count),
            self.overview_present.expand(count),
        )
        return outputs["logits"]


def genre_cams(
    copy: TorchGenreModel,
    poster: ImageSource,
    genres: list[str],
    overview: str | None = None,
    title: str | None = None,
    method: str = "gradcam",
) -> list[GenreCam]:
    """One CAM per genre for this poster (and, when given, the overview it comes with)."""
    if method not in CAM_METHODS:
        raise MmguiError(f"unknown CAM method {method!r}; choose {', '.join(CAM_METHODS)}")
    unknown = [g for g in genres if g not in GENRE_INDEX]
    if unknown:
        raise MmguiError(f"unknown genre(s): {', '.join(unknown)}")
    if not genres:
        return []
    image, ids, mask, _, overview_present = copy.inputs(poster, overview, title)
    with torch.no_grad():
        overview_features = copy.model.overview_backbone(ids, mask)
    wrapper = _PosterToGenres(copy.model, overview_features, overview_present).eval()
    with torch.no_grad():
        probs = torch.sigmoid(wrapper(image) / copy.model.head.temperature)[0].numpy()
    targets = [ClassifierOutputTarget(GENRE_INDEX[g]) for g in genres]
    method_class = getattr(pytorch_grad_cam, CAM_METHODS[method])
    cam = method_class(model=wrapper, target_layers=[copy.model.poster_backbone.cam_layer])
    with cam:
        maps = cam(input_tensor=image.repeat(len(genres), 1, 1, 1), targets=targets)
    rgb = _unnormalise(image[0].numpy())
    return [
        GenreCam(
            genre=genre,
            probability=float(probs[GENRE_INDEX[genre]]),
            heatmap=heatmap.astype(np.float32),
            overlay=show_cam_on_image(rgb, heatmap, use_rgb=True),
        )
        for genre, heatmap in zip(genres, maps, strict=True)
    ]


def _unnormalise(chw: np.ndarray) -> np.ndarray:
    """The preprocessed poster back as an (H, W, 3) float image in [0, 1]."""
    rgb = chw.transpose(1, 2, 0) * np.float32(BACKBONE_STD) + np.float32(BACKBONE_MEAN)
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)
