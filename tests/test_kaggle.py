"""The Kaggle importer on a tiny fixture in the real format and, when present, the real data."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from mmgui.data import kaggle
from mmgui.data.kaggle import (
    DroppedRow,
    MovieRecord,
    labels_of,
    load_records,
    read_kaggle,
    select_split,
)
from mmgui.errors import MmguiError
from mmgui.genres import GENRE_INDEX

FIXTURE = Path(__file__).parent / "fixtures" / "kaggle"
REAL_DATA = Path(__file__).parents[2] / "shared" / "data" / "movies"
RAW = "movies_metadata.csv"
PARTIAL = "movies_metadata_partial.csv"

KEPT_IDS = [
    "tt0120645",  # Meet the Deedles
    "tt0018217",  # October
    "tt0112817",  # Dead Man
    "tt0110322",  # Legends of the Fall
    "tt0112896",  # Dracula: Dead and Loving It
    "tt0117333",  # Phenomenon
    "tt0109068",  # Airheads
    "tt0109635",  # Disclosure (no poster)
    "tt0116506",  # Hearts and Minds
    "tt0290664",  # Hysterical Blindness
    "tt0137937",  # Mary and Rhoda (junk genres)
    "tt0113670",  # A Little Princess (empty overview)
    "tt0114825",  # Vampire in Brooklyn (placeholder overview, not in split.csv)
    "tt2355495",  # Barefoot (partial)
    "tt0094137",  # Three Men and a Baby (partial)
]

DROPPED = [
    DroppedRow(RAW, 12, "tt0113002", kaggle.MALFORMED_CELLS),
    DroppedRow(RAW, 13, None, kaggle.MALFORMED_ID),
    DroppedRow(RAW, 14, "tt0114241", kaggle.MALFORMED_ID),
    DroppedRow(RAW, 15, None, kaggle.BAD_IMDB_ID),
    DroppedRow(RAW, 19, "tt0251072", kaggle.NO_GENRE),
    DroppedRow(RAW, 20, "tt0110353", kaggle.UNPARSEABLE_GENRES),
    DroppedRow(RAW, 21, "tt0112896", kaggle.DUPLICATE_IMDB_ID),
    DroppedRow(PARTIAL, 5, "tt0109068", kaggle.DUPLICATE_IMDB_ID),
]


@pytest.fixture(scope="module")
def report() -> kaggle.ImportReport:
    return read_kaggle(FIXTURE)


@pytest.fixture
def records(report: kaggle.ImportReport) -> dict[str, MovieRecord]:
    return {record.imdb_id: record for record in report.records}


def copy_fixture(tmp_path: Path, *, without: tuple[str, ...] = ()) -> Path:
    folder = tmp_path / "kaggle"
    shutil.copytree(FIXTURE, folder, ignore=shutil.ignore_patterns(*without))
    return folder


def test_keeps_exactly_the_good_rows_in_file_order(report: kaggle.ImportReport) -> None:
    assert [record.imdb_id for record in report.records] == KEPT_IDS


def test_reports_each_dropped_row_with_its_reason(report: kaggle.ImportReport) -> None:
    assert report.dropped == DROPPED
    assert report.summary() == {
        kaggle.MALFORMED_ID: 2,
        kaggle.DUPLICATE_IMDB_ID: 2,
        kaggle.MALFORMED_CELLS: 1,
        kaggle.BAD_IMDB_ID: 1,
        kaggle.NO_GENRE: 1,
        kaggle.UNPARSEABLE_GENRES: 1,
    }


def test_reads_a_real_row_cell_for_cell(records: dict[str, MovieRecord]) -> None:
    assert records["tt0112896"] == MovieRecord(
        imdb_id="tt0112896",
        tmdb_id=12110,
        title="Dracula: Dead and Loving It",
        overview=(
            "When a lawyer shows up at the vampire's doorstep, he falls prey to his charms and "
            "joins him in his search for fresh blood. Enter Dr. van Helsing, who may be the only "
            "one able to vanquish the count."
        ),
        poster=FIXTURE / "posters" / "tt0112896.jpg",
        genres=("Comedy", "Horror"),
        split="val",
    )


@pytest.mark.parametrize(
    ("imdb_id", "genres"),
    [
        ("tt0120645", ("Animation", "Comedy", "Family")),
        ("tt0110322", ("Adventure", "Drama", "Romance", "War")),
        ("tt0116506", ("Documentary", "Drama", "Romance", "Thriller")),  # 'Foreign' gone
        ("tt0290664", ("Drama", "Romance")),  # 'TV Movie' gone
        ("tt0137937", ("Comedy", "Drama")),  # 'Aniplex', 'TV Movie', 'Foreign' gone, reordered
        ("tt0109635", ("Crime", "Drama", "Mystery", "Romance", "Thriller")),
    ],
)
def test_genres_keep_only_the_vocabulary_in_its_order(
    records: dict[str, MovieRecord], imdb_id: str, genres: tuple[str, ...]
) -> None:
    assert records[imdb_id].genres == genres


def test_every_genre_is_in_the_vocabulary_in_order(report: kaggle.ImportReport) -> None:
    for record in report.records:
        assert record.genres
        assert list(record.genres) == sorted(record.genres, key=GENRE_INDEX.__getitem__)


def test_split_comes_from_split_csv(records: dict[str, MovieRecord]) -> None:
    assert Counter(record.split for record in records.values()) == {
        "train": 9,
        "val": 3,
        "test": 2,
        None: 1,
    }
    assert records["tt0114825"].split is None  # not listed in split.csv
    assert records["tt0094137"].split == "val"


def test_ignored_genres_and_incomplete_split_rows_are_reported(tmp_path: Path) -> None:
    folder = copy_fixture(tmp_path)
    with (folder / "split.csv").open("a") as split:
        split.write("tt0114825\n,test\ntt0113002,\n")
    report = read_kaggle(folder)
    assert report.ignored_genres["TV Movie"] >= 2 and report.ignored_genres["Foreign"] >= 1
    assert [r for r in report.dropped if r.file == "split.csv"] == [
        DroppedRow("split.csv", 20, "tt0114825", kaggle.INCOMPLETE_SPLIT),
        DroppedRow("split.csv", 21, None, kaggle.INCOMPLETE_SPLIT),
        DroppedRow("split.csv", 22, "tt0113002", kaggle.INCOMPLETE_SPLIT),
    ]
    lines = report.describe(sample=2)
    assert lines[0].startswith(f"skipped {len(report.dropped)} rows: 3 {kaggle.INCOMPLETE_SPLIT}")
    assert lines[1] == f"  split.csv:20 (tt0114825): {kaggle.INCOMPLETE_SPLIT}"
    assert len(lines) == 4 and "TV Movie (3)" in lines[3]


def test_without_split_csv_every_split_is_none(tmp_path: Path) -> None:
    report = read_kaggle(copy_fixture(tmp_path, without=("split.csv",)))
    assert [record.imdb_id for record in report.records] == KEPT_IDS
    assert {record.split for record in report.records} == {None}


def test_partial_rows_are_loaded_after_the_raw_file(records: dict[str, MovieRecord]) -> None:
    barefoot = records["tt2355495"]
    assert barefoot.tmdb_id == 242042
    assert barefoot.genres == ("Comedy", "Drama", "Romance")
    assert barefoot.overview.endswith('Remake of the German film "Barfuss" (2005).')
    assert "\n" in barefoot.overview
    assert records["tt0094137"].title == "Three Men and a Baby"
    assert records["tt0109068"].title == "Airheads"  # the raw row wins over the partial copy


def test_missing_or_placeholder_overview_reads_as_empty(records: dict[str, MovieRecord]) -> None:
    assert records["tt0113670"].overview == ""
    assert records["tt0114825"].overview == ""  # 'No overview found.'


def test_require_overview_drops_empty_overviews() -> None:
    report = read_kaggle(FIXTURE, require_overview=True)
    empty = [row for row in report.dropped if row.reason == kaggle.EMPTY_OVERVIEW]
    assert [(row.line, row.imdb_id) for row in empty] == [(17, "tt0113670"), (18, "tt0114825")]
    assert len(report.records) == len(KEPT_IDS) - 2


def test_missing_poster_is_none_by_default(records: dict[str, MovieRecord]) -> None:
    assert records["tt0109635"].poster is None
    assert all(
        record.poster == FIXTURE / "posters" / f"{imdb_id}.jpg"
        for imdb_id, record in records.items()
        if imdb_id != "tt0109635"
    )


def test_require_poster_drops_rows_without_a_poster() -> None:
    report = read_kaggle(FIXTURE, require_poster=True)
    assert [record.imdb_id for record in report.records] == [
        imdb_id for imdb_id in KEPT_IDS if imdb_id != "tt0109635"
    ]
    assert DroppedRow(RAW, 9, "tt0109635", kaggle.POSTER_MISSING) in report.dropped


def test_require_genres_false_keeps_rows_without_vocabulary_genres() -> None:
    report = read_kaggle(FIXTURE, require_genres=False)
    by_id = {record.imdb_id: record for record in report.records}
    assert by_id["tt0251072"].genres == ()
    assert kaggle.NO_GENRE not in report.summary()
    assert report.summary()[kaggle.UNPARSEABLE_GENRES] == 1


def test_missing_folder_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(MmguiError, match="not found"):
        read_kaggle(tmp_path / "nowhere")


def test_folder_without_metadata_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(MmguiError, match=r"movies_metadata.csv"):
        read_kaggle(tmp_path)


def test_missing_columns_are_named(tmp_path: Path) -> None:
    (tmp_path / RAW).write_text("id,imdb_id,title\n1,tt0000001,A Film\n", encoding="utf-8")
    with pytest.raises(MmguiError, match="missing required column\\(s\\): overview, genres"):
        read_kaggle(tmp_path)


def test_missing_columns_in_the_partial_file_are_named(tmp_path: Path) -> None:
    folder = copy_fixture(tmp_path)
    (folder / PARTIAL).write_text("id,imdb_id,overview,genres\n", encoding="utf-8")
    with pytest.raises(MmguiError, match=f"{PARTIAL} is missing required column\\(s\\): title"):
        read_kaggle(folder)


def test_split_csv_without_split_column_is_a_user_error(tmp_path: Path) -> None:
    folder = copy_fixture(tmp_path)
    (folder / "split.csv").write_text("imdb_id,fold\ntt0120645,train\n", encoding="utf-8")
    with pytest.raises(MmguiError, match=r"split.csv is missing required column\(s\): split"):
        read_kaggle(folder)


def test_split_all_gives_everything(report: kaggle.ImportReport) -> None:
    assert select_split(report.records, "all") == report.records


def test_select_split_filters(report: kaggle.ImportReport) -> None:
    val = select_split(report.records, "val")
    assert [record.imdb_id for record in val] == ["tt0112896", "tt0113670", "tt0094137"]


def test_without_split_csv_every_split_is_the_whole_folder(tmp_path: Path) -> None:
    records = load_records(copy_fixture(tmp_path, without=("split.csv",)))
    assert select_split(records, "test") == records


def test_an_empty_split_is_a_user_error(report: kaggle.ImportReport) -> None:
    with pytest.raises(MmguiError, match="no movies in split 'holdout'"):
        select_split(report.records, "holdout")


def test_load_records_keeps_movies_with_a_poster_or_an_overview() -> None:
    records = load_records(FIXTURE)
    assert records and all(r.poster is not None or r.overview for r in records)
    labels = labels_of(records)
    assert labels.shape == (len(records), len(GENRE_INDEX)) and labels.dtype == np.int64
    assert [GENRE_INDEX[g] for g in records[0].genres] == list(np.flatnonzero(labels[0]))


@pytest.mark.skipif(not REAL_DATA.is_dir(), reason=f"real data not present at {REAL_DATA}")
def test_real_folder_yields_the_documented_counts() -> None:
    report = read_kaggle(REAL_DATA)
    assert len(report.records) == 6773
    assert Counter(record.split for record in report.records) == {
        "train": 5271,
        "val": 772,
        "test": 730,
    }
