"""An editor's catalogue in: Kaggle folders, plain CSV, poster folders, JSON, and Label
Studio (its reader is in `mmgui.data.label_studio`; exports are `mmgui.data.export`).

Reading never stops at a bad row: `CatalogueReport.bad` lists each with where and why, and
the good rows still import. Only an unreadable source as a whole (missing file, a CSV without
any usable column) raises `MmguiError`. Poster paths must resolve inside the catalogue's folder
or the media folder (`mmgui.data.paths`), and the studio's database files are never opened.
Messages name files by their name, never by a server path. A CSV cell that our export made
spreadsheet-safe (a leading `'`) is read back as it was.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from mmgui.data.export import spreadsheet_value
from mmgui.data.image import load_image
from mmgui.data.paths import ProtectedFiles, resolve_inside
from mmgui.errors import MmguiError
from mmgui.genres import GENRES

if TYPE_CHECKING:
    from mmgui.data.label_studio import LabelStudioImport

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
ID_COLUMNS = ("external_id", "id", "imdb_id")
CONTENT_COLUMNS = ("title", "overview", "poster")
GENRE_SEPARATORS = re.compile(r"\s*[|;,]\s*")


@dataclass(frozen=True)
class Review:
    """A decision the source records on an item (a Label Studio annotation): who, when, what.

    `labels` None with action "skip" / "discard"; `at` None: the time of the import."""

    username: str
    at: datetime | None
    labels: tuple[str, ...] | None
    action: str = "save"


@dataclass(frozen=True)
class CatalogueRow:
    """One item as a source describes it."""

    external_id: str
    title: str = ""
    overview: str = ""
    poster: Path | None = None
    genres: tuple[str, ...] | None = None  # None: the source has no labels for it
    clip: Path | None = None  # a video clip (the Clip tab sends these)
    review: Review | None = None  # a decision the source made on it


@dataclass(frozen=True)
class BadRow:
    where: str  # "file:line" or a file name
    reason: str


@dataclass
class CatalogueReport:
    rows: list[CatalogueRow] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)
    notices: list[BadRow] = field(default_factory=list)  # imported, but not whole


# -- reading -------------------------------------------------------------------------------


SOURCE_KINDS = ("auto", "kaggle", "csv", "posters", "json")


def read_catalogue(
    source: Path,
    kind: str = "auto",
    max_image_pixels: int | None = None,
    media_dir: Path | None = None,
    protected: Sequence[Path] = (),
    label_studio: LabelStudioImport | None = None,
) -> CatalogueReport:
    """Rows of a Kaggle folder, a folder of posters, a CSV, or a JSON / Label Studio export.

    `kind` "auto" tells them apart by what `source` is. Posters are opened (not just found),
    so a corrupt one is a bad row here, not a failed prediction later. A poster path resolves
    inside the catalogue's folder, else inside `media_dir` (a media key), else the row is bad.
    No file among `protected` (the database's) is ever opened, whatever path names it.
    `label_studio` says where a Label Studio export's images are and who its annotators are.
    """
    source = Path(source)
    if kind not in SOURCE_KINDS:
        raise MmguiError(f"source kind must be one of {', '.join(SOURCE_KINDS)}")
    if not source.exists():
        raise MmguiError(f"catalogue source not found: {source.name}")
    if kind == "auto":
        kind = _guess_kind(source)
    if kind in ("kaggle", "posters") and not source.is_dir():
        raise MmguiError(f"{source.name} is not a folder (a {kind} source is one)")
    if kind in ("csv", "json") and not source.is_file():
        raise MmguiError(f"{source.name} is not a file (a {kind} source is one)")
    protected_files = ProtectedFiles(protected)
    if source in protected_files:
        raise MmguiError(f"{source.name} is the studio's own database, not a catalogue")
    folder = source if source.is_dir() else source.parent
    roots = (folder,) if media_dir is None else (folder, Path(media_dir))
    readers = {"kaggle": _read_kaggle, "posters": _read_poster_folder, "csv": _read_csv}
    if kind in readers:
        report = readers[kind](source, roots)
    else:
        report = _read_json(source, roots, label_studio)
    return _check_posters(report, max_image_pixels, protected_files)


def _guess_kind(source: Path) -> str:
    if source.is_dir():
        return "kaggle" if (source / "movies_metadata.csv").is_file() else "posters"
    suffix = source.suffix.lower()
    if suffix in (".csv", ".json"):
        return suffix[1:]
    raise MmguiError(f"{source.name}: import takes a folder, a .csv or a .json file")


def _read_kaggle(folder: Path, roots: Sequence[Path]) -> CatalogueReport:
    from mmgui.data.kaggle import read_kaggle

    kaggle = read_kaggle(folder, require_genres=False)
    report = CatalogueReport()
    report.bad = [BadRow(f"{d.file}:{d.line}", d.reason) for d in kaggle.dropped]
    for r in kaggle.records:
        poster = None if r.poster is None else resolve_inside(str(r.poster), roots)
        if r.poster is not None and poster is None:
            ref = r.poster.relative_to(folder).as_posix()
            report.bad.append(BadRow(r.imdb_id, poster_not_found(ref)))
            continue
        genres = r.genres or None
        report.rows.append(CatalogueRow(r.imdb_id, r.title, r.overview, poster, genres))
    return report


def _read_poster_folder(folder: Path, roots: Sequence[Path]) -> CatalogueReport:
    report = CatalogueReport()
    seen: dict[str, str] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in IMAGE_SUFFIXES:
            poster = resolve_inside(path.name, roots)
            outcome = CatalogueRow(path.stem, title=path.stem, poster=poster) if poster else None
            keep_row(report, seen, path.name, outcome or poster_not_found(path.name))
        elif path.is_file() and not path.name.startswith("."):
            report.bad.append(BadRow(path.name, "not an image file (by its extension)"))
    if not report.rows:
        raise MmguiError(f"{folder.name}: no movies_metadata.csv and no poster images")
    return report


def keep_row(
    report: CatalogueReport, seen: dict[str, str], where: str, outcome: CatalogueRow | str
) -> None:
    """Add a read row to `report`, or the reason it is bad; a second row with an id already
    read is bad (two identical rows without an id get the same id, so they are caught too)."""
    if isinstance(outcome, CatalogueRow) and outcome.external_id in seen:
        first = seen[outcome.external_id]
        outcome = f"duplicate id {outcome.external_id} (the first, {first}, is kept)"
    if isinstance(outcome, str):
        report.bad.append(BadRow(where, outcome))
    else:
        seen[outcome.external_id] = where
        report.rows.append(outcome)


def poster_not_found(ref: str) -> str:
    """The one reason given for a poster path that is missing or outside the import's roots
    (it says nothing about what the path names elsewhere)."""
    return f"poster file not found in the catalogue's folder: {ref[:200]}"


def _read_csv(path: Path, roots: Sequence[Path]) -> CatalogueReport:
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip().lower() for c in reader.fieldnames or []]
            _check_columns(path, columns)
            report = CatalogueReport()
            seen: dict[str, str] = {}
            for line, raw in enumerate(reader, start=2):
                cells = {
                    k.strip().lower(): spreadsheet_value((v or "").strip())
                    for k, v in raw.items()
                    if k
                }
                keep_row(report, seen, f"{path.name}:{line}", _row_from_cells(cells, roots))
    except UnicodeDecodeError as err:
        raise MmguiError(f"{path.name}: not UTF-8 text ({err.reason})") from err
    except csv.Error as err:
        raise MmguiError(f"{path.name}: not a readable CSV ({err})") from err
    return report


def _check_columns(path: Path, columns: list[str]) -> None:
    if not any(c in columns for c in CONTENT_COLUMNS):
        raise MmguiError(
            f"{path.name} has columns {', '.join(columns) or '(none)'}; a catalogue CSV needs "
            f"at least one of {', '.join(CONTENT_COLUMNS)} (optional: id, genres)"
        )


def _row_from_cells(cells: dict[str, str], roots: Sequence[Path]) -> CatalogueRow | str:
    """A row from CSV or JSON cells, or the reason it is unusable."""
    title, overview = cells.get("title", ""), cells.get("overview", "")
    poster = None
    if cells.get("poster"):
        poster = resolve_inside(cells["poster"], roots)
        if poster is None:
            return poster_not_found(cells["poster"])
    if not (title or overview or poster):
        return "no title, overview or poster"
    genres = None
    if "genres" in cells and cells["genres"] != "":
        names = tuple(n for n in GENRE_SEPARATORS.split(cells["genres"]) if n)
        unknown = [n for n in names if n not in GENRES]
        if unknown:
            return f"unknown genre(s): {', '.join(unknown)}"
        genres = names
    external_id = next((cells[c] for c in ID_COLUMNS if cells.get(c)), None)
    if external_id is None:  # stable across re-imports of the same content
        digest = hashlib.sha1(f"{title}\n{overview}\n{cells.get('poster', '')}".encode())
        external_id = f"csv-{digest.hexdigest()[:16]}"
    return CatalogueRow(external_id, title, overview, poster, genres)


def _read_json(
    path: Path, roots: Sequence[Path], label_studio: LabelStudioImport | None
) -> CatalogueReport:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise MmguiError(f"{path.name}: not valid JSON ({err})") from err
    if not isinstance(data, list):
        raise MmguiError(f"{path.name}: expected a list of items (a mmgui or Label Studio export)")
    from mmgui.data.label_studio import is_label_studio, read_label_studio

    if is_label_studio(data):
        return read_label_studio(path, data, label_studio, roots)
    report = CatalogueReport()
    seen: dict[str, str] = {}
    for i, cells in enumerate(data):
        if not isinstance(cells, dict):
            report.bad.append(BadRow(f"{path.name}[{i}]", "not an object"))
            continue
        cells = {
            k: "|".join(v) if isinstance(v, list) else ("" if v is None else str(v))
            for k, v in cells.items()
        }
        keep_row(report, seen, f"{path.name}[{i}]", _row_from_cells(cells, roots))
    return report


def _check_posters(
    report: CatalogueReport, max_pixels: int | None, protected: ProtectedFiles
) -> CatalogueReport:
    """Open each poster once (every reader's rows pass here, so this is where the database's
    files are kept out: checked by path and identity before any open)."""
    checked: dict[Path, str | None] = {}
    kept = []
    for row in report.rows:
        if row.poster is not None and row.poster not in checked:
            checked[row.poster] = _poster_problem(row.poster, max_pixels, protected)
        problem = checked.get(row.poster) if row.poster is not None else None
        if problem:
            report.bad.append(BadRow(row.external_id, f"poster {row.poster.name}: {problem}"))
        else:
            kept.append(row)
    report.rows = kept
    return report


def _poster_problem(poster: Path, max_pixels: int | None, protected: ProtectedFiles) -> str | None:
    if poster in protected:
        return "refused: a file of the studio's own database"
    try:
        load_image(poster, max_pixels)
    except MmguiError as err:
        return str(err).removeprefix(f"{poster.name}: ")  # the loader names the file too
    return None
