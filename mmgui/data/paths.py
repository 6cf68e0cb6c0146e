"""File references from outside (a catalogue cell, a Label Studio URL) resolved inside allowed
folders, so an import never reads a file the user did not put under one of them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def resolve_inside(ref: str, roots: Sequence[Path]) -> Path | None:
    """The existing file `ref` names inside one of `roots`, or None.

    A relative `ref` is tried against each root in order; an absolute one must lie inside a
    root. Symlinks are resolved first, so a link cannot lead out of its root.
    """
    if not ref:
        return None
    candidate = Path(ref)
    tries = [candidate] if candidate.is_absolute() else [Path(root) / candidate for root in roots]
    resolved_roots = [Path(root).resolve() for root in roots]
    for path in tries:
        real = path.resolve()
        if real.is_file() and any(real.is_relative_to(root) for root in resolved_roots):
            return real
    return None
