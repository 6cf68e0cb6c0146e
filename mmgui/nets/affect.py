"""The learnable affect model: a segment encoder and a memory over the whole clip.

After "Enlarging the Long-time Dependencies via RL-based Memory Network in Movie Affective
Analysis" (ACM MM 2022): each segment's frame-level features go through an LSTM (the segment
encoder) into one vector h_t; a memory of `slots` vectors carries what earlier segments
said. Segment t *reads* the memory by cosine-similarity attention, r_t = Σ_i w_i M_i with
w = softmax(cos(W_q h_t, M_i) / τ), then *writes* a candidate c_t into the slots it read,
through a learned gate g_t: M_i ← M_i + w_i g_t ⊙ (c_t − M_i). The paper learns the write
policy with reinforcement learning; here the gate is trained by gradient descent with the rest.
Valence and arousal come from [h_t; r_t] through tanh, so they lie in [-1, 1].

`slots = 0` gives the per-segment baseline: the same encoder and head, no memory.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class AffectConfig:
    features: int  # per-frame features (`serve.affect_features.FRAME_FEATURES`)
    hidden: int = 32
    slots: int = 4  # memory slots; 0: the per-segment baseline
    temperature: float = 0.2  # of the memory read attention

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> AffectConfig:
        return cls(**data)


class SegmentEncoder(nn.Module):
    """(clips, segments, frames, features) → (clips, segments, hidden): an LSTM over each
    segment's frames, averaged over the real (unmasked) steps."""

    def __init__(self, features: int, hidden: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(features)
        self.lstm = nn.LSTM(features, hidden, batch_first=True)

    def forward(self, frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        clips, segments, steps, width = frames.shape
        outputs, _ = self.lstm(self.norm(frames.reshape(clips * segments, steps, width)))
        weights = mask.reshape(clips * segments, steps, 1).to(outputs.dtype)
        pooled = (outputs * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        return pooled.reshape(clips, segments, -1)


class ClipMemory(nn.Module):
    """Slots read by cosine similarity and written by a gated update, one segment at a time."""

    def __init__(self, hidden: int, slots: int, temperature: float) -> None:
        super().__init__()
        self.initial = nn.Parameter(torch.randn(slots, hidden) * 0.1)
        self.query = nn.Linear(hidden, hidden)
        self.candidate = nn.Linear(2 * hidden, hidden)
        self.gate = nn.Linear(2 * hidden, hidden)
        self.temperature = temperature

    def forward(self, segments: torch.Tensor) -> torch.Tensor:
        """(clips, segments, hidden) → what each segment read, before writing itself."""
        memory = self.initial.expand(len(segments), -1, -1)
        reads = []
        for step in segments.unbind(1):
            similarity = nn.functional.cosine_similarity(
                self.query(step).unsqueeze(1), memory, dim=-1
            )
            weights = torch.softmax(similarity / self.temperature, dim=-1)  # (clips, slots)
            read = torch.einsum("cs,csh->ch", weights, memory)
            both = torch.cat([step, read], dim=-1)
            gate = torch.sigmoid(self.gate(both))
            candidate = torch.tanh(self.candidate(both))
            update = weights.unsqueeze(-1) * gate.unsqueeze(1)
            memory = memory + update * (candidate.unsqueeze(1) - memory)
            reads.append(read)
        return torch.stack(reads, dim=1)


class AffectModel(nn.Module):
    """(clips, segments, frames, features) + frame mask → (clips, segments, 2) valence, arousal."""

    def __init__(self, config: AffectConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = SegmentEncoder(config.features, config.hidden)
        self.memory = (
            ClipMemory(config.hidden, config.slots, config.temperature) if config.slots else None
        )
        width = config.hidden * (2 if config.slots else 1)
        self.head = nn.Sequential(
            nn.Linear(width, config.hidden), nn.GELU(), nn.Linear(config.hidden, 2)
        )

    def forward(self, frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        segments = self.encoder(frames, mask)
        if self.memory is not None:
            segments = torch.cat([segments, self.memory(segments)], dim=-1)
        return torch.tanh(self.head(segments))
