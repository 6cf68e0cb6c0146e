"""The Predict tab: poster / title / overview in; genres, tags, Grad-CAM and word weights out."""

from __future__ import annotations

import gradio as gr

from mmgui.errors import MmguiError
from mmgui.genres import GENRES
from mmgui.serve.cam import CAM_METHODS
from mmgui.serve.studio import Studio, demo_examples


def build(studio: Studio) -> None:
    info = studio.model_info()
    gr.Markdown(
        f"Model **{info['model_version']}** ({info['config']}, {info['created_at']}): test macro "
        f"ROC-AUC {info['test_macro_roc_auc']:.3f}, micro-F1 {info['test_micro_f1']:.3f} "
        f"on {info['test_items']} movies."
    )
    with gr.Row():
        with gr.Column():
            # A file input, not gr.Image: the upload reaches our safe loader untouched, so a
            # corrupt, huge or non-image file gets our message instead of a PIL error.
            poster = gr.File(label="Poster", file_types=["image"], type="filepath")
            title = gr.Textbox(label="Title", max_lines=1)
            overview = gr.Textbox(label="Overview", lines=6)
            with gr.Row():
                method = gr.Dropdown(list(CAM_METHODS), value="gradcam", label="CAM method")
                extra = gr.Dropdown(list(GENRES), multiselect=True, label="Also explain")
            button = gr.Button("Predict", variant="primary")
        with gr.Column():
            tags = gr.Markdown()
            probs = gr.Label(label="Genre probabilities", num_top_classes=18)
    with gr.Row():
        cams = gr.Gallery(label="What in the poster drove each genre", columns=4, height=360)
        words = gr.HighlightedText(label="Words for the top genre", combine_adjacent=False)

    def predict(poster_path: str | None, title_text: str, overview_text: str):
        try:
            prediction = studio.predict(poster_path, overview_text, title_text)
        except MmguiError as err:
            raise gr.Error(str(err)) from err
        for notice in prediction.notices:
            gr.Warning(notice)
        tag_text = ", ".join(prediction.tags) or "no genre passes its threshold"
        header = f"**Tags:** {tag_text}  \n_model {prediction.model_version}_"
        return header, prediction.genre_probs

    def explain(poster_path, title_text, overview_text, method_name, extra_genres):
        try:
            explanation = studio.explain(
                poster_path, overview_text, title_text, method_name, extra_genres
            )
        except MmguiError as err:
            raise gr.Error(str(err)) from err
        for notice in explanation.notices:
            gr.Info(notice)
        gallery = [(view.overlay, view.caption) for view in explanation.cams]
        words = [(f"{word} ", weight) for word, weight in explanation.words] or None
        return gallery, words

    def predict_and_explain(poster_path, title_text, overview_text):
        return (
            *predict(poster_path, title_text, overview_text),
            *explain(poster_path, title_text, overview_text, "gradcam", []),
        )

    inputs = [poster, title, overview]
    # Each event has its own queue, so /predict never waits behind an explanation; explanations
    # run one at a time (on a 2-core CPU two at once only take twice as long each).
    button.click(predict, inputs, [tags, probs], api_name="predict").then(
        explain,
        [*inputs, method, extra],
        [cams, words],
        api_name="explain",
        concurrency_limit=1,
        concurrency_id="explain",
    )
    examples = demo_examples()
    gr.Examples(
        examples,
        inputs,
        outputs=[tags, probs, cams, words],
        fn=predict_and_explain,
        run_on_click=True,
        cache_examples=False,
        example_labels=[title_text for _, title_text, _ in examples],
        label="Demo movies: one click predicts and explains",
        api_name="run_example",
    )
