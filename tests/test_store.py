"""The review store on SQLite and PostgreSQL: schema, queue order, decisions, conflicts, undo,
bulk edits, exports. Predictions here are written directly (known numbers), so the queue
order is checkable; the model-in-the-loop path is in test_review_service.py."""

from __future__ import annotations

import csv
import json
import os
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from mmgui.data.catalogue import CatalogueRow, read_catalogue
from mmgui.data.export import write_export
from mmgui.errors import MmguiError
from mmgui.genres import GENRES
from mmgui.store.catalogue import (
    add_predictions,
    export_records,
    media_in_use,
    unpredicted_items,
    upsert_items,
)
from mmgui.store.db import migrate, table_names
from mmgui.store.enums import AuditAction, DecisionAction, ItemStatus, JobMode, JobStatus, QueueView
from mmgui.store.review import EditConflict, ReviewStore, queue_scores

from .conftest import KAGGLE_FIXTURE

POSTER = next((KAGGLE_FIXTURE / "posters").glob("*.jpg"))
THRESHOLDS = [0.5] * len(GENRES)


def probs(**genres: float) -> list[float]:
    return [genres.get(g.replace(" ", "_"), 0.0) for g in GENRES]


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> ReviewStore:
    return ReviewStore(db_url, tmp_path / "media")


def seed(store: ReviewStore) -> dict[str, int]:
    """Four items with known predictions; returns their ids by external id."""
    rows = [
        CatalogueRow("a", "Alpha", "A funny film.", POSTER, ("Comedy",)),
        CatalogueRow("b", "Beta", "A sad film.", None, ("Drama",)),
        CatalogueRow("c", "Gamma", "A scary film.", None, None),
        CatalogueRow("d", "Delta", "A war film.", None, ("War", "Drama")),
    ]
    result = upsert_items(store, rows, source="test")
    ids = dict(zip("abcd", result.new, strict=True))
    add_predictions(
        store,
        list(ids.values()),
        "v1",
        [
            probs(Comedy=0.9),  # agrees with its label, far from thresholds
            probs(Comedy=0.95, Drama=0.1),  # contradicts its label confidently
            probs(Horror=0.52),  # on the fence
            probs(War=0.7, Drama=0.8),
        ],
        THRESHOLDS,
    )
    return ids


