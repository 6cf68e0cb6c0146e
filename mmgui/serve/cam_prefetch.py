"""Grad-CAM maps for the review queue, computed ahead of the editor and never for nothing.

The next item's maps are computed in one background thread while the editor looks at the
current one, so moving on does not wait for them. Two rules keep that thread from stealing the
CPU the editor's next keypress needs: it starts an item's maps only once the editor has stayed
`settle_s` on an item (flying through the queue queues no maps for items already left behind),
and it drops a request for an item that is no longer among the recently shown or upcoming ones.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from concurrent.futures import Future, ThreadPoolExecutor

from mmgui.serve.studio import CamView, Studio
from mmgui.store.views import ItemView

WANTED_ITEMS = 16  # items recently shown or coming next, over all editors of this studio


class _Stale(Exception):
    """The editor moved on before this item's maps were started."""


class CamPrefetcher:
    def __init__(
        self,
        studio: Studio,
        settle_s: float,
        cache_items: int = 32,
        wanted_items: int = WANTED_ITEMS,
    ) -> None:
        self.studio = studio
        self.settle_s = settle_s
        self._futures: OrderedDict[tuple[int, int, str], Future] = OrderedDict()
        self._lock = threading.Lock()
        self._cache_items = cache_items
        self._wanted: deque[int] = deque(maxlen=wanted_items)
        self._active_at = 0.0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cam-prefetch")

    def shown(self, *item_ids: int | None) -> None:
        """The editor is looking at these items now (the current one and the next)."""
        with self._lock:
            self._active_at = time.monotonic()
            self._wanted.extend(i for i in item_ids if i is not None)

    def maps(self, item: ItemView) -> list[CamView]:
        """The item's maps (waits for them; [] if it stopped being wanted meanwhile)."""
        self._want(item.id)
        try:
            return self._future(item).result()
        except _Stale:
            return []

    def prefetch(self, item: ItemView) -> None:
        self._want(item.id)
        self._future(item)

    def _want(self, item_id: int) -> None:
        with self._lock:
            if item_id not in self._wanted:
                self._wanted.append(item_id)

    def _future(self, item: ItemView) -> Future:
        key = (item.id, item.prediction_id or 0, self.studio.predictor.name)
        with self._lock:
            future = self._futures.get(key)
            if future is None or (future.done() and future.exception() is not None):
                future = self._pool.submit(self._compute, item)
                self._futures[key] = future
                while len(self._futures) > self._cache_items:
                    self._futures.popitem(last=False)
            self._futures.move_to_end(key)
        return future

    def _compute(self, item: ItemView) -> list[CamView]:
        while (idle := time.monotonic() - self._active_at) < self.settle_s:
            time.sleep(self.settle_s - idle)
        if item.id not in self._wanted:
            raise _Stale(item.id)
        if item.poster is None or not item.genre_probs:
            return []
        ranked = sorted(item.genre_probs, key=item.genre_probs.get, reverse=True)
        focus = item.predicted[: self.studio.settings.cam_genres] or ranked[:1]
        return self.studio.poster_cams(item.poster, item.overview, item.title, focus)
