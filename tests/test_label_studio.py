"""Label Studio export and import without a server: what the tasks hold, the labelling
config beside them, and JSON / JSON_MIN exports read back into a fresh queue. The round
trip through a real Label Studio is in test_label_studio_server.py."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mmgui.data.catalogue import read_catalogue
from mmgui.data.export import label_config_path, write_export
from mmgui.data.label_studio import LabelStudioExport, LabelStudioImport, read_user_map
from mmgui.errors import MmguiError
from mmgui.genres import GENRES
from mmgui.store.catalogue import apply_reviews, export_records, upsert_items
from mmgui.store.review import ReviewStore

from .label_studio_fixtures import POSTERS, queue_state, seeded_store

USERS = {"ana": {"email": "ana@example.com", "id": 7}}


def export(store: ReviewStore, root: Path, **options) -> list[dict]:
    out = root / "tasks.json"
    write_export(export_records(store), "labelstudio", out, LabelStudioExport(**options))
    return json.loads(out.read_text())


def test_tasks_carry_what_label_studio_accepts(tmp_path: Path) -> None:
    store = seeded_store(tmp_path)
    tasks = export(store, tmp_path, media_dir=store.media.root, document_root=tmp_path, users=USERS)
    by_id = {t["data"]["external_id"]: t for t in tasks}
    assert len(tasks) == 12
    annotated = {k: t["annotations"] for k, t in by_id.items() if "annotations" in t}
    assert annotated == {
        "tt0000": [
            {
                "result": [{"from_name": "genres", "to_name": "image", "type": "choices",
                            "value": {"choices": ["Horror", "Thriller"]}}],
                "completed_by": {"email": "ana@example.com"},
            }
        ],
        "tt0001": [
            {"result": [{"from_name": "genres", "to_name": "image", "type": "choices",
                         "value": {"choices": ["Drama"]}}]}
        ],  # bob has no Label Studio email: no completed_by (Label Studio takes the importer)
    }  # fmt: skip
    skipped = by_id["tt0002"]["data"]
    assert (skipped["status"], skipped["reviewed_by"]) == ("skipped", "ana")
    assert skipped["reviewed_at"] and "annotations" not in by_id["tt0002"]
    source = by_id["tt0003"]["predictions"][0]
    assert source["model_version"] == "source"
    assert source["result"][0]["value"]["choices"] == ["Drama", "War"]
    assert [p["model_version"] for p in by_id["tt0004"]["predictions"]] == ["source", "v1"]
    images = [t["data"]["image"] for t in tasks]
    assert all(i.startswith("/data/local-files/?d=media/posters/") for i in images[:10])
    assert all((tmp_path / i.split("?d=")[1]).is_file() for i in images[:10])
    assert images[10:] == ["", ""]


def test_the_labelling_config_names_what_the_tasks_use(tmp_path: Path) -> None:
    store = seeded_store(tmp_path)
    tasks = export(store, tmp_path, media_dir=store.media.root, document_root=tmp_path)
    view = ET.fromstring(label_config_path(tmp_path / "tasks.json").read_text())
    objects = {e.get("name"): e.get("value") for e in view if e.tag in ("Image", "Text")}
    choices = next(e for e in view if e.tag == "Choices")
    assert [c.get("value") for c in choices] == list(GENRES)
    results = [
        r
        for t in tasks
        for group in (t.get("annotations", []), t.get("predictions", []))
        for entry in group
        for r in entry["result"]
    ]
    assert results and all(r["from_name"] == choices.get("name") for r in results)
    assert all(r["to_name"] == choices.get("toName") in objects for r in results)
    assert all(v[1:] in tasks[0]["data"] for v in objects.values())
    assert all(set(r["value"]["choices"]) <= set(GENRES) for r in results)


def test_image_references_are_never_a_bare_server_path(tmp_path: Path) -> None:
    store = seeded_store(tmp_path)
    media = store.media.root
    tasks = export(store, tmp_path, media_dir=media, image_url_prefix="https://cdn.example/m/")
    assert tasks[0]["data"]["image"].startswith("https://cdn.example/m/posters/")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with pytest.raises(MmguiError, match="outside Label Studio's document root"):
        export(store, tmp_path, media_dir=media, document_root=elsewhere)
    default = export(store, tmp_path, media_dir=media)  # the media folder's parent
    assert default[0]["data"]["image"].startswith("/data/local-files/?d=media/posters/")


def utc(at: datetime) -> datetime:
    return at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)


def test_an_export_comes_back_whole_into_a_fresh_queue(tmp_path: Path, db_url: str) -> None:
    store = seeded_store(tmp_path / "origin")  # (db_url's SQLite file is in tmp_path)
    export(store, tmp_path, media_dir=store.media.root, document_root=tmp_path, users=USERS)
    report = read_catalogue(
        tmp_path / "tasks.json", label_studio=LabelStudioImport(document_root=tmp_path)
    )
    assert not report.bad and not report.notices and len(report.rows) == 12
    fresh = ReviewStore(db_url, tmp_path / "fresh-media")
    upsert_items(fresh, report.rows, source="ls")
    assert apply_reviews(fresh, report.rows) == 3
    assert queue_state(fresh) == queue_state(store)
    first = fresh.item(fresh.queue(status="reviewed", view="newest")[-1].id)
    original = store.item(store.queue(status="reviewed", view="newest")[-1].id)
    assert utc(first.history[0].created_at) == utc(original.history[0].created_at)
    assert first.poster is not None and first.original_labels == ["Comedy"]
    assert apply_reviews(fresh, report.rows) == 0  # importing twice decides once
    assert apply_reviews(store, report.rows) == 0  # and the export's own queue learns nothing


def label_studio_json(tmp_path: Path) -> Path:
    """A Label Studio JSON export of a project made there (no external ids; annotators by
    id), as its API's export gives it."""
    poster = tmp_path / "root" / "media" / "p.jpg"
    poster.parent.mkdir(parents=True)
    poster.write_bytes(POSTERS[0].read_bytes())

    def annotation(who: int, at: str, choices: list[str], name: str = "genres") -> dict:
        value = {"choices": choices}
        result = [{"from_name": name, "to_name": "image", "type": "choices", "value": value}]
        return {"completed_by": who, "created_at": at, "updated_at": at, "result": result}

    local = "/data/local-files/?d=media/"
    tasks = [
        {"id": 1, "project": 3, "data": {"title": "One", "image": f"{local}p.jpg"},
         "annotations": [annotation(7, "2026-01-02T10:00:00Z", ["Drama"]),
                         annotation(8, "2026-01-03T10:00:00Z", ["Comedy", "Drama"])]},
        {"id": 2, "project": 3, "data": {"title": "Two", "image": f"{local}gone.jpg"},
         "annotations": [annotation(7, "2026-01-02T10:00:00Z", ["Cartoon"])]},
        {"id": 3, "project": 3, "data": {"title": "Three", "text": "Words."},
         "annotations": [annotation(7, "2026-01-02T10:00:00Z", ["Drama"], name="mood")]},
        {"id": 4, "project": 3, "data": {"title": "Four", "image": "/etc/passwd"}},
    ]  # fmt: skip
    path = tmp_path / "project-3.json"
    path.write_text(json.dumps(tasks))
    return path


