"""Poster and clip files of the catalogue, stored once by content hash.

`posters/ab/<sha256>.jpg`: the same image imported twice (or by two items) is one file, and a
file is copied to a temporary name and renamed, so a crash never leaves half a poster.

A crashed import can leave files no item references, and `.part` copies. `sweep` removes them
once they are older than a grace period: a younger one may belong to an import running in
another process that has copied its posters but not yet committed its items. `put` refreshes
the time of a file it finds already there, so a file an import is about to reference again is
young, whatever its age.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from mmgui.files import atomic_path, file_sha256

KINDS = ("posters", "clips")
PART_SUFFIX = ".part"


class MediaStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def put(self, source: Path, kind: str = "posters") -> str:
        """Store a copy of `source`; returns its name relative to the media root."""
        sha = file_sha256(source)
        name = f"{kind}/{sha[:2]}/{sha}{Path(source).suffix.lower()}"
        target = self.root / name
        try:
            os.utime(target)  # there already: young again, so no concurrent sweep takes it
        except FileNotFoundError:
            with atomic_path(target, suffix=PART_SUFFIX) as tmp:
                shutil.copyfile(source, tmp)
        return name

    def path(self, name: str | None) -> Path | None:
        return None if not name else self.root / name

    def sweep(self, in_use: Callable[[], set[str]], grace_s: float) -> int:
        """Remove media files that no item references and `.part` copies, older than `grace_s`
        seconds; returns how many. `in_use` (the names the database references) is asked after
        the old files are listed, and each file's age is checked again just before removal, so
        a file that an import copied or reused meanwhile is kept."""
        cutoff = time.time() - grace_s
        old = [path for path in self._files() if _mtime(path) < cutoff]
        if not old:
            return 0
        referenced = in_use()
        removed = 0
        for path in old:
            name = path.relative_to(self.root).as_posix()
            if name in referenced and not path.name.endswith(PART_SUFFIX):
                continue
            if _mtime(path) < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def _files(self) -> list[Path]:
        return [
            path
            for kind in KINDS
            if (self.root / kind).is_dir()
            for path in (self.root / kind).glob("*/*")
            if path.is_file()
        ]


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")  # gone already: nothing to remove
