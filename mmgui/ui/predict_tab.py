"""The Predict tab: poster / title / overview in; genres, tags, Grad-CAM and word weights out."""

from __future__ import annotations

import gradio as gr

from mmgui.data.image import load_image
from mmgui.errors import MmguiError
from mmgui.genres import GENRES
from mmgui.serve import explain as explanations
from mmgui.serve.cam import CAM_METHODS
from mmgui.serve.studio import Studio, demo_examples
from mmgui.serve.summary import version_figures, version_summary
from mmgui.ui.genre_table import genre_rows, genre_table

WORDS_LEGEND = "red raises its probability, purple lowers it"


def build(studio: Studio) -> None:
    # Callables, not strings: Gradio re-evaluates them on every page load, so the line follows
    # a promotion or rollback instead of the version served at start-up.
    model_line = gr.Markdown(lambda: version_summary(studio.predictor.card))
    with gr.Accordion("Exact figures of the served version", open=False):
        figures = gr.JSON(
            lambda: version_figures(studio.predictor.card), label="model.json metrics"
        )
    with gr.Row():
        with gr.Column():
            # A file input, not gr.Image: the upload reaches our safe loader untouched, so a
            # corrupt, huge or non-image file gets our message instead of a PIL error.
            poster = gr.File(
                label="Poster", file_types=["image"], type="filepath", elem_id="poster-upload"
            )
            preview = gr.Image(label="Poster preview", interactive=False, height=260)
            title = gr.Textbox(label="Title", max_lines=1)
            overview = gr.Textbox(label="Overview", lines=6)
            with gr.Row():
                method = gr.Dropdown(list(CAM_METHODS), value="gradcam", label="CAM method")
                extra = gr.Dropdown(list(GENRES), multiselect=True, label="Also explain")
            button = gr.Button("Predict", variant="primary")
        with gr.Column():
            tags = gr.Markdown()
            probs = genre_table("Genre probabilities (a genre is a tag at or above its threshold)")
    with gr.Row():
        cams = gr.Gallery(
            format="jpeg",  # webp costs ~20 ms a map to encode, jpeg under 1
            label="What in the poster drove each genre",
            columns=3,
            height="auto",
            object_fit="contain",
        )
        with gr.Column():
            words_caption = gr.Markdown(f"**Word weights** ({WORDS_LEGEND})")
            words = gr.HighlightedText(
                label="Word weights", show_label=False, combine_adjacent=False, show_legend=True
            )

    def show_preview(poster_path: str | None):
        if not poster_path:
            return None
        try:
            settings = studio.settings
            return load_image(poster_path, settings.max_image_pixels, settings.max_image_bytes)
        except MmguiError as err:
            gr.Warning(str(err))
            return None

    def predict(poster_path: str | None, title_text: str, overview_text: str):
        try:
            prediction = studio.predict(poster_path, overview_text, title_text)
        except MmguiError as err:
            raise gr.Error(str(err)) from err
        for notice in prediction.notices:
            gr.Warning(notice)
        tag_text = ", ".join(prediction.tags) or "no genre passes its threshold"
        header = f"**Tags:** {tag_text}  \n_model {prediction.model_version}_"
        card = studio.predictor.card
        return (
            header,
            genre_rows(prediction.genre_probs, prediction.tags, card.thresholds),
            version_summary(card),
            version_figures(card),
        )

    def explain(poster_path, title_text, overview_text, method_name, extra_genres):
        try:
            explanation = explanations.explain(
                studio, poster_path, overview_text, title_text, method_name, extra_genres
            )
        except MmguiError as err:
            raise gr.Error(str(err)) from err
        for notice in explanation.notices:
            gr.Info(notice)
        gallery = [(view.overlay, view.caption) for view in explanation.cams]
        weights = [(f"{word} ", weight) for word, weight in explanation.words] or None
        caption = f"**How each word moves {explanation.top_genre}** ({WORDS_LEGEND})"
        caption += "".join(f"  \n_{notice}_" for notice in explanation.notices)
        return gallery, caption, weights

    def predict_and_explain(poster_path, title_text, overview_text):
        return (
            show_preview(poster_path),
            *predict(poster_path, title_text, overview_text),
            *explain(poster_path, title_text, overview_text, "gradcam", []),
        )

    inputs = [poster, title, overview]
    poster.change(show_preview, [poster], [preview], api_name=False, show_progress="hidden")
    # Each event has its own queue, so /predict never waits behind an explanation; explanations
    # run one at a time (on a 2-core CPU two at once only take twice as long each).
    button.click(predict, inputs, [tags, probs, model_line, figures], api_name="predict").then(
        explain,
        [*inputs, method, extra],
        [cams, words_caption, words],
        api_name="explain",
        concurrency_limit=1,
        concurrency_id="explain",
    )
    examples = demo_examples()
    gr.Examples(
        examples,
        inputs,
        outputs=[preview, tags, probs, model_line, figures, cams, words_caption, words],
        fn=predict_and_explain,
        run_on_click=True,
        cache_examples=False,
        example_labels=[title_text for _, title_text, _ in examples],
        label="Demo movies: one click predicts and explains",
        api_name="run_example",
    )
