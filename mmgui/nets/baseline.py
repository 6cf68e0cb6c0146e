"""The sources' baseline: a small CNN on the poster + two stacked LSTMs on the cleaned overview.

Trained from scratch (no pretrained weights), concatenated and classified with a sigmoid
head, as in the course report and dh1105/Multi-modal-movie-genre-prediction. Kept so every
comparison with the pretrained-backbone models runs side by side on the same split.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from mmgui.genres import GENRES


@dataclass(frozen=True)
class BaselineConfig:
    vocab_size: int
    embed_dim: int = 100
    lstm_hidden: int = 128
    cnn_channels: tuple[int, ...] = (32, 64, 128)
    dropout: float = 0.3

    def to_dict(self) -> dict:
        return {**asdict(self), "cnn_channels": list(self.cnn_channels)}

    @classmethod
    def from_dict(cls, data: dict) -> BaselineConfig:
        return cls(**{**data, "cnn_channels": tuple(data["cnn_channels"])})


class BaselineCnnLstm(nn.Module):
    """(images, token ids, presence flags) → genre logits."""

    def __init__(self, config: BaselineConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        in_channels = 3
        for channels in config.cnn_channels:
            layers += [
                nn.Conv2d(in_channels, channels, 3, padding=1),
                nn.BatchNorm2d(channels),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            in_channels = channels
        self.cnn = nn.Sequential(*layers)
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=0)
        self.lstm = nn.LSTM(config.embed_dim, config.lstm_hidden, num_layers=2, batch_first=True)
        width = in_channels + config.lstm_hidden
        self.classifier = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(width, len(GENRES)))

    def forward(
        self,
        images: torch.Tensor,
        token_ids: torch.Tensor,
        poster_present: torch.Tensor,
        overview_present: torch.Tensor,
    ) -> torch.Tensor:
        poster = self.cnn(images).mean(dim=(2, 3)) * poster_present.unsqueeze(-1)
        outputs, _ = self.lstm(self.embedding(token_ids))
        # Masked mean over real tokens (padding is at the end, so an LSTM never reads it
        # before a real token); exports to ONNX, unlike packed sequences.
        mask = (token_ids > 0).to(outputs.dtype).unsqueeze(-1)
        overview = (outputs * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        overview = overview * overview_present.unsqueeze(-1)
        return self.classifier(torch.cat([poster, overview], dim=-1))
