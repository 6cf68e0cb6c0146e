"""An editor's catalogue out: CSV, JSON and Label Studio exports of the queue.

Exports are written to a temporary file and renamed, so an interrupted export never leaves half
a file under the requested name; they name posters by media key, which re-imports into this
studio. CSV exports are safe to open in a spreadsheet: a cell that would start a formula (`=`,
`+`, `-`, `@`, tab, CR) gets a leading `'`, and the CSV reader removes that one `'` again, so a
round trip is lossless.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mmgui.errors import MmguiError
from mmgui.files import write_atomically

if TYPE_CHECKING:
    from mmgui.data.label_studio import LabelStudioExport

EXPORT_FORMATS = ("csv", "json", "labelstudio")
CSV_COLUMNS = (
    "external_id", "title", "overview", "poster", "genres", "original_genres", "status",
    "reviewed_by", "reviewed_at", "model_version", "comment",
)  # fmt: skip
# Cells a spreadsheet reads as a formula (OWASP's list); exported CSV cells get a leading "'".
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExportRecord:
    """One item as exported: its current labels and where they came from."""

    external_id: str
    title: str
    overview: str
    poster: Path | None  # the file in the media folder
    poster_key: str | None  # its media key (relative to the media folder): what exports name
    genres: list[str] | None  # current labels; None: never labelled
    original_genres: list[str] | None
    status: str
    reviewed_by: str | None  # who made the latest decision
    reviewed_at: str | None
    model_version: str | None
    predicted: list[str]  # the latest prediction's tags
    genre_probs: dict[str, float]  # the latest prediction ({} if none)
    comment: str | None = None  # the latest comment an editor left with a decision


def write_export(
    records: Iterable[ExportRecord],
    fmt: str,
    out: Path,
    label_studio: LabelStudioExport | None = None,
) -> int:
    """Write `records` as csv | json | labelstudio to `out` (atomically); returns the count.

    A Label Studio export references posters as `label_studio` says (required for that
    format) and writes its labelling config beside itself (`label_config_path(out)`).
    """
    if fmt not in EXPORT_FORMATS:
        raise MmguiError(f"export format must be one of {', '.join(EXPORT_FORMATS)}")
    if fmt != "labelstudio":
        return write_atomically(Path(out), lambda handle: WRITERS[fmt](records, handle))
    from mmgui.data.label_studio import label_config, write_label_studio

    if label_studio is None:
        raise MmguiError("a Label Studio export needs to know how Label Studio serves posters")
    count = write_atomically(Path(out), lambda h: write_label_studio(records, h, label_studio))
    write_atomically(label_config_path(Path(out)), lambda handle: handle.write(label_config()))
    return count


def label_config_path(out: Path) -> Path:
    """Where a Label Studio export's labelling config is written: `<name>.label_config.xml`."""
    return out.with_name(f"{out.stem}.label_config.xml")


def _write_csv(records: Iterable[ExportRecord], handle) -> int:
    writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    count = 0
    for record in records:
        row = {k: v for k, v in asdict(record).items() if k in CSV_COLUMNS}
        for key in ("genres", "original_genres"):
            row[key] = "" if row[key] is None else "|".join(row[key])
        row["poster"] = record.poster_key or ""
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
    return write_json_list((_json_record(r) for r in records), handle)


def _json_record(record: ExportRecord) -> dict:
    row = asdict(record)
    row["poster"] = row.pop("poster_key")
    return row


def write_json_list(entries: Iterable[dict], handle) -> int:
    """A JSON list written entry by entry (an export of 50,000 items is never one string)."""
    count = 0
    handle.write("[")
    for entry in entries:
        handle.write(",\n" if count else "\n")
        handle.write(json.dumps(entry, ensure_ascii=False))
        count += 1
    handle.write("\n]\n")
    return count


WRITERS = {"csv": _write_csv, "json": _write_json}
