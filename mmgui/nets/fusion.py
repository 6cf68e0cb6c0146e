"""Fusion operators: two modality vectors of the same size → one vector.

The sources compared concatenation, element-wise add / multiply / max and a sigmoid gate; each
is one small module behind the same interface, built by name with `create_fusion`.
"""

from __future__ import annotations

import torch
from torch import nn


class Fusion(nn.Module):
    """Combines (N, dim) poster and overview vectors; `out_dim` is the fused width."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.out_dim = dim

    def forward(self, poster: torch.Tensor, overview: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class ConcatFusion(Fusion):
    def __init__(self, dim: int) -> None:
        super().__init__(dim)
        self.out_dim = 2 * dim

    def forward(self, poster: torch.Tensor, overview: torch.Tensor) -> torch.Tensor:
        return torch.cat([poster, overview], dim=-1)


class AddFusion(Fusion):
    def forward(self, poster: torch.Tensor, overview: torch.Tensor) -> torch.Tensor:
        return poster + overview


class MulFusion(Fusion):
    def forward(self, poster: torch.Tensor, overview: torch.Tensor) -> torch.Tensor:
        return poster * overview


class MaxFusion(Fusion):
    def forward(self, poster: torch.Tensor, overview: torch.Tensor) -> torch.Tensor:
        return torch.maximum(poster, overview)


class GatedFusion(Fusion):
    """g = σ(W[p; o] + b); g·p + (1 − g)·o — a per-feature choice between the modalities."""

    def __init__(self, dim: int) -> None:
        super().__init__(dim)
        self.gate = nn.Linear(2 * dim, dim)

    def forward(self, poster: torch.Tensor, overview: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.gate(torch.cat([poster, overview], dim=-1)))
        return gate * poster + (1 - gate) * overview


FUSIONS: dict[str, type[Fusion]] = {
    "concat": ConcatFusion,
    "add": AddFusion,
    "mul": MulFusion,
    "max": MaxFusion,
    "gated": GatedFusion,
}


def create_fusion(name: str, dim: int) -> Fusion:
    """The fusion operator called `name` for `dim`-wide modality vectors."""
    if name not in FUSIONS:
        raise ValueError(f"unknown fusion {name!r}; choose one of {', '.join(FUSIONS)}")
    return FUSIONS[name](dim)
