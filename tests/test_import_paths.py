"""Imports read posters only inside their catalogue's folder (or the media folder), never the
studio's database files, and a second row with an id already read is a bad row."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mmgui.data import catalogue
from mmgui.data.catalogue import poster_not_found, read_catalogue
from mmgui.data.paths import ProtectedFiles, resolve_inside, resolve_source

from .conftest import KAGGLE_FIXTURE

POSTER = sorted((KAGGLE_FIXTURE / "posters").glob("*.jpg"))[0]


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """A catalogue folder with one poster and a link out of it; outside it, an image, a text
    file and a folder an attacker would like to read or probe."""
    folder, outside = tmp_path / "catalogue", tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    (folder / "inside.jpg").write_bytes(POSTER.read_bytes())
    (outside / "secret.jpg").write_bytes(POSTER.read_bytes())
    (outside / "users.json").write_text('{"ana": "hash"}')
    (folder / "link.jpg").symlink_to(outside / "secret.jpg")
    return {"folder": folder, "outside": outside}


def test_resolve_inside(layout: dict[str, Path], tmp_path: Path) -> None:
    folder, outside = layout["folder"], layout["outside"]
    media = tmp_path / "media"
    (media / "posters" / "ab").mkdir(parents=True)
    (media / "posters" / "ab" / "k.jpg").write_bytes(b"x")
    inside = (folder / "inside.jpg").resolve()
    assert resolve_inside("inside.jpg", [folder]) == inside
    assert resolve_inside(str(folder / "inside.jpg"), [folder]) == inside
    assert resolve_inside("posters/ab/k.jpg", [folder, media]) == media / "posters/ab/k.jpg"
    assert resolve_inside("../outside/secret.jpg", [folder]) is None
    assert resolve_inside(str(outside / "secret.jpg"), [folder]) is None
    assert resolve_inside("link.jpg", [folder]) is None  # the link is resolved first
    assert resolve_inside(".", [folder]) is None  # a folder is not a poster
    assert resolve_inside("", [folder]) is None and resolve_inside("a\x00b", [folder]) is None
    assert resolve_source("catalogue", [tmp_path]) == folder.resolve()  # folders are sources
    assert resolve_source(str(outside), [folder]) is None


@pytest.mark.parametrize("fmt", ["csv", "json", "labelstudio"])
def test_posters_outside_the_catalogue_folder_are_refused_alike(
    layout: dict[str, Path], fmt: str
) -> None:
    folder, outside = layout["folder"], layout["outside"]
    refs = [
        str(outside / "secret.jpg"),  # an image elsewhere on the server
        "../outside/secret.jpg",
        "../outside/users.json",  # a text file: its kind must not leak
        "~/.ssh/id_rsa",  # not there: the same message as the others
        "/etc/passwd",
        "link.jpg",  # a symlink out of the folder
        str(outside),  # a folder
    ]
    source = _write(folder, fmt, [*refs, "inside.jpg"])
    report = read_catalogue(source)
    with_poster = [r for r in report.rows if r.poster is not None]
    assert [r.external_id for r in with_poster] == [f"p{len(refs)}"]
    assert with_poster[0].poster == (folder / "inside.jpg").resolve()
    if fmt == "labelstudio":  # Label Studio tasks import text-only, with one notice each
        assert len(report.rows) == len(refs) + 1 and not report.bad
        reasons = [b.reason for b in report.notices]
        assert reasons == [f"poster not found, imported text-only: {ref}" for ref in refs]
    else:
        assert [b.reason for b in report.bad] == [poster_not_found(ref) for ref in refs]


def _write(folder: Path, fmt: str, posters: list[str]) -> Path:
    rows = [{"id": f"p{i}", "title": f"T{i}", "poster": p} for i, p in enumerate(posters)]
    if fmt == "csv":
        lines = ["id,title,poster", *(f"{r['id']},{r['title']},{r['poster']}" for r in rows)]
        (folder / "catalogue.csv").write_text("\n".join(lines) + "\n")
        return folder / "catalogue.csv"
    if fmt == "labelstudio":
        rows = [
            {"id": i, "data": {"external_id": r["id"], "title": r["title"], "image": r["poster"]}}
            for i, r in enumerate(rows)
        ]
    (folder / "catalogue.json").write_text(json.dumps(rows))
    return folder / "catalogue.json"


def test_a_media_key_reimports(tmp_path: Path) -> None:
    media = tmp_path / "media"
    key = "posters/62/6260af.jpg"
    (media / key).parent.mkdir(parents=True)
    (media / key).write_bytes(POSTER.read_bytes())
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "export.csv").write_text(f"id,title,poster\nm1,Alpha,{key}\n")
    report = read_catalogue(folder / "export.csv", media_dir=media)
    assert not report.bad and report.rows[0].poster == (media / key).resolve()
    assert read_catalogue(folder / "export.csv").bad[0].reason == poster_not_found(key)


def test_kaggle_and_poster_folders_do_not_follow_links_out(tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "kaggle"
    shutil.copytree(KAGGLE_FIXTURE, folder)
    linked = sorted((folder / "posters").glob("*.jpg"))[0]
    (tmp_path / "secret.jpg").write_bytes(linked.read_bytes())
    linked.unlink()
    linked.symlink_to(tmp_path / "secret.jpg")
    report = read_catalogue(folder)
    assert linked.stem not in {r.external_id for r in report.rows}
    assert any(b.reason == poster_not_found(f"posters/{linked.name}") for b in report.bad)
    posters = read_catalogue(folder / "posters", kind="posters")
    assert linked.stem not in {r.external_id for r in posters.rows}
    assert [b.reason for b in posters.bad] == [poster_not_found(linked.name)]


def test_the_database_files_are_never_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative path inside the catalogue folder, an absolute one and a hard link: each is
    refused by identity before anything opens it (opening drops SQLite's POSIX locks)."""
    database = tmp_path / "mmgui.db"
    database.write_bytes(b"SQLite format 3\x00")
    (tmp_path / "mmgui.db-wal").write_bytes(b"")
    os.link(database, tmp_path / "alias.jpg")
    (tmp_path / "inside.jpg").write_bytes(POSTER.read_bytes())
    refs = ["mmgui.db", str(database), "mmgui.db-wal", "alias.jpg", "mmgui.db-shm"]
    lines = ["id,title,poster", *(f"p{i},T{i},{ref}" for i, ref in enumerate(refs))]
    (tmp_path / "catalogue.csv").write_text("\n".join([*lines, "ok,Fine,inside.jpg"]) + "\n")
    opened: list[Path] = []
    real_load = catalogue.load_image
    monkeypatch.setattr(
        catalogue, "load_image", lambda path, *a: opened.append(Path(path)) or real_load(path, *a)
    )
    protected = [database, *(Path(f"{database}{s}") for s in ("-wal", "-shm", "-journal"))]
    report = read_catalogue(tmp_path / "catalogue.csv", protected=protected)
    assert [r.external_id for r in report.rows] == ["ok"]
    assert opened == [(tmp_path / "inside.jpg").resolve()]
    reasons = {b.where: b.reason for b in report.bad}
    assert reasons["catalogue.csv:6"] == poster_not_found("mmgui.db-shm")  # no such file yet
    assert all("studio's own database" in reasons[f"p{i}"] for i in range(4))
    assert Path("x") not in ProtectedFiles([]) and database in ProtectedFiles(protected)


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_duplicate_ids_are_bad_rows_not_a_crash(tmp_path: Path, fmt: str) -> None:
    rows = [
        {"id": "p1", "title": "First"},
        {"id": "p1", "title": "Second"},
        {"title": "Same", "overview": "No id"},
        {"title": "Same", "overview": "No id"},
    ]
    if fmt == "csv":
        text = "id,title,overview\n" + "".join(
            f"{r.get('id', '')},{r['title']},{r.get('overview', '')}\n" for r in rows
        )
        (tmp_path / "c.csv").write_text(text)
        source, where = tmp_path / "c.csv", ["c.csv:2", "c.csv:3", "c.csv:4", "c.csv:5"]
    else:
        (tmp_path / "c.json").write_text(json.dumps(rows))
        source, where = tmp_path / "c.json", [f"c.json[{i}]" for i in range(4)]
    report = read_catalogue(source)
    assert [r.title for r in report.rows] == ["First", "Same"]
    generated = report.rows[1].external_id
    assert [(b.where, b.reason) for b in report.bad] == [
        (where[1], f"duplicate id p1 (the first, {where[0]}, is kept)"),
        (where[3], f"duplicate id {generated} (the first, {where[2]}, is kept)"),
    ]


def test_import_roots_come_from_flags_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mmgui.config import PROJECT_ROOT, Settings

    monkeypatch.setenv("MMGUI_IMPORT_ROOTS", f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'b'}")
    settings = Settings.load(media_dir=tmp_path / "media")
    assert settings.import_roots == (tmp_path / "a", tmp_path / "b")
    assert settings.server_import_roots[-2:] == (tmp_path / "media", PROJECT_ROOT / "assets")
    assert Settings.load(import_roots=(str(tmp_path),)).import_roots == (tmp_path,)
