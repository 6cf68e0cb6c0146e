"""Frozen backbone features, computed once and cached on disk by content hash.

Head training reads features from the cache, so it takes minutes on two CPU cores; the
backbone runs once per distinct poster file or overview text. A cache file belongs to one
backbone (its name, weights fingerprint and preprocessing), so changing any of those starts a
fresh cache instead of silently mixing features.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from mmgui.files import atomic_path


def content_key(data: bytes | str) -> str:
    """sha256 of a file's bytes or of a text (UTF-8): the cache key."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


class FeatureCache:
    """A dict of key → float32 vector stored as one .npz per backbone id, written atomically."""

    def __init__(self, root: Path, backbone_id: str) -> None:
        self.path = Path(root) / f"{backbone_id}.npz"
        self._vectors: dict[str, np.ndarray] = {}
        if self.path.exists():
            with np.load(self.path) as stored:
                keys, matrix = stored["keys"], stored["vectors"]
            self._vectors = {str(k): matrix[i] for i, k in enumerate(keys)}

    def __len__(self) -> int:
        return len(self._vectors)

    def missing(self, keys: Sequence[str]) -> list[str]:
        return sorted({k for k in keys if k not in self._vectors})

    def put(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        for key, vector in zip(keys, vectors, strict=True):
            self._vectors[key] = np.asarray(vector, dtype=np.float32)

    def matrix(self, keys: Sequence[str]) -> np.ndarray:
        if not keys:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self._vectors[k] for k in keys]).astype(np.float32)

    def save(self) -> None:
        keys = sorted(self._vectors)
        with atomic_path(self.path, suffix=".npz.tmp") as tmp, open(tmp, "wb") as handle:
            np.savez(handle, keys=np.array(keys), vectors=self.matrix(keys))


def cached_features(
    cache: FeatureCache,
    keys: Sequence[str],
    compute: Callable[[list[int]], np.ndarray],
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
    save_every: int = 1024,
) -> np.ndarray:
    """Features for `keys` (one row each), computing only rows whose key is not cached.

    `compute(indices)` returns features for items at those positions of `keys`. The cache is
    saved every `save_every` new rows, so an interrupted run resumes where it stopped.
    """
    todo_keys = set(cache.missing(keys))
    todo = [i for i, k in enumerate(keys) if k in todo_keys]
    seen: set[str] = set()
    todo = [i for i in todo if not (keys[i] in seen or seen.add(keys[i]))]
    since_save = 0
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        cache.put([keys[i] for i in batch], compute(batch))
        since_save += len(batch)
        if since_save >= save_every:
            cache.save()
            since_save = 0
        if progress:
            progress(min(start + batch_size, len(todo)), len(todo))
    if todo:
        cache.save()
    return cache.matrix(keys)
