"""Grad-CAM maps for the review queue, computed ahead of the editor and never for nothing.

The next item's maps are computed in one background thread while the editor looks at the
current one, so moving on does not wait for them. Two rules keep that thread from stealing the
CPU the editor's next keypress needs: it starts an item's maps only once the editor has stayed
`settle_s` on an item (flying through the queue queues no maps for items already left behind),
it drops a request for an item that is no longer among the recently shown or upcoming ones, and
it computes on one torch thread, so a core stays free for the editor's next request.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from concurrent.futures import Future, ThreadPoolExecutor

from mmgui.serve.explain import CamView, poster_cams
from mmgui.serve.studio import Studio
from mmgui.store.views import ItemView

WANTED_ITEMS = 16  # items recently shown or coming next, over all editors of this studio


class CamPrefetcher:
    def __init__(
        self,
        studio: Studio,
        settle_s: float,
        cache_items: int = 32,
        wanted_items: int = WANTED_ITEMS,
        threads: int | None = 1,
    ) -> None:
        """`threads`: torch threads for the maps (one by default: the editor's next request
        keeps a core of its own on a small CPU)."""
        self.studio = studio
        self.settle_s = settle_s
        self.threads = threads
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
        return self.later(item).result() or []

    def later(self, item: ItemView) -> Future:
        """The item's maps as a future, for a caller that must not hold a thread while it
        waits (an async handler); its result is None if the item stopped being wanted."""
        self._want(item.id)
        return self._future(item)

    def prefetch(self, item: ItemView) -> None:
        self.later(item)

    def _want(self, item_id: int) -> None:
        with self._lock:
            if item_id not in self._wanted:
                self._wanted.append(item_id)

    def _future(self, item: ItemView) -> Future:
        key = (item.id, item.prediction_id or 0, self.studio.predictor.name)
        with self._lock:
            future = self._futures.get(key)
            finished = future is not None and future.done() and future.exception() is None
            dropped = finished and future.result() is None  # the editor had moved on: again
            if future is None or dropped:
                future = self._pool.submit(self._compute, item)
                self._futures[key] = future
                while len(self._futures) > self._cache_items:
                    self._futures.popitem(last=False)
            self._futures.move_to_end(key)
        return future

    def _compute(self, item: ItemView) -> list[CamView] | None:
        while (idle := time.monotonic() - self._active_at) < self.settle_s:
            time.sleep(self.settle_s - idle)
        if item.id not in self._wanted:
            return None  # the editor moved on before these maps were started
        if item.poster is None or not item.genre_probs:
            return []
        ranked = sorted(item.genre_probs, key=item.genre_probs.get, reverse=True)
        focus = item.predicted[: self.studio.settings.cam_genres] or ranked[:1]
        return poster_cams(
            self.studio, item.poster, item.overview, item.title, focus, threads=self.threads
        )
