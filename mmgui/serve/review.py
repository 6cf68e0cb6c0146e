"""The review queue as the studio and the CLI use it: the store plus the active model.

Imports predict every new or changed item with the active version (in batches, memoised by
content, so a catalogue that repeats a poster and text predicts it once). The item view's
Grad-CAM maps are computed for the next item while the editor looks at the current one, so
moving on does not wait for them.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from mmgui.data.catalogue import BadRow, CatalogueRow, read_catalogue, write_export
from mmgui.errors import MmguiError
from mmgui.genres import GENRES
from mmgui.serve.auth import LOCAL_USER
from mmgui.serve.clip import ClipAnalysis, keyframe_png
from mmgui.serve.models import ModelManager
from mmgui.serve.predictor import PredictInput
from mmgui.serve.studio import CamView, Studio
from mmgui.store.catalogue import add_predictions, export_records, item_contents, upsert_items
from mmgui.store.media import file_sha256
from mmgui.store.review import ReviewStore
from mmgui.store.views import ItemView

Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class ImportSummary:
    source: str
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    predicted: int = 0
    model_version: str = ""
    bad: list[BadRow] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "source": self.source, "new": self.new, "changed": self.changed,
            "unchanged": self.unchanged, "predicted": self.predicted,
            "model_version": self.model_version, "bad_rows": len(self.bad),
            "bad": [{"where": b.where, "reason": b.reason} for b in self.bad],
        }  # fmt: skip


class ReviewService:
    @classmethod
    def open(cls, studio: Studio) -> ReviewService:
        """The queue of `studio.settings.db_url` (migrated on open); the studio is switched to
        the database's active model version."""
        settings = studio.settings
        store = ReviewStore(settings.db_url, settings.media_dir)
        return cls(studio, store, ModelManager(studio, store))

    def __init__(
        self,
        studio: Studio,
        store: ReviewStore,
        manager: ModelManager | None = None,
        cam_cache_items: int = 32,
    ) -> None:
        """`studio` serves the active version; `store` is the queue's database; `manager`
        (versions and jobs) is told about saves, for the every-N-corrections trigger."""
        self.studio = studio
        self.store = store
        self.manager = manager
        self._cams: OrderedDict[tuple[int, int, str], Future] = OrderedDict()
        self._cam_lock = threading.Lock()
        self._cam_items = cam_cache_items
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cam-prefetch")

    # -- catalogue --------------------------------------------------------------------------

    def import_catalogue(
        self,
        source: Path,
        kind: str = "auto",
        username: str = LOCAL_USER,
        progress: Progress | None = None,
    ) -> ImportSummary:
        """Import a catalogue source (see `read_catalogue`) and predict new and changed items."""
        settings = self.studio.settings
        report = read_catalogue(Path(source), kind, settings.max_image_pixels)
        result = upsert_items(self.store, report.rows, source=str(source))
        summary = ImportSummary(
            str(source), len(result.new), len(result.changed), len(result.unchanged), bad=report.bad
        )
        summary.predicted, summary.model_version = self.predict_items(result.to_predict, progress)
        detail = summary.as_dict()
        detail["bad"] = detail["bad"][:100]  # the audit keeps a sample; the caller has all
        self.store.audit(username, "import", detail)
        return summary

    def predict_items(
        self, item_ids: list[int], progress: Progress | None = None
    ) -> tuple[int, str]:
        """Predict these items with the active version and record it; (count, version)."""
        predictor = self.studio.predictor
        batch_size = self.studio.settings.import_batch_size
        memo: dict[tuple, list[float]] = {}
        done = 0
        for start in range(0, len(item_ids), batch_size):
            batch = item_contents(self.store, item_ids[start : start + batch_size])
            missing = list(dict.fromkeys(key for _, key in batch if key not in memo))
            inputs = [
                PredictInput(self.store.media.path(p), o or None, t or None) for p, o, t in missing
            ]
            for key, prediction in zip(missing, predictor.predict_many(inputs), strict=True):
                memo[key] = [prediction.genre_probs[g] for g in GENRES]
            ids = [item_id for item_id, _ in batch]
            probs = [memo[key] for _, key in batch]
            add_predictions(self.store, ids, predictor.name, probs, predictor.thresholds.tolist())
            done += len(batch)
            if progress:
                progress(done, len(item_ids))
        return done, predictor.name

    def export(
        self, fmt: str, out: Path, status: str = "all", genre: str | None = None,
        username: str = LOCAL_USER,
    ) -> int:  # fmt: skip
        count = write_export(export_records(self.store, status, genre), fmt, Path(out))
        detail = {"format": fmt, "out": str(out), "status": status, "genre": genre, "count": count}
        self.store.audit(username, "export", detail)
        return count

    def add_clip(
        self,
        clip: Path,
        analysis: ClipAnalysis,
        title: str | None,
        overview: str | None,
        username: str = LOCAL_USER,
    ) -> int:
        """Put an analysed clip in the queue: the clip itself, its most-attended keyframe as
        the item's picture, and the clip genres as its prediction. Returns the item id."""
        clip = Path(clip)
        top = max(analysis.attention, key=analysis.attention.get)
        size = self.studio.clip_analyser.poster_size
        with tempfile.TemporaryDirectory() as tmp:
            picture = Path(tmp) / f"{clip.stem}-keyframe.png"
            picture.write_bytes(keyframe_png(analysis.keyframes[top], size))
            row = CatalogueRow(
                f"clip-{file_sha256(clip)[:16]}", (title or "").strip() or clip.stem,
                (overview or "").strip(), picture, None, clip,
            )  # fmt: skip
            result = upsert_items(self.store, [row], source=f"clip:{clip.name}")
        item_id = (result.new + result.changed + result.unchanged)[0]
        probs = [analysis.genre_probs[g] for g in GENRES]
        thresholds = self.studio.predictor.thresholds.tolist()
        add_predictions(self.store, [item_id], analysis.model_version, [probs], thresholds)
        self.store.audit(username, "send_clip", {"item_id": item_id, "clip": clip.name})
        return item_id

    # -- item view --------------------------------------------------------------------------

    def item(self, item_id: int) -> ItemView:
        return self.store.item(item_id)

    def cams(self, item: ItemView) -> list[CamView]:
        """Grad-CAM maps of the item's top genres (computed once, maybe ahead of time)."""
        return self._cam_future(item).result()

    def prefetch(self, item_id: int | None) -> None:
        """Start computing this item's maps in the background (the editor's next item)."""
        if item_id is not None:
            self._cam_future(self.store.item(item_id))

    def _cam_future(self, item: ItemView) -> Future:
        key = (item.id, item.prediction_id or 0, self.studio.predictor.name)
        with self._cam_lock:
            future = self._cams.get(key)
            if future is None:
                future = self._pool.submit(self._compute_cams, item)
                self._cams[key] = future
                while len(self._cams) > self._cam_items:
                    self._cams.popitem(last=False)
            self._cams.move_to_end(key)
        return future

    def _compute_cams(self, item: ItemView) -> list[CamView]:
        if item.poster is None or not item.genre_probs:
            return []
        ranked = sorted(item.genre_probs, key=item.genre_probs.get, reverse=True)
        focus = item.predicted[: self.studio.settings.cam_genres] or ranked[:1]
        return self.studio.poster_cams(item.poster, item.overview, item.title, focus)

    # -- an editor's walk through the queue -------------------------------------------------

    def open_queue(
        self, view: str = "uncertain", status: str = "pending", genre: str | None = None
    ) -> QueueCursor:
        """A cursor on the first page of the queue (validates the filter)."""
        cursor = QueueCursor(view, status, genre or None)
        self._fill(cursor, offset=0)
        return cursor

    def current(self, cursor: QueueCursor) -> ItemView | None:
        """The cursor's item as the editor now sees it (None at the end of the queue): its
        version is what their save will be checked against. Starts the next item's maps."""
        item = None if cursor.item_id is None else self.item(cursor.item_id)
        cursor.version = item.version if item else None
        cursor.shown_at = time.monotonic()
        if item is not None:
            upcoming = cursor.ids[cursor.pos + 1] if cursor.pos + 1 < len(cursor.ids) else None
            self.prefetch(upcoming)
        return item

    def move(self, cursor: QueueCursor, step: int) -> QueueCursor:
        """Next (+1) or previous (-1) item; pages on past the end of the loaded page."""
        cursor.pos = max(0, cursor.pos + step)
        if cursor.pos >= len(cursor.ids):
            offset = cursor.offset + len(cursor.ids) - cursor.left
            if not self._fill(cursor, offset):
                cursor.pos = len(cursor.ids)  # past the end: nothing left to review
        return cursor

    def save(
        self, cursor: QueueCursor, username: str, labels: list[str] | None, action: str = "save"
    ) -> ItemView:
        """Decide on the cursor's item (as last shown) and move on; `EditConflict` if stale."""
        if cursor.item_id is None or cursor.version is None:
            raise MmguiError("no item to save: the queue is empty")
        seconds = round(time.monotonic() - cursor.shown_at, 2)
        saved = self.store.decide(
            cursor.item_id, username, labels, cursor.version, action, seconds_spent=seconds
        )
        if cursor.status not in ("all", saved.status):
            cursor.left += 1  # it left the filter: the next page starts one earlier
        self.move(cursor, +1)
        if self.manager is not None:
            self.manager.maybe_auto_train()
        return saved

    def undo(self, cursor: QueueCursor, username: str) -> ItemView:
        """Undo the user's last decision and put that item under the cursor."""
        item = self.store.undo_last(username)
        if item.id in cursor.ids:
            cursor.pos = cursor.ids.index(item.id)
        else:
            cursor.ids.insert(min(cursor.pos, len(cursor.ids)), item.id)
            cursor.pos = cursor.ids.index(item.id)
        return item

    def _fill(self, cursor: QueueCursor, offset: int) -> bool:
        page = self.store.queue(
            cursor.view, cursor.status, cursor.genre, self.studio.settings.queue_page_size, offset
        )
        if not page:
            return False
        cursor.ids, cursor.pos, cursor.offset, cursor.left = [e.id for e in page], 0, offset, 0
        return True


@dataclass
class QueueCursor:
    """Where one editor is in the queue: a page of item ids and a position on it."""

    view: str
    status: str
    genre: str | None
    ids: list[int] = field(default_factory=list)
    pos: int = 0
    offset: int = 0  # of the loaded page in the ordered queue
    left: int = 0  # items of the page that left the filter (decided) since it was loaded
    version: int | None = None  # of the item as last shown
    shown_at: float = 0.0

    @property
    def item_id(self) -> int | None:
        return self.ids[self.pos] if self.pos < len(self.ids) else None
