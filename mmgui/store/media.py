"""Poster and clip files of the catalogue, stored once by content hash.

`posters/ab/<sha256>.jpg`: the same image imported twice (or by two items) is one file, and a
file is copied to a temporary name and renamed, so a crash never leaves half a poster.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class MediaStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def put(self, source: Path, kind: str = "posters") -> str:
        """Store a copy of `source`; returns its name relative to the media root."""
        sha = file_sha256(source)
        name = f"{kind}/{sha[:2]}/{sha}{Path(source).suffix.lower()}"
        target = self.root / name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
            os.close(fd)
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)
        return name

    def path(self, name: str | None) -> Path | None:
        return None if not name else self.root / name
