"""The genre model: features per modality → fusion → sigmoid head over the 18 genres.

`GenreHead` works on backbone features (what training sees, from the feature cache);
`GenreModel` puts the backbones in front of it (what is exported and explained). Both offer
the same three steps as timm models: `forward_features` (one vector per modality),
`forward_head` (fuse and classify), `forward` (both).

A missing modality is replaced by a learned stand-in vector, and training drops one modality
at random (modality dropout), so any non-empty subset of inputs predicts. Each modality also
has its own auxiliary classifier during training, so neither branch can be ignored.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from mmgui.genres import GENRES
from mmgui.nets.backbones import OverviewBackbone, PosterBackbone
from mmgui.nets.fusion import create_fusion

MODALITIES = ("poster", "overview")


@dataclass(frozen=True)
class HeadConfig:
    """The head's architecture, stored in model.json so a version can be rebuilt exactly."""

    poster_dim: int
    overview_dim: int
    hidden: int = 256
    fusion: str = "concat"
    dropout: float = 0.3
    modalities: tuple[str, ...] = MODALITIES

    def to_dict(self) -> dict:
        return {**asdict(self), "modalities": list(self.modalities)}

    @classmethod
    def from_dict(cls, data: dict) -> HeadConfig:
        return cls(**{**data, "modalities": tuple(data["modalities"])})


class _Branch(nn.Module):
    """Projects one modality's backbone features to the shared width."""

    def __init__(self, in_dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.project = nn.Sequential(
            nn.LayerNorm(in_dim), nn.Dropout(dropout), nn.Linear(in_dim, hidden), nn.GELU()
        )
        self.missing = nn.Parameter(torch.zeros(hidden))

    def forward(self, features: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        projected = self.project(features)
        keep = present.to(projected.dtype).unsqueeze(-1)
        return keep * projected + (1 - keep) * self.missing


class GenreHead(nn.Module):
    """Backbone features of both modalities → genre logits (fused and per modality)."""

    def __init__(self, config: HeadConfig) -> None:
        super().__init__()
        self.config = config
        self.poster = _Branch(config.poster_dim, config.hidden, config.dropout)
        self.overview = _Branch(config.overview_dim, config.hidden, config.dropout)
        self.fusion = create_fusion(config.fusion, config.hidden)
        self.classifier = nn.Sequential(
            nn.Dropout(config.dropout), nn.Linear(self.fusion.out_dim, len(GENRES))
        )
        self.poster_aux = nn.Linear(config.hidden, len(GENRES))
        self.overview_aux = nn.Linear(config.hidden, len(GENRES))

    def forward_features(
        self,
        poster_features: torch.Tensor,
        overview_features: torch.Tensor,
        poster_present: torch.Tensor,
        overview_present: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One `hidden`-wide vector per modality; an absent or unused modality is its stand-in."""
        if "poster" not in self.config.modalities:
            poster_present = torch.zeros_like(poster_present)
        if "overview" not in self.config.modalities:
            overview_present = torch.zeros_like(overview_present)
        return (
            self.poster(poster_features, poster_present),
            self.overview(overview_features, overview_present),
        )

    def forward_head(self, poster: torch.Tensor, overview: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.fusion(poster, overview))

    def forward(
        self,
        poster_features: torch.Tensor,
        overview_features: torch.Tensor,
        poster_present: torch.Tensor,
        overview_present: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        poster, overview = self.forward_features(
            poster_features, overview_features, poster_present, overview_present
        )
        return {
            "logits": self.forward_head(poster, overview),
            "poster_logits": self.poster_aux(poster),
            "overview_logits": self.overview_aux(overview),
        }


class CalibratedHead(nn.Module):
    """The served form of a head: fused logits / temperature → probabilities (18 per item)."""

    def __init__(self, head: GenreHead, temperature: float) -> None:
        super().__init__()
        self.head = head
        self.register_buffer("temperature", torch.tensor(float(temperature)))

    def forward(
        self,
        poster_features: torch.Tensor,
        overview_features: torch.Tensor,
        poster_present: torch.Tensor,
        overview_present: torch.Tensor,
    ) -> torch.Tensor:
        logits = self.head(poster_features, overview_features, poster_present, overview_present)
        return torch.sigmoid(logits["logits"] / self.temperature)


class GenreModel(nn.Module):
    """Backbones + calibrated head: raw inputs → genre probabilities (for export and Grad-CAM)."""

    def __init__(
        self, poster: PosterBackbone, overview: OverviewBackbone, head: CalibratedHead
    ) -> None:
        super().__init__()
        self.poster_backbone = poster
        self.overview_backbone = overview
        self.head = head

    def forward(
        self,
        images: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        poster_present: torch.Tensor,
        overview_present: torch.Tensor,
    ) -> torch.Tensor:
        return self.head(
            self.poster_backbone(images),
            self.overview_backbone(input_ids, attention_mask),
            poster_present,
            overview_present,
        )
