"""Read The Movies Dataset (Kaggle, Rounak Banik) in the format Kaggle ships it.

A dataset folder holds `movies_metadata.csv` (the 24 Kaggle columns, raw cells), optionally
`movies_metadata_partial.csv` (same columns, some cells empty because they are unknown),
optionally `split.csv` (`imdb_id,split`) and `posters/<imdb_id>.jpg`.

The real file has malformed rows (records split across two physical lines so that a date
lands in `id`, missing imdb ids, placeholder overviews, duplicates). A bad row is never an
error: it is left out and reported in `ImportReport.dropped` with a reason (an incomplete
`split.csv` row too), and genres outside the 18 are counted in `ImportReport.ignored_genres`,
so a caller can show what was skipped and why (`ImportReport.describe`). Only a missing folder,
file or column raises `MmguiError`.

What training and evaluation take from such a folder: `load_records` (the usable movies),
`select_split` (one split of them) and `labels_of` (their genres as a 0/1 matrix).
"""

from __future__ import annotations

import ast
import csv
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from mmgui.errors import MmguiError
from mmgui.genres import GENRE_INDEX, genre_vector

# Read in this order; the first row seen for an imdb_id wins.
METADATA_FILES: tuple[str, ...] = ("movies_metadata.csv", "movies_metadata_partial.csv")
SPLIT_FILE = "split.csv"
POSTER_DIR = "posters"
REQUIRED_COLUMNS: tuple[str, ...] = ("id", "imdb_id", "title", "overview", "genres")
SPLIT_COLUMNS: tuple[str, ...] = ("imdb_id", "split")
IMDB_ID = re.compile(r"tt\d{7,8}", re.ASCII)

# The most frequent stand-ins for "no overview" in the Kaggle file (compared case-folded,
# without a trailing full stop); such an overview is read as empty.
OVERVIEW_PLACEHOLDERS: frozenset[str] = frozenset(
    {"no overview found", "no overview", "no movie overview available"}
)

# Why a row was dropped: `DroppedRow.reason` is always one of these.
MALFORMED_ID = "malformed row (id is not a number)"
MALFORMED_CELLS = "malformed row (wrong number of cells)"
BAD_IMDB_ID = "bad imdb_id"
UNPARSEABLE_GENRES = "unparseable genres cell"
NO_GENRE = "no genre of the 18"
EMPTY_OVERVIEW = "empty overview"
POSTER_MISSING = "poster missing"
DUPLICATE_IMDB_ID = "duplicate imdb_id (first kept)"
INCOMPLETE_SPLIT = "incomplete split.csv row (the movie gets no split)"


@dataclass(frozen=True)
class MovieRecord:
    """One usable movie: `genres` holds only genres of `GENRES`, in `GENRES` order.

    `overview` is '' when the file had none (or a placeholder); `poster` is None when
    `posters/<imdb_id>.jpg` does not exist; `split` is None when split.csv is absent or does
    not list the movie.
    """

    imdb_id: str
    tmdb_id: int
    title: str
    overview: str
    poster: Path | None
    genres: tuple[str, ...]
    split: str | None


@dataclass(frozen=True)
class DroppedRow:
    """A row left out: `line` is the physical line it starts on (the header is line 1)."""

    file: str
    line: int
    imdb_id: str | None
    reason: str


