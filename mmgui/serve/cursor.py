"""Where one editor is in the review queue, and what they did since they opened it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from mmgui.store.enums import CORRECTIONS


@dataclass
class QueueCursor:
    """Where one editor is in the queue: a page of item ids and a position on it."""

    view: str
    status: str
    genre: str | None
    search: str | None = None
    ids: list[int] = field(default_factory=list)
    pos: int = 0
    offset: int = 0  # of the loaded page in the ordered queue
    left: int = 0  # items of the page that left the filter (decided) since it was loaded
    version: int | None = None  # of the item as last shown
    shown_labels: list[str] = field(default_factory=list)  # the toggles it was shown with
    shown_at: float = 0.0
    opened_at: float = field(default_factory=time.monotonic)  # when the editor sat down
    decided: dict[str, int] = field(default_factory=dict)  # DecisionAction → count, here

    @property
    def done(self) -> int:
        """Items accepted or corrected since the queue was opened (skips are not done)."""
        return sum(self.decided.get(action, 0) for action in CORRECTIONS)

    @property
    def per_minute(self) -> float:
        minutes = (time.monotonic() - self.opened_at) / 60
        return sum(self.decided.values()) / minutes if minutes > 0 else 0.0

    @property
    def item_id(self) -> int | None:
        return self.ids[self.pos] if self.pos < len(self.ids) else None
