"""The review queue as the studio and the CLI use it: the store plus the active model.

Imports predict every new or changed item with the active version (in batches, memoised by
content, so a catalogue that repeats a poster and text predicts it once), and any item an
earlier import left without a prediction (it was killed mid-way); `recover` does the same at
studio start, with the sweep of media files no item references. The item view's
Grad-CAM maps are computed for the next item while the editor looks at the current one, so
moving on does not wait for them.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path

from mmgui.data.archive import extract_catalogue
from mmgui.data.catalogue import BadRow, CatalogueRow, read_catalogue
from mmgui.data.export import write_export
from mmgui.data.label_studio import LabelStudioExport, LabelStudioImport, default_document_root
from mmgui.data.paths import resolve_source
from mmgui.errors import MmguiError
from mmgui.genres import GENRES
from mmgui.serve.auth import LOCAL_USER
from mmgui.serve.cam_prefetch import CamPrefetcher
from mmgui.serve.clip import ClipAnalysis, keyframe_png
from mmgui.serve.cursor import QueueCursor
from mmgui.serve.explain import CamView
from mmgui.serve.models import ModelManager
from mmgui.serve.predictor import PredictInput
from mmgui.serve.studio import Studio
from mmgui.store.catalogue import (
    add_predictions,
    apply_reviews,
    database_files,
    export_records,
    item_contents,
    media_in_use,
    unpredicted_items,
    upsert_items,
)
from mmgui.store.media import file_sha256
from mmgui.store.review import ReviewStore
from mmgui.store.views import ItemView, RecentDecision

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
    decisions: int = 0  # decisions the source made (Label Studio annotations), recorded
    notices: list[BadRow] = field(default_factory=list)  # rows imported, but not whole

    @property
    def imported(self) -> int:
        return self.new + self.changed + self.unchanged

    def as_dict(self) -> dict:
        return {
            "source": self.source, "new": self.new, "changed": self.changed,
            "unchanged": self.unchanged, "predicted": self.predicted,
            "model_version": self.model_version, "decisions": self.decisions,
            "bad_rows": len(self.bad),
            "bad": [{"where": b.where, "reason": b.reason} for b in self.bad],
            "notices": [{"where": b.where, "reason": b.reason} for b in self.notices],
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
        self._maps = CamPrefetcher(studio, studio.settings.cam_prefetch_settle_s, cam_cache_items)

    # -- catalogue --------------------------------------------------------------------------

    def import_catalogue(
        self,
        source: Path,
        kind: str = "auto",
        username: str = LOCAL_USER,
        progress: Progress | None = None,
        label: str | None = None,
        label_studio: LabelStudioImport | None = None,
    ) -> ImportSummary:
        """Import a catalogue source (see `read_catalogue`: posters confined to its folder and
        the media folder, the database's files never opened) and predict every item without a
        prediction of its content: new and changed ones first, then any an earlier import left.
        Then record the decisions the source made (after the prediction, so each decision
        names the prediction it was made against, as an editor's does). Label Studio's `?d=`
        references resolve under `label_studio.document_root`, by default the one a Label
        Studio export of this store uses (`default_document_root`).

        Trusts `source` itself (the CLI's shell user names it); `import_server_path` and
        `import_upload` are the studio's ways in. `label` names the source in the summary, the
        audit log and the items (default: the path).
        """
        settings = self.studio.settings
        label = label or str(source)
        if label_studio is None or label_studio.document_root is None:
            root = default_document_root(None, self.store.media.root)
            label_studio = replace(label_studio or LabelStudioImport(), document_root=root)
        report = read_catalogue(
            Path(source), kind, settings.max_image_pixels, self.store.media.root,
            database_files(self.store), label_studio,
        )  # fmt: skip
        result = upsert_items(self.store, report.rows, source=label)
        summary = ImportSummary(
            label, len(result.new), len(result.changed), len(result.unchanged),
            bad=report.bad, notices=report.notices,
        )  # fmt: skip
        to_predict = list(dict.fromkeys(result.to_predict + unpredicted_items(self.store)))
        summary.predicted, summary.model_version = self.predict_items(to_predict, progress)
        summary.decisions = apply_reviews(self.store, report.rows)
        self.sweep_media()
        detail = summary.as_dict()
        for key in ("bad", "notices"):
            detail[key] = detail[key][:100]  # the audit keeps a sample; the caller has all
        self.store.audit(username, "import", detail)
        return summary

    def import_upload(
        self, upload: Path, username: str = LOCAL_USER, progress: Progress | None = None
    ) -> ImportSummary:
        """Import a file uploaded through the browser (Gradio keeps it in its upload folder,
        which is its catalogue folder); it is named by its file name, never its server path.
        A zip (a CSV or JSON with its posters, or a Kaggle folder) is extracted safely into a
        temporary folder, which is then the catalogue's folder (see `extract_catalogue`)."""
        upload = Path(upload)
        if upload.suffix.lower() != ".zip":
            return self.import_catalogue(upload, "auto", username, progress, label=upload.name)
        settings = self.studio.settings
        with tempfile.TemporaryDirectory(prefix="mmgui-archive-") as folder:
            source = extract_catalogue(
                upload, Path(folder), settings.max_archive_entries,
                int(settings.max_archive_mb * 1e6),
            )  # fmt: skip
            return self.import_catalogue(source, "auto", username, progress, label=upload.name)

    def import_server_path(
        self, path: str, username: str = LOCAL_USER, progress: Progress | None = None
    ) -> ImportSummary:
        """Import a catalogue an admin names by its path on the server: only inside
        `Settings.server_import_roots` (a path elsewhere is refused as if it did not exist)."""
        roots = self.studio.settings.server_import_roots
        source = resolve_source(path.strip(), roots)
        if source is None:
            names = ", ".join(str(root) for root in roots)
            raise MmguiError(
                f"no catalogue at {path.strip()!r} inside the import folders ({names}); "
                "the studio's operator can add folders with --import-root"
            )
        return self.import_catalogue(source, "auto", username, progress, label=path.strip())

    def recover(self, progress: Progress | None = None) -> tuple[int, int]:
        """Finish what a killed import left: predict the items without a prediction of their
        content, and sweep unreferenced media (see `sweep_media`). (predicted, removed)."""
        predicted, _ = self.predict_items(unpredicted_items(self.store), progress)
        return predicted, self.sweep_media()

    def recover_in_background(self, log: Callable[[str], None]) -> threading.Thread:
        """`recover` in a daemon thread, so the studio serves while it runs; `log` hears what
        it did (nothing when there was nothing to do)."""

        def run() -> None:
            predicted, removed = self.recover()
            if predicted or removed:
                log(f"recovery: {predicted} items predicted, {removed} stray media files removed")

        thread = threading.Thread(target=run, name="import-recovery", daemon=True)
        thread.start()
        return thread

    def sweep_media(self) -> int:
        """Remove media files no item references and stale `.part` copies, older than
        `Settings.media_sweep_grace_s` (younger ones may be another process's running import)."""
        grace = self.studio.settings.media_sweep_grace_s
        return self.store.media.sweep(lambda: media_in_use(self.store), grace)

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
        username: str = LOCAL_USER, label_studio: LabelStudioExport | None = None,
    ) -> int:  # fmt: skip
        """Write the filtered items; a Label Studio export references posters under this
        store's media folder (`label_studio` or its defaults)."""
        label_studio = label_studio or LabelStudioExport(self.store.media.root)
        records = export_records(self.store, status, genre)
        count = write_export(records, fmt, Path(out), label_studio)
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
        return self._maps.maps(item)

    def cams_later(self, item: ItemView) -> Future:
        """The same maps as a future (None if the editor moved on before they started)."""
        return self._maps.later(item)

    def prefetch(self, item_id: int | None) -> None:
        """Start computing this item's maps in the background (the editor's next item)."""
        if item_id is not None:
            self._maps.prefetch(self.store.item(item_id))

    # -- an editor's walk through the queue -------------------------------------------------

    def open_queue(
        self,
        view: str = "uncertain",
        status: str = "pending",
        genre: str | None = None,
        search: str | None = None,
    ) -> QueueCursor:
        """A cursor on the first page of the queue (validates the filter)."""
        cursor = QueueCursor(view, status, genre or None, (search or "").strip() or None)
        self._fill(cursor, offset=0)
        return cursor

    def recent(self, username: str, limit: int = 20) -> list[RecentDecision]:
        """The editor's own latest decisions across items."""
        return self.store.recent_decisions(username, limit)

    def remaining(self, cursor: QueueCursor) -> int:
        """How many items the cursor's filter holds now (decided ones may have left it)."""
        return self.store.count(cursor.status, cursor.genre, cursor.search)

    def current(self, cursor: QueueCursor) -> ItemView | None:
        """The cursor's item as the editor now sees it (None at the end of the queue): its
        version is what their save will be checked against. Starts the next item's maps."""
        item = None if cursor.item_id is None else self.item(cursor.item_id)
        cursor.version = item.version if item else None
        cursor.shown_labels = item.shown_labels if item else []
        cursor.shown_at = time.monotonic()
        if item is not None:
            upcoming = cursor.ids[cursor.pos + 1] if cursor.pos + 1 < len(cursor.ids) else None
            self._maps.shown(item.id, upcoming)
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
        self,
        cursor: QueueCursor,
        username: str,
        labels: list[str] | None,
        action: str = "save",
        comment: str | None = None,
    ) -> ItemView:
        """Decide on the cursor's item (as last shown) and move on; `EditConflict` if stale.
        `comment` is kept with the decision (and exported)."""
        if cursor.item_id is None or cursor.version is None:
            raise MmguiError("no item to save: the queue is empty")
        limit = self.studio.settings.max_comment_chars
        if comment and len(comment) > limit:
            raise MmguiError(f"the comment has {len(comment):,} characters; at most {limit:,}")
        seconds = round(time.monotonic() - cursor.shown_at, 2)
        saved = self.store.decide(
            cursor.item_id, username, labels, cursor.version, action, seconds, comment
        )
        if cursor.status not in ("all", saved.status):
            cursor.left += 1  # it left the filter: the next page starts one earlier
        action = saved.history[0].action
        cursor.decided[action] = cursor.decided.get(action, 0) + 1
        self.move(cursor, +1)
        if self.manager is not None:
            self.manager.maybe_auto_train()
        return saved

    def undo(self, cursor: QueueCursor, username: str) -> ItemView:
        """Undo the user's last decision and put that item under the cursor."""
        item = self.store.undo_last(username)
        if cursor.status in ("all", item.status) and cursor.left:
            cursor.left -= 1  # it is back in the filter
        undone = item.history[1].action if len(item.history) > 1 else None
        if cursor.decided.get(undone):
            cursor.decided[undone] -= 1
        if item.id in cursor.ids:
            cursor.pos = cursor.ids.index(item.id)
        else:
            cursor.ids.insert(min(cursor.pos, len(cursor.ids)), item.id)
            cursor.pos = cursor.ids.index(item.id)
        return item

    def _fill(self, cursor: QueueCursor, offset: int) -> bool:
        size = self.studio.settings.queue_page_size
        page = self.store.queue(
            cursor.view, cursor.status, cursor.genre, size, offset, cursor.search
        )
        if not page:
            return False
        cursor.ids, cursor.pos, cursor.offset, cursor.left = [e.id for e in page], 0, offset, 0
        return True
