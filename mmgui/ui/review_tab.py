"""The Review tab: walk the queue, accept or correct labels by keyboard, bulk edits, import and
export. Layout and wiring only; the queue logic is `serve.review.ReviewService`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from mmgui.errors import MmguiError
from mmgui.genres import GENRES
from mmgui.serve.actions import is_admin
from mmgui.serve.cursor import QueueCursor
from mmgui.serve.review import ReviewService
from mmgui.store.enums import ANY_STATUS, EditorAction, ItemStatus, QueueView
from mmgui.ui import review_import_export, review_view
from mmgui.ui.review_view import ANY_GENRE, genre_filter
from mmgui.ui.users import current_user

KEYS_JS = Path(__file__).with_name("review_keys.js")
VIEWS = [
    ("Most uncertain first", QueueView.UNCERTAIN),
    ("Likely mislabelled first", QueueView.MISLABELLED),
    ("Newest first", QueueView.NEWEST),
]
STATUSES = [*ItemStatus, ANY_STATUS]
# Straight to the handler, not through the queue (a queued round trip costs ~100 ms more):
# these are a few quick SQL statements, and the next item must follow the keypress at once.
QUICK = {"queue": False, "show_progress": "hidden"}
# The Grad-CAM maps of every event wait in one queue and are made one at a time.
MAPS = {"api_name": False, "concurrency_id": "review_maps"}


def keyboard_head() -> str:
    """The `<script>` for `launch(head=...)` that makes the tab keyboard-first."""
    return f"<script>{KEYS_JS.read_text()}</script>"


@dataclass(frozen=True)
class Filters:
    """Which queue to walk: its order and filters, and the button that loads it."""

    view: gr.Dropdown
    status: gr.Dropdown
    genre: gr.Dropdown
    search: gr.Textbox
    load: gr.Button


@dataclass(frozen=True)
class ItemPanel:
    """The item to decide on and the editor's controls."""

    position: gr.Markdown
    poster: gr.Image
    clip: gr.Video
    details: gr.Markdown
    labels: gr.CheckboxGroup
    prev_button: gr.Button
    save: gr.Button
    skip: gr.Button
    discard: gr.Button
    undo: gr.Button
    next_button: gr.Button
    comment: gr.Textbox
    message: gr.Markdown


@dataclass(frozen=True)
class TrailPanel:
    """What follows the item in events of its own: its Grad-CAM maps, its history and the
    editor's recent decisions."""

    cams: gr.Gallery
    history: gr.Dataframe
    recent: gr.Dataframe


@dataclass(frozen=True)
class Screen:
    """The whole tab above the accordions, with the per-browser-tab state."""

    cursor: gr.State
    drafts: gr.State  # item id → toggles the editor left unsaved (kept per browser tab)
    filters: Filters
    item: ItemPanel
    trail: TrailPanel

    @property
    def shown(self) -> list:
        """What `Queue.show` returns, in its order."""
        item = self.item
        return [self.cursor, self.drafts, item.position, item.poster, item.clip, item.details,
                item.labels, item.comment, self.trail.cams, item.message]  # fmt: skip

    @property
    def load_inputs(self) -> list:
        """What `Queue.load_queue` takes, in its order."""
        f = self.filters
        return [f.view, f.status, f.genre, f.search, self.drafts]


def build(review: ReviewService) -> None:
    screen = _layout()
    queue = Queue(review)
    _wire_queue(queue, screen)
    _bulk(review, screen.filters.status, screen.filters.genre)
    imported = review_import_export.build(review, screen.filters.status, screen.filters.genre)
    # After an import the queue shows what came in, without a click on Load queue.
    reload = imported.success(queue.load_queue, screen.load_inputs, screen.shown, api_name=False)
    reload.then(
        queue.trail, [screen.cursor], [screen.trail.history, screen.trail.recent], api_name=False
    ).then(queue.maps, [screen.cursor], [screen.trail.cams], **MAPS)


def _layout() -> Screen:
    cursor = gr.State(None)
    drafts = gr.State({})
    return Screen(cursor, drafts, _filters(), _item_panel(), _trail_panel())


def _filters() -> Filters:
    with gr.Row():
        view = gr.Dropdown(VIEWS, value=QueueView.UNCERTAIN, label="Order", scale=2)
        status = gr.Dropdown(STATUSES, value=ItemStatus.PENDING, label="Status", scale=1)
        genre = gr.Dropdown([ANY_GENRE, *GENRES], value=ANY_GENRE, label="Genre", scale=1)
        search = gr.Textbox(value="", label="Search title or id", scale=2, elem_id="review-search")
        load = gr.Button("Load queue", elem_id="review-load", scale=1)
    return Filters(view, status, genre, search, load)


def _item_panel() -> ItemPanel:
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
    return ItemPanel(position, poster, clip, details, labels, prev_button, save, skip, discard,
                     undo, next_button, comment, message)  # fmt: skip


def _trail_panel() -> TrailPanel:
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
    return TrailPanel(cams, history, recent)


