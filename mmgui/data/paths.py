"""Where an import may read files: inside its roots, never the studio's own database.

A catalogue names its posters by path, and a catalogue may come from anyone, so every path it
holds is resolved (symlinks and `..` included) and must land inside one of the import's roots:
the catalogue's folder (or the uploaded file's), and the media folder, so that a media key of
this studio (`posters/ab/<sha256>.jpg`) re-imports. A path that does not is treated exactly like
a missing file, so a refusal says nothing about what lies elsewhere on the server.

Protected files (the SQLite database and its `-wal`, `-shm` and `-journal` files) are compared
by `os.stat` identity before anything is opened: opening and closing one of them, even only to
read it, drops every POSIX lock this process holds on it, and SQLite then loses writes.
Torch-free and store-free: callers pass the paths.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

FileIdentity = tuple[int, int]  # (st_dev, st_ino)


def resolve_inside(ref: str, roots: Sequence[Path]) -> Path | None:
    """The existing regular file `ref` names inside one of `roots`, resolved; else None.

    A relative `ref` is tried against each root in order; an absolute one must lie inside a
    root. Symlinks are resolved before the check, so a link inside a root that points out of it
    is refused. Folders, devices and FIFOs are refused too.
    """
    path = _resolve_under(ref, roots)
    return path if path is not None and path.is_file() else None


def resolve_source(ref: str, roots: Sequence[Path]) -> Path | None:
    """Like `resolve_inside`, for a catalogue source: an existing file or folder; else None.

    A relative `ref` is also tried against the working directory (as a shell would read it),
    and still must land inside a root.
    """
    path = _resolve_under(ref, roots)
    if path is None and ref and not Path(ref).is_absolute():
        path = _resolve_under(str(Path.cwd() / ref), roots)
    return path if path is not None and (path.is_file() or path.is_dir()) else None


def file_identities(paths: Iterable[Path]) -> frozenset[FileIdentity]:
    """The (device, inode) of each of `paths` that exists now (a hard link shares it)."""
    found = set()
    for path in paths:
        try:
            stat = os.stat(path)
        except OSError:
            continue
        found.add((stat.st_dev, stat.st_ino))
    return frozenset(found)


class ProtectedFiles:
    """Files no import may open, judged without opening anything: by resolved path (so one that
    does not exist yet is covered too) and by (device, inode) as they are now (hard links)."""

    def __init__(self, paths: Iterable[Path]) -> None:
        paths = list(paths)
        self._real = {real for real in (_real(p) for p in paths) if real is not None}
        self._identities = file_identities(paths)

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, Path) or not (self._real or self._identities):
            return False
        return _real(path) in self._real or bool(file_identities([path]) & self._identities)


def _resolve_under(ref: str, roots: Sequence[Path]) -> Path | None:
    if not ref or "\x00" in ref:
        return None
    real_roots = [r for r in (_real(root) for root in roots) if r is not None]
    given = Path(ref)
    tries = [given] if given.is_absolute() else [root / given for root in roots]
    for candidate in tries:
        real = _real(candidate, strict=True)
        if real is not None and any(real.is_relative_to(root) for root in real_roots):
            return real
    return None


def _real(path: Path, strict: bool = False) -> Path | None:
    try:
        return Path(path).resolve(strict=strict)
    except (OSError, RuntimeError, ValueError):
        return None
