"""Label Studio in and out: tasks that a real Label Studio (1.23) accepts, and its JSON and
JSON_MIN exports read back.

Export: each item is a task whose `data` carries the item (`title`, `text`, `image`,
`external_id`) and its review state (`status`, `reviewed_by`, `reviewed_at`,
`reviewed_genres`, `original_genres`); the source's genres and the model's tags are
predictions (model versions "source" and the model's name); only reviewed items carry an
annotation, with `completed_by` only where the user map names the editor's Label Studio email
(Label Studio refuses any other). Posters are referenced as Label Studio serves them:
`/data/local-files/?d=<path under its LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT>` or a URL under
an image prefix, never as a bare server path. `label_config()` is the labelling config whose
names the tasks use; Label Studio does not check them, so the export writes it beside itself.

Import: the latest annotation's `genres` choices become a reviewed decision by its annotator
at its time (an annotation that still holds the labels an mmgui editor exported keeps that
editor and time); image references are resolved back to files inside the configured folders;
an item whose poster cannot be found imports text-only, with a notice.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO
from urllib.parse import parse_qs, quote, unquote, urlparse
from xml.sax.saxutils import quoteattr

from mmgui.data.catalogue import BadRow, CatalogueReport, CatalogueRow, Review, keep_row
from mmgui.data.export import ExportRecord, write_json_list
from mmgui.data.paths import resolve_inside
from mmgui.errors import MmguiError
from mmgui.genres import GENRES
from mmgui.store.enums import EditorAction, ItemStatus

CONTROL = {"from_name": "genres", "to_name": "image", "type": "choices"}
SOURCE_VERSION = "source"  # the model_version of the source's genres as a prediction
LOCAL_FILES = "/data/local-files/"
DOCUMENT_ROOT_ENV = "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT"
UNDECIDED_ACTIONS = {
    ItemStatus.SKIPPED: EditorAction.SKIP,
    ItemStatus.DISCARDED: EditorAction.DISCARD,
}


def label_config() -> str:
    """The labelling config of our tasks (the names the tasks' results use)."""
    choices = "\n".join(f"    <Choice value={quoteattr(g)}/>" for g in GENRES)
    return (
        "<View>\n"
        '  <Header value="$title"/>\n'
        f'  <Image name="{CONTROL["to_name"]}" value="$image"/>\n'
        '  <Text name="text" value="$text"/>\n'
        f'  <Choices name="{CONTROL["from_name"]}" toName="{CONTROL["to_name"]}" '
        'choice="multiple" showInline="true">\n'
        f"{choices}\n"
        "  </Choices>\n"
        "</View>\n"
    )


def read_user_map(path: Path | None) -> dict[str, dict]:
    """mmgui username → {"email": ..., "id": ...} of their Label Studio account.

    The file is a JSON object whose values are an email or an object with `email` and/or
    `id` (Label Studio's numeric user id, what its plain API export names annotators by).
    """
    if path is None:
        return {}
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise MmguiError(f"Label Studio user map {path}: not a readable JSON file ({err})") from err
    if not isinstance(raw, dict):
        raise MmguiError(f"Label Studio user map {path}: expected an object username → email")
    users = {}
    for username, account in raw.items():
        account = {"email": account} if isinstance(account, str) else account
        if not isinstance(account, dict) or not ({"email", "id"} & set(account)):
            raise MmguiError(f"Label Studio user map {path}: {username!r} needs an email or id")
        users[username] = account
    return users


def default_document_root(override: Path | None, media_dir: Path) -> Path:
    """Where Label Studio's local files are served from: the flag, else Label Studio's own
    environment variable, else the media folder's parent (Label Studio refuses a local
    storage on its document root itself, so the media folder goes one level below)."""
    if override is not None:
        return Path(override)
    from_env = os.environ.get(DOCUMENT_ROOT_ENV)
    return Path(from_env) if from_env else Path(media_dir).resolve().parent


# -- writing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelStudioExport:
    """How the exported tasks reference posters and name editors."""

    media_dir: Path
    document_root: Path | None = None  # None: see `default_document_root`
    image_url_prefix: str | None = None  # wins over the document root when given
    users: dict[str, dict] = field(default_factory=dict)

    def image_ref(self, poster: Path | None) -> str:
        if poster is None:
            return ""
        if self.image_url_prefix:
            key = Path(poster).resolve().relative_to(self.media_dir.resolve()).as_posix()
            return f"{self.image_url_prefix.rstrip('/')}/{quote(key)}"
        root = default_document_root(self.document_root, self.media_dir).resolve()
        real = Path(poster).resolve()
        if not real.is_relative_to(root):
            raise MmguiError(
                f"poster {real.name} is outside Label Studio's document root: start Label "
                f"Studio with {DOCUMENT_ROOT_ENV} at or above the media folder, or pass "
                "--image-url-prefix"
            )
        return f"{LOCAL_FILES}?d={quote(real.relative_to(root).as_posix())}"


def write_label_studio(
    records: Iterable[ExportRecord], handle: TextIO, options: LabelStudioExport
) -> int:
    return write_json_list((label_studio_task(r, options) for r in records), handle)


def label_studio_task(record: ExportRecord, options: LabelStudioExport) -> dict:
    """One item as a Label Studio import task (see the module docstring)."""
    reviewed = record.status == ItemStatus.REVIEWED and record.genres is not None
    task: dict = {
        "data": {
            "external_id": record.external_id,
            "title": record.title,
            "text": record.overview,
            "image": options.image_ref(record.poster),
            "status": record.status,
            "reviewed_by": record.reviewed_by,
            "reviewed_at": record.reviewed_at,
            "comment": record.comment,
            "reviewed_genres": record.genres if reviewed else None,
            "original_genres": record.original_genres,
        }
    }
    if reviewed:
        annotation: dict = {"result": _result(record.genres)}
        email = options.users.get(record.reviewed_by or "", {}).get("email")
        if email:
            annotation["completed_by"] = {"email": email}
        task["annotations"] = [annotation]
    predictions = []
    if record.original_genres is not None:
        predictions.append(
            {"model_version": SOURCE_VERSION, "result": _result(record.original_genres)}
        )
    if record.model_version:
        tags = record.predicted
        probs = [record.genre_probs[g] for g in tags] or [max(record.genre_probs.values())]
        predictions.append(
            {
                "model_version": record.model_version,
                "score": round(sum(probs) / len(probs), 4),
                "result": _result(tags),
            }
        )
    if predictions:
        task["predictions"] = predictions
    return task


def _result(genres: list[str]) -> list[dict]:
    return [{**CONTROL, "value": {"choices": list(genres)}}] if genres else []


# -- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelStudioImport:
    """Where the export's image references point, and who its annotators are."""

    document_root: Path | None = None  # None: `?d=` references are not resolved
    url_prefixes: dict[str, Path] = field(default_factory=dict)  # URL prefix → its folder
    users: dict[str, dict] = field(default_factory=dict)
    project: str | None = None  # names tasks without an external_id (else the export's)

    def resolve_image(self, ref: str, export_folder: Path) -> Path | None:
        if ref.startswith(LOCAL_FILES):
            wanted = parse_qs(urlparse(ref).query).get("d", [""])[0]
            root = self.document_root
            return resolve_inside(wanted, [root]) if root is not None else None
        for prefix, folder in self.url_prefixes.items():
            if ref.startswith(prefix):
                return resolve_inside(unquote(ref[len(prefix) :]).lstrip("/"), [folder])
        if "://" in ref:
            return None
        return resolve_inside(ref, [export_folder, *self.url_prefixes.values()])

    def username(self, annotator: object) -> str:
        """The mmgui username of a Label Studio annotator (an email, an id or a user dict)."""
        if isinstance(annotator, dict):
            annotator = annotator.get("email") or annotator.get("id")
        key = "id" if isinstance(annotator, int) else "email"
        for username, account in self.users.items():
            if annotator is not None and account.get(key) == annotator:
                return username
        if isinstance(annotator, int):
            return f"label-studio-user-{annotator}"
        return str(annotator) if annotator else "label-studio"


def is_label_studio(entries: list) -> bool:
    """Whether a JSON list is a Label Studio export (JSON: tasks with `data`; JSON_MIN: flat
    rows with `annotation_id`)."""
    dicts = [e for e in entries if isinstance(e, dict)]
    return bool(dicts) and all("data" in e or "annotation_id" in e for e in dicts)


def read_label_studio(
    path: Path,
    entries: list,
    options: LabelStudioImport | None = None,
    roots: Sequence[Path] = (),
) -> CatalogueReport:
    """Rows of a Label Studio JSON or JSON_MIN export (one row per task). An image must
    resolve, through `options`, to a file inside one of `roots` (the import's allowed
    folders: the export's own, the media folder); else the task imports text-only."""
    options = options or LabelStudioImport()
    report = CatalogueReport()
    seen: dict[str, str] = {}
    for where, task in _tasks_of(path, entries, report):
        outcome = _row_of_task(task, options, path.parent, report, where, roots)
        keep_row(report, seen, where, outcome)
    return report


def _tasks_of(path: Path, entries: list, report: CatalogueReport) -> list[tuple[str, dict]]:
    """(where, task) in JSON's shape; JSON_MIN rows (one per annotation) grouped by task."""
    tasks: dict[object, tuple[str, dict]] = {}
    for i, entry in enumerate(entries):
        where = f"{path.name}[{i}]"
        if not isinstance(entry, dict):
            report.bad.append(BadRow(where, "not an object"))
        elif "data" in entry:
            tasks[("task", i)] = (where, entry)
        else:
            _, task = tasks.setdefault(entry.get("id", ("row", i)), (where, _min_task(entry)))
            if entry.get("annotation_id") is not None:
                task["annotations"].append(_min_annotation(entry))
    return list(tasks.values())


MIN_ANNOTATION_KEYS = ("id", "annotator", "annotation_id", "created_at", "updated_at", "lead_time")


def _min_task(row: dict) -> dict:
    skip = {*MIN_ANNOTATION_KEYS, CONTROL["from_name"], "agreement"}
    return {
        "id": row.get("id"),
        "data": {k: v for k, v in row.items() if k not in skip},
        "annotations": [],
    }


def _min_annotation(row: dict) -> dict:
    """A JSON_MIN row's annotation; its `genres` is a name (one choice) or {"choices": [...]}."""
    value = row.get(CONTROL["from_name"])
    parts = value if isinstance(value, list) else [] if value is None else [value]
    choices = [c for p in parts for c in (p.get("choices", []) if isinstance(p, dict) else [p])]
    result = [{**CONTROL, "value": {"choices": choices}}] if value is not None else []
    return {
        "completed_by": row.get("annotator"),
        "created_at": row.get("created_at"),
        "updated_at": row.get("updated_at"),
        "result": result,
    }


def _row_of_task(
    task: dict,
    options: LabelStudioImport,
    folder: Path,
    report: CatalogueReport,
    where: str,
    roots: Sequence[Path],
) -> CatalogueRow | str:
    data = task.get("data") or {}
    external_id = data.get("external_id")
    if not external_id:
        project = options.project or task.get("project")
        if project is None:
            return "no external_id and the export names no project (pass --ls-project)"
        external_id = f"ls-{project}-{task.get('id')}"
    poster = None
    ref = str(data.get("image") or "")
    if ref:
        poster = options.resolve_image(ref, folder)
        if poster is not None:  # Label Studio's roots may be wide: the import's still hold
            poster = resolve_inside(str(poster), roots)
        if poster is None:
            report.notices.append(BadRow(where, f"poster not found, imported text-only: {ref}"))
    title, overview = str(data.get("title") or ""), str(data.get("text") or "")
    if not (title or overview or poster):
        return "no title, text or image"
    try:
        original = _source_genres(task, data)
        review = _review_of(task, data, options)
    except ValueError as err:
        return str(err)
    return CatalogueRow(str(external_id), title, overview, poster, original, review=review)


def _checked(genres: Iterable[str]) -> tuple[str, ...]:
    names = tuple(genres)
    unknown = [n for n in names if n not in GENRES]
    if unknown:
        raise ValueError(f"unknown genre(s): {', '.join(map(str, unknown))}")
    return names


def _choices(results: list | None) -> list[str] | None:
    """The choices of our control in `results`: [] for an empty result (nothing chosen),
    None when it holds only other controls' results (another project's config)."""
    ours = [
        r for r in results or []
        if r.get("type") == CONTROL["type"] and r.get("from_name") == CONTROL["from_name"]
    ]  # fmt: skip
    if results and not ours:
        return None
    return [c for r in ours for c in (r.get("value") or {}).get("choices", [])]


def _source_genres(task: dict, data: dict) -> tuple[str, ...] | None:
    if isinstance(data.get("original_genres"), list):
        return _checked(data["original_genres"])
    for prediction in task.get("predictions") or []:
        if isinstance(prediction, dict) and prediction.get("model_version") == SOURCE_VERSION:
            return _checked(_choices(prediction.get("result")) or [])
    return None


def _review_of(task: dict, data: dict, options: LabelStudioImport) -> Review | None:
    annotations = [
        a for a in task.get("annotations") or []
        if isinstance(a, dict) and not a.get("was_cancelled")
        and _choices(a.get("result")) is not None
    ]  # fmt: skip
    carried = _carried_review(data)
    if not annotations:
        return carried
    latest = max(  # the latest by time; without times, the last listed
        reversed(annotations), key=lambda a: a.get("updated_at") or a.get("created_at") or ""
    )
    labels = _checked(_choices(latest["result"]))
    if carried is not None and carried.labels is not None and set(carried.labels) == set(labels):
        return carried  # still what the mmgui editor decided: their decision, not a new one
    at = _time(latest.get("updated_at") or latest.get("created_at"))
    return Review(options.username(latest.get("completed_by")), at, labels)


def _carried_review(data: dict) -> Review | None:
    """The mmgui decision an exported task carries in its data (None: it carries none)."""
    username, status = data.get("reviewed_by"), data.get("status")
    if not username:
        return None
    at = _time(data.get("reviewed_at"))
    if status == ItemStatus.REVIEWED and isinstance(data.get("reviewed_genres"), list):
        return Review(username, at, _checked(data["reviewed_genres"]))
    if status in UNDECIDED_ACTIONS:
        return Review(username, at, None, UNDECIDED_ACTIONS[status])
    return None


def _time(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)
