"""Catalogue items in the store: upsert by external id, predictions, export records.

Importing is idempotent: a row whose content and source labels did not change is left alone;
a changed row bumps the item's version (an editor looking at the old content then gets a
conflict), loses its prediction (made on the old content) and is predicted again. Unreviewed
items follow their source's labels; reviewed items keep their editors' labels. An item without
a prediction (an import killed while predicting) is found by `unpredicted_items`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session, aliased

from mmgui.data.catalogue import CatalogueRow
from mmgui.data.export import ExportRecord
from mmgui.data.kaggle import MovieRecord
from mmgui.genres import GENRES, genre_mask, genres_of_mask
from mmgui.store.db import transaction
from mmgui.store.enums import ANY_STATUS, ItemStatus
from mmgui.store.review import ReviewStore, queue_scores
from mmgui.store.schema import Decision, Item, Prediction, utcnow


@dataclass(frozen=True)
class UpsertResult:
    new: list[int]
    changed: list[int]
    unchanged: list[int]

    @property
    def to_predict(self) -> list[int]:
        return self.new + self.changed


def upsert_items(store: ReviewStore, rows: Sequence[CatalogueRow], source: str) -> UpsertResult:
    """Insert new items and update changed ones by external id, in one transaction."""
    stored: dict[Path, str] = {}
    for row in rows:
        if row.poster is not None and row.poster not in stored:
            stored[row.poster] = store.media.put(row.poster)
        if row.clip is not None and row.clip not in stored:
            stored[row.clip] = store.media.put(row.clip, kind="clips")
    new, changed, unchanged = [], [], []
    with transaction(store.sessions) as session:
        existing = _by_external_id(session, [r.external_id for r in rows])
        fresh = []
        for row in rows:
            values = {
                "title": row.title,
                "overview": row.overview,
                "poster_file": stored.get(row.poster) if row.poster else None,
                "clip_file": stored.get(row.clip) if row.clip else None,
                "original_mask": None if row.genres is None else genre_mask(row.genres),
            }
            item = existing.get(row.external_id)
            if item is None:
                fresh.append({"external_id": row.external_id, "source": source, **values})
            elif all(getattr(item, k) == v for k, v in values.items()):
                unchanged.append(item.id)
            else:
                _update_content(session, item, values, source)
                changed.append(item.id)
        if fresh:
            for value in fresh:
                value["labels_mask"] = value["original_mask"]
            result = session.execute(insert(Item).returning(Item.id), fresh)
            new = [row_id for (row_id,) in result]
    return UpsertResult(new, changed, unchanged)


def apply_reviews(store: ReviewStore, rows: Sequence[CatalogueRow]) -> int:
    """Record each row's `review` (a decision made in the source) as a decision of the store,
    through `ReviewStore.decide` like an editor's; returns how many were recorded.

    A review no newer than the item's latest decision is not news (a re-import, or an export
    older than a decision made here) and is left out, so importing twice decides once.
    """
    reviewed = [row for row in rows if row.review is not None]
    with store.sessions() as session:
        ids = {
            i.external_id: i.id
            for i in _by_external_id(session, [r.external_id for r in reviewed]).values()
        }
    recorded = 0
    for row in reviewed:
        review, item = row.review, store.item(ids[row.external_id])
        at = review.at or utcnow()
        if item.history and _aware(item.history[0].created_at) >= at:
            continue
        labels = list(review.labels) if review.labels is not None else None
        store.decide(item.id, review.username, labels, item.version, review.action, decided_at=at)
        recorded += 1
    return recorded


def _aware(at: datetime) -> datetime:
    """SQLite hands back naive datetimes; they are UTC."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _by_external_id(session: Session, ids: list[str]) -> dict[str, Item]:
    found: dict[str, Item] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for item in session.scalars(select(Item).where(Item.external_id.in_(chunk))):
            found[item.external_id] = item
    return found


def _update_content(session: Session, item: Item, values: dict, source: str) -> None:
    reviewed = session.scalar(select(func.count()).where(Decision.item_id == item.id)) > 0
    for key, value in values.items():
        setattr(item, key, value)
    if not reviewed:  # unreviewed items follow their source's labels
        item.labels_mask = values["original_mask"]
    item.source = source
    item.version += 1
    item.updated_at = utcnow()
    item.prediction_id = item.predicted_mask = item.uncertainty = item.disagreement = None


def add_predictions(
    store: ReviewStore,
    item_ids: Sequence[int],
    model_version: str,
    probs: Sequence[Sequence[float]],
    thresholds: Sequence[float],
) -> None:
    """Record one prediction per item and refresh the items' queue scores."""
    if not item_ids:
        return
    thresholds = [float(t) for t in thresholds]
    with transaction(store.sessions) as session:
        rows = [
            {
                "item_id": item_id,
                "model_version": model_version,
                "probs": [round(float(p), 6) for p in row],
                "thresholds": thresholds,
                "created_at": utcnow(),
            }
            for item_id, row in zip(item_ids, probs, strict=True)
        ]
        ids = session.execute(insert(Prediction).returning(Prediction.id), rows).scalars()
        labels = _labels_of(session, item_ids)
        updates = []
        for row, prediction_id in zip(rows, ids, strict=True):
            predicted, uncertainty, disagreement = queue_scores(
                row["probs"], thresholds, labels[row["item_id"]]
            )
            updates.append(
                {
                    "id": row["item_id"],
                    "prediction_id": prediction_id,
                    "predicted_mask": predicted,
                    "uncertainty": uncertainty,
                    "disagreement": disagreement,
                }
            )
        session.execute(update(Item), updates)


