"""The learnable clip head: per-segment keyframe + audio features, pooled over time by
attention that the text guides, then classified over the genres.

After PaddleVideo's MultimodalVideoTag (text-guided attention pooling: Hit@1 73.3 against
71.1 with self-attention): the attention query is the projected title/overview embedding
when there is one, else a learned query (self-attention pooling). Padded segments get no
weight. Not trained yet: it needs clips with corrected genres from the review queue; until
then `serve.clip` pools with the served image head (see its docstring).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from mmgui.genres import GENRES


@dataclass(frozen=True)
class ClipHeadConfig:
    keyframe_dim: int
    audio_dim: int
    text_dim: int
    hidden: int = 256
    dropout: float = 0.3

    def to_dict(self) -> dict:
        return asdict(self)


class ClipGenreHead(nn.Module):
    def __init__(self, config: ClipHeadConfig) -> None:
        super().__init__()
        self.config = config
        self.segment = nn.Sequential(
            nn.LayerNorm(config.keyframe_dim + config.audio_dim),
            nn.Dropout(config.dropout),
            nn.Linear(config.keyframe_dim + config.audio_dim, config.hidden),
            nn.GELU(),
        )
        self.text = nn.Sequential(
            nn.LayerNorm(config.text_dim), nn.Linear(config.text_dim, config.hidden)
        )
        self.self_query = nn.Parameter(torch.zeros(config.hidden))
        self.classifier = nn.Linear(2 * config.hidden, len(GENRES))

    def attention(
        self,
        keyframes: torch.Tensor,
        audio: torch.Tensor,
        text: torch.Tensor,
        text_present: torch.Tensor,
        mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(segment vectors (B, T, H), query (B, H), weights (B, T) summing to 1 over mask)."""
        segments = self.segment(torch.cat([keyframes, audio], dim=-1))
        present = text_present.to(segments.dtype).unsqueeze(-1)
        query = present * self.text(text) + (1 - present) * self.self_query
        scores = torch.einsum("bth,bh->bt", segments, query) / math.sqrt(self.config.hidden)
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
        return segments, query, weights

    def forward(
        self,
        keyframes: torch.Tensor,
        audio: torch.Tensor,
        text: torch.Tensor,
        text_present: torch.Tensor,
        mask: torch.Tensor,
    ) -> torch.Tensor:
        """Genre logits (B, 18) for clips of T segments (`mask` marks the real ones)."""
        segments, query, weights = self.attention(keyframes, audio, text, text_present, mask)
        pooled = torch.einsum("bt,bth->bh", weights, segments)
        return self.classifier(torch.cat([pooled, query], dim=-1))
