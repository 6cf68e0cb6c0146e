"""Catalogue sources an editor can get wrong: every bad row is listed, good rows still import."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mmgui.data.catalogue import poster_not_found, read_catalogue
from mmgui.errors import MmguiError

from .conftest import KAGGLE_FIXTURE

POSTERS = sorted((KAGGLE_FIXTURE / "posters").glob("*.jpg"))
CHOICES = {"from_name": "genres", "to_name": "image", "type": "choices"}


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_plain_csv_keeps_good_rows_and_lists_bad_ones(tmp_path: Path) -> None:
    (tmp_path / "broken.jpg").write_bytes(POSTERS[0].read_bytes()[:300])
    alpha = tmp_path / "alpha.jpg"
    alpha.write_bytes(POSTERS[0].read_bytes())
    source = write_csv(
        tmp_path / "catalogue.csv",
        "id,title,overview,poster,genres\n"
        f"m1,Alpha,A comedy.,{alpha},Comedy|Romance\n"
        "m2,Beta,A drama.,,Drama; War\n"
        "m3,Gamma,,missing.jpg,\n"
        "m4,Delta,Text.,,Cartoon\n"
        ",,,,\n"
        "m6,Zeta,Text.,broken.jpg,\n"
        ",Eta,No id: a stable one is made,,\n",
    )
    report = read_catalogue(source)
    rows = {r.external_id: r for r in report.rows}
    assert rows["m1"].genres == ("Comedy", "Romance") and rows["m1"].poster == alpha
    assert rows["m2"].genres == ("Drama", "War") and rows["m2"].poster is None
    reasons = {b.where: b.reason for b in report.bad}
    assert reasons["catalogue.csv:4"] == poster_not_found("missing.jpg")
    assert reasons["catalogue.csv:5"] == "unknown genre(s): Cartoon"
    assert reasons["catalogue.csv:6"] == "no title, overview or poster"
    assert reasons["m6"].startswith("poster broken.jpg: the image file is truncated")
    assert str(tmp_path) not in reasons["m6"]  # files are named by name, not server path
    (made,) = [r for r in report.rows if r.title == "Eta"]
    assert made.external_id.startswith("csv-") and made.genres is None
    assert read_catalogue(source).rows[-1].external_id == made.external_id  # stable


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,year\nAlpha,1999\n", "needs at least one of title, overview, poster"),
        ("", r"has columns \(none\)"),
    ],
)
def test_a_csv_with_the_wrong_columns_says_which(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(MmguiError, match=message):
        read_catalogue(write_csv(tmp_path / "wrong.csv", text))


def test_unreadable_sources(tmp_path: Path) -> None:
    (tmp_path / "latin1.csv").write_bytes("title\nCaf\xe9\n".encode("latin-1"))
    with pytest.raises(MmguiError, match="not UTF-8"):
        read_catalogue(tmp_path / "latin1.csv")
    (tmp_path / "items.json").write_text('{"title": "not a list"}')
    with pytest.raises(MmguiError, match="expected a list"):
        read_catalogue(tmp_path / "items.json")
    (tmp_path / "bad.json").write_text("[{")
    with pytest.raises(MmguiError, match="not valid JSON"):
        read_catalogue(tmp_path / "bad.json")
    with pytest.raises(MmguiError, match="not found"):
        read_catalogue(tmp_path / "nothing.csv")
    with pytest.raises(MmguiError, match="not a folder"):
        read_catalogue(tmp_path / "bad.json", kind="kaggle")
    with pytest.raises(MmguiError, match=r"no movies_metadata\.csv and no poster images"):
        read_catalogue(tmp_path)


def test_kaggle_folder_reports_its_dropped_rows() -> None:
    report = read_catalogue(KAGGLE_FIXTURE)
    assert len(report.rows) == 16
    assert any(b.reason == "bad imdb_id" for b in report.bad)
    assert all(r.external_id.startswith("tt") for r in report.rows)


def test_poster_folder(tmp_path: Path) -> None:
    for poster in POSTERS[:3]:
        (tmp_path / poster.name).write_bytes(poster.read_bytes())
    (tmp_path / "notes.txt").write_text("not a poster")
    report = read_catalogue(tmp_path, kind="posters")
    assert [r.external_id for r in report.rows] == [p.stem for p in POSTERS[:3]]
    assert [b.where for b in report.bad] == ["notes.txt"]


def test_label_studio_tasks_import_their_latest_annotation(tmp_path: Path) -> None:
    tasks = [
        {
            "id": 7,
            "project": 2,
            "data": {"title": "Alpha", "text": "A comedy.", "image": POSTERS[0].name},
            "annotations": [
                {"result": [{**CHOICES, "value": {"choices": ["Drama"]}}]},
                {"result": [{**CHOICES, "value": {"choices": ["Comedy", "Family"]}}]},
            ],
        },
        {"id": 8, "project": 2, "data": {"title": "Beta"}},
        "not a task",
    ]
    shutil.copy(POSTERS[0], tmp_path / POSTERS[0].name)
    (tmp_path / "tasks.json").write_text(json.dumps(tasks))
    report = read_catalogue(tmp_path / "tasks.json")
    rows = [(r.external_id, r.review and r.review.labels) for r in report.rows]
    assert rows == [("ls-2-7", ("Comedy", "Family")), ("ls-2-8", None)]
    assert report.rows[0].poster == (tmp_path / POSTERS[0].name).resolve()
    assert [b.reason for b in report.bad] == ["not an object"]


def test_the_shipped_demo_catalogue_reads_whole() -> None:
    from mmgui.config import PROJECT_ROOT

    report = read_catalogue(PROJECT_ROOT / "assets" / "catalogue.csv")
    assert len(report.rows) == 12 and not report.bad
    assert all(r.poster is not None and r.poster.is_file() and r.genres for r in report.rows)


FORMULAS = [
    '=HYPERLINK("http://evil","x")', "+cmd|' /C calc'!A0", "@SUM(A1:A2)", "-2+3", "\tTabbed",
    "\rReturned", "'=already quoted", "''+twice", "plain", "'plain",
]  # fmt: skip


def _export_record(external_id: str, text: str):
    from mmgui.data.export import ExportRecord

    return ExportRecord(
        external_id=external_id, title=text, overview=text, poster=None, poster_key=None,
        genres=None, original_genres=None, status="new", reviewed_by=text, reviewed_at=None,
        model_version=text, predicted=[], genre_probs={}, comment=text,
    )  # fmt: skip


def test_a_csv_export_has_no_cell_a_spreadsheet_would_run(tmp_path: Path) -> None:
    import csv

    from mmgui.data.export import FORMULA_STARTS, write_export

    out = tmp_path / "export.csv"
    write_export([_export_record(f"-{i}", t) for i, t in enumerate(FORMULAS)], "csv", out)
    with open(out, newline="", encoding="utf-8") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert len(cells) == 11 * 11  # the header and every record, all their columns
    assert [c for c in cells if c.startswith(FORMULA_STARTS)] == []
    assert '\'=HYPERLINK("http://evil","x")' in cells and "'-0" in cells


def test_a_csv_export_reads_back_unchanged(tmp_path: Path) -> None:
    from mmgui.data.export import write_export

    out = tmp_path / "export.csv"
    write_export([_export_record(f"-{i}", t) for i, t in enumerate(FORMULAS)], "csv", out)
    rows = read_catalogue(out).rows
    assert [(r.external_id, r.title, r.overview) for r in rows] == [
        (f"-{i}", t, t) for i, t in enumerate(FORMULAS)
    ]
