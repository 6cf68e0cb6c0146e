"""A model version in words a stakeholder reads, with the exact figures one click away.

The words are derived from the version's own model.json (what it was trained on, when, and
its held-out metrics), so they follow whatever version is served, never a start-up snapshot.
"""

from __future__ import annotations

from datetime import datetime


def version_summary(meta: dict) -> str:
    """Two sentences of Markdown: which version, trained on what and when; how good."""
    return f"{_provenance(meta)} {_quality(meta)}"


def version_figures(meta: dict) -> dict:
    """The exact held-out metrics behind the summary (what the words are rounded from)."""
    metrics = meta.get("metrics", {})
    figures = {"version": meta.get("name"), "parent": meta.get("parent")}
    for split in ("test", "val", "eval"):
        if metrics.get(split):
            figures[split] = {k: v for k, v in metrics[split].items() if _is_figure(v)}
    return figures


def _provenance(meta: dict) -> str:
    name, when = meta.get("name", "?"), _date(meta.get("created_at"))
    finetune = meta.get("finetune")
    if finetune:
        return (
            f"Serving **{name}**: {meta.get('parent')} retrained on "
            f"{finetune.get('n_corrections', 0):,} editor corrections ({when})."
        )
    data = meta.get("data", {})
    trained = f"{data['n_train']:,} movies" if data.get("n_train") else "its training data"
    source = f" of `{data['source']}`" if data.get("source") else ""
    return f"Serving **{name}**: trained on {trained}{source} ({when})."


def _quality(meta: dict) -> str:
    test = meta.get("metrics", {}).get("test") or {}
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