class Queue:
    """The tab's event handlers on the queue of `review`: each returns what `Screen.shown`
    lists (`trail` and `maps` excepted)."""

    def __init__(self, review: ReviewService) -> None:
        self.review = review

    def show(self, state: QueueCursor | None, kept: dict, note: str = "", typed: str = "") -> tuple:
        """The item to decide on: what the editor needs at once. The history, their recent
        decisions (`trail`) and the Grad-CAM maps (`maps`) follow in events of their own."""
        review = self.review
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
            state, kept, where, review_view.poster_image(item, review.studio.settings),
            gr.Video(value=item.clip, visible=item.clip is not None), review_view.details(item),
            gr.CheckboxGroup(choices=review_view.choices(item), value=value), typed, [], note,
        )  # fmt: skip

    def trail(self, state: QueueCursor | None, request: gr.Request):
        """The shown item's history and the editor's own recent decisions."""
        item_id = None if state is None else state.item_id
        history_rows = (
            [] if item_id is None else review_view.history_rows(self.review.item(item_id))
        )
        return history_rows, review_view.recent_rows(self.review.recent(current_user(request)))

    async def maps(self, state: QueueCursor | None):
        """Awaited, not waited for in a thread: an editor flying through the queue cancels
        these by the dozen, and a cancelled thread would stay blocked on its future."""
        item_id = None if state is None else state.item_id
        if item_id is None:
            return []
        views = await asyncio.wrap_future(self.review.cams_later(self.review.item(item_id)))
        if state.item_id != item_id:  # the editor moved on meanwhile (the cursor is shared)
            return gr.skip()
        return [(c.overlay, c.caption) for c in views or []]

    def load_queue(self, view_name, status_name, genre_name, query, kept):
        state = self.review.open_queue(view_name, status_name, genre_filter(genre_name), query)
        return self.show(state, kept)

    def act(self, action: str):
        """The handler that saves the shown item with `action` (save, skip, discard)."""

        def run(
            chosen: list[str], state: QueueCursor | None, kept: dict, note: str,
            request: gr.Request,
        ):  # fmt: skip
            if state is None:
                raise gr.Error("load the queue first")
            username = current_user(request)
            item_id = state.item_id
            try:
                saved = self.review.save(state, username, chosen, action, note)
            except MmguiError as err:  # a conflict: the item as it now is, the comment kept
                return self.show(state, kept, f"⚠️ {err}", note)
            kept = {k: v for k, v in kept.items() if k != item_id}
            return self.show(state, kept, review_view.saved_note(saved))

        return run

    def step(self, delta: int):
        """The handler that moves `delta` items along, keeping unsaved toggles as a draft."""

        def run(chosen: list[str], state: QueueCursor | None, kept: dict):
            if state is None:
                raise gr.Error("load the queue first")
            kept = _keep_draft(state, kept, chosen)
            return self.show(self.review.move(state, delta), kept)

        return run

    def undo_last(self, state: QueueCursor | None, kept: dict, request: gr.Request):
        state = state or self.review.open_queue()
        username = current_user(request)
        try:
            item = self.review.undo(state, username)
        except MmguiError as err:
            return self.show(state, kept, f"⚠️ {err}")
        kept = {k: v for k, v in kept.items() if k != item.id}
        back = ", ".join(item.labels or []) or "no genres"
        return self.show(state, kept, f"Undone: “{item.title}” is back to {back}.")


def _keep_draft(state: QueueCursor | None, kept: dict, chosen: list[str]) -> dict:
    """Remember unsaved toggles of the item the editor leaves (or forget them if none)."""
    if state is None or state.item_id is None:
        return kept
    kept = dict(kept)
    if sorted(chosen or []) != sorted(state.shown_labels):
        kept[state.item_id] = list(chosen or [])
    else:
        kept.pop(state.item_id, None)
    return kept


def _wire_queue(queue: Queue, screen: Screen) -> None:
    """The buttons and keys that walk the queue, each followed by the item's trail and maps."""
    f, item, shown = screen.filters, screen.item, screen.shown
    inputs = [item.labels, screen.cursor, screen.drafts]
    decided = [*inputs, item.comment]
    events = [
        f.load.click(queue.load_queue, screen.load_inputs, shown, api_name="review_load", **QUICK),
        f.search.submit(queue.load_queue, screen.load_inputs, shown, api_name=False, **QUICK),
        item.save.click(
            queue.act(EditorAction.SAVE), decided, shown, api_name="review_save", **QUICK
        ),
        item.skip.click(
            queue.act(EditorAction.SKIP), decided, shown, api_name="review_skip", **QUICK
        ),
        item.discard.click(
            queue.act(EditorAction.DISCARD), decided, shown, api_name="review_discard", **QUICK
        ),
        item.next_button.click(queue.step(+1), inputs, shown, api_name="review_next", **QUICK),
        item.prev_button.click(queue.step(-1), inputs, shown, api_name="review_prev", **QUICK),
        item.undo.click(
            queue.undo_last, [screen.cursor, screen.drafts], shown, api_name="review_undo", **QUICK
        ),
    ]
    # The trail next, then the maps; moving on cancels the maps still on their way for the item
    # left behind, so a late map never lands under the next poster.
    trail = [screen.trail.history, screen.trail.recent]
    pending = []
    for i, event in enumerate(events):
        name = "review_trail" if i == 0 else False  # one API name: the same function after all
        then = event.then(queue.trail, [screen.cursor], trail, api_name=name, **QUICK)
        pending.append(then.then(queue.maps, [screen.cursor], [screen.trail.cams], **MAPS))
    buttons = (f.load, item.save, item.skip, item.discard, item.next_button, item.prev_button,
               item.undo)  # fmt: skip
    for trigger in buttons:
        trigger.click(None, None, None, cancels=pending, api_name=False)
    f.search.submit(None, None, None, cancels=pending, api_name=False)


def _bulk(review: ReviewService, status: gr.Dropdown, genre: gr.Dropdown) -> None:
    with gr.Accordion("Bulk edit of the filtered items (admin)", open=False):
        with gr.Row():
            bulk_genre = gr.Dropdown(list(GENRES), label="Genre", value=GENRES[0])
            mode = gr.Radio(["add", "remove"], value="add", label="Add or remove")
            preview = gr.Button("Preview")
            confirm = gr.Button("Apply", variant="stop", visible=False)
        bulk_message = gr.Markdown()

    def filter_of(status_name: str, genre_name: str) -> tuple[str, str | None]:
        return status_name, genre_filter(genre_name)

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
