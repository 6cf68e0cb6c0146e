"""The review queue as the studio and the CLI use it: the store plus the active model.

An editor walks the queue with a `QueueCursor`: load a page of a view, decide, undo, move on;
each save is checked against the item version the editor saw. The item view's Grad-CAM maps
are computed for the next item while the editor looks at the current one, so moving on does
not wait for them. What comes into the queue and goes out of it is `catalogue`
(`serve.catalogue.CatalogueService`).
"""

from __future__ import annotations

import time
from concurrent.futures import Future

from mmgui.errors import MmguiError
from mmgui.serve.cam_prefetch import CamPrefetcher
from mmgui.serve.catalogue import CatalogueService
from mmgui.serve.cursor import QueueCursor
from mmgui.serve.explain import CamView
from mmgui.serve.models import ModelManager
from mmgui.serve.studio import Studio
from mmgui.store.enums import ANY_STATUS, EditorAction, ItemStatus, QueueView
from mmgui.store.review import ReviewStore
from mmgui.store.views import ItemView, RecentDecision


class ReviewService:
    @classmethod
    def open(cls, studio: Studio) -> ReviewService:
        """The queue of `studio.settings.db_url` (migrated on open); the studio is switched to
        the database's active model version."""
        return cls(studio, ReviewStore(studio.settings.db_url, studio.settings.media_dir))

    def __init__(
        self,
        studio: Studio,
        store: ReviewStore,
        manager: ModelManager | None = None,
        cam_cache_items: int = 32,
    ) -> None:
        """`studio` serves the active version; `store` is the queue's database; `manager`
        (versions and jobs; by default one on `store`) is told about saves, for the
        every-N-corrections trigger."""
        self.studio = studio
        self.store = store
        self.manager = manager or ModelManager(studio, store)
        self.catalogue = CatalogueService(studio, store)
        self._maps = CamPrefetcher(studio, studio.settings.cam_prefetch_settle_s, cam_cache_items)

    # -- item view --------------------------------------------------------------------------

    def item(self, item_id: int) -> ItemView:
        return self.store.item(item_id)

    def cams(self, item: ItemView) -> list[CamView]:
        """Grad-CAM maps of the item's top genres (computed once, maybe ahead of time)."""
        return self._maps.maps(item)

    def cams_later(self, item: ItemView) -> Future:
        """The same maps as a future (None if the editor moved on before they started)."""
        return self._maps.later(item)

    def prefetch(self, item_id: int | None) -> None:
        """Start computing this item's maps in the background (the editor's next item)."""
        if item_id is not None:
            self._maps.prefetch(self.store.item(item_id))

    # -- an editor's walk through the queue -------------------------------------------------

    def open_queue(
        self,
        view: str = QueueView.UNCERTAIN,
        status: str = ItemStatus.PENDING,
        genre: str | None = None,
        search: str | None = None,
    ) -> QueueCursor:
        """A cursor on the first page of the queue (validates the filter)."""
        cursor = QueueCursor(view, status, genre or None, (search or "").strip() or None)
        self._fill(cursor, offset=0)
        return cursor

    def recent(self, username: str, limit: int = 20) -> list[RecentDecision]:
        """The editor's own latest decisions across items."""
        return self.store.recent_decisions(username, limit)

    def remaining(self, cursor: QueueCursor) -> int:
        """How many items the cursor's filter holds now (decided ones may have left it)."""
        return self.store.count(cursor.status, cursor.genre, cursor.search)

    def current(self, cursor: QueueCursor) -> ItemView | None:
        """The cursor's item as the editor now sees it (None at the end of the queue): its
        version is what their save will be checked against. Starts the next item's maps."""
        item = None if cursor.item_id is None else self.item(cursor.item_id)
        cursor.version = item.version if item else None
        cursor.shown_labels = item.shown_labels if item else []
        cursor.shown_at = time.monotonic()
        if item is not None:
            upcoming = cursor.ids[cursor.pos + 1] if cursor.pos + 1 < len(cursor.ids) else None
            self._maps.shown(item.id, upcoming)
            self.prefetch(upcoming)
        return item

    def move(self, cursor: QueueCursor, step: int) -> QueueCursor:
        """Next (+1) or previous (-1) item; pages on past the end of the loaded page."""
        cursor.pos = max(0, cursor.pos + step)
        if cursor.pos >= len(cursor.ids):
            offset = cursor.offset + len(cursor.ids) - cursor.left
            if not self._fill(cursor, offset):
                cursor.pos = len(cursor.ids)  # past the end: nothing left to review
        return cursor

    def save(
        self,
        cursor: QueueCursor,
        username: str,
        labels: list[str] | None,
        action: str = EditorAction.SAVE,
        comment: str | None = None,
    ) -> ItemView:
        """Decide on the cursor's item (as last shown) and move on; `EditConflict` if stale.
        `comment` is kept with the decision (and exported)."""
        if cursor.item_id is None or cursor.version is None:
            raise MmguiError("no item to save: the queue is empty")
        limit = self.studio.settings.max_comment_chars
        if comment and len(comment) > limit:
            raise MmguiError(f"the comment has {len(comment):,} characters; at most {limit:,}")
        seconds = round(time.monotonic() - cursor.shown_at, 2)
        saved = self.store.decide(
            cursor.item_id, username, labels, cursor.version, action, seconds, comment
        )
        if cursor.status not in (ANY_STATUS, saved.status):
            cursor.left += 1  # it left the filter: the next page starts one earlier
        action = saved.history[0].action
        cursor.decided[action] = cursor.decided.get(action, 0) + 1
        self.move(cursor, +1)
        self.manager.maybe_auto_train()
        return saved

    def undo(self, cursor: QueueCursor, username: str) -> ItemView:
        """Undo the user's last decision and put that item under the cursor."""
        item = self.store.undo_last(username)
        if cursor.status in (ANY_STATUS, item.status) and cursor.left:
            cursor.left -= 1  # it is back in the filter
        undone = item.history[1].action if len(item.history) > 1 else None
        if cursor.decided.get(undone):
            cursor.decided[undone] -= 1
        if item.id in cursor.ids:
            cursor.pos = cursor.ids.index(item.id)
        else:
            cursor.ids.insert(min(cursor.pos, len(cursor.ids)), item.id)
            cursor.pos = cursor.ids.index(item.id)
        return item

    # -- bulk edits ------------------------------------------------------------------------

    def bulk_preview(
        self,
        genre: str,
        add: bool,
        status: str = ItemStatus.PENDING,
        filter_genre: str | None = None,
    ) -> int:
        """`ReviewStore.bulk_preview`: how many items `bulk_edit` would change."""
        return self.store.bulk_preview(genre, add, status, filter_genre)

    def bulk_edit(
        self,
        username: str,
        genre: str,
        add: bool,
        status: str = ItemStatus.PENDING,
        filter_genre: str | None = None,
    ) -> int:
        """`ReviewStore.bulk_edit`: `genre` added (or removed) on every item of the filter."""
        return self.store.bulk_edit(username, genre, add, status, filter_genre)

    def _fill(self, cursor: QueueCursor, offset: int) -> bool:
        size = self.studio.settings.queue_page_size
        page = self.store.queue(
            cursor.view, cursor.status, cursor.genre, size, offset, cursor.search
        )
        if not page:
            return False
        cursor.ids, cursor.pos, cursor.offset, cursor.left = [e.id for e in page], 0, offset, 0
        return True
