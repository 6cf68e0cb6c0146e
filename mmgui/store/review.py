"""The review queue's operations: order the queue, show an item, decide, undo, bulk-edit.

Every write is one transaction. An editor's decision names the item version it was made on;
if another editor saved first, `EditConflict` says who did what, and nothing is written
(optimistic locking: `UPDATE ... WHERE version = :seen`). Undo is itself a decision.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mmgui.errors import MmguiError
from mmgui.genres import GENRE_INDEX, GENRES, genre_mask, genres_of_mask
from mmgui.store.db import open_database, transaction
from mmgui.store.enums import (
    ANY_STATUS,
    STATUS_AFTER,
    AuditAction,
    DecisionAction,
    EditorAction,
    ItemStatus,
    QueueView,
)
from mmgui.store.media import MediaStore
from mmgui.store.schema import AuditEntry, Decision, Item, Prediction, utcnow
from mmgui.store.views import DecisionView, ItemView, QueueEntry, RecentDecision


class EditConflict(MmguiError):
    """Someone else changed the item since it was shown; carries their decision."""


def queue_scores(
    probs: Sequence[float], thresholds: Sequence[float], labels_mask: int | None
) -> tuple[int, float, float | None]:
    """(predicted mask, uncertainty, disagreement) of one prediction.

    uncertainty: the smallest distance of a probability to its genre's threshold (0 = the
    model is on the fence for some genre). disagreement: the largest |label − probability|
    over genres, i.e. how confidently the model contradicts one of the current labels.
    """
    predicted = genre_mask([g for g, p, t in zip(GENRES, probs, thresholds, strict=True) if p >= t])
    uncertainty = min(abs(p - t) for p, t in zip(probs, thresholds, strict=True))
    if labels_mask is None:
        return predicted, uncertainty, None
    labels = [labels_mask >> i & 1 for i in range(len(GENRES))]
    disagreement = max(abs(y - p) for y, p in zip(labels, probs, strict=True))
    return predicted, uncertainty, disagreement


def check_genres(names: Sequence[str]) -> list[str]:
    unknown = [n for n in names if n not in GENRE_INDEX]
    if unknown:
        raise MmguiError(f"unknown genre(s): {', '.join(unknown)}; known: {', '.join(GENRES)}")
    return [g for g in GENRES if g in set(names)]


class ReviewStore:
    """The queue on one database (any SQLAlchemy URL) and one media folder."""

    def __init__(self, url: str, media_dir: Path) -> None:
        self.url = url
        self.sessions = open_database(url)
        self.media = MediaStore(media_dir)

    def close(self) -> None:
        """Release the database connections (the store is unusable afterwards)."""
        self.sessions.kw["bind"].dispose()

    # -- the queue --------------------------------------------------------------------------

    def filtered(self, query, status: str, genre: str | None, search: str | None = None):
        """`query` restricted to a status (or "all"), a genre (labelled or predicted) and a
        search: a title containing it (any case) or exactly its external id."""
        if search and search.strip():
            text = search.strip()
            pattern = "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"
            query = query.where(Item.title.ilike(pattern, escape="\\") | (Item.external_id == text))
        if status != ANY_STATUS:
            if status not in tuple(ItemStatus):
                raise MmguiError(f"status must be all or one of {', '.join(ItemStatus)}")
            query = query.where(Item.status == status)
        if genre:
            bit = 1 << GENRE_INDEX[check_genres([genre])[0]]
            query = query.where(
                (Item.labels_mask.op("&")(bit) != 0) | (Item.predicted_mask.op("&")(bit) != 0)
            )
        return query

    def queue(
        self,
        view: str = QueueView.UNCERTAIN,
        status: str = ItemStatus.PENDING,
        genre: str | None = None,
        limit: int = 50,
        offset: int = 0,
        search: str | None = None,
    ) -> list[QueueEntry]:
        """One page of the queue. `genre` keeps items labelled or predicted with it; `search`
        those whose title contains it or whose id it is."""
        order = {
            QueueView.UNCERTAIN: (Item.uncertainty.asc().nulls_last(), Item.id),
            QueueView.MISLABELLED: (Item.disagreement.desc().nulls_last(), Item.id),
            QueueView.NEWEST: (Item.created_at.desc(), Item.id.desc()),
        }
        if view not in order:
            raise MmguiError(f"queue view must be one of {', '.join(QueueView)}")
        columns = (
            Item.id, Item.external_id, Item.title, Item.status, Item.labels_mask,
            Item.predicted_mask, Item.uncertainty, Item.disagreement,
        )  # fmt: skip
        query = self.filtered(select(*columns), status, genre, search).order_by(*order[view])
        with self.sessions() as session:
            rows = session.execute(query.limit(limit).offset(offset)).all()
        return [
            QueueEntry(
                r[0], r[1], r[2], r[3], genres_of_mask(r[4]), genres_of_mask(r[5]), r[6], r[7]
            )
            for r in rows
        ]

    def count(
        self, status: str = ItemStatus.PENDING, genre: str | None = None, search: str | None = None
    ) -> int:
        with self.sessions() as session:
            query = self.filtered(select(func.count(Item.id)), status, genre, search)
            return session.scalar(query)

    def recent_decisions(self, username: str, limit: int = 20) -> list[RecentDecision]:
        """The user's latest decisions across items, newest first (their own trail)."""
        query = (
            select(Decision, Item.title, Item.external_id)
            .join(Item, Item.id == Decision.item_id)
            .where(Decision.username == username)
            .order_by(Decision.id.desc())
            .limit(limit)
        )
        with self.sessions() as session:
            rows = session.execute(query).all()
        return [RecentDecision(DecisionView.of(d), d.item_id, title, ext) for d, title, ext in rows]

    def item(self, item_id: int) -> ItemView:
        with self.sessions() as session:
            item = session.get(Item, item_id)
            if item is None:
                raise MmguiError(f"no item with id {item_id}")
            prediction = session.get(Prediction, item.prediction_id) if item.prediction_id else None
            decisions = session.scalars(
                select(Decision).where(Decision.item_id == item_id).order_by(Decision.id.desc())
            ).all()
        return ItemView(
            id=item.id,
            external_id=item.external_id,
            title=item.title,
            overview=item.overview,
            poster=self.media.path(item.poster_file),
            clip=self.media.path(item.clip_file),
            status=item.status,
            version=item.version,
            labels=None if item.labels_mask is None else genres_of_mask(item.labels_mask),
            original_labels=None
            if item.original_mask is None
            else genres_of_mask(item.original_mask),
            model_version=prediction.model_version if prediction else None,
            genre_probs=dict(zip(GENRES, prediction.probs, strict=True)) if prediction else {},
            thresholds=dict(zip(GENRES, prediction.thresholds, strict=True)) if prediction else {},
            prediction_id=prediction.id if prediction else None,
            history=[DecisionView.of(d) for d in decisions],
        )

    # -- decisions --------------------------------------------------------------------------

    def decide(
        self,
        item_id: int,
        username: str,
        labels: Sequence[str] | None,
        expected_version: int,
        action: str = EditorAction.SAVE,
        seconds_spent: float | None = None,
        comment: str | None = None,
        decided_at: datetime | None = None,
    ) -> ItemView:
        """Save an editor's decision on the item version they saw.

        action: "save" (recorded as accept when `labels` equal what the editor was shown,
        else correct), "skip" or "discard" (labels unchanged); `comment` is kept with it.
        Raises `EditConflict` if the item changed since `expected_version`. `decided_at`: when
        it was decided elsewhere (an imported Label Studio annotation); default now.
        """
        comment = (comment or "").strip() or None
        if action not in tuple(EditorAction):
            raise MmguiError(f"unknown action {action!r}")
        with transaction(self.sessions) as session:
            item = self._locked(session, item_id, expected_version)
            before = None if item.labels_mask is None else genres_of_mask(item.labels_mask)
            status_before = item.status
            if action == EditorAction.SAVE:
                after = check_genres(labels or [])
                shown = before if before is not None else genres_of_mask(item.predicted_mask)
                same = after == shown
                recorded = DecisionAction.ACCEPT if same else DecisionAction.CORRECT
            else:
                after = before or []
                recorded = DecisionAction(action)
            status = STATUS_AFTER[recorded]
            self._apply(session, item, after, status, expected_version)
            session.add(
                Decision(
                    item_id=item.id, username=username, action=recorded,
                    labels_before=before, labels_after=after, status_before=status_before,
                    status_after=status, model_version=self._model_version(session, item),
                    prediction_id=item.prediction_id, seconds_spent=seconds_spent,
                    comment=comment, created_at=decided_at or utcnow(),
                )
            )  # fmt: skip
        return self.item(item_id)

    def undo_last(self, username: str) -> ItemView:
        """Undo `username`'s latest decision (if nobody acted on that item since)."""
        with transaction(self.sessions) as session:
            undone = select(Decision.undoes_id).where(Decision.undoes_id.is_not(None))
            last = session.scalar(
                select(Decision)
                .where(Decision.username == username, Decision.action != DecisionAction.UNDO)
                .where(Decision.id.not_in(undone))
                .order_by(Decision.id.desc())
                .limit(1)
            )
            if last is None:
                raise MmguiError(f"{username} has no decision to undo")
            latest = session.scalar(
                select(Decision)
                .where(Decision.item_id == last.item_id)
                .order_by(Decision.id.desc())
            )
            if latest.id != last.id:
                raise EditConflict(f"cannot undo: {_describe(latest)} after your decision")
            item = session.get(Item, last.item_id)
            current = item.labels_mask
            self._apply(session, item, last.labels_before, last.status_before, item.version)
            session.add(
                Decision(
                    item_id=item.id, username=username, action=DecisionAction.UNDO,
                    labels_before=None if current is None else genres_of_mask(current),
                    labels_after=last.labels_before or [], status_before=last.status_after,
                    status_after=last.status_before, model_version=last.model_version,
                    prediction_id=last.prediction_id, undoes_id=last.id,
                )
            )  # fmt: skip
            item_id = item.id
        return self.item(item_id)

    def bulk_edit(
        self,
        username: str,
        genre: str,
        add: bool,
        status: str = ItemStatus.PENDING,
        filter_genre: str | None = None,
    ) -> int:
        """Add (or remove) one genre on every item of the filter; other labels are kept.

        Each changed item gets its own decision (bulk_add / bulk_remove); returns how many
        items changed. The edit is one transaction and one audit entry.
        """
        bit = 1 << GENRE_INDEX[check_genres([genre])[0]]
        with transaction(self.sessions) as session:
            query = self.filtered(select(Item), status, filter_genre)
            changed = 0
            for item in session.scalars(query):
                mask = item.labels_mask or 0
                new_mask = mask | bit if add else mask & ~bit
                if new_mask == mask and item.labels_mask is not None:
                    continue
                before = None if item.labels_mask is None else genres_of_mask(mask)
                self._apply(session, item, genres_of_mask(new_mask), item.status, item.version)
                session.add(
                    Decision(
                        item_id=item.id, username=username,
                        action=DecisionAction.BULK_ADD if add else DecisionAction.BULK_REMOVE,
                        labels_before=before, labels_after=genres_of_mask(new_mask),
                        status_before=item.status, status_after=item.status,
                        model_version=None, prediction_id=item.prediction_id,
                    )
                )  # fmt: skip
                changed += 1
            detail = {"genre": genre, "add": add, "status": status, "filter_genre": filter_genre}
            session.add(
                AuditEntry(
                    username=username,
                    action=AuditAction.BULK_EDIT,
                    detail={**detail, "changed": changed},
                )
            )
        return changed

    def bulk_preview(
        self,
        genre: str,
        add: bool,
        status: str = ItemStatus.PENDING,
        filter_genre: str | None = None,
    ) -> int:
        """How many items `bulk_edit` with these arguments would change."""
        bit = 1 << GENRE_INDEX[check_genres([genre])[0]]
        has = Item.labels_mask.op("&")(bit) != 0
        wanted = (~has | Item.labels_mask.is_(None)) if add else has
        query = self.filtered(select(func.count(Item.id)), status, filter_genre).where(wanted)
        with self.sessions() as session:
            return session.scalar(query)

    def audit(self, username: str, action: str, detail: dict) -> None:
        with transaction(self.sessions) as session:
            session.add(AuditEntry(username=username, action=action, detail=detail))

    def audit_log(self, limit: int = 100) -> list[AuditEntry]:
        with self.sessions() as session:
            query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
            return list(session.scalars(query))

    # -- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _locked(session: Session, item_id: int, expected_version: int) -> Item:
        item = session.get(Item, item_id)
        if item is None:
            raise MmguiError(f"no item with id {item_id}")
        if item.version != expected_version:
            latest = session.scalar(
                select(Decision).where(Decision.item_id == item_id).order_by(Decision.id.desc())
            )
            who = _describe(latest) if latest else "its content was re-imported"
            raise EditConflict(
                f"“{item.title}” changed while you were looking at it: {who}. "
                "Nothing was saved; the item now shows their version."
            )
        return item

    @staticmethod
    def _apply(
        session: Session, item: Item, labels: list[str] | None, status: str, seen: int
    ) -> None:
        """Write new labels/status with the version check in the UPDATE itself."""
        mask = None if labels is None else genre_mask(labels)
        disagreement = item.disagreement
        if item.prediction_id is not None:
            prediction = session.get(Prediction, item.prediction_id)
            _, _, disagreement = queue_scores(prediction.probs, prediction.thresholds, mask)
        result = session.execute(
            update(Item)
            .where(Item.id == item.id, Item.version == seen)
            .values(
                labels_mask=mask,
                status=status,
                version=seen + 1,
                updated_at=utcnow(),
                disagreement=disagreement,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            raise EditConflict(
                f"“{item.title}” was saved by someone else a moment ago; nothing was saved. "
                "Reload it to see their decision."
            )
        session.expire(item)

    @staticmethod
    def _model_version(session: Session, item: Item) -> str | None:
        if item.prediction_id is None:
            return None
        return session.get(Prediction, item.prediction_id).model_version


PAST_TENSE = {
    DecisionAction.ACCEPT: "accepted", DecisionAction.CORRECT: "corrected",
    DecisionAction.SKIP: "skipped", DecisionAction.DISCARD: "discarded",
    DecisionAction.UNDO: "undid a decision on", DecisionAction.BULK_ADD: "bulk-labelled",
    DecisionAction.BULK_REMOVE: "bulk-unlabelled",
}  # fmt: skip


def _describe(d: Decision) -> str:
    labels = ", ".join(d.labels_after) or "no genres"
    return f"{d.username} {PAST_TENSE[d.action]} it at {d.created_at:%H:%M:%S} UTC ({labels})"
