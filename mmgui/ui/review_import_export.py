"""The Review tab's import and export panel: a catalogue in (an upload or a server path,
predicted as it comes), the queue out (CSV, JSON or Label Studio tasks). Layout and wiring
only; both are `serve.review.ReviewService`'s."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from mmgui.serve.actions import is_admin
from mmgui.serve.review import ReviewService
from mmgui.store.enums import ANY_STATUS, ItemStatus
from mmgui.ui.errors import user_errors
from mmgui.ui.review_view import genre_filter
from mmgui.ui.users import current_user

EXPORTS_FOLDER = "mmgui-exports"  # under Gradio's cache: the Review tab's latest exports
MAX_BAD_ROWS_SHOWN = 50


@dataclass(frozen=True)
class Panel:
    upload: gr.File
    server_path: gr.Textbox
    run_import: gr.Button
    import_message: gr.Markdown
    fmt: gr.Radio
    scope: gr.Radio
    run_export: gr.Button
    exported: gr.File


def build(review: ReviewService, status: gr.Dropdown, genre: gr.Dropdown) -> gr.events.Dependency:
    """The panel, exporting the items `status` and `genre` filter on when asked; returns the
    import event (the queue reloads after it)."""
    panel = _layout()
    panel.run_export.click(
        _exporter(review, panel.exported),
        [panel.fmt, panel.scope, status, genre],
        [panel.exported],
        api_name="review_export",
    )
    return panel.run_import.click(
        _importer(review),
        [panel.upload, panel.server_path],
        [panel.import_message],
        api_name="review_import",
    )


def _layout() -> Panel:
    with gr.Accordion("Import and export", open=False):
        with gr.Row():
            upload = gr.File(
                label="Catalogue CSV or JSON, or a zip of one with its posters (or of a "
                "Kaggle folder)",
                file_types=[".csv", ".json", ".zip"],
                elem_id="review-import-upload",
            )
            server_path = gr.Textbox(
                label="…or a path on the server (Kaggle folder, poster folder, CSV, JSON)"
            )
            run_import = gr.Button("Import (admin)", elem_id="review-import")
        import_message = gr.Markdown(elem_id="review-import-message")
        with gr.Row():
            fmt = gr.Radio(["csv", "json", "labelstudio"], value="csv", label="Format")
            scope = gr.Radio(
                [ANY_STATUS, ItemStatus.REVIEWED, "current filter"], value=ANY_STATUS, label="Items"
            )
            run_export = gr.Button("Export")
            exported = gr.File(label="Export", interactive=False)
    return Panel(upload, server_path, run_import, import_message, fmt, scope, run_export, exported)


def _importer(review: ReviewService) -> Callable:
    """The import handler: admins only, an upload or else a server path, a progress bar while
    the new items are predicted."""

    # A gr.Progress() default is how Gradio hands a handler its progress bar (hence noqa).
    @user_errors
    def do_import(file: str | None, path: str, request: gr.Request, progress=gr.Progress()):  # noqa: B008
        username = current_user(request)
        if not is_admin(review.studio.settings, username):
            raise gr.Error("imports are for admins")
        if not (file or path.strip()):
            raise gr.Error("upload a file or give a path")

        def report(done: int, total: int) -> None:
            progress((done, total), desc="predicting")

        if file:
            summary = review.catalogue.import_upload(Path(file), username, report)
        else:
            summary = review.catalogue.import_server_path(path, username, report)
        lines = [
            f"**{summary.new} new, {summary.changed} changed, {summary.unchanged} unchanged**; "
            f"{summary.predicted} predicted with {summary.model_version}; "
            f"{len(summary.bad)} bad rows."
        ]
        lines += [f"- {b.where}: {b.reason}" for b in summary.bad[:MAX_BAD_ROWS_SHOWN]]
        return "\n".join(lines)

    return do_import


def _exporter(review: ReviewService, exported: gr.File) -> Callable:
    """The export handler: the chosen items in the chosen format, as a file in Gradio's cache."""

    def do_export(
        format_name: str, which: str, status_name: str, genre_name: str, request: gr.Request
    ):
        status_filter, genre_choice = _export_filter(which, status_name, genre_name)
        keep = review.studio.settings.export_keep
        out = _export_path(Path(exported.GRADIO_CACHE), keep, format_name)
        review.catalogue.export(
            format_name, out, status_filter, genre_choice, current_user(request)
        )
        return str(out)

    return do_export


def _export_filter(which: str, status_name: str, genre_name: str) -> tuple[str, str | None]:
    """The status and genre to export for the Items choice `which`; the tab's filters count
    only for "current filter"."""
    if which == ItemStatus.REVIEWED:
        return ItemStatus.REVIEWED, None
    if which == "current filter":
        return status_name, genre_filter(genre_name)
    return ANY_STATUS, None


def _export_path(gradio_cache: Path, keep: int, format_name: str) -> Path:
    """Where the next export goes: its own folder under `mmgui-exports/` in Gradio's cache
    (a file already there is served as is, not copied again), after deleting all but the
    newest `keep - 1` earlier exports; so at most `keep` export files exist at any time."""
    folder = gradio_cache / EXPORTS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    earlier = sorted(folder.iterdir())  # the names start with the time they were made
    for old in earlier[: max(0, len(earlier) - keep + 1)]:
        shutil.rmtree(old, ignore_errors=True)
    suffix = ".csv" if format_name == "csv" else ".json"
    fresh = tempfile.mkdtemp(prefix=f"{time.time_ns():020d}-", dir=folder)
    return Path(fresh) / f"mmgui-{format_name}{suffix}"
