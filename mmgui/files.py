"""Files written whole or not at all, and the hash that names a file by its content.

`atomic_path` hands out a temporary name beside the target (`.<name>.<random><suffix>`, in the
same folder so the final rename stays on one file system); the target appears, by that rename,
only when the writing finishes without error, so a crash or a failed check never leaves half a
file under the target's name. `write_atomically` is the same for text written to a handle.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO, TypeVar

Written = TypeVar("Written")


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file's bytes, read in 1 MiB blocks (a clip need not fit in memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def atomic_path(target: Path, suffix: str = ".part") -> Iterator[Path]:
    """A new empty temporary file beside `target` for the block to write (its folder is made if
    missing); renamed to `target` when the block ends, removed when the block raises."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix)
    os.close(fd)
    try:
        yield Path(name)
        os.replace(name, target)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def write_atomically(out: Path, write: Callable[[TextIO], Written]) -> Written:
    """`write(handle)` into a temporary UTF-8 text file beside `out`, renamed to `out` when it is
    done; returns what `write` returned."""
    with atomic_path(out) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        return write(handle)
