"""A small review queue to export to Label Studio: 12 items with known predictions, three of
them decided (two reviewed, by a mapped and an unmapped editor, one skipped)."""

from __future__ import annotations

from pathlib import Path

from mmgui.data.catalogue import CatalogueRow
from mmgui.genres import GENRES
from mmgui.store.catalogue import add_predictions, upsert_items
from mmgui.store.review import ReviewStore

from .conftest import KAGGLE_FIXTURE

POSTERS = sorted((KAGGLE_FIXTURE / "posters").glob("*.jpg"))
THRESHOLDS = [0.5] * len(GENRES)
SOURCE = [("Comedy",), ("Drama",), None, ("War", "Drama")]


def seeded_store(root: Path) -> ReviewStore:
    """The queue under `root` (database and media folder `root/media`)."""
    root.mkdir(parents=True, exist_ok=True)
    store = ReviewStore(f"sqlite:///{root / 'queue.db'}", root / "media")
    rows = [
        CatalogueRow(
            f"tt{i:04d}", f"Film {i}", f"Overview of film {i}.",
            POSTERS[i] if i < 10 else None, SOURCE[i % 4],
        )
        for i in range(12)
    ]  # fmt: skip
    ids = upsert_items(store, rows, source="test").new
    probs = [[0.9 if g == GENRES[i % 7] else 0.1 for g in GENRES] for i in range(12)]
    add_predictions(store, ids, "v1", probs, THRESHOLDS)
    for item_id, user, labels, action in (
        (ids[0], "ana", ["Horror", "Thriller"], "save"),
        (ids[1], "bob", ["Drama"], "save"),
        (ids[2], "ana", None, "skip"),
    ):
        store.decide(item_id, user, labels, store.item(item_id).version, action)
    return store


def queue_state(store: ReviewStore) -> dict[str, tuple]:
    """external id → (status, labels, latest decider) of every item."""
    state = {}
    for entry in store.queue(view="newest", status="all", limit=100):
        history = store.item(entry.id).history
        state[entry.external_id] = (
            entry.status,
            tuple(entry.labels),
            history[0].username if history else None,
        )
    return state
