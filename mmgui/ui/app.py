"""The studio: a Gradio Blocks app assembled from one module per tab."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from mmgui.config import Settings
from mmgui.serve.review import ReviewService
from mmgui.serve.studio import Studio
from mmgui.ui import clip_tab, models_tab, predict_tab, review_tab, training_tab
from mmgui.ui.login import login_options


def build_app(studio: Studio, review: ReviewService | None = None) -> gr.Blocks:
    """The studio's tabs; `review` defaults to the queue of `studio.settings.db_url`."""
    review = review or ReviewService.open(studio)
    manager = review.manager
    with gr.Blocks(title="mmgui — film genre studio") as app:
        gr.Markdown("# mmgui — film genre studio")
        with gr.Tabs() as tabs:
            with gr.Tab("Predict"):
                predict_tab.build(studio)
            with gr.Tab("Review"):
                review_tab.build(review)
            with gr.Tab("Clip"):
                clip_tab.build(studio, review)
            with gr.Tab(training_tab.TAB_LABEL):
                training_timer = training_tab.build(manager)
            with gr.Tab("Models") as models:
                models_tab.build(manager, shown=[app.load, models.select])
        training_tab.poll_while_shown(tabs, training_timer)
    return app


def launch_options(settings: Settings) -> dict:
    """Keyword arguments for `Blocks.launch` from the settings (the one place they are mapped)."""
    options = {
        "server_name": settings.host,
        "server_port": settings.port,
        "max_file_size": int(settings.max_upload_mb * 1024 * 1024),
        "head": review_tab.keyboard_head(),
        # The Review tab plays clips from the media folder, wherever --media puts it.
        "allowed_paths": [str(Path(settings.media_dir).resolve())],
    }
    if settings.auth_file:
        options.update(login_options(settings))
    return options
