"""The genre probability list shown by the Predict and Clip tabs: each genre with its
threshold and whether it is a tag, so 25 % can be a tag for one genre and 18 % not for another."""

from __future__ import annotations

import gradio as gr

from mmgui.genres import GENRES

COLUMNS = ["Genre", "Probability", "Threshold", "Tag"]
TAG_MARK = "✓ tag"


def genre_table(label: str) -> gr.Dataframe:
    return gr.Dataframe(headers=COLUMNS, label=label, interactive=False, wrap=True)


def genre_rows(
    genre_probs: dict[str, float], tags: list[str], thresholds: dict[str, float]
) -> list[list[str]]:
    """The 18 genres, most probable first, each with its threshold and whether it is a tag."""
    ranked = sorted(GENRES, key=lambda g: genre_probs[g], reverse=True)
    return [
        [
            genre,
            f"{genre_probs[genre]:.1%}",
            f"{thresholds[genre]:.1%}",
            TAG_MARK if genre in tags else "",
        ]
        for genre in ranked
    ]