def test_label_studio_json_reads_annotators_images_and_only_our_choices(tmp_path: Path) -> None:
    options = LabelStudioImport(document_root=tmp_path / "root", users=USERS)
    report = read_catalogue(label_studio_json(tmp_path), label_studio=options)
    rows = {r.external_id: r for r in report.rows}
    assert sorted(rows) == ["ls-3-1", "ls-3-3", "ls-3-4"]  # the project names them
    one = rows["ls-3-1"]
    assert one.poster is not None and one.genres is None  # no source labels: not ours
    assert (one.review.username, one.review.labels) == ("label-studio-user-8", ("Comedy", "Drama"))
    assert one.review.at.isoformat() == "2026-01-03T10:00:00+00:00"
    assert rows["ls-3-3"].review is None  # a "mood" result is not ours to read
    assert rows["ls-3-4"].poster is None  # outside the document root: text-only
    assert [(b.where, b.reason) for b in report.bad] == [
        ("project-3.json[1]", "unknown genre(s): Cartoon")
    ]
    assert [b.reason for b in report.notices] == [
        "poster not found, imported text-only: /data/local-files/?d=media/gone.jpg",
        "poster not found, imported text-only: /etc/passwd",
    ]


def test_json_min_rows_read_single_and_multiple_choices(tmp_path: Path) -> None:
    common = {"title": "One", "text": "Words.", "image": "", "lead_time": 3.0}
    rows = [
        {**common, "external_id": "a", "id": 1, "genres": "Drama", "annotator": 7,
         "annotation_id": 1, "created_at": "2026-01-02T10:00:00Z", "updated_at": None},
        {**common, "external_id": "b", "id": 2, "genres": {"choices": ["Comedy", "Family"]},
         "annotator": "zoe@example.com", "annotation_id": 2,
         "created_at": "2026-01-02T10:00:00Z", "updated_at": "2026-01-04T10:00:00Z"},
        {**common, "external_id": "c", "id": 3, "annotator": None, "annotation_id": None,
         "created_at": None, "updated_at": None},
    ]  # fmt: skip
    (tmp_path / "min.json").write_text(json.dumps(rows))
    report = read_catalogue(tmp_path / "min.json", label_studio=LabelStudioImport(users=USERS))
    reviews = {r.external_id: r.review for r in report.rows}
    assert reviews["a"].username == "ana" and reviews["a"].labels == ("Drama",)
    assert reviews["b"].username == "zoe@example.com" and reviews["b"].labels == (
        "Comedy",
        "Family",
    )
    assert reviews["b"].at.day == 4 and reviews["c"] is None
    assert all(r.overview == "Words." for r in report.rows) and not report.bad


def test_a_user_map_names_an_email_or_an_account(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    path.write_text(json.dumps({"ana": "ana@example.com", "bob": {"id": 2}}))
    assert read_user_map(path) == {"ana": {"email": "ana@example.com"}, "bob": {"id": 2}}
    path.write_text(json.dumps({"ana": {"name": "Ana"}}))
    with pytest.raises(MmguiError, match="'ana' needs an email or id"):
        read_user_map(path)


def test_url_prefixes_resolve_back_to_their_folder(tmp_path: Path) -> None:
    store = seeded_store(tmp_path)
    prefix = "https://cdn.example/m/"
    export(store, tmp_path, media_dir=store.media.root, image_url_prefix=prefix)
    options = LabelStudioImport(url_prefixes={prefix: store.media.root})
    report = read_catalogue(tmp_path / "tasks.json", label_studio=options)
    assert sum(r.poster is not None for r in report.rows) == 10 and not report.notices


def test_an_empty_annotation_is_a_decision_for_no_genres(tmp_path: Path) -> None:
    tasks = [
        {"data": {"external_id": "a", "title": "A"},
         "annotations": [{"completed_by": 7, "created_at": "2026-01-02T10:00:00Z", "result": []}]},
    ]  # fmt: skip
    (tmp_path / "tasks.json").write_text(json.dumps(tasks))
    report = read_catalogue(tmp_path / "tasks.json", label_studio=LabelStudioImport(users=USERS))
    assert (report.rows[0].review.username, report.rows[0].review.labels) == ("ana", ())
