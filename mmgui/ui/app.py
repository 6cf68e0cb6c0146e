"""The studio: a Gradio Blocks app assembled from one module per tab."""

from __future__ import annotations

import gradio as gr

from mmgui.serve.studio import Studio
from mmgui.ui import predict_tab


def build_app(studio: Studio) -> gr.Blocks:
    with gr.Blocks(title="mmgui — film genre studio") as app:
        gr.Markdown("# mmgui — film genre studio")
        with gr.Tab("Predict"):
            predict_tab.build(studio)
    return app
