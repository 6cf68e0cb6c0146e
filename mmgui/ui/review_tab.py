"""The Review tab: walk the queue, accept or correct labels by keyboard, bulk edits, import and
export. Layout and wiring only; the queue logic is `serve.review.ReviewService`."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import gradio as gr

from mmgui.data.image import load_image
from mmgui.errors import MmguiError
from mmgui.genres import GENRES
from mmgui.serve.review import QueueCursor, ReviewService
from mmgui.store.views import ItemView
from mmgui.ui.users import current_user

GENRE_KEYS = "abcdefghijklmnopqr"  # review_keys.js toggles GENRES[i] with GENRE_KEYS[i]
KEYS_JS = Path(__file__).with_name("review_keys.js")
ANY_GENRE = "(any genre)"
VIEWS = [
    ("Most uncertain first", "uncertain"),
    ("Likely mislabelled first", "mislabelled"),
    ("Newest first", "newest"),
]
STATUSES = ["pending", "reviewed", "skipped", "discarded", "all"]
HISTORY_COLUMNS = ["when (UTC)", "who", "action", "before", "after", "model", "seconds"]
EXPORTS_FOLDER = "mmgui-exports"  # under Gradio's cache: the Review tab's latest exports


def keyboard_head() -> str:
    """The `<script>` for `launch(head=...)` that makes the tab keyboard-first."""
    return f"<script>{KEYS_JS.read_text()}</script>"


def build(review: ReviewService) -> None:
    cursor = gr.State(None)
    with gr.Row():
        view = gr.Dropdown(VIEWS, value="uncertain", label="Order", scale=2)
        status = gr.Dropdown(STATUSES, value="pending", label="Status", scale=1)
        genre = gr.Dropdown([ANY_GENRE, *GENRES], value=ANY_GENRE, label="Genre", scale=1)
        load = gr.Button("Load queue", elem_id="review-load", scale=1)
    position = gr.Markdown(elem_id="review-position")
    with gr.Row():
        with gr.Column(scale=1):
            poster = gr.Image(label="Poster", interactive=False, height=380, type="pil")
        with gr.Column(scale=2):
            details = gr.Markdown(elem_id="review-details")
            labels = gr.CheckboxGroup(
                choices=list(GENRES), label="Labels (keys a–r toggle)", elem_id="review-labels"
            )
            with gr.Row():
                prev_button = gr.Button("← Previous", elem_id="review-prev", size="sm")
                save = gr.Button("Save (Enter)", variant="primary", elem_id="review-accept")
                skip = gr.Button("Skip (s)", elem_id="review-skip", size="sm")
                discard = gr.Button("Discard (x)", elem_id="review-discard", size="sm")
                undo = gr.Button("Undo my last (z)", elem_id="review-undo", size="sm")
                next_button = gr.Button("Next →", elem_id="review-next", size="sm")
            message = gr.Markdown(elem_id="review-message")
    cams = gr.Gallery(label="Grad-CAM of the top genres", columns=3, height=280)
    history = gr.Dataframe(headers=HISTORY_COLUMNS, label="History", interactive=False)
    shown = [cursor, position, poster, details, labels, cams, history, message]

    def show(state: QueueCursor | None, note: str = "") -> tuple:
        if state is None:
            return (None, "", None, "", gr.CheckboxGroup(value=[]), [], [], note)
        item = review.current(state)
        total = review.store.count(state.status, state.genre)
        where = f"item {state.offset + state.pos - state.left + 1} of {total}"
        if item is None:
            done = (
                "**Nothing left in this queue.** Change the filter, or import items below "
                "(to try it: the server path `assets/catalogue.csv`, the 12 demo movies)."
            )
            return (state, done, None, "", gr.CheckboxGroup(value=[]), [], [], note)
        cam_views = review.cams(item)
        gallery = [(c.overlay, c.caption) for c in cam_views]
        return (
            state,
            f"{where} · {state.view} · {state.status}"
            + (f" · {state.genre}" if state.genre else ""),
            load_image(item.poster) if item.poster else None,
            _details(item),
            gr.CheckboxGroup(choices=_choices(item), value=item.shown_labels),
            gallery,
            _history(item),
            note,
        )

    def load_queue(view_name: str, status_name: str, genre_name: str):
        state = review.open_queue(
            view_name, status_name, None if genre_name == ANY_GENRE else genre_name
        )
        return show(state)

    def act(action: str):
        def run(chosen: list[str], state: QueueCursor | None, request: gr.Request):
            if state is None:
                raise gr.Error("load the queue first")
            try:
                saved = review.save(state, current_user(request), chosen, action)
            except MmguiError as err:  # a conflict: show the item as it now is
                return show(state, f"⚠️ {err}")
            now = ", ".join(saved.labels or []) or "no genres"
            return show(state, f"Saved “{saved.title}”: {saved.history[0].action} ({now}).")

        return run

    def step(delta: int):
        def run(state: QueueCursor | None):
            if state is None:
                raise gr.Error("load the queue first")
            return show(review.move(state, delta))

        return run

    def undo_last(state: QueueCursor | None, request: gr.Request):
        state = state or review.open_queue()
        try:
            item = review.undo(state, current_user(request))
        except MmguiError as err:
            return show(state, f"⚠️ {err}")
        return show(
            state,
            f"Undone: “{item.title}” is back to {', '.join(item.labels or []) or 'no genres'}.",
        )

    inputs = [labels, cursor]
    load.click(load_queue, [view, status, genre], shown, api_name="review_load")
    save.click(act("save"), inputs, shown, api_name="review_save")
    skip.click(act("skip"), inputs, shown, api_name="review_skip")
    discard.click(act("discard"), inputs, shown, api_name="review_discard")
    next_button.click(step(+1), [cursor], shown, api_name="review_next")
    prev_button.click(step(-1), [cursor], shown, api_name="review_prev")
    undo.click(undo_last, [cursor], shown, api_name="review_undo")
    _bulk(review, status, genre)
    _import_export(review, status, genre)


def _bulk(review: ReviewService, status: gr.Dropdown, genre: gr.Dropdown) -> None:
    with gr.Accordion("Bulk edit of the filtered items (admin)", open=False):
        with gr.Row():
            bulk_genre = gr.Dropdown(list(GENRES), label="Genre", value=GENRES[0])
            mode = gr.Radio(["add", "remove"], value="add", label="Add or remove")
            preview = gr.Button("Preview")
            confirm = gr.Button("Apply", variant="stop", visible=False)
        bulk_message = gr.Markdown()

    def filter_of(status_name: str, genre_name: str) -> tuple[str, str | None]:
        return status_name, None if genre_name == ANY_GENRE else genre_name

    def check_admin(request: gr.Request) -> str:
        username = current_user(request)
        if review.role(username) != "admin":
            raise gr.Error("bulk edits are for admins")
        return username

    def preview_bulk(name: str, how: str, status_name: str, genre_name: str, request: gr.Request):
        check_admin(request)
        count = review.store.bulk_preview(name, how == "add", *filter_of(status_name, genre_name))
        verb = "add" if how == "add" else "remove"
        text = (
            f"This will {verb} **{name}** on **{count}** items ({status_name}, {genre_name}); "
            "other labels are kept."
        )
        return text, gr.Button(visible=count > 0)

    def apply_bulk(name: str, how: str, status_name: str, genre_name: str, request: gr.Request):
        username = check_admin(request)
        changed = review.store.bulk_edit(
            username, name, how == "add", *filter_of(status_name, genre_name)
        )
        return f"Done: {changed} items changed (each has a decision in its history).", gr.Button(
            visible=False
        )

    args = [bulk_genre, mode, status, genre]
    preview.click(preview_bulk, args, [bulk_message, confirm], api_name="review_bulk_preview")
    confirm.click(apply_bulk, args, [bulk_message, confirm], api_name="review_bulk_apply")


def _import_export(review: ReviewService, status: gr.Dropdown, genre: gr.Dropdown) -> None:
    with gr.Accordion("Import and export", open=False):
        with gr.Row():
            upload = gr.File(label="Catalogue CSV or JSON", file_types=[".csv", ".json"])
            server_path = gr.Textbox(
                label="…or a path on the server (Kaggle folder, poster folder, CSV, JSON)"
            )
            run_import = gr.Button("Import (admin)")
        import_message = gr.Markdown()
        with gr.Row():
            fmt = gr.Radio(["csv", "json", "labelstudio"], value="csv", label="Format")
            scope = gr.Radio(["all", "reviewed", "current filter"], value="all", label="Items")
            run_export = gr.Button("Export")
            exported = gr.File(label="Export", interactive=False)

    # A gr.Progress() default is how Gradio hands a handler its progress bar (hence noqa).
    def do_import(file: str | None, path: str, request: gr.Request, progress=gr.Progress()):  # noqa: B008
        username = current_user(request)
        if review.role(username) != "admin":
            raise gr.Error("imports are for admins")
        source = file or path.strip()
        if not source:
            raise gr.Error("upload a file or give a path")
        try:
            summary = review.import_catalogue(
                Path(source), username=username,
                progress=lambda done, total: progress((done, total), desc="predicting"),
            )  # fmt: skip
        except MmguiError as err:
            raise gr.Error(str(err)) from err
        lines = [
            f"**{summary.new} new, {summary.changed} changed, {summary.unchanged} unchanged**; "
            f"{summary.predicted} predicted with {summary.model_version}; "
            f"{len(summary.bad)} bad rows."
        ]
        lines += [f"- {b.where}: {b.reason}" for b in summary.bad[:50]]
        return "\n".join(lines)

    def do_export(
        format_name: str, which: str, status_name: str, genre_name: str, request: gr.Request
    ):
        status_filter, genre_filter = "all", None
        if which == "reviewed":
            status_filter = "reviewed"
        elif which == "current filter":
            status_filter, genre_filter = (
                status_name,
                None if genre_name == ANY_GENRE else genre_name,
            )
        keep = review.studio.settings.export_keep
        out = _export_path(Path(exported.GRADIO_CACHE), keep, format_name)
        review.export(format_name, out, status_filter, genre_filter, current_user(request))
        return str(out)

    run_import.click(do_import, [upload, server_path], [import_message], api_name="review_import")
    run_export.click(do_export, [fmt, scope, status, genre], [exported], api_name="review_export")


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


def _choices(item: ItemView) -> list[tuple[str, str]]:
    choices = []
    for key, genre in zip(GENRE_KEYS, GENRES, strict=True):
        prob = item.genre_probs.get(genre)
        if prob is None:
            choices.append((f"[{key}] {genre}", genre))
        else:
            mark = " ★" if prob >= item.thresholds[genre] else ""
            choices.append((f"[{key}] {genre} · {prob:.0%}{mark}", genre))
    return choices


def _details(item: ItemView) -> str:
    lines = [f"### {item.title or item.external_id}", f"`{item.external_id}` · {item.status}"]
    if item.overview:
        lines.append(item.overview)
    if item.genre_probs:
        lines.append(
            f"**Model {item.model_version}** (★ = above its threshold): " + _confidence(item)
        )
    if item.original_labels is not None and item.original_labels != item.labels:
        lines.append(f"Source labels: {', '.join(item.original_labels) or 'none'}")
    return "\n\n".join(lines)


def _confidence(item: ItemView) -> str:
    """The model's confidence in the current labels: the probability of each label, and the
    genres it predicts that are not labels."""
    if item.labels is None:
        return "no labels yet; the toggles start from the model's tags."
    held = [f"{g} {item.genre_probs[g]:.0%}" for g in item.labels] or ["(no genres)"]
    extra = [f"{g} {item.genre_probs[g]:.0%}" for g in item.predicted if g not in item.labels]
    text = "gives the current labels " + ", ".join(held)
    return text + (f"; also predicts {', '.join(extra)}" if extra else "")


def _history(item: ItemView) -> list[list]:
    return [
        [
            f"{d.created_at:%Y-%m-%d %H:%M:%S}",
            d.username,
            d.action,
            "—" if d.labels_before is None else ", ".join(d.labels_before) or "none",
            ", ".join(d.labels_after) or "none",
            d.model_version or "",
            "" if d.seconds_spent is None else f"{d.seconds_spent:.1f}",
        ]
        for d in item.history
    ]