@dataclass
class ImportReport:
    """The records kept, in file order, and every row left out with its reason."""

    records: list[MovieRecord] = field(default_factory=list)
    dropped: list[DroppedRow] = field(default_factory=list)
    ignored_genres: Counter[str] = field(default_factory=Counter)  # outside the 18: rows

    def summary(self) -> dict[str, int]:
        """How many rows were dropped for each reason, most frequent first."""
        return dict(Counter(row.reason for row in self.dropped).most_common())

    def describe(self, sample: int = 5) -> list[str]:
        """Lines for a person: the count per reason, a sample of the rows, the ignored genres
        (nothing when nothing was left out)."""
        lines = []
        if self.dropped:
            counts = ", ".join(f"{count} {reason}" for reason, count in self.summary().items())
            lines.append(f"skipped {len(self.dropped)} rows: {counts}")
            lines += [
                f"  {row.file}:{row.line}{f' ({row.imdb_id})' if row.imdb_id else ''}: {row.reason}"
                for row in self.dropped[:sample]
            ]
        if self.ignored_genres:
            names = ", ".join(f"{n} ({c})" for n, c in self.ignored_genres.most_common(10))
            lines.append(f"genres outside the 18, ignored (rows): {names}")
        return lines


def read_kaggle(
    folder: Path,
    *,
    require_poster: bool = False,
    require_overview: bool = False,
    require_genres: bool = True,
) -> ImportReport:
    """Read every metadata file in `folder`; keep the rows that make a usable `MovieRecord`.

    Rows are kept in file order, `movies_metadata.csv` first. A row whose genres cell cannot
    be parsed is dropped whatever `require_genres` says: its cells cannot be trusted.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise MmguiError(f"Kaggle dataset folder not found: {folder}")
    if not (folder / METADATA_FILES[0]).is_file():
        raise MmguiError(f"{folder} has no {METADATA_FILES[0]}: is it The Movies Dataset folder?")
    report = ImportReport()
    splits = _read_splits(folder / SPLIT_FILE, report)
    seen: set[str] = set()
    for name in METADATA_FILES:
        path = folder / name
        if not path.is_file():
            continue
        for row in _read_rows(path, REQUIRED_COLUMNS):
            outcome = _to_record(row, folder, splits, report.ignored_genres)
            if isinstance(outcome, MovieRecord):
                outcome = _apply_requirements(
                    outcome, seen, require_poster, require_overview, require_genres
                )
            if isinstance(outcome, str):
                report.dropped.append(DroppedRow(name, row.line, _known_imdb_id(row), outcome))
            else:
                seen.add(outcome.imdb_id)
                report.records.append(outcome)
    return report


def load_records(data_dir: Path) -> list[MovieRecord]:
    """Usable movies of a Kaggle-format folder (at least one genre, a poster or an overview)."""
    report = read_kaggle(Path(data_dir))
    records = [r for r in report.records if r.poster is not None or r.overview]
    if not records:
        raise MmguiError(f"{data_dir}: no usable movies (need genres and a poster or overview)")
    return records


def select_split(records: Sequence[MovieRecord], split: str) -> list[MovieRecord]:
    """Records of one split; 'all' (or a folder without split.csv) gives every record."""
    if split == "all" or all(r.split is None for r in records):
        return list(records)
    chosen = [r for r in records if r.split == split]
    if not chosen:
        raise MmguiError(f"no movies in split {split!r}")
    return chosen


def labels_of(records: Sequence[MovieRecord]) -> np.ndarray:
    """(N, 18) 0/1 labels, one column per genre of `GENRES`."""
    return np.array([genre_vector(r.genres) for r in records], dtype=np.int64).reshape(-1, 18)


class _Row(NamedTuple):
    line: int  # the physical line the row starts on; the header is line 1
    cells: dict[str, str]  # by column; a short row lacks the tail columns
    complete: bool  # as many cells as the header has columns


def _to_record(
    row: _Row, folder: Path, splits: dict[str, str], ignored: Counter[str]
) -> MovieRecord | str:
    """The record a row describes, or the reason it describes none; genres outside the
    vocabulary are counted in `ignored`."""
    tmdb_id = row.cells.get("id", "").strip()
    if not (tmdb_id.isascii() and tmdb_id.isdigit()):
        return MALFORMED_ID
    if not row.complete:
        return MALFORMED_CELLS
    imdb_id = _known_imdb_id(row)
    if imdb_id is None:
        return BAD_IMDB_ID
    genres = _parse_genres(row.cells["genres"], ignored)
    if genres is None:
        return UNPARSEABLE_GENRES
    poster = folder / POSTER_DIR / f"{imdb_id}.jpg"
    return MovieRecord(
        imdb_id=imdb_id,
        tmdb_id=int(tmdb_id),
        title=row.cells["title"].strip() or row.cells.get("original_title", "").strip(),
        overview=_clean_overview(row.cells["overview"]),
        poster=poster if poster.is_file() else None,
        genres=genres,
        split=splits.get(imdb_id),
    )


def _apply_requirements(
    record: MovieRecord,
    seen: set[str],
    require_poster: bool,
    require_overview: bool,
    require_genres: bool,
) -> MovieRecord | str:
    """The record if the caller can use it, else why not; duplicates are checked last."""
    if require_genres and not record.genres:
        return NO_GENRE
    if require_overview and not record.overview:
        return EMPTY_OVERVIEW
    if require_poster and record.poster is None:
        return POSTER_MISSING
    if record.imdb_id in seen:
        return DUPLICATE_IMDB_ID
    return record


def _known_imdb_id(row: _Row) -> str | None:
    imdb_id = row.cells.get("imdb_id", "").strip()
    return imdb_id if IMDB_ID.fullmatch(imdb_id) else None


def _parse_genres(cell: str, ignored: Counter[str] | None = None) -> tuple[str, ...] | None:
    """The vocabulary genres in a Python-literal list of {'id', 'name'} dicts; None if unreadable.

    'TV Movie', 'Foreign' and company names that leak into the cell are not in the vocabulary
    and so drop out here (counted in `ignored`). A blank cell means the genres are unknown: no
    genre, not an error.
    """
    if not cell.strip():
        return ()
    try:
        items = ast.literal_eval(cell.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        return None
    names = {name for item in items if isinstance(name := item.get("name"), str)}
    if ignored is not None:
        ignored.update(names - GENRE_INDEX.keys())
    return tuple(sorted(names & GENRE_INDEX.keys(), key=GENRE_INDEX.__getitem__))


def _clean_overview(cell: str) -> str:
    overview = cell.strip()
    if overview.casefold().rstrip(".").strip() in OVERVIEW_PLACEHOLDERS:
        return ""
    return overview


def _read_splits(path: Path, report: ImportReport) -> dict[str, str]:
    """imdb_id -> split from split.csv, or an empty mapping when there is none; an incomplete
    row (a cell missing or empty) is dropped into `report`."""
    if not path.is_file():
        return {}
    splits: dict[str, str] = {}
    for row in _read_rows(path, SPLIT_COLUMNS):
        imdb_id, split = (row.cells.get(c, "").strip() for c in SPLIT_COLUMNS)
        if row.complete and imdb_id and split:
            splits.setdefault(imdb_id, split)
        else:
            dropped = DroppedRow(path.name, row.line, imdb_id or None, INCOMPLETE_SPLIT)
            report.dropped.append(dropped)
    return splits


def _read_rows(path: Path, required: tuple[str, ...]) -> Iterator[_Row]:
    """Each non-blank row of a CSV file whose header must hold the `required` columns.

    Raises MmguiError if the header lacks a `required` column or the file is not UTF-8 CSV.
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            missing = [column for column in required if column not in header]
            if missing:
                raise MmguiError(
                    f"{path.name} is missing required column(s): {', '.join(missing)} "
                    f"(found: {', '.join(header) or 'no header'})"
                )
            next_line = reader.line_num + 1
            for cells in reader:
                start, next_line = next_line, reader.line_num + 1
                if not cells:
                    continue
                cells_by_column = dict(zip(header, cells, strict=False))
                yield _Row(start, cells_by_column, len(cells) == len(header))
    except UnicodeDecodeError as err:
        raise MmguiError(f"{path} is not UTF-8 text: {err}") from err
    except csv.Error as err:
        raise MmguiError(f"{path} is not readable CSV: {err}") from err
