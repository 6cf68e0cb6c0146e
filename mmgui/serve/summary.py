"""A model version in words a stakeholder reads, with the exact figures one click away.

The words are derived from the version's own card (what it was trained on, when, and its
held-out metrics), so they follow whatever version is served, never a start-up snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from mmgui.versions import VersionCard


def version_summary(card: VersionCard) -> str:
    """Two sentences of Markdown: which version, trained on what and when; how good."""
    return f"{_provenance(card)} {_quality(card.test_metrics)}"


def version_figures(card: VersionCard) -> dict:
    """The exact held-out metrics behind the summary (what the words are rounded from)."""
    figures: dict[str, Any] = {"version": card.name, "parent": card.parent}
    for split in ("test", "val", "eval"):
        if card.metrics.get(split):
            figures[split] = {k: v for k, v in card.metrics[split].items() if _is_figure(v)}
    return figures


def _provenance(card: VersionCard) -> str:
    when = _date(card.created_at)
    if card.finetune:
        return (
            f"Serving **{card.name}**: {card.parent} retrained on "
            f"{card.finetune.get('n_corrections', 0):,} editor corrections ({when})."
        )
    data = card.data
    trained = f"{data.n_train:,} movies" if data and data.n_train else "its training data"
    source = f" of `{data.source}`" if data and data.source else ""
    return f"Serving **{card.name}**: trained on {trained}{source} ({when})."


def _quality(test: Mapping[str, Any]) -> str:
    if not test.get("n_items"):
        return "It has no held-out figures yet."
    sentence = f"On {test['n_items']:,} movies it never saw in training"
    parts = []
    if test.get("macro_roc_auc") is not None:
        parts.append(
            f"given a film of a genre and one not of it, it scores the right one higher "
            f"{test['macro_roc_auc']:.0%} of the time"
        )
    if test.get("micro_precision") is not None and test.get("micro_recall") is not None:
        parts.append(
            f"{test['micro_precision']:.0%} of its tags are right and it finds "
            f"{test['micro_recall']:.0%} of the true genres"
        )
    if not parts:
        return "It has no held-out figures yet."
    return f"{sentence}, {'; '.join(parts)}."


def _date(stamp: str | None) -> str:
    if not stamp:
        return "date unknown"
    try:
        return datetime.fromisoformat(stamp).strftime("%-d %b %Y, %H:%M UTC")
    except ValueError:
        return stamp


def _is_figure(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
