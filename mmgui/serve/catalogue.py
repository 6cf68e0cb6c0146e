"""The review queue's catalogue: items in (catalogue imports, uploads, server paths, clips
sent from the Clip tab) and out (exports).

Imports predict every new or changed item with the active version (in batches, memoised by
content, so a catalogue that repeats a poster and text predicts it once), and any item an
earlier import left without a prediction (it was killed mid-way); `recover` does the same at
studio start, with the sweep of media files no item references.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from mmgui.data.archive import extract_catalogue
from mmgui.data.catalogue import BadRow, CatalogueRow, read_catalogue
from mmgui.data.export import write_export
from mmgui.data.label_studio import LabelStudioExport, LabelStudioImport, default_document_root
from mmgui.data.paths import resolve_source
from mmgui.errors import MmguiError
from mmgui.files import file_sha256
from mmgui.genres import GENRES
from mmgui.serve.auth import LOCAL_USER
from mmgui.serve.clip import ClipAnalysis, keyframe_png
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
from mmgui.store.enums import ANY_STATUS, AuditAction
from mmgui.store.review import ReviewStore

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


class CatalogueService:
    def __init__(self, studio: Studio, store: ReviewStore) -> None:
        """`studio` predicts what comes in, with its active version; `store` is the queue."""
        self.studio = studio
        self.store = store

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
        self.store.audit(username, AuditAction.IMPORT, detail)
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
        self, fmt: str, out: Path, status: str = ANY_STATUS, genre: str | None = None,
        username: str = LOCAL_USER, label_studio: LabelStudioExport | None = None,
    ) -> int:  # fmt: skip
        """Write the filtered items; a Label Studio export references posters under this
        store's media folder (`label_studio` or its defaults)."""
        label_studio = label_studio or LabelStudioExport(self.store.media.root)
        records = export_records(self.store, status, genre)
        count = write_export(records, fmt, Path(out), label_studio)
        detail = {"format": fmt, "out": str(out), "status": status, "genre": genre, "count": count}
        self.store.audit(username, AuditAction.EXPORT, detail)
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
        self.store.audit(username, AuditAction.SEND_CLIP, {"item_id": item_id, "clip": clip.name})
        return item_id