def test_migrations_create_the_schema_the_models_describe(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from mmgui.store.schema import Base

    engine = create_engine(db_url)
    migrate(engine)
    migrate(engine)  # idempotent
    assert {"items", "predictions", "decisions", "model_versions", "training_jobs",
            "audit_log", "alembic_version"} <= table_names(engine)  # fmt: skip
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    engine.dispose()


def test_queue_orders_by_uncertainty_disagreement_and_age(store: ReviewStore) -> None:
    ids = seed(store)
    uncertain = [e.external_id for e in store.queue("uncertain")]
    assert uncertain[0] == "c"  # 0.52 vs 0.5
    mislabelled = store.queue("mislabelled")
    assert mislabelled[0].external_id == "b" and mislabelled[0].disagreement == pytest.approx(0.95)
    assert mislabelled[-1].external_id == "c"  # never labelled: no disagreement, last
    assert [e.external_id for e in store.queue("newest")] == ["d", "c", "b", "a"]
    assert {e.external_id for e in store.queue(genre="Drama")} == {"b", "d"}
    assert {e.external_id for e in store.queue(genre="Horror")} == {"c"}  # predicted only
    assert store.count() == 4 and store.count(genre="War") == 1
    assert store.queue(limit=2, offset=3)[0].id in ids.values()
    with pytest.raises(MmguiError, match="queue view"):
        store.queue("random")
    with pytest.raises(MmguiError, match="unknown genre"):
        store.queue(genre="Cartoon")


def test_decisions_keep_history_and_update_the_queue(store: ReviewStore) -> None:
    ids = seed(store)
    item = store.item(ids["b"])
    assert item.labels == ["Drama"] and item.predicted == ["Comedy"]
    saved = store.decide(item.id, "ana", ["Comedy"], item.version, seconds_spent=3.5)
    assert saved.labels == ["Comedy"] and saved.status == "reviewed"
    assert saved.version == item.version + 1
    (decision,) = saved.history
    assert (decision.username, decision.action) == ("ana", "correct")
    assert decision.labels_before == ["Drama"] and decision.labels_after == ["Comedy"]
    assert decision.model_version == "v1" and decision.seconds_spent == 3.5
    assert store.count("reviewed") == 1 and ids["b"] not in [e.id for e in store.queue()]
    # accepting what is shown (the current labels) records an accept
    d = store.item(ids["d"])
    assert store.decide(d.id, "bob", ["Drama", "War"], d.version).history[0].action == "accept"
    # an unlabelled item shows the model's tags; saving them is an accept too
    c = store.item(ids["c"])
    assert c.shown_labels == ["Horror"]
    assert store.decide(c.id, "bob", ["Horror"], c.version).history[0].action == "accept"
    skipped = store.decide(ids["a"], "ana", None, store.item(ids["a"]).version, action="skip")
    assert skipped.status == "skipped" and skipped.labels == ["Comedy"]
    with pytest.raises(MmguiError, match="unknown genre"):
        store.decide(ids["a"], "ana", ["Cartoon"], skipped.version)


def test_a_second_editor_saving_the_same_version_gets_a_conflict(store: ReviewStore) -> None:
    ids = seed(store)
    seen = store.item(ids["a"])
    store.decide(seen.id, "ana", ["Comedy", "Romance"], seen.version)
    with pytest.raises(EditConflict, match=r"ana corrected it .*Comedy, Romance"):
        store.decide(seen.id, "bob", ["Drama"], seen.version)
    after = store.item(seen.id)
    assert after.labels == ["Comedy", "Romance"] and len(after.history) == 1


def test_concurrent_saves_one_wins_nothing_is_lost(store: ReviewStore) -> None:
    ids = seed(store)
    seen = store.item(ids["d"])
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def save(editor: str) -> None:
        barrier.wait()
        try:
            store.decide(seen.id, editor, ["War"], seen.version)
            outcomes.append("saved")
        except EditConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=save, args=(f"editor{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict"] * 3 + ["saved"]
    final = store.item(seen.id)
    assert len(final.history) == 1 and final.version == seen.version + 1


def test_undo_restores_and_is_itself_a_decision(store: ReviewStore) -> None:
    ids = seed(store)
    seen = store.item(ids["a"])
    store.decide(seen.id, "ana", ["Drama"], seen.version)
    undone = store.undo_last("ana")
    assert undone.labels == ["Comedy"] and undone.status == "pending"
    assert [h.action for h in undone.history] == ["undo", "correct"]
    with pytest.raises(MmguiError, match="no decision to undo"):
        store.undo_last("ana")
    # someone else acted on the item after ana: her undo would hide their decision
    b = store.item(ids["b"])
    b = store.decide(b.id, "ana", ["Comedy"], b.version)
    store.decide(b.id, "bob", ["Comedy", "Family"], b.version)
    with pytest.raises(EditConflict, match="bob corrected it"):
        store.undo_last("ana")


def test_bulk_edit_adds_never_replaces_and_is_audited(store: ReviewStore) -> None:
    ids = seed(store)
    assert store.bulk_preview("Drama", add=True) == 2  # a (Comedy) and c (no labels)
    assert store.bulk_edit("ana", "Drama", add=True) == 2
    assert store.item(ids["a"]).labels == ["Comedy", "Drama"]
    assert store.item(ids["c"]).labels == ["Drama"]
    assert store.item(ids["d"]).labels == ["Drama", "War"]
    assert store.bulk_edit("ana", "Drama", add=True) == 0
    assert store.bulk_edit("ana", "War", add=False, filter_genre="War") == 1
    assert store.item(ids["d"]).labels == ["Drama"]
    assert store.item(ids["a"]).history[0].action == "bulk_add"
    (last, first) = [e for e in store.audit_log() if e.action == "bulk_edit"][:2]
    assert last.detail["changed"] == 1 and first.detail["changed"] == 0


def test_reimport_is_idempotent_and_changed_rows_bump_the_version(store: ReviewStore) -> None:
    ids = seed(store)
    again = upsert_items(store, [CatalogueRow("b", "Beta", "A sad film.", None, ("Drama",))], "t")
    assert again.unchanged == [ids["b"]] and not again.to_predict
    seen = store.item(ids["b"])
    store.decide(seen.id, "ana", ["Comedy"], seen.version)
    edited = upsert_items(
        store, [CatalogueRow("b", "Beta", "A sadder film.", None, ("Drama",))], "t"
    )
    assert edited.changed == [ids["b"]]
    item = store.item(ids["b"])
    assert item.overview == "A sadder film." and item.labels == ["Comedy"]  # reviewed: kept
    assert item.original_labels == ["Drama"] and item.version == seen.version + 2


def test_queue_scores() -> None:
    predicted, uncertainty, disagreement = queue_scores(probs(Drama=0.7), THRESHOLDS, 1 << 3)
    assert predicted == 1 << GENRES.index("Drama")
    assert uncertainty == pytest.approx(0.2)
    assert disagreement == pytest.approx(1.0)  # Comedy labelled, probability 0


@pytest.mark.parametrize("fmt", ["csv", "json"])  # labelstudio: test_label_studio.py
def test_export_round_trip(store: ReviewStore, fmt: str, tmp_path: Path) -> None:
    ids = seed(store)
    seen = store.item(ids["c"])
    store.decide(seen.id, "ana", ["Horror", "Thriller"], seen.version)
    out = tmp_path / ("export.csv" if fmt == "csv" else f"export-{fmt}.json")
    assert write_export(export_records(store), fmt, out) == 4
    report = read_catalogue(out, media_dir=store.media.root)
    assert not report.bad
    exported = {r.external_id: r.genres for r in report.rows}
    current = {e.external_id: tuple(e.labels) for e in store.queue(status="all", view="newest")}
    assert exported == current
    other = ReviewStore(f"sqlite:///{tmp_path / 'other.db'}", tmp_path / "other-media")
    upsert_items(other, report.rows, source=str(out))
    assert {e.external_id: tuple(e.labels) for e in other.queue(status="all")} == current
    assert other.item(other.queue(status="all", genre="Comedy")[0].id).poster is not None


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_exports_name_posters_by_media_key(store: ReviewStore, fmt: str, tmp_path: Path) -> None:
    ids = seed(store)
    key = store.item(ids["a"]).poster.relative_to(store.media.root).as_posix()
    out = tmp_path / f"export.{fmt}"
    write_export(export_records(store), fmt, out)
    if fmt == "csv":
        import csv

        posters = [row["poster"] for row in csv.DictReader(out.open())]
    else:
        posters = [row["poster"] or "" for row in json.loads(out.read_text())]
    assert posters == [key, "", "", ""] and key.startswith("posters/")
    assert str(tmp_path) not in out.read_text()


def test_a_changed_item_loses_its_stale_prediction(store: ReviewStore) -> None:
    ids = seed(store)
    assert unpredicted_items(store) == []
    upsert_items(store, [CatalogueRow("b", "Beta", "Another film.", None, ("Drama",))], "t")
    assert unpredicted_items(store) == [ids["b"]]
    assert store.item(ids["b"]).genre_probs == {}


def test_the_media_sweep_keeps_what_is_referenced_or_young(
    store: ReviewStore, tmp_path: Path
) -> None:
    """Orphans and .part copies from a killed import go once older than the grace period;
    young ones may be a concurrent import's (copied, not yet committed) and stay."""
    ids = seed(store)
    used = store.item(ids["a"]).poster
    folder = used.parent
    old, young = folder / ("0" * 64 + ".jpg"), folder / ("1" * 64 + ".jpg")
    old_part, young_part = folder / "tmpold.part", folder / "tmpyoung.part"
    for path in (old, young, old_part, young_part):
        path.write_bytes(b"orphan")
    hour_ago = time.time() - 3600
    for path in (old, old_part, used):
        os.utime(path, (hour_ago, hour_ago))
    removed = store.media.sweep(lambda: media_in_use(store), grace_s=600)
    assert removed == 2 and used.is_file() and young.is_file() and young_part.is_file()
    assert not old.exists() and not old_part.exists()
    # a poster an import puts again is young again, so a sweep in another process keeps it
    assert store.media.put(POSTER) == used.relative_to(store.media.root).as_posix()
    assert used.stat().st_mtime > hour_ago + 600


def test_export_of_the_reviewed_items_only(store: ReviewStore, tmp_path: Path) -> None:
    ids = seed(store)
    seen = store.item(ids["a"])
    store.decide(seen.id, "ana", ["Comedy"], seen.version)
    records = list(export_records(store, status="reviewed"))
    assert [(r.external_id, r.reviewed_by, r.genres) for r in records] == [("a", "ana", ["Comedy"])]
    assert records[0].model_version == "v1" and records[0].genre_probs["Comedy"] == 0.9


def test_a_comment_is_kept_with_its_decision_and_exported(
    store: ReviewStore, tmp_path: Path
) -> None:
    ids = seed(store)
    seen = store.item(ids["a"])
    store.decide(seen.id, "ana", ["Comedy"], seen.version, comment="  poster is a remake  ")
    later = store.item(ids["a"])
    store.decide(later.id, "bob", ["Comedy", "Drama"], later.version)  # no comment this time
    item = store.item(ids["a"])
    assert [d.comment for d in item.history] == [None, "poster is a remake"]
    (record,) = [r for r in export_records(store) if r.external_id == "a"]
    assert record.comment == "poster is a remake" and record.reviewed_by == "bob"
    write_export(export_records(store), "csv", tmp_path / "out.csv")
    with open(tmp_path / "out.csv", newline="") as handle:
        rows = {r["external_id"]: r for r in csv.DictReader(handle)}
    assert rows["a"]["comment"] == "poster is a remake" and rows["b"]["comment"] == ""


def test_the_enums_are_the_strings_the_database_holds() -> None:
    """Renaming a value would need a migration of the rows that hold it."""
    assert list(ItemStatus) == ["pending", "reviewed", "skipped", "discarded"]
    assert list(DecisionAction) == [
        "accept", "correct", "skip", "discard", "undo", "bulk_add", "bulk_remove"
    ]  # fmt: skip
    assert list(JobStatus) == ["queued", "running", "done", "failed", "cancelled"]
    assert list(JobMode) == ["heads", "full"]
    assert list(QueueView) == ["uncertain", "mislabelled", "newest"]
    assert list(AuditAction) == [
        "import", "export", "send_clip", "bulk_edit", "cancel_job", "promote", "rollback"
    ]  # fmt: skip
