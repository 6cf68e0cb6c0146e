"""What the review queue shows: plain, session-free views of items, decisions and queue rows
(the UI and the CLI read these, never ORM rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from mmgui.store.schema import Decision


@dataclass(frozen=True)
class QueueEntry:
    id: int
    external_id: str
    title: str
    status: str
    labels: list[str]
    predicted: list[str]
    uncertainty: float | None
    disagreement: float | None


@dataclass(frozen=True)
class DecisionView:
    id: int
    username: str
    created_at: datetime
    action: str
    labels_before: list[str] | None
    labels_after: list[str]
    model_version: str | None
    seconds_spent: float | None
    comment: str | None = None

    @classmethod
    def of(cls, d: Decision) -> DecisionView:
        return cls(
            d.id, d.username, d.created_at, d.action, d.labels_before, d.labels_after,
            d.model_version, d.seconds_spent, d.comment,
        )  # fmt: skip


@dataclass(frozen=True)
class RecentDecision:
    """One of an editor's own decisions, with the item it was on."""

    decision: DecisionView
    item_id: int
    title: str
    external_id: str


@dataclass(frozen=True)
class ItemView:
    id: int
    external_id: str
    title: str
    overview: str
    poster: Path | None
    clip: Path | None
    status: str
    version: int
    labels: list[str] | None  # current labels; None: never labelled
    original_labels: list[str] | None
    model_version: str | None
    genre_probs: dict[str, float]  # of the latest prediction ({} if none)
    thresholds: dict[str, float]
    prediction_id: int | None
    history: list[DecisionView]

    @property
    def predicted(self) -> list[str]:
        return [g for g, p in self.genre_probs.items() if p >= self.thresholds[g]]

    @property
    def shown_labels(self) -> list[str]:
        """What an editor starts from: the current labels, else the model's tags."""
        return self.labels if self.labels is not None else self.predicted
