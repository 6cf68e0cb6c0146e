"""An editor's catalogue in and out: Kaggle folders, plain CSV, poster folders, JSON, Label Studio.

Reading never stops at a bad row: `CatalogueReport.bad` lists each with where and why, and
the good rows still import. Only an unreadable source as a whole (missing file, a CSV without
any usable column) raises `MmguiError`. Exports are written to a temporary file and renamed,
so an interrupted export never leaves half a file under the requested name. CSV exports are
safe to open in a spreadsheet: a cell that would start a formula (`=`, `+`, `-`, `@`, tab, CR)
gets a leading `'`, and the CSV reader removes that one `'` again, so a round trip is lossless.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mmgui.data.image import load_image
from mmgui.errors import MmguiError
from mmgui.genres import GENRES

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
ID_COLUMNS = ("external_id", "id", "imdb_id")
CONTENT_COLUMNS = ("title", "overview", "poster")
GENRE_SEPARATORS = re.compile(r"\s*[|;,]\s*")
EXPORT_FORMATS = ("csv", "json", "labelstudio")
CSV_COLUMNS = (
    "external_id", "title", "overview", "poster", "genres", "original_genres", "status",
    "reviewed_by", "reviewed_at", "model_version",
)  # fmt: skip
LABEL_STUDIO_CONTROL = {"from_name": "genres", "to_name": "image", "type": "choices"}
# Cells a spreadsheet reads as a formula (OWASP's list); exported CSV cells get a leading "'".
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class CatalogueRow:
    """One item as a source describes it."""

    external_id: str
    title: str = ""
    overview: str = ""
    poster: Path | None = None
    genres: tuple[str, ...] | None = None  # None: the source has no labels for it
    clip: Path | None = None  # a video clip (the Clip tab sends these)


@dataclass(frozen=True)
class BadRow:
    where: str  # "file:line" or a file name
    reason: str


@dataclass
class CatalogueReport:
    rows: list[CatalogueRow] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)


@dataclass(frozen=True)
class ExportRecord:
    """One item as exported: its current labels and where they came from."""

    external_id: str
    title: str
    overview: str
    poster: Path | None
    genres: list[str] | None  # current labels; None: never labelled
    original_genres: list[str] | None
    status: str
    reviewed_by: str | None  # who made the latest decision
    reviewed_at: str | None
    model_version: str | None
    predicted: list[str]  # the latest prediction's tags
    genre_probs: dict[str, float]  # the latest prediction ({} if none)


# -- reading -------------------------------------------------------------------------------


SOURCE_KINDS = ("auto", "kaggle", "csv", "posters", "json")


def read_catalogue(
    source: Path, kind: str = "auto", max_image_pixels: int | None = None
) -> CatalogueReport:
    """Rows of a Kaggle folder, a folder of posters, a CSV, or a JSON / Label Studio export.

    `kind` "auto" tells them apart by what `source` is. Posters are opened (not just found),
    so a corrupt one is a bad row here, not a failed prediction later.
    """
    source = Path(source)
    if kind not in SOURCE_KINDS:
        raise MmguiError(f"source kind must be one of {', '.join(SOURCE_KINDS)}")
    if not source.exists():
        raise MmguiError(f"catalogue source not found: {source}")
    if kind == "auto":
        kind = _guess_kind(source)
    if kind in ("kaggle", "posters") and not source.is_dir():
        raise MmguiError(f"{source} is not a folder (a {kind} source is one)")
    if kind in ("csv", "json") and not source.is_file():
        raise MmguiError(f"{source} is not a file (a {kind} source is one)")
    readers = {"kaggle": _read_kaggle, "posters": _read_poster_folder, "csv": _read_csv}
    report = readers.get(kind, _read_json)(source)
    return _check_posters(report, max_image_pixels)


def _guess_kind(source: Path) -> str:
    if source.is_dir():
        return "kaggle" if (source / "movies_metadata.csv").is_file() else "posters"
    suffix = source.suffix.lower()
    if suffix in (".csv", ".json"):
        return suffix[1:]
    raise MmguiError(f"{source.name}: import takes a folder, a .csv or a .json file")


def _read_kaggle(folder: Path) -> CatalogueReport:
    from mmgui.data.kaggle import read_kaggle

    kaggle = read_kaggle(folder, require_genres=False)
    report = CatalogueReport()
    for r in kaggle.records:
        genres = r.genres or None
        report.rows.append(CatalogueRow(r.imdb_id, r.title, r.overview, r.poster, genres))
    report.bad = [BadRow(f"{d.file}:{d.line}", d.reason) for d in kaggle.dropped]
    return report


def _read_poster_folder(folder: Path) -> CatalogueReport:
    report = CatalogueReport()
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in IMAGE_SUFFIXES:
            report.rows.append(CatalogueRow(path.stem, title=path.stem, poster=path))
        elif path.is_file() and not path.name.startswith("."):
            report.bad.append(BadRow(path.name, "not an image file (by its extension)"))
    if not report.rows:
        raise MmguiError(f"{folder}: no movies_metadata.csv and no poster images")
    return report


def _read_csv(path: Path) -> CatalogueReport:
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip().lower() for c in reader.fieldnames or []]
            _check_columns(path, columns)
            report = CatalogueReport()
            for line, raw in enumerate(reader, start=2):
                cells = {
                    k.strip().lower(): spreadsheet_value((v or "").strip())
                    for k, v in raw.items()
                    if k
                }
                outcome = _row_from_cells(cells, path.parent)
                if isinstance(outcome, str):
                    report.bad.append(BadRow(f"{path.name}:{line}", outcome))
                else:
                    report.rows.append(outcome)
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


def _row_from_cells(cells: dict[str, str], folder: Path) -> CatalogueRow | str:
    """A row from CSV or JSON cells, or the reason it is unusable."""
    title, overview = cells.get("title", ""), cells.get("overview", "")
    poster = None
    if cells.get("poster"):
        poster = Path(cells["poster"])
        poster = poster if poster.is_absolute() else folder / poster
        if not poster.is_file():
            return f"poster file not found: {cells['poster']}"
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


def _read_json(path: Path) -> CatalogueReport:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise MmguiError(f"{path.name}: not valid JSON ({err})") from err
    if not isinstance(data, list):
        raise MmguiError(f"{path.name}: expected a list of items (a mmgui or Label Studio export)")
    report = CatalogueReport()
    for i, entry in enumerate(data):
        cells = _label_studio_cells(entry) if isinstance(entry, dict) and "data" in entry else entry
        if not isinstance(cells, dict):
            report.bad.append(BadRow(f"{path.name}[{i}]", "not an object"))
            continue
        cells = {
            k: "|".join(v) if isinstance(v, list) else ("" if v is None else str(v))
            for k, v in cells.items()
        }
        outcome = _row_from_cells(cells, path.parent)
        if isinstance(outcome, str):
            report.bad.append(BadRow(f"{path.name}[{i}]", outcome))
        else:
            report.rows.append(outcome)
    return report


def _label_studio_cells(task: dict) -> dict:
    data = task.get("data") or {}
    cells = {
        "external_id": data.get("external_id", task.get("id")),
        "title": data.get("title", ""),
        "overview": data.get("text", ""),
        "poster": data.get("image", ""),
    }
    annotations = [a for a in task.get("annotations") or [] if not a.get("was_cancelled")]
    if annotations:
        results = annotations[-1].get("result") or []
        choices = [c for r in results for c in (r.get("value") or {}).get("choices", [])]
        cells["genres"] = choices
    return cells


def _check_posters(report: CatalogueReport, max_pixels: int | None) -> CatalogueReport:
    checked: dict[Path, str | None] = {}
    kept = []
    for row in report.rows:
        if row.poster is not None and row.poster not in checked:
            try:
                load_image(row.poster, max_pixels)
                checked[row.poster] = None
            except MmguiError as err:
                checked[row.poster] = str(err)
        problem = checked.get(row.poster) if row.poster is not None else None
        if problem:
            report.bad.append(BadRow(row.external_id, f"poster: {problem}"))
        else:
            kept.append(row)
    report.rows = kept
    return report


# -- writing -------------------------------------------------------------------------------


def write_export(records: Iterable[ExportRecord], fmt: str, out: Path) -> int:
    """Write `records` as csv | json | labelstudio to `out` (atomically); returns the count."""
    if fmt not in EXPORT_FORMATS:
        raise MmguiError(f"export format must be one of {', '.join(EXPORT_FORMATS)}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
            count = WRITERS[fmt](records, handle)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count


def _write_csv(records: Iterable[ExportRecord], handle) -> int:
    writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    count = 0
    for record in records:
        row = {k: v for k, v in asdict(record).items() if k in CSV_COLUMNS}
        for key in ("genres", "original_genres"):
            row[key] = "" if row[key] is None else "|".join(row[key])
        row["poster"] = "" if record.poster is None else str(record.poster)
        writer.writerow({k: "" if v is None else spreadsheet_safe(str(v)) for k, v in row.items()})
        count += 1
    return count


def spreadsheet_safe(cell: str) -> str:
    """`cell` as a spreadsheet shows it as text, never runs it: a leading "'" when it starts
    with a formula character (or is already such a cell). `spreadsheet_value` undoes it
    exactly, so export then import keeps every value."""
    return "'" + cell if cell.lstrip("'").startswith(FORMULA_STARTS) else cell


def spreadsheet_value(cell: str) -> str:
    """The value `spreadsheet_safe` protected: one leading "'" removed when what follows (after
    any further "'") starts with a formula character; any other cell is returned as is."""
    protected = cell.startswith("'") and cell.lstrip("'").startswith(FORMULA_STARTS)
    return cell[1:] if protected else cell


def _write_json(records: Iterable[ExportRecord], handle) -> int:
    return _write_json_list((_json_record(r) for r in records), handle)


def _json_record(record: ExportRecord) -> dict:
    row = asdict(record)
    row["poster"] = None if record.poster is None else str(record.poster)
    return row


def _write_label_studio(records: Iterable[ExportRecord], handle) -> int:
    return _write_json_list((_label_studio_task(r) for r in records), handle)


def _label_studio_task(record: ExportRecord) -> dict:
    """A task in Label Studio's JSON import format (a `Choices` control named "genres")."""
    task: dict = {
        "data": {
            "external_id": record.external_id,
            "title": record.title,
            "text": record.overview,
            "image": "" if record.poster is None else str(record.poster),
        }
    }
    if record.genres is not None:
        task["annotations"] = [
            {
                "result": [{**LABEL_STUDIO_CONTROL, "value": {"choices": record.genres}}],
                "completed_by": {"username": record.reviewed_by or "source"},
                "created_at": record.reviewed_at,
            }
        ]
    if record.model_version:
        tags = record.predicted
        probs = [record.genre_probs[g] for g in tags] or [max(record.genre_probs.values())]
        task["predictions"] = [
            {
                "model_version": record.model_version,
                "score": round(sum(probs) / len(probs), 4),
                "result": [{**LABEL_STUDIO_CONTROL, "value": {"choices": tags}}],
            }
        ]
    return task


def _write_json_list(entries: Iterable[dict], handle) -> int:
    """A JSON list written entry by entry (an export of 50,000 items is never one string)."""
    count = 0
    handle.write("[")
    for entry in entries:
        handle.write(",\n" if count else "\n")
        handle.write(json.dumps(entry, ensure_ascii=False))
        count += 1
    handle.write("\n]\n")
    return count


WRITERS = {"csv": _write_csv, "json": _write_json, "labelstudio": _write_label_studio}