def _labels_of(session: Session, item_ids: Sequence[int]) -> dict[int, int | None]:
    labels: dict[int, int | None] = {}
    for start in range(0, len(item_ids), 10_000):
        chunk = list(item_ids[start : start + 10_000])
        query = select(Item.id, Item.labels_mask).where(Item.id.in_(chunk))
        labels.update(session.execute(query).all())
    return labels


def export_records(
    store: ReviewStore, status: str = ANY_STATUS, genre: str | None = None
) -> Iterator[ExportRecord]:
    """Every item of the filter with its current labels, streamed in id order."""
    last = (
        select(Decision.item_id, func.max(Decision.id).label("decision_id"))
        .group_by(Decision.item_id)
        .subquery()
    )
    noted = (  # the latest decision that carries a comment
        select(Decision.item_id, func.max(Decision.id).label("decision_id"))
        .where(Decision.comment.is_not(None))
        .group_by(Decision.item_id)
        .subquery()
    )
    commented = aliased(Decision)
    query = (
        select(Item, Prediction.model_version, Prediction.probs, Decision.username,
               Decision.created_at, commented.comment)
        .outerjoin(Prediction, Prediction.id == Item.prediction_id)
        .outerjoin(last, last.c.item_id == Item.id)
        .outerjoin(Decision, Decision.id == last.c.decision_id)
        .outerjoin(noted, noted.c.item_id == Item.id)
        .outerjoin(commented, commented.id == noted.c.decision_id)
        .order_by(Item.id)
    )  # fmt: skip
    query = store.filtered(query, status, genre)
    with store.sessions() as session:
        for item, version, probs, username, at, comment in session.execute(
            query.execution_options(yield_per=2000)
        ):
            yield ExportRecord(
                external_id=item.external_id,
                title=item.title,
                overview=item.overview,
                poster=store.media.path(item.poster_file),
                poster_key=item.poster_file,
                genres=None if item.labels_mask is None else genres_of_mask(item.labels_mask),
                original_genres=None
                if item.original_mask is None
                else genres_of_mask(item.original_mask),
                status=item.status,
                reviewed_by=username,
                reviewed_at=at.isoformat() if at else None,
                model_version=version,
                predicted=genres_of_mask(item.predicted_mask),
                genre_probs=dict(zip(GENRES, probs, strict=True)) if probs else {},
                comment=comment,
            )


def unpredicted_items(store: ReviewStore) -> list[int]:
    """Ids of the items without a prediction of their current content, oldest first."""
    query = select(Item.id).where(Item.prediction_id.is_(None)).order_by(Item.id)
    with store.sessions() as session:
        return list(session.scalars(query))


def media_in_use(store: ReviewStore) -> set[str]:
    """Every media name an item references (posters and clips)."""
    query = select(Item.poster_file, Item.clip_file)
    with store.sessions() as session:
        return {name for row in session.execute(query) for name in row if name}


def database_files(store: ReviewStore) -> list[Path]:
    """The files of the store's SQLite database (with its WAL, shared-memory and journal
    files, present or not); none for a server database."""
    url = store.sessions.kw["bind"].url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return []
    database = Path(url.database)
    return [database, *(Path(f"{database}{suffix}") for suffix in ("-wal", "-shm", "-journal"))]


def item_contents(store: ReviewStore, item_ids: list[int]) -> list[tuple[int, tuple]]:
    """(id, (poster file, overview, title)) of each item, in the order of `item_ids`: what a
    prediction of it reads."""
    query = select(Item.id, Item.poster_file, Item.overview, Item.title)
    with store.sessions() as session:
        rows = {r[0]: r[1:] for r in session.execute(query.where(Item.id.in_(item_ids)))}
    return [(item_id, tuple(rows[item_id])) for item_id in item_ids]


def corrected_items(store: ReviewStore) -> list[MovieRecord]:
    """Items an editor has reviewed (accepted or corrected), with their current labels, as
    training records (`imdb_id` is the external id; posters from the media folder)."""
    query = (
        select(Item.external_id, Item.title, Item.overview, Item.poster_file, Item.labels_mask)
        .where(Item.status == ItemStatus.REVIEWED, Item.labels_mask.is_not(None))
        .order_by(Item.id)
    )
    with store.sessions() as session:
        rows = session.execute(query).all()
    return [
        MovieRecord(external_id, 0, title, overview, store.media.path(poster),
                    tuple(genres_of_mask(mask)), None)
        for external_id, title, overview, poster, mask in rows
        if poster or overview
    ]  # fmt: skip
