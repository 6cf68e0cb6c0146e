"""The Predict tab: poster / overview / title in, 18 genre probabilities and tags out."""

from __future__ import annotations

import gradio as gr

from mmgui.errors import MmguiError
from mmgui.serve.studio import Studio


def build(studio: Studio) -> None:
    with gr.Row():
        with gr.Column():
            # A file input, not gr.Image: the upload reaches our safe loader untouched, so a
            # corrupt, huge or non-image file gets our message instead of a PIL error.
            poster = gr.File(label="Poster", file_types=["image"], type="filepath")
            title = gr.Textbox(label="Title", max_lines=1)
            overview = gr.Textbox(label="Overview", lines=6)
            button = gr.Button("Predict", variant="primary")
        with gr.Column():
            tags = gr.Markdown(label="Predicted tags")
            probs = gr.Label(label="Genre probabilities", num_top_classes=18)

    def predict(poster_path: str | None, overview_text: str, title_text: str):
        try:
            prediction = studio.predict(poster_path, overview_text, title_text)
        except MmguiError as err:
            raise gr.Error(str(err)) from err
        for notice in prediction.notices:
            gr.Warning(notice)
        tag_text = ", ".join(prediction.tags) or "no genre passes its threshold"
        header = f"**Tags:** {tag_text}  \n_model {prediction.model_version}_"
        return header, prediction.genre_probs

    button.click(predict, [poster, overview, title], [tags, probs], api_name="predict")
