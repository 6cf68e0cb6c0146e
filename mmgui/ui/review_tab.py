"""The Review tab: walk the queue, accept or correct labels by keyboard, bulk edits, import and
export. Layout and wiring only; the queue logic is `serve.review.ReviewService`."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path

import gradio as gr
from PIL import Image

from mmgui.config import Settings
from mmgui.data.image import load_image
from mmgui.errors import MmguiError
from mmgui.genres import GENRES
from mmgui.serve.actions import is_admin
from mmgui.serve.cursor import QueueCursor
from mmgui.serve.review import ReviewService
from mmgui.store.views import ItemView
from mmgui.ui import review_view
from mmgui.ui.users import current_user

KEYS_JS = Path(__file__).with_name("review_keys.js")
ANY_GENRE = "(any genre)"
VIEWS = [
    ("Most uncertain first", "uncertain"),
    ("Likely mislabelled first", "mislabelled"),
    ("Newest first", "newest"),
]
STATUSES = ["pending", "reviewed", "skipped", "discarded", "all"]
POSTER_DISPLAY = (760, 760)
BROWSER_FORMATS = (".jpg", ".jpeg", ".png", ".webp", ".gif")
EXPORTS_FOLDER = "mmgui-exports"  # under Gradio's cache: the Review tab's latest exports


def keyboard_head() -> str:
    """The `<script>` for `launch(head=...)` that makes the tab keyboard-first."""
    return f"<script>{KEYS_JS.read_text()}</script>"


def build(review: ReviewService) -> None:
    cursor = gr.State(None)
    drafts = gr.State({})  # item id → toggles the editor left unsaved (kept per browser tab)
    with gr.Row():
        view = gr.Dropdown(VIEWS, value="uncertain", label="Order", scale=2)
        status = gr.Dropdown(STATUSES, value="pending", label="Status", scale=1)
        genre = gr.Dropdown([ANY_GENRE, *GENRES], value=ANY_GENRE, label="Genre", scale=1)
        search = gr.Textbox(value="", label="Search title or id", scale=2, elem_id="review-search")
        load = gr.Button("Load queue", elem_id="review-load", scale=1)
    position = gr.Markdown(elem_id="review-position")
    with gr.Row():
        with gr.Column(scale=1):
            poster = gr.Image(
                label="Poster", interactive=False, height=380, type="pil", format="jpeg",
                elem_id="review-poster",
            )  # fmt: skip
            clip = gr.Video(
                label="Clip", interactive=False, format=None, visible=False, elem_id="review-clip"
            )
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
            comment = gr.Textbox(
                value="", label="Comment (kept with your decision and exported)", lines=1,
                max_lines=4, elem_id="review-comment",
            )  # fmt: skip
            message = gr.Markdown(elem_id="review-message")
            with gr.Accordion("Keyboard shortcuts (?)", open=False, elem_id="review-help"):
                gr.Markdown(review_view.KEYS_HELP)
    cams = gr.Gallery(
        format="jpeg",  # webp costs ~20 ms a map to encode, jpeg under 1
        label="Grad-CAM of the top genres (whole poster; caption: genre, probability)",
        columns=3, height="auto", object_fit="contain", elem_id="review-cams",
    )  # fmt: skip
    with gr.Row():
        history = gr.Dataframe(
            headers=review_view.HISTORY_COLUMNS, label="This item's history", interactive=False
        )
        recent = gr.Dataframe(
            headers=review_view.RECENT_COLUMNS, label="Your recent decisions", interactive=False
        )
    shown = [cursor, drafts, position, poster, clip, details, labels, comment, cams, message]

    def show(state: QueueCursor | None, kept: dict, note: str = "", typed: str = "") -> tuple:
        """The item to decide on: what the editor needs at once. The history, their recent
        decisions (`trail`) and the Grad-CAM maps (`maps`) follow in events of their own."""
        if state is None:
            return (None, kept, "", None, gr.Video(visible=False), "", gr.CheckboxGroup(value=[]),
                    "", [], note)  # fmt: skip
        item = review.current(state)
        where = review_view.progress_line(state, review.remaining(state))
        if item is None:
            done = (
                "**Nothing left in this queue.** Change the filter, or import items below "
                "(to try it: the server path `assets/catalogue.csv`, the 12 demo movies)."
            )
            return (state, kept, where, None, gr.Video(visible=False), done,
                    gr.CheckboxGroup(value=[]), "", [], note)  # fmt: skip
        value = item.shown_labels
        if item.id in kept:
            value = kept[item.id]
            note = (
                note + "  \n" if note else ""
            ) + "✎ Your unsaved toggles for this item are back."
        return (
            state, kept, where, _poster(item, review.studio.settings),
            gr.Video(value=item.clip, visible=item.clip is not None), review_view.details(item),
            gr.CheckboxGroup(choices=review_view.choices(item), value=value), typed, [], note,
        )  # fmt: skip

    def trail(state: QueueCursor | None, request: gr.Request):
        """The shown item's history and the editor's own recent decisions."""
        item_id = None if state is None else state.item_id
        history_rows = [] if item_id is None else review_view.history_rows(review.item(item_id))
        return history_rows, review_view.recent_rows(review.recent(current_user(request)))

    async def maps(state: QueueCursor | None):
        """Awaited, not waited for in a thread: an editor flying through the queue cancels
        these by the dozen, and a cancelled thread would stay blocked on its future."""
        item_id = None if state is None else state.item_id
        if item_id is None:
            return []
        views = await asyncio.wrap_future(review.cams_later(review.item(item_id)))
        if state.item_id != item_id:  # the editor moved on meanwhile (the cursor is shared)
            return gr.skip()
        return [(c.overlay, c.caption) for c in views or []]

    def keep_draft(state: QueueCursor | None, kept: dict, chosen: list[str]) -> dict:
        """Remember unsaved toggles of the item the editor leaves (or forget them if none)."""
        if state is None or state.item_id is None:
            return kept
        kept = dict(kept)
        if sorted(chosen or []) != sorted(state.shown_labels):
            kept[state.item_id] = list(chosen or [])
        else:
            kept.pop(state.item_id, None)
        return kept

    def load_queue(view_name, status_name, genre_name, query, kept):
        state = review.open_queue(
            view_name, status_name, None if genre_name == ANY_GENRE else genre_name, query
        )
        return show(state, kept)

    def act(action: str):
        def run(
            chosen: list[str], state: QueueCursor | None, kept: dict, note: str,
            request: gr.Request,
        ):  # fmt: skip
            if state is None:
                raise gr.Error("load the queue first")
            username = current_user(request)
            item_id = state.item_id
            try:
                saved = review.save(state, username, chosen, action, note)
            except MmguiError as err:  # a conflict: the item as it now is, the comment kept
                return show(state, kept, f"⚠️ {err}", note)
            kept = {k: v for k, v in kept.items() if k != item_id}
            return show(state, kept, review_view.saved_note(saved))

        return run

    def step(delta: int):
        def run(chosen: list[str], state: QueueCursor | None, kept: dict):
            if state is None:
                raise gr.Error("load the queue first")
            kept = keep_draft(state, kept, chosen)
            return show(review.move(state, delta), kept)

        return run

    def undo_last(state: QueueCursor | None, kept: dict, request: gr.Request):
        state = state or review.open_queue()
        username = current_user(request)
        try:
            item = review.undo(state, username)
        except MmguiError as err:
            return show(state, kept, f"⚠️ {err}")
        kept = {k: v for k, v in kept.items() if k != item.id}
        back = ", ".join(item.labels or []) or "no genres"
        return show(state, kept, f"Undone: “{item.title}” is back to {back}.")

    inputs = [labels, cursor, drafts]
    # Straight to the handler, not through the queue (a queued round trip costs ~100 ms more):
    # these are a few quick SQL statements, and the next item must follow the keypress at once.
    quick = {"queue": False, "show_progress": "hidden"}
    events = [
        load.click(
            load_queue,
            [view, status, genre, search, drafts],
            shown,
            api_name="review_load",
            **quick,
        ),
        search.submit(
            load_queue, [view, status, genre, search, drafts], shown, api_name=False, **quick
        ),
        save.click(act("save"), [*inputs, comment], shown, api_name="review_save", **quick),
        skip.click(act("skip"), [*inputs, comment], shown, api_name="review_skip", **quick),
        discard.click(
            act("discard"), [*inputs, comment], shown, api_name="review_discard", **quick
        ),
        next_button.click(step(+1), inputs, shown, api_name="review_next", **quick),
        prev_button.click(step(-1), inputs, shown, api_name="review_prev", **quick),
        undo.click(undo_last, [cursor, drafts], shown, api_name="review_undo", **quick),
    ]
    # The trail next, then the maps; moving on cancels the maps still on their way for the item
    # left behind, so a late map never lands under the next poster.
    pending = []
    for i, event in enumerate(events):
        name = "review_trail" if i == 0 else False  # one API name: the same function after all
        then = event.then(trail, [cursor], [history, recent], api_name=name, **quick)
        pending.append(then.then(maps, [cursor], [cams], api_name=False))
    for trigger in (load, save, skip, discard, next_button, prev_button, undo):
        trigger.click(None, None, None, cancels=pending, api_name=False)
    search.submit(None, None, None, cancels=pending, api_name=False)
    _bulk(review, status, genre)
    imported = _import_export(review, status, genre)
    # After an import the queue shows what came in, without a click on Load queue.
    reload = imported.success(
        load_queue, [view, status, genre, search, drafts], shown, api_name=False
    )
    reload.then(trail, [cursor], [history, recent], api_name=False).then(
        maps, [cursor], [cams], api_name=False
    )


def _poster(item: ItemView, settings: Settings) -> str | Image.Image | None:
    """The item's picture for the screen: the media file itself when a browser shows it as it
    is (no decode and re-encode on the way to the next item), else scaled down (a big upload
    is not sent whole) or converted (TIFF, BMP)."""
    if item.poster is None:
        return None
    if item.poster.suffix.lower() in BROWSER_FORMATS:
        with Image.open(item.poster) as header:  # reads the header only
            if max(header.size) <= max(POSTER_DISPLAY):
                return str(item.poster)
    image = load_image(item.poster, settings.max_image_pixels, settings.max_image_bytes)
    image.thumbnail(POSTER_DISPLAY)
    return image


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
        if not is_admin(review.studio.settings, username):
            raise gr.Error("bulk edits are for admins")
        return username

    def preview_bulk(name: str, how: str, status_name: str, genre_name: str, request: gr.Request):
        check_admin(request)
        count = review.bulk_preview(name, how == "add", *filter_of(status_name, genre_name))
        verb = "add" if how == "add" else "remove"
        text = (
            f"This will {verb} **{name}** on **{count}** items ({status_name}, {genre_name}); "
            "other labels are kept."
        )
        return text, gr.Button(visible=count > 0)

    def apply_bulk(name: str, how: str, status_name: str, genre_name: str, request: gr.Request):
        username = check_admin(request)
        changed = review.bulk_edit(
            username, name, how == "add", *filter_of(status_name, genre_name)
        )
        return f"Done: {changed} items changed (each has a decision in its history).", gr.Button(
            visible=False
        )

    args = [bulk_genre, mode, status, genre]
    preview.click(preview_bulk, args, [bulk_message, confirm], api_name="review_bulk_preview")
    confirm.click(apply_bulk, args, [bulk_message, confirm], api_name="review_bulk_apply")


def _import_export(
    review: ReviewService, status: gr.Dropdown, genre: gr.Dropdown
) -> gr.events.Dependency:
    """The import and export panel; returns the import event (the queue reloads after it)."""
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
            scope = gr.Radio(["all", "reviewed", "current filter"], value="all", label="Items")
            run_export = gr.Button("Export")
            exported = gr.File(label="Export", interactive=False)

    # A gr.Progress() default is how Gradio hands a handler its progress bar (hence noqa).
    def do_import(file: str | None, path: str, request: gr.Request, progress=gr.Progress()):  # noqa: B008
        username = current_user(request)
        if not is_admin(review.studio.settings, username):
            raise gr.Error("imports are for admins")
        if not (file or path.strip()):
            raise gr.Error("upload a file or give a path")

        def report(done: int, total: int) -> None:
            progress((done, total), desc="predicting")

        try:
            if file:
                summary = review.catalogue.import_upload(Path(file), username, report)
            else:
                summary = review.catalogue.import_server_path(path, username, report)
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
        review.catalogue.export(
            format_name, out, status_filter, genre_filter, current_user(request)
        )
        return str(out)

    run_export.click(do_export, [fmt, scope, status, genre], [exported], api_name="review_export")
    return run_import.click(
        do_import, [upload, server_path], [import_message], api_name="review_import"
    )


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
